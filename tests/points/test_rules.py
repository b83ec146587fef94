"""The rule catalogue (积分细则): create, versioned changes, the active list, admin pages."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app.points.models import LedgerEntry, Rule
from tests.points.test_claims import count, error_of, freeze_today

XXQG = {"code": "xxqg_daily", "category": "study", "title": "学习强国每日积分", "points": 1,
        "daily_cap": 5, "needs_approval": False}


def test_admin_creates_a_rule(tree, api_as):
    r = api_as(tree.admin).post("/api/v1/rules", json=XXQG)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert {k: body[k] for k in ("code", "category", "title", "points", "daily_cap", "monthly_cap",
                                 "yearly_cap", "needs_approval", "evidence_required", "version")} == {
        "code": "xxqg_daily", "category": "study", "title": "学习强国每日积分", "points": 1, "daily_cap": 5,
        "monthly_cap": None, "yearly_cap": None, "needs_approval": False, "evidence_required": False,
        "version": 1}
    assert isinstance(body["id"], int)
    again = api_as(tree.admin).post("/api/v1/rules", json={**XXQG, "title": "另一个"})
    assert again.status_code == 409 and error_of(again)["code"] == "rule_exists"


def test_points_are_numbers_with_one_decimal(tree, api_as):
    r = api_as(tree.admin).post("/api/v1/rules", json={"code": "vol", "category": "service", "title": "志愿服务",
                                                       "points": 2.5, "monthly_cap": 12.5})
    assert r.status_code == 201
    assert r.get_json()["points"] == 2.5 and r.get_json()["monthly_cap"] == 12.5
    assert '"points": 2.5' in r.get_data(as_text=True) or '"points":2.5' in r.get_data(as_text=True)


def test_only_admins_create_rules(tree, api_as, db):
    assert api_as(tree.sec_c1).post("/api/v1/rules", json=XXQG).status_code == 403
    assert api_as(tree.m11).post("/api/v1/rules", json=XXQG).status_code == 403
    assert api_as(None).post("/api/v1/rules", json=XXQG).status_code == 401
    assert count(db, Rule) == 0


def test_rule_validation_changes_nothing(tree, api_as, db):
    api = api_as(tree.admin)
    cases = [
        ({}, {"code", "category", "title", "points"}),
        ({**XXQG, "points": 1.25}, {"points"}),
        ({**XXQG, "points": "1"}, {"points"}),
        ({**XXQG, "points": True}, {"points"}),
        ({**XXQG, "category": "bonus"}, {"category"}),
        ({**XXQG, "code": "学习"}, {"code"}),
        ({**XXQG, "points": -1}, {"points"}),
        ({**XXQG, "category": "penalty", "points": 5}, {"points"}),
        ({**XXQG, "points": 0}, {"points"}),
        ({**XXQG, "daily_cap": 0.5}, {"daily_cap"}),
        ({**XXQG, "daily_cap": 10, "monthly_cap": 5}, {"monthly_cap"}),
        ({**XXQG, "needs_approval": "yes"}, {"needs_approval"}),
        ({**XXQG, "needs_approval": 0}, {"needs_approval"}),  # 0 == False in Python, not in JSON
        ({**XXQG, "evidence_required": 1}, {"evidence_required"}),
        ({**XXQG, "title": ""}, {"title"}),
    ]
    for payload, fields in cases:
        r = api.post("/api/v1/rules", json=payload)
        assert r.status_code == 422, (payload, r.get_json())
        assert fields <= set(error_of(r)["fields"]), (payload, r.get_json())
    assert count(db, Rule) == 0


def test_catalogue_lists_active_rules_to_anyone(tree, api_as):
    admin = api_as(tree.admin)
    admin.post("/api/v1/rules", json=XXQG)
    admin.post("/api/v1/rules", json={"code": "absent", "category": "penalty", "title": "无故缺席组织生活", "points": -5})
    admin.post("/api/v1/rules", json={"code": "jdz", "category": "innovation", "title": "金点子", "points": 10,
                                      "yearly_cap": 30, "evidence_required": True})
    r = api_as(tree.m11).get("/api/v1/rules")
    assert r.status_code == 200
    body = r.get_json()
    assert body["total"] == 3
    assert [i["code"] for i in body["items"]] == ["xxqg_daily", "jdz", "absent"]  # study, innovation, penalty
    absent = body["items"][2]
    assert absent["points"] == -5 and absent["category"] == "penalty"
    assert api_as(tree.m11).get("/api/v1/rules?category=penalty").get_json()["total"] == 1
    assert api_as(None).get("/api/v1/rules").status_code == 401


def test_a_change_is_a_new_version_and_entries_keep_their_points(tree, api_as, db, monkeypatch):
    freeze_today(monkeypatch, date(2026, 3, 2))
    admin = api_as(tree.admin)
    admin.post("/api/v1/rules", json={"code": "xinde", "category": "study", "title": "撰写心得体会", "points": 2})
    first = api_as(tree.sec_b11).post("/api/v1/awards", json={"member_id": tree.m11.id, "rule_code": "xinde"}).get_json()
    r = admin.put("/api/v1/rules/xinde", json={"category": "study", "title": "撰写心得体会（1500字以上）",
                                               "points": 3, "monthly_cap": 6})
    assert r.status_code == 200 and r.get_json()["version"] == 2 and r.get_json()["points"] == 3
    versions = db.session.scalars(sa.select(Rule).where(Rule.code == "xinde").order_by(Rule.version)).all()
    assert [(v.version, v.active) for v in versions] == [(1, False), (2, True)]
    catalogue = api_as(tree.m11).get("/api/v1/rules").get_json()["items"]
    assert [(i["code"], i["version"], i["points"]) for i in catalogue] == [("xinde", 2, 3)]
    second = api_as(tree.sec_b11).post("/api/v1/awards", json={"member_id": tree.m11.id, "rule_code": "xinde"}).get_json()
    assert second["points"] == 3
    assert db.session.get(LedgerEntry, first["id"]).points == 2  # kept
    detail = api_as(tree.m11).get("/api/v1/rules/xinde").get_json()
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    assert api_as(tree.sec_c1).put("/api/v1/rules/xinde", json={"category": "study", "title": "x", "points": 1}).status_code == 403
    assert admin.put("/api/v1/rules/nope", json={"category": "study", "title": "x", "points": 1}).status_code == 404


def test_admin_pages_create_edit_and_history(tree, login_as, db):
    page = login_as(tree.admin)
    r = page.get("/points/rules/new")
    assert r.status_code == 200 and "新增细则" in r.get_data(as_text=True)
    r = page.post("/points/rules/new", data={"code": "yexun", "category": "service", "title": "参加社区夜巡",
                                             "points": "3", "daily_cap": "3", "needs_approval": "y"})
    assert r.status_code == 302
    listing = page.get("/points/rules").get_data(as_text=True)
    assert "参加社区夜巡" in listing and "每日上限3分" in listing

    r = page.post("/points/rules/new", data={"code": "yexun", "category": "service", "title": "重复", "points": "3"})
    assert r.status_code == 422 and r.get_data(as_text=True).count("已存在") == 1
    r = page.post("/points/rules/new", data={"code": "bad", "category": "penalty", "title": "扣分", "points": "2.55"})
    assert r.status_code == 422 and "最多保留一位小数" in r.get_data(as_text=True)

    r = page.post("/points/rules/yexun/edit", data={"category": "service", "title": "参加社区夜巡", "points": "4",
                                                   "daily_cap": "4", "needs_approval": "y"})
    assert r.status_code == 302
    history = page.get("/points/rules/yexun/edit").get_data(as_text=True)
    assert "版本记录" in history and "+3" in history and "+4" in history
    assert [(v.version, v.points) for v in db.session.scalars(
        sa.select(Rule).where(Rule.code == "yexun").order_by(Rule.version))] == [(1, 3), (2, 4)]

    assert page.post("/points/rules/yexun/retire").status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Rule).where(Rule.active.is_(True))) == 0
    assert "已停用" in page.get("/points/rules").get_data(as_text=True)


def test_rule_pages_are_for_admins(tree, login_as):
    page = login_as(tree.m11)
    assert page.get("/points/rules").status_code == 200  # everyone reads the catalogue
    assert page.get("/points/rules/new").status_code == 403
    assert page.post("/points/rules/new", data={"code": "x1", "category": "study", "title": "x", "points": "1"}).status_code == 403
    assert login_as(tree.sec_c1).get("/points/rules/new").status_code == 403


def test_rating_points_come_from_qr_ratings_only(tree, api_as, login_as, db):
    """群众评议 points are the monthly conversion of residents' ratings: no rule of that category
    can be made, and an old one cannot be used to add them by hand."""
    from app.points.models import LedgerEntry, Rule

    r = api_as(tree.admin).post("/api/v1/rules", json={"code": "pj", "category": "rating", "title": "群众好评",
                                                       "points": 5})
    assert r.status_code == 422 and "只来自群众扫码评议" in r.get_json()["error"]["fields"]["category"][0]
    form = login_as(tree.admin).get("/points/rules/new").get_data(as_text=True)
    assert 'value="rating"' not in form and 'value="study"' in form
    # a rule stored by an earlier version
    db.session.add(Rule(code="old_pj", version=1, category="rating", title="群众好评", points=5, active=True))
    db.session.commit()
    before = db.session.scalar(db.select(db.func.count(LedgerEntry.id)))
    r = api_as(tree.sec_b11).post("/api/v1/awards", json={"member_id": tree.m11.id, "rule_code": "old_pj"})
    assert r.status_code == 422 and "rule_code" in r.get_json()["error"]["fields"]
    assert db.session.scalar(db.select(db.func.count(LedgerEntry.id))) == before
