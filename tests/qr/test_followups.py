"""差评整改: low ratings with a comment open follow-ups; closing records what was done; overdue stands out."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.qr import services
from app.qr.models import FollowUp
from tests.qr.conftest import rate_via_page


@pytest.fixture
def code(tree, make_target):
    return make_target(tree.sec_b11, "member", tree.m11)


def followups(db) -> list[FollowUp]:
    return list(db.session.scalars(sa.select(FollowUp).order_by(FollowUp.id)).all())


def _age(db, followup_id: int, days: int) -> None:
    """Pretend the follow-up was opened ``days`` ago."""
    f = db.session.get(FollowUp, followup_id)
    f.opened_at = services.aware(f.opened_at) - timedelta(days=days)
    f.due_at = services.aware(f.due_at) - timedelta(days=days)
    db.session.commit()


@pytest.mark.parametrize("stars, comment, opens", [
    (1, "窗口排队一小时没人管", True),
    (2, "态度一般", True),
    (2, "", False),
    (3, "还行吧", False),
    (5, "很好", False),
])
def test_which_ratings_open_a_follow_up(app, db, code, stars, comment, opens):
    rate_via_page(app.test_client(), code[1], stars=stars, comment=comment)
    assert len(followups(db)) == (1 if opens else 0)


def test_follow_up_has_a_deadline_and_lands_with_the_subject_orgs_secretaries(app, db, tree, code, api_as, login_as):
    before = datetime.now(timezone.utc)
    rate_via_page(app.test_client(), code[1], stars=1, comment="办事拖拉")
    [f] = followups(db)
    assert f.org_id == tree.b11.id
    due = services.aware(f.due_at) - services.aware(f.opened_at)
    assert due == timedelta(days=5) and services.aware(f.opened_at) >= before - timedelta(seconds=1)

    for who, n in (("sec_b11", 1), ("sec_c1", 1), ("admin", 1), ("sec_c2", 0)):
        body = api_as(getattr(tree, who)).get("/api/v1/qr/followups").json
        assert body["total"] == n, who
    item = api_as(tree.sec_b11).get("/api/v1/qr/followups").json["items"][0]
    assert item["comment"] == "办事拖拉" and item["stars"] == 1 and item["overdue"] is False
    assert item["target_name"] == "张三" and item["due_at"].endswith("+08:00")

    html = login_as(tree.sec_b11).get("/qr-admin/followups").get_data(as_text=True)
    assert "办事拖拉" in html and "待整改" in html
    assert "办事拖拉" not in login_as(tree.sec_c2).get("/qr-admin/followups").get_data(as_text=True)
    assert login_as(tree.sec_c2).get(f"/qr-admin/followups/{f.id}").status_code == 403
    assert login_as(tree.m11).get("/qr-admin/followups").status_code == 403
    assert api_as(tree.m11).get("/api/v1/qr/followups").status_code == 403


def test_deadline_is_configurable(app, db, code):
    app.config["QR_FOLLOWUP_DAYS"] = 2
    rate_via_page(app.test_client(), code[1], stars=1, comment="差")
    [f] = followups(db)
    assert services.aware(f.due_at) - services.aware(f.opened_at) == timedelta(days=2)


def test_a_duplicate_low_rating_opens_no_second_follow_up(app, db, code):
    phone = app.test_client()
    rate_via_page(phone, code[1], stars=1, comment="差")
    rate_via_page(phone, code[1], stars=1, comment="还是差")
    assert len(followups(db)) == 1


def test_closing_records_what_who_when(app, db, tree, code, login_as, api_as):
    rate_via_page(app.test_client(), code[1], stars=2, comment="没人接电话")
    [f] = followups(db)
    sec = login_as(tree.sec_b11)

    r = sec.post(f"/qr-admin/followups/{f.id}", data={"action": ""})
    assert r.status_code == 200 and "请写明整改情况" in r.get_data(as_text=True)
    assert followups(db)[0].closed_at is None

    r = sec.post(f"/qr-admin/followups/{f.id}", data={"action": "已安排专人值守电话，并回访了群众。"})
    assert r.status_code == 302
    page = sec.get(r.headers["Location"]).get_data(as_text=True)
    assert "已安排专人值守电话" in page and "陈支书" in page and "已办结" in page
    db.session.expire_all()
    [f] = followups(db)
    assert f.closed_by_id == tree.sec_b11.id and f.closed_at is not None and f.action.startswith("已安排")

    r = api_as(tree.sec_b11).post(f"/api/v1/qr/followups/{f.id}/close", json={"action": "再关一次"})
    assert r.status_code == 409
    again = sec.post(f"/qr-admin/followups/{f.id}", data={"action": "再关一次"}, follow_redirects=True)
    assert again.status_code == 200 and "该整改事项已办结" in again.get_data(as_text=True)  # not a bare 409 page
    db.session.expire_all()
    assert followups(db)[0].action.startswith("已安排")
    assert api_as(tree.sec_b11).get("/api/v1/qr/followups?status=open").json["total"] == 0
    closed = api_as(tree.sec_b11).get("/api/v1/qr/followups?status=closed").json
    assert closed["total"] == 1 and closed["items"][0]["closed_by"] == "陈支书"


def test_close_through_the_api_and_out_of_scope(app, db, tree, code, api_as):
    rate_via_page(app.test_client(), code[1], stars=1, comment="差")
    [f] = followups(db)
    assert api_as(tree.sec_c2).post(f"/api/v1/qr/followups/{f.id}/close", json={"action": "已处理"}).status_code == 403
    assert api_as(tree.sec_b11).post(f"/api/v1/qr/followups/{f.id}/close", json={}).status_code == 422
    r = api_as(tree.sec_c1).post(f"/api/v1/qr/followups/{f.id}/close", json={"action": "社区已约谈整改"})
    assert r.status_code == 200 and r.json["closed_by"] == "李书记" and r.json["action"] == "社区已约谈整改"
    assert api_as(tree.admin).post("/api/v1/qr/followups/999999/close", json={"action": "x"}).status_code == 404


def test_overdue_ones_stand_out(app, db, tree, code, login_as, api_as):
    rate_via_page(app.test_client(), code[1], stars=1, comment="超期的那条")
    rate_via_page(app.test_client(), code[1], stars=2, comment="刚来的这条")
    first, _second = followups(db)
    _age(db, first.id, 6)

    sec = login_as(tree.sec_b11)
    html = sec.get("/qr-admin/followups").get_data(as_text=True)
    assert "已超期" in html
    assert html.index("超期的那条") < html.index("刚来的这条")  # overdue first
    assert 'class="row overdue"' in html
    assert "其中 1 条已超期" in sec.get("/qr-admin/").get_data(as_text=True)
    overdue = api_as(tree.sec_b11).get("/api/v1/qr/followups?status=overdue").json
    assert overdue["total"] == 1 and overdue["items"][0]["overdue"] is True
    assert api_as(tree.sec_b11).get("/api/v1/qr/followups?status=bogus").status_code == 422


def test_closure_rate_counts_what_was_due(app, db, tree, make_target, code):
    other, other_token = make_target(tree.sec_c2, "member", tree.m21)
    for i in range(4):
        rate_via_page(app.test_client(), code[1], stars=1, comment=f"问题{i}")
    rate_via_page(app.test_client(), other_token, stars=1, comment="荷花的问题")
    f0, f1, f2, f3, f_other = followups(db)
    services.close_followup(tree.sec_b11, f0.id, "当天处理")            # on time
    _age(db, f1.id, 10)
    services.close_followup(tree.sec_b11, f1.id, "拖了很久才处理")      # late
    _age(db, f2.id, 7)                                                  # overdue, open
    # f3 is open and not due yet: it counts for nobody.
    today = services.local_day()
    start, end = today - timedelta(days=30), today

    stats = services.followup_stats(tree.b11, start, end)
    assert stats == {"opened": 4, "closed_on_time": 1, "closed_late": 1, "overdue_open": 1, "waiting": 1,
                     "due": 3, "rate": stats["rate"]}
    assert str(stats["rate"]) == "0.3333"
    assert services.followup_closure_rate(tree.sec_b11, start, end) == stats["rate"]
    assert services.followup_closure_rate(tree.b11.id, start, end) == stats["rate"]
    assert services.followup_closure_rate(tree.sec_c2, start, end) is None  # nothing due yet there
    assert services.followup_stats(tree.admin, start, end)["opened"] == 5
    assert services.followup_closure_rate(tree.b11, date(2020, 1, 1), date(2020, 12, 31)) is None


def test_closure_rate_joins_the_duty_index(app, db, tree, code, api_as):
    rate_via_page(app.test_client(), code[1], stars=1, comment="差")
    [f] = followups(db)
    services.close_followup(tree.sec_b11, f.id, "已整改")
    from app.points.duty import DUTY_METRICS, duty_index
    from app.points.index import Period

    assert "followups" in [key for _o, key, _f in DUTY_METRICS]
    today = services.local_day()
    index = duty_index(tree.sec_b11, None, Period("month", today.year, today.month))
    [metric] = [m for m in index.metrics if m.key == "followups"]
    assert (metric.numerator, metric.denominator) == (1, 1)
    assert dict(metric.figures)["本期差评整改"] == 1


def test_a_secretary_does_not_close_the_complaints_about_themselves(app, db, tree, make_target, api_as, login_as):
    """A secretary's own code (or a fellow secretary's of their org): its low ratings' follow-ups
    are closed by the level above, as their points are decided there; they can read them."""
    _target, token = make_target(tree.sec_b11, "member", tree.sec_b11, "书记胸牌")
    rate_via_page(app.test_client(), token, stars=1, comment="书记接待群众不耐烦")
    [f] = followups(db)
    own = api_as(tree.sec_b11)
    r = own.post(f"/api/v1/qr/followups/{f.id}/close", json={"action": "我已经改正了"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "next_level_up"
    page = login_as(tree.sec_b11).get(f"/qr-admin/followups/{f.id}").get_data(as_text=True)
    assert "这条差评是关于您本人的，由上级组织办结。" in page and 'name="action"' not in page
    assert login_as(tree.sec_b11).post(f"/qr-admin/followups/{f.id}", data={"action": "我已经改正了"}).status_code in (200, 403)
    db.session.expire_all()
    assert db.session.get(FollowUp, f.id).closed_at is None
    r = api_as(tree.sec_c1).post(f"/api/v1/qr/followups/{f.id}/close", json={"action": "已约谈支部书记，改进接待方式"})
    assert r.status_code == 200
    # a member's complaint is still the branch secretary's to close
    _t2, member_token = make_target(tree.sec_b11, "member", tree.m11)
    rate_via_page(app.test_client(), member_token, stars=1, comment="党员服务不到位")
    g = followups(db)[-1]
    assert own.post(f"/api/v1/qr/followups/{g.id}/close", json={"action": "已谈心谈话"}).status_code == 200
