"""API: GET /api/v1/orgs/{id}/targets (progress table, scorecard) and PUT /api/v1/orgs/{id}/targets/{year}."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.targets import services


def test_progress_as_json_numbers(targets_2025, api_as):
    t = targets_2025
    r = api_as(t.sec_c1).get("/api/v1/orgs/%d/targets?year=2025&month=6" % t.c1.id)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["kind"] == "progress" and body["time_progress"] == 50
    assert body["period"] == {"year": 2025, "month": 6, "start": "2025-01-01", "end": "2025-06-30",
                              "label": "2025年1—6月"}
    assert body["categories"] == ["study", "service"]
    assert body["summary"]["org"]["id"] == t.c1.id and body["summary"]["member_count"] == 4
    assert body["summary"]["categories"]["study"] == {"target": 5, "actual": 2.2, "completion": 44,
                                                     "status": "behind", "status_label": "进度滞后"}
    assert body["summary"]["set_by"] == {"id": t.admin.id, "name": "王管理"} and body["summary"]["version"] == 1
    rows = {row["org"]["id"]: row for row in body["rows"]}
    assert list(rows) == [t.b11.id, t.b12.id]
    assert rows[t.b11.id]["categories"]["study"] == {"target": 10, "actual": 3.3, "completion": 33,
                                                    "status": "behind", "status_label": "进度滞后"}
    assert rows[t.b12.id]["categories"]["service"]["status"] == "on_track"
    assert rows[t.b12.id]["categories"]["innovation"] == {"target": None, "actual": 0, "completion": None,
                                                         "status": "no_target", "status_label": "未设目标"}
    assert (rows[t.b12.id]["targets_met"], rows[t.b12.id]["targets_set"]) == (1, 2)


def test_scorecard_and_defaults(targets_2025, api_as):
    t = targets_2025
    api = api_as(t.admin)
    card = api.get("/api/v1/orgs/%d/targets?year=2025" % t.c1.id).get_json()  # a past year: December
    assert card["kind"] == "scorecard" and card["title"] == "2025年度成绩单" and card["period"]["month"] == 12
    b11 = next(r for r in card["rows"] if r["org"]["id"] == t.b11.id)
    assert b11["categories"]["study"]["status"] == "not_met" and b11["categories"]["study"]["actual"] == 5.3
    now = api.get("/api/v1/orgs/%d/targets" % t.c1.id).get_json()
    assert now["kind"] == "progress" and (now["period"]["year"], now["period"]["month"]) == (2026, 12)


@pytest.mark.parametrize("query,field", [("year=2027", "year"), ("year=2026&month=13", "month"),
                                         ("year=1999", "year"), ("month=x", "month")])
def test_bad_or_future_periods_are_422(targets_2025, api_as, query, field):
    t = targets_2025
    r = api_as(t.admin).get(f"/api/v1/orgs/{t.c1.id}/targets?{query}")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "validation_error"
    assert field in r.get_json()["error"]["fields"]


def test_future_month_is_422(targets_2025, api_as, today_is):
    t = targets_2025
    today_is(date(2026, 5, 20))
    r = api_as(t.admin).get(f"/api/v1/orgs/{t.c1.id}/targets?year=2026&month=6")
    assert r.status_code == 422 and "6 月还没有到" in r.get_json()["error"]["message"]


def test_scope_of_the_progress_table(targets_2025, api_as):
    t = targets_2025
    assert api_as(t.sec_c1).get(f"/api/v1/orgs/{t.c2.id}/targets").get_json()["error"]["code"] == "out_of_scope"
    assert api_as(t.m11).get(f"/api/v1/orgs/{t.c2.id}/targets").get_json()["error"]["code"] == "out_of_scope"
    assert api_as(t.m11).get(f"/api/v1/orgs/{t.b11.id}/targets").status_code == 200  # their own path
    r = api_as(t.admin).get("/api/v1/orgs/999999/targets")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "org_not_found"
    assert api_as(None).get(f"/api/v1/orgs/{t.c1.id}/targets").status_code == 401


def test_put_sets_and_versions_the_targets(targets_2025, api_as):
    t = targets_2025
    api = api_as(t.sec_c1)
    r = api.put(f"/api/v1/orgs/{t.b11.id}/targets/2026", json={"study": 12.5, "service": None, "note": "年初"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["targets"] == {"study": 12.5, "service": None, "innovation": None}
    assert body["version"] == 1 and body["changed"] is True and body["set_by"]["name"] == "李书记"
    assert body["set_at"].endswith("+08:00") and body["note"] == "年初"
    same = api.put(f"/api/v1/orgs/{t.b11.id}/targets/2026", json={"study": 12.5})
    assert same.get_json()["changed"] is False and same.get_json()["version"] == 1
    more = api.put(f"/api/v1/orgs/{t.b11.id}/targets/2026", json={"study": 12.5, "innovation": 2})
    assert more.get_json()["version"] == 2
    progress = api.get(f"/api/v1/orgs/{t.c1.id}/targets").get_json()
    b11 = next(row for row in progress["rows"] if row["org"]["id"] == t.b11.id)
    assert b11["categories"]["innovation"]["target"] == 2 and b11["version"] == 2


@pytest.mark.parametrize("body,field", [
    ({"study": 0}, "study"), ({"study": -3}, "study"), ({"service": 10000.1}, "service"),
    ({"innovation": 1.25}, "innovation"), ({"study": "many"}, "study"), ({"study": True}, "study"),
    ({"study": [1]}, "study"), ({"study": 5, "note": 7}, "note"),
])
def test_bad_bodies_are_422_with_field_errors_and_store_nothing(targets_2025, api_as, body, field):
    t = targets_2025
    api = api_as(t.admin)
    api.put(f"/api/v1/orgs/{t.b11.id}/targets/2026", json={"study": 10})
    r = api.put(f"/api/v1/orgs/{t.b11.id}/targets/2026", json=body)
    assert r.status_code == 422, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"]
    assert [(h.version, h.study) for h in services.target_history(t.b11.id, 2026)] == [(1, Decimal(10))]


def test_put_scope_and_years(targets_2025, api_as):
    t = targets_2025
    own = api_as(t.sec_c1).put(f"/api/v1/orgs/{t.c1.id}/targets/2026", json={"study": 5})
    assert own.status_code == 403 and own.get_json()["error"]["code"] == "next_level_up"
    other = api_as(t.sec_c1).put(f"/api/v1/orgs/{t.b21.id}/targets/2026", json={"study": 5})
    assert other.status_code == 403 and other.get_json()["error"]["code"] == "out_of_scope"
    assert api_as(t.m11).put(f"/api/v1/orgs/{t.b11.id}/targets/2026", json={"study": 5}).status_code == 403
    assert api_as(t.admin).put("/api/v1/orgs/999999/targets/2026", json={"study": 5}).status_code == 404
    closed = api_as(t.admin).put(f"/api/v1/orgs/{t.b11.id}/targets/2025", json={"study": 5})
    assert closed.status_code == 409 and closed.get_json()["error"]["code"] == "year_closed"
    far = api_as(t.admin).put(f"/api/v1/orgs/{t.b11.id}/targets/2030", json={"study": 5})
    assert far.status_code == 422 and "year" in far.get_json()["error"]["fields"]
    form = api_as(t.admin).client.put(f"/api/v1/orgs/{t.b11.id}/targets/2026", data="study=5",
                                      headers={"Authorization": api_as(t.admin)._headers()["Authorization"],
                                               "Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415
    assert services.target_history(t.b11.id, 2026) == []


def test_openapi_documents_the_routes(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    get = spec["paths"]["/api/v1/orgs/{org_id}/targets"]["get"]
    assert {p["name"] for p in get["parameters"] if p["in"] == "query"} == {"year", "month"}
    assert {"200", "401", "403", "404", "422"} <= set(get["responses"])
    put = spec["paths"]["/api/v1/orgs/{org_id}/targets/{year}"]["put"]
    assert {"200", "403", "409", "422"} <= set(put["responses"])
    assert "requestBody" in put
