"""Command line: ``flask ledger verify`` walks the hash chain of the points ledger."""
from __future__ import annotations

import click
from flask.cli import AppGroup

ledger_cli = AppGroup("ledger", help="The append-only points ledger.")


@ledger_cli.command("verify")
def verify() -> None:
    """Check every entry's hash link; report the first broken one and exit 1 when there is one."""
    from app.points.ledger import verify_chain

    result = verify_chain()
    if result.ok:
        click.echo(f"checked {result.checked} entries: OK")
        return
    click.echo(f"checked {result.checked} entries: BROKEN at entry {result.broken_id}: {result.reason}")
    raise SystemExit(1)
