"""contest snapshots record the change marks their standings were computed at

Revision ID: 0010_snapshot_marks
Revises: 0009_standings_keys
Create Date: 2026-12-03 16:00:00

A tick or manual rollup that finds the marks unmoved since the latest snapshot writes no new
snapshot (it moves the latest one's as_of instead), so the movement arrows, which compare with
the previous snapshot, keep showing the last change instead of vanishing at the next tick.
Existing snapshots have none, so the first rollup after the upgrade writes as before.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_snapshot_marks'
down_revision = '0009_standings_keys'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('contest_snapshots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_marks', sa.String(length=120), nullable=True))


def downgrade():
    with op.batch_alter_table('contest_snapshots', schema=None) as batch_op:
        batch_op.drop_column('source_marks')
