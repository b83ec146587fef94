"""year targets (年度目标书): per-capita points targets of an org for a year

Revision ID: 0015_year_targets
Revises: 0014_login_sessions
Create Date: 2026-12-08 10:00:00

Append-only: every change of an org's targets is a new version row (who, when, why); the
highest version of an (org, year) is in force, the earlier ones are its history.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_year_targets'
down_revision = '0014_login_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('year_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('study', sa.Numeric(precision=10, scale=1), nullable=True),
    sa.Column('service', sa.Numeric(precision=10, scale=1), nullable=True),
    sa.Column('innovation', sa.Numeric(precision=10, scale=1), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('set_by_id', sa.Integer(), nullable=True),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('study IS NULL OR (study > 0 AND study <= 10000)', name=op.f('ck_year_targets_study')),
    sa.CheckConstraint('service IS NULL OR (service > 0 AND service <= 10000)', name=op.f('ck_year_targets_service')),
    sa.CheckConstraint('innovation IS NULL OR (innovation > 0 AND innovation <= 10000)',
                       name=op.f('ck_year_targets_innovation')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_year_targets_org_id_orgs')),
    sa.ForeignKeyConstraint(['set_by_id'], ['users.id'], name=op.f('fk_year_targets_set_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_year_targets')),
    sa.UniqueConstraint('org_id', 'year', 'version', name='uq_year_targets_org_year_version')
    )


def downgrade():
    op.drop_table('year_targets')
