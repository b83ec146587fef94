"""Finalize: frozen standings, outcomes for the annual assessment, member bonuses, 409 twice."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.contests import services
from app.contests.models import ContestOutcome
from app.errors import Conflict, Forbidden
from app.points.models import LedgerEntry
from tests.contests.conftest import YEAR, board

D = Decimal


def _outcomes(db, contest_id):
    return {o.org_id: (o.year, o.place, o.bonus, o.award_ineligible) for o in db.session.scalars(
        sa.select(ContestOutcome).where(ContestOutcome.contest_id == contest_id))}


def test_finalize_records_bonus_for_tied_top_places_and_excludes_the_last(race, make_contest, db):
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"],
                     top_places=2, top_points=D("3.5"), exclude_last=True)
    services.finalize(race.tree.sec_c1, c.id)
    assert _outcomes(db, c.id) == {
        race.b11.id: (YEAR, 1, D("3.5"), False),
        race.b12.id: (YEAR, 2, D("3.5"), False),  # tied for 2nd: both inside the top 2
        race.b13.id: (YEAR, 2, D("3.5"), False),
        race.b14.id: (YEAR, 4, D("0.0"), True),
    }


def test_everyone_tied_at_the_last_place_is_excluded(race, make_contest, add_points, db):
    add_points(1, "study", org=race.b14)  # b14: 9 -> 10, tied with b12 and b13
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"],
                     top_places=1, top_points=2, exclude_last=True)
    services.finalize(race.tree.sec_c1, c.id)
    got = _outcomes(db, c.id)
    assert got[race.b11.id] == (YEAR, 1, D("2.0"), False)
    assert {got[b.id] for b in (race.b12, race.b13, race.b14)} == {(YEAR, 2, D("0.0"), True)}


def test_without_exclude_last_nobody_is_excluded(race, make_contest, db):
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"], top_places=1, top_points=2)
    services.finalize(race.tree.sec_c1, c.id)
    assert not any(v[3] for v in _outcomes(db, c.id).values())


def test_finalize_freezes_the_board(race, make_contest, add_points, api_as):
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"], exclude_last=True)
    services.finalize(race.tree.sec_c1, c.id)
    frozen = board(c.id)
    add_points(500, "study", member=race.m14)  # b14 would now be first
    services.rollup_running(datetime.now(timezone.utc) + timedelta(minutes=10))
    services.close_day(datetime.now(timezone.utc) + timedelta(days=1))
    with pytest.raises(Conflict):
        services.rollup_now(race.tree.sec_c1, c.id)
    assert board(c.id) == frozen
    body = api_as(race.tree.m11).get(f"/api/v1/contests/{c.id}/leaderboard").get_json()
    assert body["final"] is True and body["standings"][0]["participant"]["name"] == "桂花第一支部"
    assert body["standings"][-1]["participant"]["name"] == "桂花第四支部"


def test_second_finalize_is_409_and_changes_nothing(race, make_contest, db):
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"], top_places=2, top_points=1)
    services.finalize(race.tree.sec_c1, c.id)
    before = _outcomes(db, c.id)
    with pytest.raises(Conflict) as exc:
        services.finalize(race.tree.admin, c.id)
    assert exc.value.code == "already_final" and exc.value.status == 409
    assert _outcomes(db, c.id) == before


def test_finalize_needs_a_manager_of_the_scope(race, make_contest):
    c = make_contest(race.tree.sec_c1, race.c1, "branch")
    for who in (race.tree.sec_c2, race.tree.sec_b11, race.tree.m11):
        with pytest.raises(Forbidden):
            services.finalize(who, c.id)


def test_member_contest_bonus_becomes_ledger_entries(race, make_contest, db):
    t = race.tree
    c = make_contest(t.sec_c1, race.c1, "member", categories=["study", "service"], top_places=2, top_points=5)
    services.finalize(t.sec_c1, c.id)
    entries = db.session.execute(
        sa.select(LedgerEntry.member_id, LedgerEntry.points, LedgerEntry.source, LedgerEntry.source_key)
        .where(LedgerEntry.source == "contest").order_by(LedgerEntry.member_id)).all()
    # 张三 and 周八 share first place (10 points each); 李四 is 3rd, outside the top 2
    assert entries == sorted([
        (t.m11.id, D("5.0"), "contest", f"contest:{c.id}:member:{t.m11.id}"),
        (race.m13.id, D("5.0"), "contest", f"contest:{c.id}:member:{race.m13.id}"),
    ])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ContestOutcome)) == 0
    assert board(c.id)[t.m11.id][:2] == (1, D("10.00"))  # the bonus does not move the frozen board


def test_finalized_community_race_shows_in_the_annual_assessment_results(race, api_as):
    """Done when: finalizing hands the top places and the last place to the annual assessment of
    the same year, which an admin reads from GET /api/v1/assessments/{id}/results."""
    t = race.tree
    admin = api_as(t.admin)
    title = f"{YEAR}年度社区积分竞位赛"
    created = admin.post("/api/v1/contests", json={
        "title": title, "participant_type": "community", "scope_org_id": t.street.id,
        "starts_on": f"{YEAR}-01-01", "ends_on": f"{YEAR}-12-31", "categories": ["study", "service"],
        "scoring": "total", "top_bonus": {"places": 1, "points": 2.5}, "exclude_last": True})
    assert created.status_code == 201, created.get_json()
    cid = created.get_json()["id"]
    # c1 holds every counted point of the race (47), c2 none: c1 first, c2 last
    assert admin.post(f"/api/v1/contests/{cid}/finalize").status_code == 200
    aid = admin.post("/api/v1/assessments", json={"year": YEAR, "title": f"{YEAR}年度社区党建考核",
                                                  "coefficient_step": 0.005}).get_json()["id"]
    for org, pb in ((t.c1, 90), (t.c2, 80)):
        r = admin.put(f"/api/v1/assessments/{aid}/units/{org.id}", json={
            "base": 90, "party_building": pb, "bonus": 1, "deductions": 0, "veto": False, "criticized": False,
            "unit_class": "社区"})
        assert r.status_code == 200, r.get_json()
    items = {i["org_id"]: i for i in admin.get(f"/api/v1/assessments/{aid}/results").get_json()["items"]}
    first, last = items[t.c1.id], items[t.c2.id]
    assert first["bonus"] == 3.5 and first["award_eligible"] is True  # 1 entered + 2.5 from the race
    assert f"积分竞位赛“{title}”第1名" in first["explanation"]
    assert last["bonus"] == 1 and last["award_eligible"] is False
    assert f"积分竞位赛“{title}”第2名（末位）" in last["explanation"]


def test_a_race_that_has_not_started_cannot_be_finalized(race, make_contest, api_as, login_as, db):
    """Before its first day every place ties at 0: finalizing then would give every unit the
    bonus and feed it into that year's assessment. 409 not_started, and nothing changes."""
    from app.contests.models import ContestSnapshot
    from app.contests.rollup import local_date, utcnow

    nxt = local_date(utcnow()).year + 1
    c = make_contest(race.tree.sec_c1, race.c1, "branch", title=f"{nxt}年度积分竞位赛",
                     starts_on=date(nxt, 1, 1), ends_on=date(nxt, 12, 31), top_places=2, top_points=5)
    snapshots = db.session.scalar(sa.select(sa.func.count()).select_from(ContestSnapshot)
                                  .where(ContestSnapshot.contest_id == c.id))
    r = api_as(race.tree.sec_c1).post(f"/api/v1/contests/{c.id}/finalize")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_started"
    assert f"{nxt}-01-01开始" in r.get_json()["error"]["message"]
    s = login_as(race.tree.sec_c1)
    page = s.get(f"/contests/{c.id}/finalize", follow_redirects=True).get_data(as_text=True)
    assert "竞赛尚未开始" in page and "确认定稿" not in page
    assert "竞赛尚未开始" in s.post(f"/contests/{c.id}/finalize", follow_redirects=True).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(type(c), c.id).status == "running"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ContestSnapshot)
                             .where(ContestSnapshot.contest_id == c.id)) == snapshots


def test_a_snapshot_waiting_behind_a_finalize_writes_nothing(race, make_contest, add_points, db):
    """A rollup (tick, manual, nightly) that got the contest's row after a finalize committed
    finds it final and writes no snapshot: the frozen board never grows a later one holding the
    bonus entries."""
    from app.contests import rollup
    from app.contests.models import ContestSnapshot

    c = make_contest(race.tree.sec_c1, race.c1, "member", top_places=1, top_points=5)
    services.finalize(race.tree.sec_c1, c.id)
    final = rollup.current_snapshot(c)
    add_points(3, "study", member=race.m13)
    # as if the check before the lock had seen it running
    for kind, key in (("tick", "t:late"), ("manual", "m:late"), ("day", "day:late")):
        snapshot, created = rollup.write_snapshot(c, period_key=key, kind=kind)
        assert created is False and snapshot.id == final.id, kind
    db.session.commit()
    assert db.session.scalars(sa.select(ContestSnapshot.id).where(
        ContestSnapshot.contest_id == c.id, ContestSnapshot.id > final.id)).all() == []
