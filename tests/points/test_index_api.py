"""The read side of "Members and points" in API.md: /me/points, /me/entries, /members/{id}/points."""
from __future__ import annotations

from datetime import date

import pytest

from tests.points.index_support import add_entry, make_rule, reverse  # noqa: F401

SHAPE = {"index", "total", "by_category", "rank"}
CATS = {"study", "service", "innovation", "rating", "penalty"}


def error_of(response):
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    return body["error"]


@pytest.fixture
def scored(tree, add_entry, make_rule):
    """m11: study 60 (rule S01), service 40, penalty -2.5 -> 15 + 10 - 2.5 = 22.5; m12 behind."""
    rule = make_rule("S01", "study", "学习强国每日答题")
    add_entry(tree.m11, "study", 30, date(2026, 3, 1), rule=rule, note="三月")
    add_entry(tree.m11, "study", 30, date(2026, 11, 2), rule=rule)
    add_entry(tree.m11, "service", 40, date(2026, 11, 5))
    add_entry(tree.m11, "penalty", "-2.5", date(2026, 11, 6))
    add_entry(tree.m12, "service", 8, date(2026, 5, 1))
    return tree


def test_me_points_shape_and_figures(scored, api_as):
    r = api_as(scored.m11).get("/api/v1/me/points?year=2026")
    assert r.status_code == 200
    body = r.get_json()
    assert SHAPE <= set(body) and set(body["by_category"]) == CATS
    assert body["index"] == 22.5 and body["total"] == 97.5
    assert body["by_category"] == {"study": 60, "service": 40, "innovation": 0, "rating": 0, "penalty": -2.5}
    assert body["rank"] == {"branch": 1, "community": 1}
    assert body["period"]["key"] == "2026"
    study = next(c for c in body["explanation"]["categories"] if c["category"] == "study")
    assert (study["ceiling"], study["score"], study["weight"], study["contribution"]) == (120, 60, 30, 15)
    assert {e["rule_title"] for e in study["entries"]} == {"学习强国每日答题"}
    # The month and the quarter use 1/12 and 1/4 of the yearly ceilings.
    nov = api_as(scored.m11).get("/api/v1/me/points?period=2026-11").get_json()
    # study 30 (ceiling 10, capped) -> 30, service 40 (ceiling 13.3, capped) -> 40, penalty -2.5
    assert nov["index"] == 67.5 and nov["period"]["kind"] == "month"
    service = next(c for c in nov["explanation"]["categories"] if c["category"] == "service")
    assert service["ceiling"] == 13.33 and service["score"] == 13.33  # 160 / 12, as the page shows it
    q4 = api_as(scored.m11).get("/api/v1/me/points?year=2026&period=2026-Q4").get_json()
    # study 30/30 -> 30, service 40/40 -> 40, penalty -2.5
    assert q4["index"] == 67.5
    other = api_as(scored.m12).get("/api/v1/me/points?year=2026").get_json()
    assert other["index"] == 2 and other["rank"] == {"branch": 1, "community": 2}


def test_a_secretary_sitting_in_the_community_has_no_branch_rank(scored, api_as, login_as):
    """The community's own org is no 支部: rank.branch and rank_groups.branch are null, the page
    shows the community rank only."""
    body = api_as(scored.sec_c1).get("/api/v1/me/points?year=2026").get_json()
    assert body["rank"]["branch"] is None and body["rank"]["community"] is not None
    assert body["rank_groups"]["branch"] is None and body["rank_groups"]["community"]["size"] >= 1
    html = login_as(scored.sec_c1).get("/index/me?year=2026").get_data(as_text=True)
    assert 'id="rank-branch"' not in html and 'id="rank-community"' in html


def test_me_points_default_year_and_empty(tree, api_as):
    body = api_as(tree.m21).get("/api/v1/me/points").get_json()
    assert body["index"] == 0 and body["total"] == 0 and body["rank"]["branch"] == 1
    assert len(body["period"]["key"]) == 4


@pytest.mark.parametrize("query", ["year=abc", "year=1999", "year=", "period=2026-13", "period=2026-Q9",
                                   "year=2025&period=2026-11", "period=yesterday"])
def test_bad_year_or_period_is_422(tree, api_as, query):
    for path in ("/api/v1/me/points", "/api/v1/me/entries", f"/api/v1/members/{tree.m11.id}/points"):
        user = tree.sec_c1 if "members" in path else tree.m11
        r = api_as(user).get(f"{path}?{query}")
        assert r.status_code == 422, (path, query, r.get_data(as_text=True))
        err = error_of(r)
        assert err["code"] == "validation_error" and set(err["fields"]) <= {"year", "period"}


def test_me_entries_newest_first_paged(scored, api_as, add_entry):
    first = api_as(scored.m11).get("/api/v1/me/entries?year=2026").get_json()
    assert first["total"] == 4
    assert [i["occurred_on"] for i in first["items"]] == ["2026-11-06", "2026-11-05", "2026-11-02", "2026-03-01"]
    item = first["items"][-1]
    assert set(item) >= {"id", "rule_code", "rule_title", "category", "points", "occurred_on", "source", "note",
                         "created_at", "reverses_id", "reversed"}
    assert (item["rule_code"], item["rule_title"], item["points"], item["note"]) == ("S01", "学习强国每日答题", 30, "三月")
    assert item["created_at"].endswith("+08:00") and item["reversed"] is False and item["reverses_id"] is None
    penalty = first["items"][0]
    assert penalty["points"] == -2.5 and penalty["category"] == "penalty"

    from app.extensions import db
    from app.points.models import LedgerEntry

    target = scored.m11
    original = db.session.get(LedgerEntry, item["id"])
    rev = reverse(add_entry, original, target)
    page = api_as(target).get("/api/v1/me/entries?year=2026&limit=2&offset=3").get_json()
    assert page["total"] == 5 and len(page["items"]) == 2
    marks = {i["id"]: (i["reversed"], i["reverses_id"]) for i in page["items"]}
    assert marks == {rev.id: (False, original.id), original.id: (True, None)}
    only = api_as(target).get("/api/v1/me/entries?period=2026-11&category=penalty").get_json()
    assert only["total"] == 1
    assert api_as(target).get("/api/v1/me/entries?year=2025").get_json() == {"items": [], "total": 0}
    assert api_as(target).get("/api/v1/me/entries?category=bonus").status_code == 422
    assert api_as(target).get("/api/v1/me/entries?limit=0").status_code == 422


def test_member_points_scope(scored, api_as):
    path = f"/api/v1/members/{scored.m11.id}/points?year=2026"
    for manager in (scored.sec_b11, scored.sec_c1, scored.admin):
        r = api_as(manager).get(path)
        assert r.status_code == 200
        body = r.get_json()
        assert SHAPE <= set(body) and body["index"] == 22.5 and body["member"]["id"] == scored.m11.id
    # Secretary of another community: 403. A member: 403. Unknown member: 404. No token: 401.
    r = api_as(scored.sec_c2).get(path)
    assert r.status_code == 403 and error_of(r)["code"] == "out_of_scope"
    assert api_as(scored.m12).get(path).status_code == 403
    assert api_as(scored.m11).get(path).status_code == 403
    r = api_as(scored.sec_c1).get("/api/v1/members/987654/points")
    assert r.status_code == 404 and error_of(r)["code"] == "member_not_found"
    assert api_as(None).get(path).status_code == 401


def test_org_points_and_ranking(scored, api_as, add_entry):
    add_entry(scored.b11, "service", 10, date(2026, 6, 1))
    body = api_as(scored.sec_c1).get(f"/api/v1/orgs/{scored.c1.id}/points?year=2026").get_json()
    # c1 members: m11 97.5, m12 8, the branch's own 10 -> 115.5 over 4 members (m11, m12, sec_b11, sec_c1)
    assert body["total"] == 115.5 and body["member_count"] == 4 and body["per_capita"] == 28.9
    assert {c["id"] for c in body["children"]} == {scored.b11.id, scored.b12.id}
    ranking = api_as(scored.sec_c1).get(f"/api/v1/orgs/{scored.c1.id}/ranking?year=2026&limit=2").get_json()
    assert ranking["total"] == 4
    assert [(i["rank"], i["member"]["name"], i["index"]) for i in ranking["items"]] == [(1, "张三", 22.5), (2, "李四", 2)]
    assert api_as(scored.sec_c2).get(f"/api/v1/orgs/{scored.c1.id}/points").status_code == 403
    assert api_as(scored.sec_c1).get("/api/v1/orgs/987654/ranking").status_code == 404


def test_openapi_lists_the_read_side(app, client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/me/points", "/api/v1/me/entries", "/api/v1/members/{member_id}/points"} <= set(paths)
