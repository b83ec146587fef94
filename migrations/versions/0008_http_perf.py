"""http perf: change marks for shared caches

Revision ID: 0008_http_perf
Revises: 0006_jobs
Create Date: 2026-11-22 03:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_http_perf'
down_revision = '0006_jobs'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('change_marks',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_change_marks'))
    )


def downgrade():
    op.drop_table('change_marks')
