"""the ledger refuses TRUNCATE too (PostgreSQL; SQLite has no TRUNCATE)

Revision ID: 0013_ledger_no_truncate
Revises: 0012_claim_submission_key
Create Date: 2026-12-04 19:30:00

The row triggers of 0002 refuse UPDATE and DELETE; TRUNCATE fires no row trigger, so a
statement trigger refuses it. (SQLite's REPLACE, which deletes the old row without firing DELETE
triggers, is refused by ``PRAGMA recursive_triggers=ON`` on every connection: app/__init__.py.)
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013_ledger_no_truncate'
down_revision = '0012_claim_submission_key'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries "
                   "FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_truncate ON ledger_entries")
