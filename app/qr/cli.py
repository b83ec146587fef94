"""Command line: `flask --app wsgi qr convert [--period 2026-11]`."""
from __future__ import annotations

import click
from flask.cli import AppGroup

qr_cli = AppGroup("qr", help="QR ratings.")


@qr_cli.command("convert")
@click.option("--period", default=None, help="Month as YYYY-MM (default: the previous month).")
def convert(period: str | None) -> None:
    """Turn a month's counted ratings into rating points (safe to run again)."""
    from app.errors import DomainError
    from app.qr.jobs import convert_ratings

    try:
        s = convert_ratings(period)
    except DomainError as exc:
        raise click.BadParameter(exc.message, param_hint="--period") from exc
    click.echo(f"{s['period']}：{s['subjects']} 个评价对象，新增 {s['created']} 条，冲正 {s['reversed']} 条，"
               f"未变 {s['unchanged']} 条，评价不足 {s['skipped']} 个。")
