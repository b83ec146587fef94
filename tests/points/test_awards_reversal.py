"""Direct awards and deductions, and corrections by reversing entries."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.points.models import LedgerEntry
from tests.points.test_claims import add_rule, count, error_of, freeze_today


@pytest.fixture
def rules(tree, monkeypatch):
    freeze_today(monkeypatch, date(2026, 6, 10))
    return {
        "jiedui": add_rule(tree.admin, "jiedui", "service", 5, title="结对帮扶"),
        "absent": add_rule(tree.admin, "absent", "penalty", -5, title="无故缺席组织生活"),
        "act": add_rule(tree.admin, "act", "service", 5, title="支部特色活动"),
    }


def test_award_to_a_member_defaults_to_the_rule_and_today(tree, rules, api_as):
    r = api_as(tree.sec_b11).post("/api/v1/awards", json={"member_id": tree.m11.id, "rule_code": "jiedui",
                                                           "note": "帮扶独居老人"})
    assert r.status_code == 201, r.get_json()
    e = r.get_json()
    assert (e["member_id"], e["org_id"], e["points"], e["source"]) == (tree.m11.id, None, 5, "award")
    assert e["occurred_on"] == "2026-06-10" and e["note"] == "帮扶独居老人" and e["created_by_id"] == tree.sec_b11.id


def test_an_award_retried_with_its_idempotency_key_is_recorded_once(tree, rules, api_as, db):
    api = api_as(tree.sec_b11)
    body = {"member_id": tree.m11.id, "rule_code": "jiedui", "note": "帮扶独居老人"}
    first = api.client.post("/api/v1/awards", json=body, headers={"Authorization": f"Bearer {api.token}",
                                                                  "Idempotency-Key": "award-7f3a"})
    again = api.client.post("/api/v1/awards", json=body, headers={"Authorization": f"Bearer {api.token}",
                                                                  "Idempotency-Key": "award-7f3a"})
    assert first.status_code == again.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"]
    assert count(db, LedgerEntry) == 1
    changed = api.client.post("/api/v1/awards", json={**body, "points": 3},
                              headers={"Authorization": f"Bearer {api.token}", "Idempotency-Key": "award-7f3a"})
    assert changed.status_code == 409 and error_of(changed)["code"] == "idempotency_key_reused"
    assert count(db, LedgerEntry) == 1
    # another secretary's same key is their own award
    other = api_as(tree.sec_c1)
    r = other.client.post("/api/v1/awards", json=body, headers={"Authorization": f"Bearer {other.token}",
                                                                "Idempotency-Key": "award-7f3a"})
    assert r.status_code == 201 and r.get_json()["id"] != first.get_json()["id"]
    bad = api.client.post("/api/v1/awards", json=body, headers={"Authorization": f"Bearer {api.token}",
                                                                "Idempotency-Key": "钥匙"})
    assert bad.status_code == 422 and "submission_key" in error_of(bad)["fields"]
    assert count(db, LedgerEntry) == 2


@pytest.mark.parametrize("written", ["20260610", "2026-W24-3", "2026-6-10", "２０２６-06-10"])
def test_a_date_is_written_yyyy_mm_dd_only(tree, rules, api_as, db, written):
    """API.md writes dates YYYY-MM-DD; Python's ISO reader would also take the basic and the week
    forms, and store a day the person did not mean to type."""
    before = count(db, LedgerEntry)
    r = api_as(tree.sec_b11).post("/api/v1/awards", json={"member_id": tree.m11.id, "rule_code": "jiedui",
                                                           "occurred_on": written})
    assert r.status_code == 422 and "occurred_on" in error_of(r)["fields"], r.get_json()
    r = api_as(tree.m11).post("/api/v1/claims", json={"rule_code": "jiedui", "occurred_on": written})
    assert r.status_code in (404, 422) and count(db, LedgerEntry) == before


def test_deduction_and_point_overrides_keep_the_sign(tree, rules, api_as, db):
    api = api_as(tree.sec_c1)
    r = api.post("/api/v1/awards", json={"member_id": tree.m12.id, "rule_code": "absent", "note": "缺席党员大会"})
    assert r.status_code == 201 and r.get_json()["points"] == -5
    r = api.post("/api/v1/awards", json={"member_id": tree.m12.id, "rule_code": "absent", "points": -2.5, "note": "迟到"})
    assert r.status_code == 201 and r.get_json()["points"] == -2.5
    before = count(db, LedgerEntry)
    r = api.post("/api/v1/awards", json={"member_id": tree.m12.id, "rule_code": "absent", "points": 3})
    assert r.status_code == 422 and "points" in error_of(r)["fields"]
    r = api.post("/api/v1/awards", json={"member_id": tree.m12.id, "rule_code": "jiedui", "points": -3})
    assert r.status_code == 422 and "points" in error_of(r)["fields"]
    r = api.post("/api/v1/awards", json={"member_id": tree.m12.id, "rule_code": "jiedui", "points": 2.55})
    assert r.status_code == 422 and "points" in error_of(r)["fields"]
    r = api.post("/api/v1/awards", json={"member_id": tree.m12.id, "rule_code": "jiedui", "points": "3"})
    assert r.status_code == 422 and "points" in error_of(r)["fields"]
    assert count(db, LedgerEntry) == before


def test_orgs_earn_their_own_points(tree, rules, api_as):
    r = api_as(tree.sec_c1).post("/api/v1/awards", json={"org_id": tree.b12.id, "rule_code": "act",
                                                          "note": "组织邻里守望活动"})
    assert r.status_code == 201
    assert (r.get_json()["org_id"], r.get_json()["member_id"]) == (tree.b12.id, None)
    assert api_as(tree.admin).post("/api/v1/awards", json={"org_id": tree.c2.id, "rule_code": "act"}).status_code == 201


def test_award_input_errors(tree, rules, api_as, db):
    api = api_as(tree.sec_c1)
    before = count(db, LedgerEntry)
    r = api.post("/api/v1/awards", json={"rule_code": "jiedui"})
    assert r.status_code == 422 and "member_id" in error_of(r)["fields"]
    r = api.post("/api/v1/awards", json={"member_id": tree.m11.id, "org_id": tree.b11.id, "rule_code": "jiedui"})
    assert r.status_code == 422
    r = api.post("/api/v1/awards", json={"member_id": str(tree.m11.id), "rule_code": "jiedui"})
    assert r.status_code == 422 and "member_id" in error_of(r)["fields"]
    r = api.post("/api/v1/awards", json={"member_id": tree.m11.id, "rule_code": "nope"})
    assert r.status_code == 404 and error_of(r)["code"] == "rule_not_found"
    r = api.post("/api/v1/awards", json={"member_id": 987654, "rule_code": "jiedui"})
    assert r.status_code == 404 and error_of(r)["code"] == "member_not_found"
    r = api.post("/api/v1/awards", json={"member_id": tree.m11.id, "rule_code": "jiedui", "occurred_on": "2026-06-11"})
    assert r.status_code == 422 and "occurred_on" in error_of(r)["fields"]
    assert count(db, LedgerEntry) == before


def test_award_scope(tree, rules, api_as, db):
    body = {"member_id": tree.m11.id, "rule_code": "jiedui", "note": "x"}
    r = api_as(tree.sec_c2).post("/api/v1/awards", json=body)
    assert r.status_code == 403 and error_of(r)["code"] == "out_of_scope"
    r = api_as(tree.sec_c2).post("/api/v1/awards", json={"org_id": tree.b11.id, "rule_code": "act"})
    assert r.status_code == 403
    r = api_as(tree.m12).post("/api/v1/awards", json=body)
    assert r.status_code == 403 and error_of(r)["code"] == "forbidden_role"
    r = api_as(tree.sec_b11).post("/api/v1/awards", json={**body, "member_id": tree.sec_b11.id})
    assert r.status_code == 403 and error_of(r)["code"] == "own_account"
    assert count(db, LedgerEntry) == 0


def test_reversal_once_with_a_reason(tree, rules, api_as, db):
    api = api_as(tree.sec_b11)
    e = api.post("/api/v1/awards", json={"member_id": tree.m11.id, "rule_code": "absent", "note": "缺席"}).get_json()
    r = api.post(f"/api/v1/entries/{e['id']}/reverse", json={"reason": "已请假，撤销扣分"})
    assert r.status_code == 201
    rev = r.get_json()
    assert rev["points"] == 5 and rev["reverses_id"] == e["id"] and rev["source"] == "reversal"
    assert rev["note"] == "已请假，撤销扣分" and rev["occurred_on"] == e["occurred_on"]
    assert rev["category"] == "penalty" and rev["rule_code"] == "absent" and rev["member_id"] == tree.m11.id

    again = api_as(tree.sec_c1).post(f"/api/v1/entries/{e['id']}/reverse", json={"reason": "再冲一次"})
    assert again.status_code == 409 and error_of(again)["code"] == "already_reversed"
    back = api.post(f"/api/v1/entries/{rev['id']}/reverse", json={"reason": "冲正错了"})
    assert back.status_code == 409 and error_of(back)["code"] == "cannot_reverse_reversal"
    assert count(db, LedgerEntry) == 2
    original = api.get(f"/api/v1/entries/{e['id']}").get_json()
    assert original["reversed_by_id"] == rev["id"] and original["points"] == -5  # unchanged
    assert db.session.scalar(sa.select(sa.func.sum(LedgerEntry.points))) == 0


def test_reversal_needs_reason_and_scope(tree, rules, api_as, db):
    e = api_as(tree.sec_c1).post("/api/v1/awards", json={"member_id": tree.m11.id, "rule_code": "jiedui"}).get_json()
    for body in ({}, {"reason": "\u200b"}, {"reason": "\u202e "}):
        r = api_as(tree.sec_c1).post(f"/api/v1/entries/{e['id']}/reverse", json=body)
        assert r.status_code == 422 and "reason" in error_of(r)["fields"], body
    r = api_as(tree.sec_c2).post(f"/api/v1/entries/{e['id']}/reverse", json={"reason": "越权"})
    assert r.status_code == 403 and error_of(r)["code"] == "out_of_scope"
    r = api_as(tree.m11).post(f"/api/v1/entries/{e['id']}/reverse", json={"reason": "自己撤"})
    assert r.status_code == 403
    r = api_as(tree.sec_c1).post("/api/v1/entries/999999/reverse", json={"reason": "无"})
    assert r.status_code == 404 and error_of(r)["code"] == "entry_not_found"
    assert count(db, LedgerEntry) == 1
    # the member sees their own entry; another community's secretary does not
    assert api_as(tree.m11).get(f"/api/v1/entries/{e['id']}").status_code == 200
    assert api_as(tree.sec_c2).get(f"/api/v1/entries/{e['id']}").status_code == 403


def test_award_numbers_and_text_are_checked(tree, rules, api_as, db):
    api = api_as(tree.sec_c1)
    body = {"member_id": tree.m11.id, "rule_code": "jiedui", "note": "结对帮扶"}
    for extra, field in [({"points": "5"}, "points"), ({"points": 2.25}, "points"), ({"points": True}, "points"),
                         ({"points": -5}, "points"), ({"points": 0}, "points"),
                         ({"note": "帮" * 501}, "note"), ({"note": 5}, "note"),
                         ({"occurred_on": "2026-6-1x"}, "occurred_on"), ({"occurred_on": "2026-06-11"}, "occurred_on")]:
        r = api.post("/api/v1/awards", json={**body, **extra})
        assert r.status_code == 422, (extra, r.get_json())
        assert field in error_of(r)["fields"], (extra, r.get_json())
    e = api.post("/api/v1/awards", json={**body, "points": 2.5}).get_json()
    assert e["points"] == 2.5
    r = api.post(f"/api/v1/entries/{e['id']}/reverse", json={"reason": "冲" * 501})
    assert r.status_code == 422 and "reason" in error_of(r)["fields"]
    assert count(db, LedgerEntry) == 1


def test_a_secretarys_own_org_gets_its_points_from_the_level_above(tree, rules, api_as, login_as, db):
    """As with their own points: a branch secretary awarding their own branch (which competes in
    the community's races) is 403 next_level_up; the community secretary above may; the award
    page offers the branch only to them."""
    before = count(db, LedgerEntry)
    r = api_as(tree.sec_b11).post("/api/v1/awards", json={"org_id": tree.b11.id, "rule_code": "act"})
    assert r.status_code == 403 and error_of(r)["code"] == "next_level_up"
    r = api_as(tree.sec_c1).post("/api/v1/awards", json={"org_id": tree.c1.id, "rule_code": "act"})
    assert r.status_code == 403 and error_of(r)["code"] == "next_level_up"
    assert count(db, LedgerEntry) == before
    r = api_as(tree.sec_c1).post("/api/v1/awards", json={"org_id": tree.b11.id, "rule_code": "act"})
    assert r.status_code == 201
    entry_id = r.get_json()["id"]
    r = api_as(tree.sec_b11).post(f"/api/v1/entries/{entry_id}/reverse", json={"reason": "撤销本支部的加分"})
    assert r.status_code == 403 and error_of(r)["code"] == "next_level_up"
    pick = login_as(tree.sec_c1).get("/points/awards/new").get_data(as_text=True)
    assert f'value="{tree.b11.id}"' in pick and f'<option value="{tree.c1.id}"' not in pick
    assert "给组织加扣分" not in login_as(tree.sec_b11).get("/points/awards/new").get_data(as_text=True)
