"""Caps per day, month and year, where a day is a day in Asia/Shanghai."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from app.points import services
from app.points.models import Claim, LedgerEntry
from tests.points.test_claims import add_rule, count, error_of, freeze_today


def award(api, member, code, on, points=None):
    body = {"member_id": member.id, "rule_code": code, "note": "测试", "occurred_on": on}
    if points is not None:
        body["points"] = points
    return api.post("/api/v1/awards", json=body)


def total(db, member, code) -> int:
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.points), 0))
                             .where(LedgerEntry.member_id == member.id, LedgerEntry.rule_code == code))


def test_daily_cap_ends_at_midnight_in_shanghai(tree, api_as, db, monkeypatch):
    add_rule(tree.admin, "xxqg", "study", 1, title="学习强国每日积分", daily_cap=5, needs_approval=False)
    freeze_today(monkeypatch, date(2026, 4, 1))
    api = api_as(tree.m11)
    for _ in range(5):
        r = api.post("/api/v1/claims", json={"rule_code": "xxqg", "occurred_on": "2026-03-31"})
        assert r.status_code == 201 and r.get_json()["status"] == "approved"
    claims, entries = count(db, Claim), count(db, LedgerEntry)
    r = api.post("/api/v1/claims", json={"rule_code": "xxqg", "occurred_on": "2026-03-31"})
    assert r.status_code == 409
    err = error_of(r)
    assert err["code"] == "cap_reached" and "每日上限 5 分" in err["message"]
    assert (count(db, Claim), count(db, LedgerEntry)) == (claims, entries)  # nothing stored
    r = api.post("/api/v1/claims", json={"rule_code": "xxqg", "occurred_on": "2026-04-01"})
    assert r.status_code == 201
    # another member has their own room
    assert api_as(tree.m12).post("/api/v1/claims", json={"rule_code": "xxqg", "occurred_on": "2026-03-31"}).status_code == 201


def test_monthly_cap_at_the_month_boundary(tree, api_as, db, monkeypatch):
    add_rule(tree.admin, "xinde", "study", 3, title="撰写心得体会", monthly_cap=6)
    freeze_today(monkeypatch, date(2026, 4, 1))
    sec = api_as(tree.sec_b11)
    assert award(sec, tree.m11, "xinde", "2026-03-01").status_code == 201
    assert award(sec, tree.m11, "xinde", "2026-03-31").status_code == 201
    r = award(sec, tree.m11, "xinde", "2026-03-31")
    assert r.status_code == 409 and "每月上限 6 分" in error_of(r)["message"]
    assert award(sec, tree.m11, "xinde", "2026-04-01").status_code == 201
    assert award(sec, tree.m11, "xinde", "2026-04-01").status_code == 201
    assert award(sec, tree.m11, "xinde", "2026-04-01").status_code == 409
    assert total(db, tree.m11, "xinde") == 12


def test_yearly_cap_at_the_year_boundary(tree, api_as, db, monkeypatch):
    add_rule(tree.admin, "jdz", "innovation", 10, title="金点子", yearly_cap=30)
    freeze_today(monkeypatch, date(2027, 1, 1))
    sec = api_as(tree.sec_c1)
    for day in ("2026-01-01", "2026-06-30", "2026-12-31"):
        assert award(sec, tree.m12, "jdz", day).status_code == 201
    r = award(sec, tree.m12, "jdz", "2026-12-31")
    assert r.status_code == 409 and "每年上限 30 分" in error_of(r)["message"]
    assert award(sec, tree.m12, "jdz", "2027-01-01").status_code == 201
    assert total(db, tree.m12, "jdz") == 40


def test_no_partial_grant_and_override_counts(tree, api_as, db, monkeypatch):
    add_rule(tree.admin, "vol", "service", 2, title="志愿服务", daily_cap=8)
    freeze_today(monkeypatch, date(2026, 5, 20))
    sec = api_as(tree.sec_b11)
    assert award(sec, tree.m11, "vol", "2026-05-20", points=7).status_code == 201
    r = award(sec, tree.m11, "vol", "2026-05-20")  # 7 + 2 > 8: refused whole, not 1 granted
    assert r.status_code == 409 and error_of(r)["code"] == "cap_reached"
    # the message says the cap is not reached yet, only not for this many, and what still fits
    assert error_of(r)["message"] == "本次 2 分会超过该项每日上限 8 分（志愿服务，2026-05-20 当日已计 7 分，还可计 1 分），未能计入。"
    assert award(sec, tree.m11, "vol", "2026-05-20", points=1).status_code == 201
    assert total(db, tree.m11, "vol") == 8


def test_a_reversal_frees_room(tree, api_as, db, monkeypatch):
    add_rule(tree.admin, "yexun", "service", 3, title="社区夜巡", daily_cap=3)
    freeze_today(monkeypatch, date(2026, 5, 20))
    sec = api_as(tree.sec_b11)
    first = award(sec, tree.m11, "yexun", "2026-05-19").get_json()
    assert award(sec, tree.m11, "yexun", "2026-05-19").status_code == 409
    assert sec.post(f"/api/v1/entries/{first['id']}/reverse", json={"reason": "录错日期"}).status_code == 201
    assert award(sec, tree.m11, "yexun", "2026-05-19").status_code == 201
    assert total(db, tree.m11, "yexun") == 3


def test_caps_count_every_version_of_the_code(tree, api_as, monkeypatch):
    add_rule(tree.admin, "shyk", "study", 2, title="三会一课", monthly_cap=4)
    freeze_today(monkeypatch, date(2026, 5, 20))
    sec = api_as(tree.sec_b11)
    assert award(sec, tree.m11, "shyk", "2026-05-02").status_code == 201
    services.change_rule(tree.admin, "shyk", services.RuleInput(
        code="shyk", category="study", title="三会一课", points=3, monthly_cap=5))
    r = award(sec, tree.m11, "shyk", "2026-05-03")  # 2 (v1) + 3 (v2) = 5: fits v2's cap
    assert r.status_code == 201 and r.get_json()["points"] == 3
    r = award(sec, tree.m11, "shyk", "2026-05-04")
    assert r.status_code == 409 and "每月上限 5 分" in error_of(r)["message"]


def test_org_caps_are_the_orgs_own(tree, api_as, monkeypatch):
    add_rule(tree.admin, "act", "service", 5, title="支部特色活动", monthly_cap=10)
    freeze_today(monkeypatch, date(2026, 5, 20))
    sec = api_as(tree.sec_c1)
    body = {"org_id": tree.b11.id, "rule_code": "act", "note": "邻里守望活动", "occurred_on": "2026-05-10"}
    assert sec.post("/api/v1/awards", json=body).status_code == 201
    assert sec.post("/api/v1/awards", json=body).status_code == 201
    r = sec.post("/api/v1/awards", json=body)
    assert r.status_code == 409 and error_of(r)["code"] == "cap_reached"
    assert sec.post("/api/v1/awards", json={**body, "org_id": tree.b12.id}).status_code == 201
    assert award(sec, tree.m11, "act", "2026-05-10").status_code == 201  # a member's room is separate


def test_penalty_caps_bound_the_deduction(tree, api_as, monkeypatch):
    add_rule(tree.admin, "absent", "penalty", -5, title="无故缺席组织生活", yearly_cap=10)
    freeze_today(monkeypatch, date(2026, 5, 20))
    sec = api_as(tree.sec_b11)
    assert award(sec, tree.m11, "absent", "2026-03-01").status_code == 201
    assert award(sec, tree.m11, "absent", "2026-04-01").status_code == 201
    r = award(sec, tree.m11, "absent", "2026-05-01")
    assert r.status_code == 409 and "每年扣分上限 10 分" in error_of(r)["message"]


def test_approval_over_a_cap_is_refused_and_the_claim_stays_pending(tree, api_as, db, monkeypatch):
    add_rule(tree.admin, "vol", "service", 2, title="志愿服务", daily_cap=2)
    freeze_today(monkeypatch, date(2026, 5, 20))
    m = api_as(tree.m11)
    ids = [m.post("/api/v1/claims", json={"rule_code": "vol", "occurred_on": "2026-05-18"}).get_json()["id"]
           for _ in range(2)]
    sec = api_as(tree.sec_b11)
    assert sec.post(f"/api/v1/claims/{ids[0]}/approve").status_code == 200
    r = sec.post(f"/api/v1/claims/{ids[1]}/approve")
    assert r.status_code == 409 and "每日上限 2 分" in error_of(r)["message"]
    assert db.session.get(Claim, ids[1]).status == "pending"
    assert count(db, LedgerEntry) == 1


@pytest.mark.parametrize("utc_time, expected", [
    (datetime(2026, 3, 31, 15, 59, tzinfo=timezone.utc), date(2026, 3, 31)),  # 23:59 in Shanghai
    (datetime(2026, 3, 31, 16, 0, tzinfo=timezone.utc), date(2026, 4, 1)),    # 00:00 in Shanghai
])
def test_today_is_the_shanghai_day(tree, api_as, monkeypatch, utc_time, expected):
    add_rule(tree.admin, "wg", "service", 1, title="网格走访", daily_cap=1)
    monkeypatch.setattr(services, "utc_now", lambda: utc_time)
    assert services.local_today() == expected
    sec = api_as(tree.sec_b11)
    assert award(sec, tree.m11, "wg", "2026-03-31").status_code == 201  # 3/31 is full now
    r = sec.post("/api/v1/awards", json={"member_id": tree.m11.id, "rule_code": "wg", "note": "入户走访"})
    if expected == date(2026, 4, 1):
        assert r.status_code == 201 and r.get_json()["occurred_on"] == "2026-04-01"
    else:
        assert r.status_code == 409 and error_of(r)["code"] == "cap_reached"
    # a claim dated "tomorrow" by Shanghai time is in the future
    tomorrow = date.fromordinal(expected.toordinal() + 1).isoformat()
    r = api_as(tree.m11).post("/api/v1/claims", json={"rule_code": "wg", "occurred_on": tomorrow})
    assert r.status_code == 422 and "occurred_on" in error_of(r)["fields"]
