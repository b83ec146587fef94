"""the ledger head mark: the id of the last ledger entry, kept with every append

Revision ID: 0011_ledger_head
Revises: 0010_snapshot_marks
Create Date: 2026-12-03 17:00:00

``ledger verify`` compares the chain it walked with this mark: fewer entries means the newest
were deleted, more means rows were added behind the app's back. Set from the ledger as it is.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011_ledger_head'
down_revision = '0010_snapshot_marks'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("DELETE FROM change_marks WHERE \"key\" = 'ledger:head'")
    op.execute("INSERT INTO change_marks (\"key\", value) "
               "SELECT 'ledger:head', max(id) FROM ledger_entries HAVING count(*) > 0")


def downgrade():
    op.execute("DELETE FROM change_marks WHERE \"key\" = 'ledger:head'")
