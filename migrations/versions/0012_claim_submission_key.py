"""claims remember the submission they came from, so a second tap files nothing

Revision ID: 0012_claim_submission_key
Revises: 0011_ledger_head
Create Date: 2026-12-03 19:40:00

The claim form carries a one-time key (API clients may send an Idempotency-Key header); it is
unique per member, so a repeated post of the same form finds the claim the first one made.
Existing claims have none (NULLs never collide).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_claim_submission_key'
down_revision = '0011_ledger_head'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('submission_key', sa.String(length=64), nullable=True))
        batch_op.create_index('ux_claims_member_submission', ['member_id', 'submission_key'], unique=True)


def downgrade():
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index('ux_claims_member_submission')
        batch_op.drop_column('submission_key')
