"""Claims (申报) through the API: submit, the review queue, approve once, reject with a reason."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from app.points import services
from app.points.models import Claim, LedgerEntry

TODAY = date(2026, 4, 15)


def error_of(response):
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    return body["error"]


def add_rule(admin, code, category="study", points=2, **kw):
    """A rule through the service, as an admin would add it."""
    values = dict(code=code, category=category, title=kw.pop("title", f"细则{code}"), points=points)
    values.update(kw)
    return services.create_rule(admin, services.RuleInput(**values))


def freeze_today(monkeypatch, day: date, hour_utc: int = 4) -> None:
    """Make services.local_today() answer ``day`` (noon in Shanghai at 04:00 UTC)."""
    monkeypatch.setattr(services, "utc_now", lambda: datetime(day.year, day.month, day.day, hour_utc, tzinfo=timezone.utc))


def count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def rules(tree):
    return {
        "shyk": add_rule(tree.admin, "shyk", "study", 2, title="参加“三会一课”"),
        "xxqg": add_rule(tree.admin, "xxqg", "study", 1, title="学习强国每日积分", daily_cap=5, needs_approval=False),
        "award": add_rule(tree.admin, "award", "innovation", 15, title="获区级以上表彰", evidence_required=True),
        "absent": add_rule(tree.admin, "absent", "penalty", -5, title="无故缺席组织生活"),
    }


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    freeze_today(monkeypatch, TODAY)


def submit(api, code="shyk", on="2026-04-14", note="参加支部党员大会"):
    return api.post("/api/v1/claims", json={"rule_code": code, "occurred_on": on, "note": note})


def test_member_submits_and_secretary_approves(tree, rules, api_as, db):
    r = submit(api_as(tree.m11))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["status"] == "pending" and isinstance(body["id"], int)
    assert body["rule_code"] == "shyk" and body["points"] == 2 and body["occurred_on"] == "2026-04-14"

    queue = api_as(tree.sec_b11).get("/api/v1/claims?status=pending")
    assert queue.status_code == 200
    assert [c["id"] for c in queue.get_json()["items"]] == [body["id"]]
    assert queue.get_json()["total"] == 1

    r = api_as(tree.sec_b11).post(f"/api/v1/claims/{body['id']}/approve")
    assert r.status_code == 200, r.get_json()
    entry = r.get_json()
    assert entry["member_id"] == tree.m11.id and entry["org_id"] is None
    assert entry["rule_code"] == "shyk" and entry["category"] == "study"
    assert entry["points"] == 2 and entry["occurred_on"] == "2026-04-14"
    assert entry["source"] == "claim" and entry["note"] == "参加支部党员大会" and entry["reverses_id"] is None
    assert entry["created_at"].endswith("+08:00")

    again = api_as(tree.sec_c1).post(f"/api/v1/claims/{body['id']}/approve")
    assert again.status_code == 409 and error_of(again)["code"] == "already_decided"
    assert count(db, LedgerEntry) == 1
    mine = api_as(tree.m11).get("/api/v1/me/claims").get_json()["items"]
    assert mine[0]["status"] == "approved" and mine[0]["entry_id"] == entry["id"]


def test_queue_is_scoped_and_oldest_first(tree, rules, api_as):
    first = submit(api_as(tree.m12), on="2026-04-10").get_json()["id"]
    second = submit(api_as(tree.m11)).get_json()["id"]
    other = submit(api_as(tree.m21)).get_json()["id"]
    ids = lambda user: [c["id"] for c in api_as(user).get("/api/v1/claims?status=pending").get_json()["items"]]  # noqa: E731
    assert ids(tree.sec_c1) == [first, second]
    assert ids(tree.sec_b11) == [second]
    assert ids(tree.sec_c2) == [other]
    assert ids(tree.admin) == [first, second, other]
    page = api_as(tree.admin).get("/api/v1/claims?status=pending&limit=1&offset=1").get_json()
    assert page["total"] == 3 and [c["id"] for c in page["items"]] == [second]
    # a member's list is their own claims only; the review queue is not theirs
    member = api_as(tree.m11)
    assert [c["id"] for c in member.get("/api/v1/me/claims").get_json()["items"]] == [second]
    assert [c["id"] for c in member.get("/api/v1/claims?mine=true").get_json()["items"]] == [second]
    for path in ("/api/v1/claims?status=pending", "/api/v1/claims"):
        r = member.get(path)
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden_role", path
    # a secretary's own claims, newest first, and the status filter
    own = submit(api_as(tree.sec_b11)).get_json()["id"]
    assert [c["id"] for c in api_as(tree.sec_b11).get("/api/v1/me/claims?status=pending").get_json()["items"]] == [own]
    assert api_as(tree.sec_b11).get("/api/v1/me/claims?status=approved").get_json() == {"items": [], "total": 0}


def test_nobody_approves_their_own_claim(tree, rules, api_as, db):
    own = submit(api_as(tree.sec_b11), note="书记本人参加党课").get_json()["id"]
    r = api_as(tree.sec_b11).post(f"/api/v1/claims/{own}/approve")
    assert r.status_code == 403 and error_of(r)["code"] == "own_claim"
    # it is not in the secretary's own queue, but in the next level up's
    assert own not in [c["id"] for c in api_as(tree.sec_b11).get("/api/v1/claims?status=pending").get_json()["items"]]
    assert own in [c["id"] for c in api_as(tree.sec_c1).get("/api/v1/claims?status=pending").get_json()["items"]]
    assert api_as(tree.sec_c1).post(f"/api/v1/claims/{own}/approve").status_code == 200
    assert count(db, LedgerEntry) == 1


def test_secretary_of_another_community_gets_403(tree, rules, api_as, db):
    cid = submit(api_as(tree.m11)).get_json()["id"]
    r = api_as(tree.sec_c2).post(f"/api/v1/claims/{cid}/approve")
    assert r.status_code == 403 and error_of(r)["code"] == "out_of_scope"
    r = api_as(tree.sec_c2).post(f"/api/v1/claims/{cid}/reject", json={"reason": "不在本社区"})
    assert r.status_code == 403
    assert api_as(tree.m12).post(f"/api/v1/claims/{cid}/approve").status_code == 403
    assert api_as(tree.sec_c2).get(f"/api/v1/claims/{cid}").status_code == 403
    assert count(db, LedgerEntry) == 0
    assert db.session.get(Claim, cid).status == "pending"


def test_reject_needs_a_reason_and_the_member_sees_it(tree, rules, api_as, db):
    cid = submit(api_as(tree.m11)).get_json()["id"]
    sec = api_as(tree.sec_b11)
    r = sec.post(f"/api/v1/claims/{cid}/reject", json={})
    assert r.status_code == 422 and "reason" in error_of(r)["fields"]
    for blank in ("   ", "\u200b", " \u200b\u2060\ufeff "):  # nothing that shows is no reason
        r = sec.post(f"/api/v1/claims/{cid}/reject", json={"reason": blank})
        assert r.status_code == 422 and "reason" in error_of(r)["fields"], repr(blank)
    assert db.session.get(Claim, cid).status == "pending"
    r = sec.post(f"/api/v1/claims/{cid}/reject", json={"reason": "照片看不清，请补充现场照片。"})
    assert r.status_code == 200 and r.get_json()["status"] == "rejected"
    mine = api_as(tree.m11).get(f"/api/v1/claims/{cid}").get_json()
    assert mine["reject_reason"] == "照片看不清，请补充现场照片。" and mine["reviewer_name"] == "陈支书"
    assert sec.post(f"/api/v1/claims/{cid}/approve").status_code == 409
    assert count(db, LedgerEntry) == 0


def test_rule_without_approval_is_granted_at_once(tree, rules, api_as, db):
    r = submit(api_as(tree.m11), code="xxqg", on="2026-04-15", note="")
    assert r.status_code == 201
    body = r.get_json()
    assert body["status"] == "approved" and body["entry_id"]
    entry = db.session.get(LedgerEntry, body["entry_id"])
    assert entry.points == 1 and entry.source_key == f"claim:{body['id']}"


def test_bad_input_is_refused_and_changes_nothing(tree, rules, api_as, db):
    api = api_as(tree.m11)
    before = (count(db, Claim), count(db, LedgerEntry))
    r = api.post("/api/v1/claims", json={})
    assert r.status_code == 422 and {"rule_code", "occurred_on"} <= set(error_of(r)["fields"])
    r = api.post("/api/v1/claims", json={"rule_code": 5, "occurred_on": 20260401, "note": ["x"]})
    assert r.status_code == 422 and {"rule_code", "occurred_on", "note"} <= set(error_of(r)["fields"])
    r = api.post("/api/v1/claims", json={"rule_code": "shyk", "occurred_on": "2026-02-30"})
    assert r.status_code == 422 and "occurred_on" in error_of(r)["fields"]
    r = submit(api, on="2026-04-16")  # tomorrow in Shanghai
    assert r.status_code == 422 and error_of(r)["fields"]["occurred_on"] == ["日期不能晚于今天。"]
    r = submit(api, on="2026-02-13")  # 61 days ago
    assert r.status_code == 422 and "60" in error_of(r)["fields"]["occurred_on"][0]
    assert submit(api, on="2026-02-14").status_code == 201  # 60 days ago is still in
    r = submit(api, code="no-such-rule")
    assert r.status_code == 404 and error_of(r)["code"] == "rule_not_found"
    r = submit(api, code="award")  # evidence required: the API has no upload
    assert r.status_code == 422 and "evidence" in error_of(r)["fields"]
    r = submit(api, code="absent")  # deductions are not claimed
    assert r.status_code == 422 and "rule_code" in error_of(r)["fields"]
    r = api.post("/api/v1/claims", data="{oops", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and error_of(r)["code"] == "malformed_json"
    assert (count(db, Claim), count(db, LedgerEntry)) == (before[0] + 1, before[1])


def test_unknown_claim_and_missing_token(tree, rules, api_as, client):
    r = api_as(tree.sec_c1).post("/api/v1/claims/424242/approve")
    assert r.status_code == 404 and error_of(r)["code"] == "claim_not_found"
    assert client.post("/api/v1/claims", json={}).status_code == 401


def test_window_is_configurable(tree, rules, api_as, app):
    app.config["CLAIM_WINDOW_DAYS"] = 7
    r = submit(api_as(tree.m11), on="2026-04-07")
    assert r.status_code == 422 and "7" in error_of(r)["fields"]["occurred_on"][0]
    assert submit(api_as(tree.m11), on="2026-04-08").status_code == 201


def test_approval_keeps_the_version_claimed_under(tree, rules, api_as, db):
    cid = submit(api_as(tree.m11)).get_json()["id"]
    services.change_rule(tree.admin, "shyk", services.RuleInput(code="shyk", category="study", title="参加“三会一课”", points=3))
    entry = api_as(tree.sec_b11).post(f"/api/v1/claims/{cid}/approve").get_json()
    assert entry["points"] == 2
    cid2 = submit(api_as(tree.m11)).get_json()["id"]
    assert api_as(tree.sec_b11).post(f"/api/v1/claims/{cid2}/approve").get_json()["points"] == 3


def test_claim_and_approval_move_index_rank_and_explanation_through_the_api(tree, rules, api_as, db):
    """Done when, through the API: a claim approved by the secretary moves the member's index and
    rank, and the entry shows up in the explanation and the history."""
    # The branch secretary is ahead in the branch with a service award from the community.
    r = api_as(tree.sec_c1).post("/api/v1/awards", json={"member_id": tree.sec_b11.id, "rule_code": "shyk",
                                                         "note": "支部书记讲党课", "occurred_on": "2026-04-01"})
    assert r.status_code == 201, r.get_json()
    me = api_as(tree.m11)
    before = me.get("/api/v1/me/points?year=2026").get_json()
    assert (before["index"], before["total"]) == (0, 0)
    assert before["rank"] == {"branch": 2, "community": 2}   # sec_b11 first; m11, m12, sec_c1 tied

    cid = submit(me, note="参加支部党员大会并发言").get_json()["id"]
    again = submit(me, on="2026-04-13", note="第二次党员大会").get_json()["id"]
    assert api_as(tree.sec_b11).post(f"/api/v1/claims/{cid}/approve").status_code == 200
    assert api_as(tree.sec_b11).post(f"/api/v1/claims/{again}/approve").status_code == 200

    after = me.get("/api/v1/me/points?year=2026").get_json()
    # study 4 of the 120 ceiling, weight 30: 30 * 4 / 120 = 1.0; sec_b11 has 2 -> 0.5
    assert (after["index"], after["total"]) == (1, 4)
    assert after["by_category"] == {"study": 4, "service": 0, "innovation": 0, "rating": 0, "penalty": 0}
    assert after["rank"] == {"branch": 1, "community": 1}
    study = next(line for line in after["explanation"]["categories"] if line["category"] == "study")
    assert {e["note"] for e in study["entries"]} == {"参加支部党员大会并发言", "第二次党员大会"}
    assert all(e["rule_code"] == "shyk" and e["source"] == "claim" for e in study["entries"])
    history = me.get("/api/v1/me/entries?year=2026&limit=1").get_json()
    assert history["total"] == 2 and len(history["items"]) == 1
    # The secretary reads the same figures.
    assert api_as(tree.sec_b11).get(f"/api/v1/members/{tree.m11.id}/points?year=2026").get_json()["index"] == 1


def test_oversized_text_is_refused_and_changes_nothing(tree, rules, api_as, db):
    api = api_as(tree.m11)
    before = (count(db, Claim), count(db, LedgerEntry))
    r = submit(api, note="党" * (services.NOTE_MAX + 1))
    assert r.status_code == 422 and "note" in error_of(r)["fields"]
    assert submit(api, note="党" * services.NOTE_MAX).status_code == 201  # the limit itself is fine
    cid = submit(api).get_json()["id"]
    r = api_as(tree.sec_b11).post(f"/api/v1/claims/{cid}/reject", json={"reason": "退" * (services.REASON_MAX + 1)})
    assert r.status_code == 422 and "reason" in error_of(r)["fields"]
    r = api_as(tree.sec_b11).post(f"/api/v1/claims/{cid}/reject", json={"reason": 42})
    assert r.status_code == 422 and "reason" in error_of(r)["fields"]
    assert db.session.get(Claim, cid).status == "pending"
    assert (count(db, Claim), count(db, LedgerEntry)) == (before[0] + 2, before[1])


HUGE_ID = 10**20  # beyond every integer column and the 64-bit database drivers


def test_ids_beyond_any_row_are_not_found_never_a_server_error(tree, rules, api_as, login_as, db):
    sec = api_as(tree.sec_c1)
    for method, path in [
        ("post", f"/api/v1/claims/{HUGE_ID}/approve"), ("post", f"/api/v1/claims/{HUGE_ID}/reject"),
        ("get", f"/api/v1/claims/{HUGE_ID}"), ("get", f"/api/v1/entries/{HUGE_ID}"),
        ("post", f"/api/v1/entries/{HUGE_ID}/reverse"), ("get", f"/api/v1/members/{HUGE_ID}/points"),
        ("get", f"/api/v1/orgs/{HUGE_ID}/points"), ("get", f"/api/v1/orgs/{HUGE_ID}/ranking"),
        ("get", f"/api/v1/orgs/{HUGE_ID}/duty"),
    ]:
        r = getattr(sec, method)(path, json={"reason": "无"})
        assert r.status_code == 404, (path, r.status_code)
        error_of(r)
    for body in ({"member_id": HUGE_ID, "rule_code": "shyk"}, {"org_id": HUGE_ID, "rule_code": "shyk"}):
        r = sec.post("/api/v1/awards", json=body)
        assert r.status_code in (404, 422), r.get_json()
        error_of(r)
    page = login_as(tree.sec_c1)
    assert page.get(f"/index/table?org_id={HUGE_ID}").status_code == 404
    assert page.get(f"/index/duty?org_id={HUGE_ID}").status_code == 404
    assert page.get(f"/points/review?offset={HUGE_ID}").status_code == 200
    assert page.get(f"/points/claims?offset={HUGE_ID}").status_code == 200
    r = page.get(f"/points/awards/new?member_id={HUGE_ID}", follow_redirects=True)
    assert r.status_code in (200, 404) and "找不到该党员" in r.get_data(as_text=True)
    assert count(db, LedgerEntry) == 0


def test_services_treat_impossible_ids_as_unknown(tree, rules):
    """The look-ups behind every route: an id no row can have is 404, not a driver overflow."""
    from app.errors import NotFound
    from app.points import index as ix

    for call in (lambda: services.get_claim(HUGE_ID), lambda: services.get_entry(-HUGE_ID),
                 lambda: ix.get_member(HUGE_ID), lambda: ix.get_org(HUGE_ID),
                 lambda: services.award(tree.sec_c1, rule_code="shyk", member_id=HUGE_ID),
                 lambda: services.award(tree.sec_c1, rule_code="shyk", org_id=HUGE_ID)):
        with pytest.raises(NotFound):
            call()


def test_an_idempotency_key_makes_a_retry_safe(tree, rules, api_as, db):
    """A phone on slow 4G retries: the same Idempotency-Key answers the claim it made, even for a
    rule granted at once (one ledger entry); the key with another claim is 409 (a retry sends the
    same again); another key files another claim; a bad key is 422."""
    api = api_as(tree.m11)
    body = {"rule_code": "shyk", "occurred_on": "2026-04-14", "note": "参加支部党员大会"}
    first = api.post("/api/v1/claims", json=body, headers={"Idempotency-Key": "k-1"})
    again = api.post("/api/v1/claims", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.get_json()["id"] == first.get_json()["id"] and again.get_json()["note"] == "参加支部党员大会"
    other = api.post("/api/v1/claims", json={**body, "note": "另一件事"}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 409 and error_of(other)["code"] == "idempotency_key_reused"
    assert count(db, Claim) == 1
    assert api.post("/api/v1/claims", json=body, headers={"Idempotency-Key": "k-2"}).status_code == 201
    assert api.post("/api/v1/claims", json=body).status_code == 201  # no key: every post files
    assert count(db, Claim) == 3
    # the same key of another member is theirs alone
    assert api_as(tree.m12).post("/api/v1/claims", json=body, headers={"Idempotency-Key": "k-1"}).status_code == 201
    for bad in ("x" * 65, "a b"):
        r = api.post("/api/v1/claims", json=body, headers={"Idempotency-Key": bad})
        assert r.status_code == 422 and "submission_key" in error_of(r)["fields"]
    assert count(db, Claim) == 4
