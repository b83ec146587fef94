"""perf: member year totals folded from the ledger, with their checkpoint

Revision ID: 0007_perf
Revises: 0008_http_perf
Create Date: 2026-11-22 04:00:00

0008_http_perf was committed first with 0006_jobs as its parent, so this revision follows it
(one line of history, no second head).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_perf'
down_revision = '0008_http_perf'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('member_year_points',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('member_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('study', sa.Numeric(precision=14, scale=1), nullable=False),
    sa.Column('service', sa.Numeric(precision=14, scale=1), nullable=False),
    sa.Column('innovation', sa.Numeric(precision=14, scale=1), nullable=False),
    sa.Column('rating', sa.Numeric(precision=14, scale=1), nullable=False),
    sa.Column('penalty', sa.Numeric(precision=14, scale=1), nullable=False),
    sa.PrimaryKeyConstraint('year', 'member_id', name=op.f('pk_member_year_points'))
    )
    op.create_table('ledger_checkpoints',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('entry_id', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_ledger_checkpoints'))
    )


def downgrade():
    op.drop_table('ledger_checkpoints')
    op.drop_table('member_year_points')
