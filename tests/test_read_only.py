"""Read-only views run without a transaction on PostgreSQL (app.readonly); writes keep theirs.

Each statement records whether its connection was in autocommit: the member's points (API and
page) and a secretary's view of a member are; a claim filed right after, on the same pooled
connection, is back in a transaction.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.points import services


@pytest.fixture
def autocommit_log(db, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite does not BEGIN for reads; nothing to switch")
    seen: list[tuple[bool, str]] = []

    def before(conn, _cursor, statement, _params, _context, _many):
        seen.append((conn.connection.dbapi_connection.autocommit, statement.split()[0].upper()))

    sa.event.listen(db.engine, "before_cursor_execute", before)
    yield seen
    sa.event.remove(db.engine, "before_cursor_execute", before)


def test_reads_run_in_autocommit_and_the_next_write_in_a_transaction(tree, db, api_as, login_as, autocommit_log):
    services.create_rule(tree.admin, services.RuleInput(code="vol", category="service", title="志愿服务（每小时）",
                                                        points=2))
    member, page, secretary = api_as(tree.m11), login_as(tree.m11), api_as(tree.sec_c1)
    member_id = tree.m11.id
    db.session.remove()
    for client, url in [(member, "/api/v1/me/points"), (page, "/index/me"),
                        (secretary, f"/api/v1/members/{member_id}/points")]:
        autocommit_log.clear()
        assert client.get(url).status_code == 200
        assert autocommit_log and all(auto for auto, _ in autocommit_log), (url, autocommit_log)
        db.session.remove()

    autocommit_log.clear()
    r = member.post("/api/v1/claims", json={"rule_code": "vol", "occurred_on": services.local_today().isoformat(),
                                            "note": "社区环境整治"})
    assert r.status_code == 201, r.get_json()
    inserts = [auto for auto, verb in autocommit_log if verb == "INSERT"]
    assert inserts and not any(inserts)
    assert member.get("/api/v1/claims?limit=5").get_json()["total"] == 1
