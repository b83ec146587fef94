"""The contests API: create, 422 with fields, scope (403), leaderboard shape and paging, rollup."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.contests.models import Contest
from tests.contests.conftest import END, START, YEAR


def payload(scope, **kw):
    data = {
        "title": f"{YEAR}年度支部积分竞位赛", "participant_type": "branch", "scope_org_id": scope.id,
        "starts_on": START.isoformat(), "ends_on": END.isoformat(), "categories": ["study", "service"],
        "scoring": "total", "top_bonus": {"places": 2, "points": 5}, "exclude_last": True,
    }
    data.update(kw)
    return data


def _contests(db) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Contest))


def test_secretary_creates_a_contest_in_scope(race, api_as, db):
    r = api_as(race.tree.sec_c1).post("/api/v1/contests", json=payload(race.c1))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["title"] == f"{YEAR}年度支部积分竞位赛" and body["status"] == "running"
    assert body["top_bonus"] == {"places": 2, "points": 5.0} and body["exclude_last"] is True
    assert body["categories"] == ["study", "service"] and body["scope_org"]["name"] == "桂花社区"
    board = api_as(race.tree.sec_c1).get(f"/api/v1/contests/{body['id']}/leaderboard").get_json()
    assert board["total"] == 4 and board["as_of"].endswith("+08:00")  # the first board is there at once


def test_bad_input_is_422_with_fields_and_creates_nothing(race, api_as, db):
    api = api_as(race.tree.sec_c1)
    cases = [
        (payload(race.c1, starts_on=f"{YEAR}-06-01", ends_on=f"{YEAR}-05-31"), "ends_on"),
        (payload(race.c1, scope_org_id=999999), "scope_org_id"),
        (payload(race.c1, categories=["study", "bravery"]), "categories"),
        (payload(race.c1, categories=[]), "categories"),
        (payload(race.c1, title="\u200b\u200b"), "title"),
        (payload(race.c1, scope_org_id=str(race.c1.id)), "scope_org_id"),
        (payload(race.c1, scope_org_id=10**20), "scope_org_id"),  # no such row: not a 500
        (payload(race.c1, scope_org_id=-1), "scope_org_id"),
        (payload(race.c1, starts_on="2026-13-01"), "starts_on"),
        (payload(race.c1, participant_type="team"), "participant_type"),
        (payload(race.c1, scoring="average"), "scoring"),
        (payload(race.c1, top_bonus={"places": "2", "points": 5}), "top_bonus"),
        (payload(race.c1, top_bonus={"places": 2, "points": 1.25}), "top_bonus"),
        (payload(race.c1, top_bonus={"places": 2, "points": "5"}), "top_bonus"),  # points are numbers
        (payload(race.c1, top_bonus={"places": 51, "points": 5}), "top_bonus"),
        (payload(race.c1, title=""), "title"),
        (payload(race.c1, participant_type="member", exclude_last=True), "exclude_last"),
        (payload(race.c1, exclude_last=0), "exclude_last"),  # true or false only
        (payload(race.c1, exclude_last="yes"), "exclude_last"),
        (payload(race.b11, participant_type="community"), "participant_type"),  # no communities inside
    ]
    for body, field in cases:
        r = api.post("/api/v1/contests", json=body)
        assert r.status_code == 422, (field, r.get_json())
        err = r.get_json()["error"]
        assert err["code"] == "validation_error" and err["message"], field
        assert field in err["fields"], (field, err)
    assert _contests(db) == 0
    # the bonus is reported under the request's own names
    r = api.post("/api/v1/contests", json=payload(race.c1, top_bonus={"places": 51, "points": 101}))
    assert set(r.get_json()["error"]["fields"]["top_bonus"]) == {"places", "points"}


def test_out_of_scope_and_members_get_403(race, api_as, db):
    t = race.tree
    r = api_as(t.sec_c2).post("/api/v1/contests", json=payload(race.c1))
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "out_of_scope"
    r = api_as(t.m11).post("/api/v1/contests", json=payload(race.c1))
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden_role"
    assert api_as(None).post("/api/v1/contests", json=payload(race.c1)).status_code == 401
    assert _contests(db) == 0


def test_members_see_their_contests_and_others_get_403(race, make_contest, api_as, make_org):
    t = race.tree
    c = make_contest(t.sec_c1, race.c1, "member")
    other = make_contest(t.sec_c2, t.c2, "member")
    listed = api_as(t.m11).get("/api/v1/contests").get_json()
    assert [i["id"] for i in listed["items"]] == [c.id] and listed["total"] == 1
    assert api_as(t.m11).get(f"/api/v1/contests/{c.id}/leaderboard").status_code == 200
    assert api_as(t.sec_b11).get(f"/api/v1/contests/{c.id}").get_json()["can_manage"] is False
    for who in (t.m21, t.sec_c2):
        r = api_as(who).get(f"/api/v1/contests/{c.id}/leaderboard")
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "out_of_scope"
    for path in ("rollup", "finalize"):
        assert api_as(t.sec_c2).post(f"/api/v1/contests/{c.id}/{path}").status_code == 403
        assert api_as(t.sec_b11).post(f"/api/v1/contests/{c.id}/{path}").status_code == 403
        assert api_as(t.m11).post(f"/api/v1/contests/{c.id}/{path}").status_code == 403
    admin_ids = {i["id"] for i in api_as(t.admin).get("/api/v1/contests").get_json()["items"]}
    assert admin_ids == {c.id, other.id}
    assert api_as(t.m11).get("/api/v1/contests/999999").status_code == 404


def test_leaderboard_shape_and_paging(race, make_contest, api_as):
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"])
    r = api_as(race.tree.m11).get(f"/api/v1/contests/{c.id}/leaderboard?limit=2&offset=1")
    body = r.get_json()
    assert r.status_code == 200 and body["total"] == 4 and body["final"] is False
    assert body["standings"] == [
        {"rank": 2, "participant": {"id": race.b12.id, "name": "桂花第二支部"}, "score": 10.0, "previous_rank": None},
        {"rank": 2, "participant": {"id": race.b13.id, "name": "桂花第三支部"}, "score": 10.0, "previous_rank": None},
    ]
    bad = api_as(race.tree.m11).get(f"/api/v1/contests/{c.id}/leaderboard?limit=0")
    assert bad.status_code == 422 and "limit" in bad.get_json()["error"]["fields"]


def test_rollup_now_moves_the_board(race, make_contest, api_as, add_points):
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"])
    add_points(30, "study", member=race.m14)
    r = api_as(race.tree.sec_c1).post(f"/api/v1/contests/{c.id}/rollup")
    assert r.status_code == 200 and r.get_json()["snapshot"]["kind"] == "manual"
    top = api_as(race.tree.sec_c1).get(f"/api/v1/contests/{c.id}/leaderboard?limit=1").get_json()["standings"][0]
    assert top == {"rank": 1, "participant": {"id": race.b14.id, "name": "桂花第四支部"}, "score": 39.0,
                   "previous_rank": 4}


def test_rolling_up_again_with_nothing_new_keeps_the_movement(race, make_contest, api_as, add_points):
    """A second 立即刷新 with no change writes no copy of the standings: the arrows, which compare
    with the previous snapshot, stay; the board says it is current (as_of moves on)."""
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"])
    api = api_as(race.tree.sec_c1)
    add_points(30, "study", member=race.m14)
    first = api.post(f"/api/v1/contests/{c.id}/rollup").get_json()
    assert first["created"] is True
    again = api.post(f"/api/v1/contests/{c.id}/rollup").get_json()
    assert again["created"] is False and again["snapshot"]["id"] == first["snapshot"]["id"]
    assert again["snapshot"]["as_of"] >= first["snapshot"]["as_of"]
    board = api.get(f"/api/v1/contests/{c.id}/leaderboard").get_json()
    assert board["standings"][0]["participant"]["id"] == race.b14.id
    assert board["standings"][0]["previous_rank"] == 4  # still ↑3, not reset by the second click
    assert board["as_of"] == again["snapshot"]["as_of"]


@pytest.mark.parametrize("change", ["member entry", "org entry", "roster"])
def test_any_change_the_standings_count_makes_a_new_snapshot(race, make_contest, api_as, add_points, change):
    from app.extensions import db

    if change == "roster":
        add_points(5, "study", member=race.m14)  # leaving takes them along
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"])
    api = api_as(race.tree.sec_c1)
    assert api.post(f"/api/v1/contests/{c.id}/rollup").get_json()["created"] is False  # as at creation
    if change == "member entry":
        add_points(1, "study", member=race.m13)
    elif change == "org entry":
        add_points(1, "study", org=race.b13)  # an org's own entry counts for a branch contest
    else:
        race.m14.active = False
        db.session.commit()
    r = api.post(f"/api/v1/contests/{c.id}/rollup").get_json()
    assert r["created"] is True, change


@pytest.mark.parametrize("change", ["uncounted entry", "roster elsewhere"])
def test_a_change_that_leaves_the_board_as_it_was_keeps_the_movement(race, make_contest, api_as, add_points,
                                                                      make_user, change):
    """The marks move with any entry in scope and any roster change, but when the standings come
    out the same no copy is written: the arrows of the last real change stay."""
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"])
    api = api_as(race.tree.sec_c1)
    add_points(30, "study", member=race.m14)
    moved = api.post(f"/api/v1/contests/{c.id}/rollup").get_json()
    assert moved["created"] is True
    if change == "uncounted entry":
        add_points(3, "rating", member=race.m13)  # ratings are not counted by this race
    else:
        make_user(race.tree.b21, "member", "荷花新党员")  # another community, outside the race
    r = api.post(f"/api/v1/contests/{c.id}/rollup").get_json()
    assert r["created"] is False and r["snapshot"]["id"] == moved["snapshot"]["id"], change
    assert r["snapshot"]["as_of"] >= moved["snapshot"]["as_of"]
    top = api.get(f"/api/v1/contests/{c.id}/leaderboard?limit=1").get_json()["standings"][0]
    assert top["participant"]["id"] == race.b14.id and top["previous_rank"] == 4, change
    # and a third refresh with nothing new is still no copy
    assert api.post(f"/api/v1/contests/{c.id}/rollup").get_json()["created"] is False


def test_finalize_then_409(race, make_contest, api_as):
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"], top_places=2,
                     top_points=5, exclude_last=True)
    api = api_as(race.tree.sec_c1)
    r = api.post(f"/api/v1/contests/{c.id}/finalize")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "final"
    assert [(o["name"], o["place"], o["bonus"], o["award_ineligible"]) for o in body["outcomes"]] == [
        ("桂花第一支部", 1, 5.0, False), ("桂花第二支部", 2, 5.0, False), ("桂花第三支部", 2, 5.0, False),
        ("桂花第四支部", 4, 0.0, True)]
    again = api.post(f"/api/v1/contests/{c.id}/finalize")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_final"
    assert api.post(f"/api/v1/contests/{c.id}/rollup").status_code == 409
    assert api.get(f"/api/v1/contests/{c.id}/leaderboard").get_json()["final"] is True


def test_no_bonus_for_nothing_and_no_exclusion_for_a_bonus_place(race, make_contest, api_as, make_user):
    """Only the 荷花 community's two branches, with no points at all: both share first place, and
    neither gets the bonus (nothing was earned) nor is excluded as last (nobody is behind)."""
    t = race.tree
    make_user(t.b22, "member", "赵六")  # a branch with nobody in it would not compete
    empty = make_contest(t.sec_c2, t.c2, "branch", categories=["study"], top_places=1, top_points=5,
                         exclude_last=True)
    body = api_as(t.sec_c2).post(f"/api/v1/contests/{empty.id}/finalize").get_json()
    assert [(o["place"], o["bonus"], o["award_ineligible"]) for o in body["outcomes"]] == [(1, 0.0, False)] * 2
    # 桂花: top 4 places among 4 branches: the last (b14, 4th) earned the bonus and is not excluded
    c = make_contest(t.sec_c1, race.c1, "branch", title="全员加分赛", categories=["study", "service"],
                     top_places=4, top_points=2, exclude_last=True)
    body = api_as(t.sec_c1).post(f"/api/v1/contests/{c.id}/finalize").get_json()
    assert [(o["name"], o["bonus"], o["award_ineligible"]) for o in body["outcomes"]][-1] == ("桂花第四支部", 2.0, False)


def test_a_race_cannot_end_before_last_year(race, api_as):
    api = api_as(race.tree.sec_c1)
    body = {"title": "旧赛", "participant_type": "member", "scope_org_id": race.c1.id, "categories": ["study"],
            "starts_on": "2000-01-01", "ends_on": "2000-01-02", "top_places": 2, "top_points": 5}
    r = api.post("/api/v1/contests", json=body)
    assert r.status_code == 422 and "上一年度的第一天" in r.get_json()["error"]["fields"]["ends_on"][0]
    body.update(starts_on=f"{YEAR - 1}-01-01", ends_on=f"{YEAR - 1}-12-31")
    assert api.post("/api/v1/contests", json=body).status_code == 201


def test_ids_beyond_the_id_columns_are_404_whatever_the_method(race, api_as):
    """One path with a rule per method (GET, PUT, DELETE): an id too large for any column is 404
    on each, not 405."""
    api = api_as(race.tree.admin)
    for method in ("get", "delete"):
        for path in (f"/api/v1/assessments/1/units/{2**31}", f"/api/v1/assessments/{10**20}/units/1"):
            r = getattr(api, method)(path)
            assert r.status_code == 404 and r.get_json()["error"]["message"], (method, path, r.get_json())
    r = api.client.patch(f"/api/v1/assessments/{10**20}", json={"title": "x"},
                         headers={"Authorization": f"Bearer {api.token}"})
    assert r.status_code == 404, r.get_json()


def test_ids_that_cannot_exist_are_404_not_500(race, api_as):
    api = api_as(race.tree.sec_c1)
    for huge in (10**20, 2**31):
        for method, path in (("get", ""), ("get", "/leaderboard"), ("post", "/rollup"), ("post", "/finalize")):
            r = getattr(api, method)(f"/api/v1/contests/{huge}{path}")
            assert r.status_code == 404 and r.get_json()["error"]["message"], (huge, path, r.get_json())


def test_openapi_lists_the_contest_paths(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for p in ("/api/v1/contests", "/api/v1/contests/{contest_id}/leaderboard",
              "/api/v1/contests/{contest_id}/rollup", "/api/v1/contests/{contest_id}/finalize"):
        assert p in paths
    for p in ("/api/v1/contests/{contest_id}/rollup", "/api/v1/contests/{contest_id}/finalize",
              "/api/v1/assessments/{assessment_id}/publish"):
        assert "409" in paths[p]["post"]["responses"], p  # already final / published


def _grow(race, make_user, add_points, n: int) -> None:
    for i in range(n):
        m = make_user(race.b12 if i % 2 else race.b13, "member", f"新党员{i}")
        add_points(i + 1, "service", member=m)


def test_leaderboard_api_and_page_run_a_constant_number_of_statements(
        race, make_contest, api_as, login_as, make_user, add_points, count_queries):
    t = race.tree
    from datetime import datetime

    from app.contests import services

    c = make_contest(t.sec_c1, race.c1, "member", categories=["study", "service"])
    api = api_as(t.m12)
    page = login_as(race.m14)  # no counted points: last, outside the top 10
    _grow(race, make_user, add_points, 6)

    services.rollup_now(t.sec_c1, c.id)

    def measure():
        with count_queries() as q1:
            assert api.get(f"/api/v1/contests/{c.id}/leaderboard?limit=500").status_code == 200
        with count_queries() as q2:
            body = page.get(f"/contests/{c.id}").get_data(as_text=True)
        return q1.count, q2.count, body

    small_api, small_page, small_body = measure()
    _grow(race, make_user, add_points, 60)
    services.close_day(datetime.now())  # one more point on the trend chart
    services.rollup_now(t.sec_c1, c.id)
    big_api, big_page, big_body = measure()
    assert "我附近的名次" in small_body and "我附近的名次" in big_body
    assert "共14个参赛对象" in small_body and "共74个参赛对象" in big_body
    assert (big_api, big_page) == (small_api, small_page)


def test_a_cached_leaderboard_is_one_statement_and_a_rollup_shows_at_once(
        race, make_contest, api_as, make_user, add_points, count_statements):
    """With the page in the shared cache, the token lookup reads the change marks too (one
    statement in all); a rollup moves the marks, so the very next read shows the new standings."""
    t = race.tree
    from app.contests import services

    c = make_contest(t.sec_c1, race.c1, "member", categories=["study", "service"])
    api = api_as(t.m12)
    url = f"/api/v1/contests/{c.id}/leaderboard"
    first = api.get(url).get_json()
    with count_statements() as log:
        again = api.get(url)
    assert again.status_code == 200 and again.get_json() == first
    assert log.count == 1, log.statements

    newcomer = make_user(race.b12, "member", "后来者")
    add_points(500, "service", member=newcomer)
    services.rollup_now(t.sec_c1, c.id)
    after = api.get(url).get_json()
    assert len(after["standings"]) == len(first["standings"]) + 1
    assert after["standings"][0]["participant"]["name"] == "后来者"


def test_a_contest_says_where_it_stands_today(race, make_contest, api_as):
    """status is running until finalized; phase tells a phone client whether a running contest
    has started, is on, or is past its last day and waits to be finalized."""
    from datetime import date

    from app.contests import rollup

    t = race.tree
    today = rollup.local_date(rollup.utcnow())
    api = api_as(t.sec_c1)
    upcoming = make_contest(t.sec_c1, race.c1, starts_on=date(today.year + 1, 1, 1), ends_on=date(today.year + 1, 12, 31))
    on = make_contest(t.sec_c1, race.c1, starts_on=date(today.year, 1, 1), ends_on=date(today.year, 12, 31))
    ended = make_contest(t.sec_c1, race.c1, starts_on=date(today.year - 1, 1, 1), ends_on=date(today.year - 1, 12, 31))
    got = {c.id: api.get(f"/api/v1/contests/{c.id}").get_json() for c in (upcoming, on, ended)}
    assert [(got[c.id]["status"], got[c.id]["phase"]) for c in (upcoming, on, ended)] == [
        ("running", "upcoming"), ("running", "running"), ("running", "ended")]
    assert api.post(f"/api/v1/contests/{ended.id}/finalize").status_code == 200
    assert api.get(f"/api/v1/contests/{ended.id}").get_json()["phase"] == "final"
    listed = {c["id"]: c["phase"] for c in api.get("/api/v1/contests").get_json()["items"]}
    assert listed[upcoming.id] == "upcoming"
