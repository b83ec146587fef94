"""Shared results kept in the process (rank boards, leaderboard pages) never show an old figure,
the health check answers without the database, and SQLite writers queue instead of failing."""
from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.points.index_support import add_entry, count_queries, make_rule  # noqa: F401

Y = date.today().year


def ranks(api, year=Y):
    body = api.get(f"/api/v1/me/points?year={year}").get_json()
    return body["index"], body["rank"]


# ---------------------------------------------------------------- the health check


def test_ping_answers_without_a_token_or_the_database(client, count_queries):
    with count_queries() as n:
        r = client.get("/api/v1/ping")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}
    assert n[0] == 0
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/ping" in spec["paths"] and spec["paths"]["/api/v1/ping"]["get"]["security"] == []


# ---------------------------------------------------------------- rank boards


def test_my_rank_follows_every_new_entry_in_the_community(tree, api_as, add_entry):
    me, rival = api_as(tree.m11), tree.m12  # same community (c1), other branch
    add_entry(tree.m11, "study", 12, date(Y, 3, 1))
    assert ranks(me) == (3, {"branch": 1, "community": 1})
    assert ranks(me) == (3, {"branch": 1, "community": 1})  # the board is reused
    add_entry(rival, "study", 24, date(Y, 3, 2))  # a member of another branch overtakes
    assert ranks(me) == (3, {"branch": 1, "community": 2})
    add_entry(tree.m21, "study", 400, date(Y, 3, 2))  # another community: no change here
    assert ranks(me) == (3, {"branch": 1, "community": 2})


def test_my_rank_follows_roster_changes_at_once(tree, api_as, add_entry, db, make_user):
    me = api_as(tree.m11)
    add_entry(tree.m11, "study", 12, date(Y, 3, 1))
    add_entry(tree.m12, "study", 24, date(Y, 3, 1))
    assert ranks(me)[1] == {"branch": 1, "community": 2}
    tree.m12.active = False  # the leader leaves
    db.session.commit()
    assert ranks(me)[1] == {"branch": 1, "community": 1}
    newcomer = make_user(tree.b11, "member", "新党员")
    add_entry(newcomer, "study", 40, date(Y, 3, 3))
    assert ranks(me)[1] == {"branch": 2, "community": 2}
    newcomer.org_id = tree.b21.id  # moves to the other community
    db.session.commit()
    assert ranks(me)[1] == {"branch": 1, "community": 1}


def test_member_page_shows_live_ranks_after_an_approval(tree, api_as, login_as, add_entry, make_rule):
    rule = make_rule("S09", "study", "专题党课", "30")
    rule.needs_approval = True
    from app.extensions import db

    db.session.commit()
    add_entry(tree.m11, "study", 10, date(Y, 3, 1))
    page = login_as(tree.m11)
    text = page.get(f"/index/me?year={Y}").get_data(as_text=True)
    assert '<strong class="rank-number">1</strong>' in text[text.index('id="rank-community"'):]
    claim = api_as(tree.m12).post("/api/v1/claims", json={"rule_code": "S09", "occurred_on": date.today().isoformat(),
                                                           "note": "学习"}).get_json()
    assert api_as(tree.sec_c1).post(f"/api/v1/claims/{claim['id']}/approve").status_code == 200
    text = page.get(f"/index/me?year={Y}").get_data(as_text=True)
    assert '<strong class="rank-number">2</strong>' in text[text.index('id="rank-community"'):]


# ---------------------------------------------------------------- leaderboards


def test_leaderboard_shows_each_new_rollup_and_renames(tree, api_as, login_as, add_entry, db):
    from app.contests import services

    contest = services.create_contest(
        tree.sec_c1, title="桂花社区党员擂台赛", participant_type="member", scope_org_id=tree.c1.id,
        starts_on=date(Y, 1, 1), ends_on=date(Y, 12, 31), categories=["study"])
    api = api_as(tree.m11)
    url = f"/api/v1/contests/{contest.id}/leaderboard"
    first = api.get(url).get_json()
    assert first["total"] == 4 and all(s["score"] == 0 for s in first["standings"])
    add_entry(tree.m12, "study", 8, date(Y, 3, 1))
    assert api.get(url).get_json()["standings"][0]["score"] == 0  # not rolled up yet
    services.rollup_now(tree.sec_c1, contest.id)
    top = api.get(url).get_json()["standings"][0]
    assert (top["participant"]["name"], top["score"], top["rank"]) == ("李四", 8, 1)
    tree.m12.name = "李思"
    db.session.commit()
    assert api.get(url).get_json()["standings"][0]["participant"]["name"] == "李思"
    assert api_as(tree.m21).get(url).status_code == 403  # another community
    for page in (f"/contests/{contest.id}/standings", f"/contests/{contest.id}/hall"):
        text = login_as(tree.m11).get(page).get_data(as_text=True)
        assert "<h1>桂花社区党员擂台赛</h1>" in text and "李思" in text and "桂花社区" in text
    assert api.get("/api/v1/contests/987654/leaderboard").status_code == 404
    services.finalize(tree.sec_c1, contest.id)
    assert api.get(url).get_json()["final"] is True


# ---------------------------------------------------------------- SQLite writers


def test_sqlite_writers_wait_for_each_other_instead_of_failing(app, db):
    """With SQLite's own busy wait turned off, a second concurrent writer still succeeds."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    db.session.execute(sa.text("CREATE TABLE gate_probe (n INTEGER)"))
    db.session.commit()
    first, second = db.engine.connect(), db.engine.connect()
    for conn in (first, second):
        conn.exec_driver_sql("PRAGMA busy_timeout=0")
    first.execute(sa.text("INSERT INTO gate_probe VALUES (1)"))  # holds the write lock
    errors = []

    def write():
        try:
            second.execute(sa.text("INSERT INTO gate_probe VALUES (2)"))
            second.commit()
        except Exception as exc:  # noqa: BLE001 - the assertion below shows it
            errors.append(exc)

    worker = threading.Thread(target=write)
    worker.start()
    worker.join(0.3)
    assert worker.is_alive()  # waiting, not failed
    first.commit()
    worker.join(5)
    assert not errors and not worker.is_alive()
    assert sorted(db.session.scalars(sa.text("SELECT n FROM gate_probe"))) == [1, 2]
    first.close()
    second.close()


def test_token_lookup_finds_marks_by_key_whatever_the_statistics_say(app, db, tree):
    """The bearer-token statement reads the path's ledger marks by primary key even when the
    statistics were taken while ``change_marks`` was nearly empty (as after a bulk load): a
    join there made SQLite scan the whole table once per org level on every read."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's planner trusts its statistics; PostgreSQL scales them to the table's size")
    from app.auth.services import _with_marks
    from app.marks import ledger_key, set_marks
    from app.orgs.models import Org

    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    set_marks(db.session.connection(), {ledger_key(i): 1 for i in range(1, 400)})
    set_marks(db.session.connection(), {ledger_key(o.id): 2 for o in db.session.scalars(sa.select(Org))})
    db.session.commit()
    compiled = _with_marks("token", True).compile(dialect=db.engine.dialect)
    params = compiled.construct_params({"token_hash": "x"})
    plan = db.session.connection().exec_driver_sql(
        "EXPLAIN QUERY PLAN " + str(compiled), tuple(params[k] for k in compiled.positiontup)).all()
    details = [row[-1] for row in plan]
    assert any("change_marks" in d for d in details), details
    assert not [d for d in details if d.startswith("SCAN")], details


def test_points_stay_exact_decimals(tree, api_as, add_entry):
    add_entry(tree.m11, "service", Decimal("2.5"), date(Y, 3, 1))
    body = api_as(tree.m11).get(f"/api/v1/me/points?year={Y}").get_json()
    assert body["by_category"]["service"] == 2.5
    entries = next(c for c in body["explanation"]["categories"] if c["category"] == "service")["entries"]
    assert [e["points"] for e in entries] == [2.5]
