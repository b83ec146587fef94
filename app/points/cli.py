"""Command line: ``flask ledger verify`` walks the hash chain of the points ledger."""
from __future__ import annotations

import click
from flask.cli import AppGroup

ledger_cli = AppGroup("ledger", help="The append-only points ledger.")


def _head(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    entry_id, _, digest = value.partition(":")
    if not entry_id.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise click.BadParameter("expected ENTRY_ID:HASH as printed by an earlier run, e.g. 1234:9f86d0…")
    return int(entry_id), digest


@ledger_cli.command("verify")
@click.option("--head", "head", metavar="ENTRY_ID:HASH",
              help="a head printed by an earlier run and kept elsewhere: it must still be on the chain")
def verify(head: str | None) -> None:
    """Check every entry's hash link and the end of the chain; report the first broken one and
    exit 1 when there is one. Prints the head (last entry and hash) to keep for a later --head."""
    from app.points.ledger import verify_chain

    result = verify_chain(expect_head=_head(head))
    if result.ok:
        click.echo(f"checked {result.checked} entries: OK")
        if result.head_id is not None:
            click.echo(f"head: {result.head_id}:{result.head_hash}")
        return
    click.echo(f"checked {result.checked} entries: BROKEN at entry {result.broken_id}: {result.reason}")
    raise SystemExit(1)
