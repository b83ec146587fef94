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
    assert member.get("/api/v1/me/claims?limit=5").get_json()["total"] == 1


def test_own_points_read_the_path_marks_with_the_user(tree, db, api_as, login_as, make_org, make_user,
                                                      count_statements):
    """/me/points and /index/me read the caller's user row, the global marks and the ledger marks
    of their path in one statement: with the community's board ranked, the API needs one more
    (the entries) and the page none. A path deeper than the statement reads (app.marks.PATH_LEVELS)
    costs one more statement, and the figures are right either way, the moment an entry lands."""
    from app.marks import PATH_LEVELS

    services.create_rule(tree.admin, services.RuleInput(code="vol", category="service", title="志愿服务（每小时）",
                                                        points=2))
    deep = tree.b11
    for level in range(PATH_LEVELS):
        deep = make_org(f"第{level + 1}小组", "branch", deep)
    far = make_user(deep, "member", "深处党员")
    cases = [(api_as(m), login_as(m), m.id, extra) for m, extra in ((tree.m11, 0), (far, 1))]
    secretary = tree.sec_c1
    for api, page, member_id, extra in cases:
        for warm in (False, True):  # the second time, the community's board is ranked already
            db.session.remove()
            with count_statements() as log:
                points = api.get("/api/v1/me/points")
            assert points.status_code == 200
            assert not warm or log.count == 2 + extra, [s[:90] for s in log.statements]
            db.session.remove()
            with count_statements() as log:
                assert page.get("/index/me").status_code == 200
            assert not warm or log.count == 1 + extra, [s[:90] for s in log.statements]
        services.award(db.session.merge(secretary), rule_code="vol", member_id=member_id,
                       occurred_on=services.local_today(), note="书记核实")
        db.session.remove()
        assert api.get("/api/v1/me/points").get_json()["total"] == points.get_json()["total"] + 2
        assert "<strong>2</strong>" in page.get("/index/me").get_data(as_text=True)
