"""PostgreSQL plans the ranking statements for their parameters, every time (app.orm.planned_for_parameters).

psycopg prepares a statement once it has run five times on a connection, and a prepared
statement may get a generic plan, blind to the community's path: 20 times slower for a ranking
(bench/RESULTS.md). The ranking statements are therefore never prepared; small ones still are.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa


def prepared_statements(db) -> list[str]:
    return list(db.session.execute(sa.text("SELECT statement FROM pg_prepared_statements")).scalars())


def test_a_community_ranking_is_never_prepared_but_small_statements_are(app, db, tree, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no prepared plans to avoid")
    from app.marks import ROSTER, read_marks
    from app.points import boards
    from app.points import index as ix

    period = ix.parse_period(2026)
    community = boards.OrgRef.of(tree.c1)
    cfg = ix.index_config()
    for i in range(8):  # new marks each time: the board is ranked again, the same statement
        board = boards.community_board(period, community, cfg, (10_000 + i, i))
    assert len(board) > 0
    for _ in range(8):
        read_marks([ROSTER])

    prepared = prepared_statements(db)
    assert any("change_marks" in s for s in prepared), prepared  # psycopg does prepare here
    assert not any("org_community" in s for s in prepared), prepared
    raw = db.session.connection().connection.dbapi_connection
    assert raw.prepare_threshold == 5  # put back after each ranking
