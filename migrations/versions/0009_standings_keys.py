"""standings keyed by snapshot and participant; indexes for a member's entries and QR bursts

Revision ID: 0009_standings_keys
Revises: 0007_perf
Create Date: 2026-11-22 05:30:00

- contest_standings loses its surrogate id and its foreign key to contest_snapshots (a per-row
  trigger on PostgreSQL that cost more than the rest of a 100,000-row rollup);
  (snapshot_id, participant_id), unique before, becomes the primary key. The rows are kept.
- ix_ledger_member_day_id (member_id, occurred_on, id): a member's entries of a period, newest
  first, straight from the index (SQLite otherwise walks ix_ledger_day over the whole period).
- ix_qr_ratings_target_created gains device_hash and ip_hash: the burst check counts a target's
  recent ratings and their distinct devices and addresses from the index alone.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_standings_keys'
down_revision = '0007_perf'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('contest_standings', schema=None) as batch_op:
        batch_op.drop_constraint('fk_contest_standings_snapshot_id_contest_snapshots', type_='foreignkey')
        batch_op.drop_constraint('uq_contest_standings_participant', type_='unique')
        batch_op.drop_constraint('pk_contest_standings', type_='primary')
        batch_op.drop_column('id')
        batch_op.create_primary_key('pk_contest_standings', ['snapshot_id', 'participant_id'])
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_member_day_id', ['member_id', 'occurred_on', 'id'], unique=False)
    with op.batch_alter_table('qr_ratings', schema=None) as batch_op:
        batch_op.drop_index('ix_qr_ratings_target_created')
        batch_op.create_index('ix_qr_ratings_target_created',
                              ['target_id', 'created_at', 'device_hash', 'ip_hash'], unique=False)


def downgrade():
    with op.batch_alter_table('qr_ratings', schema=None) as batch_op:
        batch_op.drop_index('ix_qr_ratings_target_created')
        batch_op.create_index('ix_qr_ratings_target_created', ['target_id', 'created_at'], unique=False)
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_member_day_id')
    # The standings get their surrogate ids back (numbered in key order) and the foreign key.
    op.create_table('contest_standings_prev',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('snapshot_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('previous_rank', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['snapshot_id'], ['contest_snapshots.id'], name='fk_contest_standings_snapshot_id_contest_snapshots'),
    sa.PrimaryKeyConstraint('id', name='pk_contest_standings_prev'),
    sa.UniqueConstraint('snapshot_id', 'participant_id', name='uq_contest_standings_participant_prev')
    )
    op.execute(
        "INSERT INTO contest_standings_prev (id, snapshot_id, participant_id, score, rank, previous_rank) "
        "SELECT ROW_NUMBER() OVER (ORDER BY snapshot_id, participant_id), snapshot_id, participant_id, score, "
        "rank, previous_rank FROM contest_standings")
    op.drop_table('contest_standings')
    op.rename_table('contest_standings_prev', 'contest_standings')
    with op.batch_alter_table('contest_standings', schema=None) as batch_op:
        batch_op.drop_constraint('uq_contest_standings_participant_prev', type_='unique')
        batch_op.create_unique_constraint('uq_contest_standings_participant', ['snapshot_id', 'participant_id'])
        batch_op.drop_constraint('pk_contest_standings_prev', type_='primary')
        batch_op.create_primary_key('pk_contest_standings', ['id'])
        batch_op.create_index('ix_contest_standings_rank', ['snapshot_id', 'rank'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("CREATE SEQUENCE contest_standings_id_seq OWNED BY contest_standings.id")
        op.execute("SELECT setval('contest_standings_id_seq', COALESCE((SELECT MAX(id) FROM contest_standings), 0) + 1, false)")
        op.execute("ALTER TABLE contest_standings ALTER COLUMN id SET DEFAULT nextval('contest_standings_id_seq')")
