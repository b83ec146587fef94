"""The assessment API against the contract of API.md and the published figures."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest


def error_of(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    return body["error"]


def create(api, **kw):
    body = {"year": 2026, "title": "社区党组织年度考核", "coefficient_step": 0.005, "unqualified_ratio": 0.6,
            "grade_quotas": {"A": 0.2, "B": 0.3}, **kw}
    r = api.post("/api/v1/assessments", json=body)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def put(api, aid, org, **body):
    payload = {"base": 90, "party_building": 300, "unit_class": "街道", **body}
    return api.put(f"/api/v1/assessments/{aid}/units/{org.id}", json=payload)


def patch(api, path, body):
    return api.client.patch(path, json=body, headers={"Authorization": f"Bearer {api.token}"})


def results(api, aid, **params):
    r = api.get(f"/api/v1/assessments/{aid}/results", query_string=params)
    assert r.status_code == 200, r.get_data(as_text=True)
    return {item["org_id"]: item for item in r.get_json()["items"]}


def test_create_assessment(tree, api_as):
    body = create(api_as(tree.admin))
    assert body["id"] and body["year"] == 2026 and body["title"] == "社区党组织年度考核"
    assert body["coefficient_step"] == 0.005 and body["unqualified_ratio"] == 0.6
    assert body["grade_quotas"] == {"A": 0.2, "B": 0.3}
    assert body["departments"] == ["纪委", "组织部", "宣传部", "统战部"]
    assert body["excellent_shares"] == {"A": 0.3, "B": 0.2, "C": 0.15, "D": 0}
    assert body["status"] == "draft"


def test_times_carry_the_local_offset(tree, api_as, make_units):
    (org,) = make_units(1)
    api = api_as(tree.admin)
    body = create(api)
    aid = body["id"]
    created = datetime.fromisoformat(body["created_at"])
    assert created.utcoffset() == timedelta(hours=8), body["created_at"]  # Asia/Shanghai
    assert body["published_at"] is None
    updated = put(api, aid, org).get_json()["updated_at"]
    assert datetime.fromisoformat(updated).utcoffset() == timedelta(hours=8), updated
    published = api.post(f"/api/v1/assessments/{aid}/publish").get_json()["published_at"]
    assert datetime.fromisoformat(published).utcoffset() == timedelta(hours=8), published


def test_only_admins(tree, api_as, make_units):
    (org,) = make_units(1)
    aid = create(api_as(tree.admin))["id"]
    for user in (tree.sec_c1, tree.m11):
        api = api_as(user)
        assert error_of(api.post("/api/v1/assessments", json={"year": 2026, "title": "x", "coefficient_step": 0.005}),
                        403)["code"] == "forbidden_role"
        assert put(api, aid, org).status_code == 403
        assert api.get(f"/api/v1/assessments/{aid}/results").status_code == 403
    assert api_as(None).get(f"/api/v1/assessments/{aid}/results").status_code == 401
    assert api_as(tree.admin).get(f"/api/v1/assessments/{aid}/units").get_json()["total"] == 0


@pytest.mark.parametrize("change, field", [
    ({"coefficient_step": "0.005"}, "coefficient_step"),
    ({"coefficient_step": 0}, "coefficient_step"),
    ({"coefficient_step": True}, "coefficient_step"),
    ({"unqualified_ratio": 1.5}, "unqualified_ratio"),
    ({"grade_quotas": {"A": 0.2, "D": 0.1}}, "grade_quotas"),
    ({"grade_quotas": {"A": 0.7, "B": 0.5}}, "grade_quotas"),
    ({"departments": []}, "departments"),
    ({"title": ""}, "title"),
    ({"year": "2026"}, "year"),
    ({"year": None}, "year"),
    ({"title": None}, "title"),
    ({"coefficient_step": None}, "coefficient_step"),
])
def test_bad_settings_are_422(tree, api_as, change, field):
    body = {"year": 2026, "title": "年度考核", "coefficient_step": 0.005, **change}
    err = error_of(api_as(tree.admin).post("/api/v1/assessments", json=body), 422)
    assert field in err["fields"]
    assert all(re.search(r"[\u4e00-\u9fff]", m) for m in err["fields"][field]), err  # Chinese, not marshmallow's
    assert api_as(tree.admin).get("/api/v1/assessments").get_json()["total"] == 0


def test_a_c_share_is_accepted_and_not_kept(tree, api_as, db):
    """合格 is every other qualified unit: a client sending a C share (or echoing an old draft's)
    is not refused, and the share, which limits nothing, is neither kept nor shown."""
    from app.assessments.models import Assessment

    api = api_as(tree.admin)
    body = create(api, grade_quotas={"A": 0.2, "B": 0.3, "C": 0.4})
    assert body["grade_quotas"] == {"A": 0.2, "B": 0.3}
    a = db.session.get(Assessment, body["id"])
    a.grade_quotas = {"A": "0.2", "B": "0.3", "C": "0.4"}  # a draft of an earlier version
    db.session.commit()
    shown = api.get(f"/api/v1/assessments/{a.id}").get_json()
    assert shown["grade_quotas"] == {"A": 0.2, "B": 0.3}
    assert patch(api, f"/api/v1/assessments/{a.id}", {"grade_quotas": {"A": 0.2, "B": 0.3, "C": 0.4}}).status_code == 200


def test_same_title_same_year_is_409(tree, api_as):
    create(api_as(tree.admin))
    r = api_as(tree.admin).post("/api/v1/assessments", json={"year": 2026, "title": "社区党组织年度考核",
                                                            "coefficient_step": 0.005})
    assert error_of(r, 409)["code"] == "assessment_exists"


def test_put_unit_stores_items_and_department_scores(tree, api_as, make_units):
    (org,) = make_units(1)
    api = api_as(tree.admin)
    aid = create(api)["id"]
    r = put(api, aid, org, base=88.5,
            party_building={"纪委": 90, "组织部": 88, "宣传部": 87.5, "统战部": 87},
            bonus=[{"points": 2, "reason": "区级表彰"}, {"points": 1.5, "reason": "红旗项目"}],
            deductions=1, veto=[{"item": "安全生产", "reason": "发生较大事故"}],
            criticized=True, criticized_reason="被市委通报")
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["org_id"] == org.id and body["name"] == org.name
    assert body["base"] == 88.5 and body["party_building"] == 352.5
    assert body["party_building_parts"] == {"纪委": 90, "组织部": 88, "宣传部": 87.5, "统战部": 87}
    assert body["bonus"] == 3.5
    assert body["bonus_items"] == [{"points": 2, "reason": "区级表彰"}, {"points": 1.5, "reason": "红旗项目"}]
    assert body["deductions"] == 1 and body["deduction_items"] == []
    assert body["veto"] is True and body["veto_items"] == [{"item": "安全生产", "reason": "发生较大事故"}]
    assert body["criticized"] is True and body["criticized_reason"] == "被市委通报"
    # PUT replaces: a second PUT without items clears them
    body = put(api, aid, org).get_json()
    assert body["bonus"] == 0 and body["bonus_items"] == [] and body["veto"] is False
    assert api.get(f"/api/v1/assessments/{aid}/units").get_json()["total"] == 1


@pytest.mark.parametrize("change, field", [
    ({"base": 101}, "base"),
    ({"base": -1}, "base"),
    ({"base": "90"}, "base"),
    ({"base": None}, "base"),
    ({"base": 90.123}, "base"),
    ({"party_building": {"纪委": 90, "组织部": 88, "宣传部": 87}}, "party_building"),
    ({"party_building": {"纪委": 90, "组织部": 88, "宣传部": 87, "统战部": 87, "财政局": 1}}, "party_building"),
    ({"party_building": {"纪委": 190, "组织部": 88, "宣传部": 87, "统战部": 87}}, "party_building"),
    ({"party_building": "352.5"}, "party_building"),
    ({"party_building": -3}, "party_building"),
    ({"bonus": [{"points": -1, "reason": "x"}]}, "bonus"),
    ({"bonus": [{"points": 2}]}, "bonus"),
    ({"bonus": [{"points": 60, "reason": "a"}, {"points": 60, "reason": "b"}]}, "bonus"),
    ({"bonus": "2"}, "bonus"),
    ({"deductions": {"points": 1}}, "deductions"),
    ({"deductions": 1000}, "deductions"),
    ({"veto": "yes"}, "veto"),
    ({"veto": [3]}, "veto"),
    ({"criticized": "true"}, "criticized"),
    ({"unit_class": ""}, "unit_class"),
    ({"unit_class": 5}, "unit_class"),
])
def test_bad_unit_input_is_422_and_changes_nothing(tree, api_as, make_units, change, field):
    (org,) = make_units(1)
    api = api_as(tree.admin)
    aid = create(api)["id"]
    good = put(api, aid, org, bonus=[{"points": 2, "reason": "区级表彰"}])
    assert good.status_code == 200
    before = api.get(f"/api/v1/assessments/{aid}/units/{org.id}").get_json()
    err = error_of(put(api, aid, org, **change), 422)
    assert field in err["fields"], err
    assert all("\\u" not in m and m for messages in err["fields"].values() for m in messages)
    after = api.get(f"/api/v1/assessments/{aid}/units/{org.id}").get_json()
    assert after == before


def test_unknown_org_is_404_and_creates_nothing(tree, api_as):
    """The org is the path's resource: unknown is 404, whatever the body (bad too)."""
    api = api_as(tree.admin)
    aid = create(api)["id"]
    r = api.put(f"/api/v1/assessments/{aid}/units/999999", json={"base": 90, "party_building": 300, "unit_class": "街道"})
    assert error_of(r, 404)["code"] == "org_not_found"
    r = api.put(f"/api/v1/assessments/{aid}/units/999999", json={"base": 900})
    assert error_of(r, 404)["code"] == "org_not_found"
    assert api.get(f"/api/v1/assessments/{aid}/units").get_json()["total"] == 0
    assert api.get("/api/v1/assessments/999999/results").status_code == 404


def test_class_must_be_one_of_the_assessment_classes(tree, api_as, make_units):
    (org,) = make_units(1)
    api = api_as(tree.admin)
    aid = create(api, unit_classes=["街道", {"name": "二类机关", "coefficient_step": 0.002}])["id"]
    assert "unit_class" in error_of(put(api, aid, org, unit_class="乡镇"), 422)["fields"]
    assert put(api, aid, org, unit_class="二类机关").status_code == 200


def test_published_figures_end_to_end(tree, api_as, make_units, make_contest):
    """11 towns at 0.5% and 29 organs at 0.2%, compared only within their class."""
    api = api_as(tree.admin)
    aid = create(api, unit_classes=["街道", {"name": "二类机关", "coefficient_step": 0.002}])["id"]
    towns = make_units(11, "街道")
    organs = make_units(29, "机关")
    for i, org in enumerate(towns, start=1):
        body = {"base": 90, "party_building": 352.5 if i == 1 else 350 - i, "unit_class": "街道"}
        if i == 1:
            body["bonus"] = [{"points": 2, "reason": "区级表彰"}]
        assert put(api, aid, org, **body).status_code == 200
    for i, org in enumerate(organs, start=1):
        assert put(api, aid, org, base=80, party_building=400 - i, unit_class="二类机关").status_code == 200
    make_contest("2026年度社区积分竞位赛", {towns[0]: (1, 1, False), towns[10]: (11, 0, True)})
    make_contest("2026年度社区比学赶超擂台赛", {towns[0]: (1, 5, False), towns[5]: (9, 0, True)}, status="running")
    make_contest("2025年度社区积分竞位赛", {towns[0]: (1, 5, False)}, year=2025)

    res = results(api, aid)
    assert len(res) == 40
    t = [res[o.id] for o in towns]
    o = [res[x.id] for x in organs]
    assert (t[0]["coefficient"], t[5]["coefficient"], t[10]["coefficient"]) == (1.025, 1.0, 0.975)
    assert (o[0]["coefficient"], o[14]["coefficient"], o[28]["coefficient"]) == (1.028, 1.0, 0.972)
    assert t[0]["party_building_rank"] == 1 and o[28]["party_building_rank"] == 29
    assert {r["unit_class"] for r in t} == {"街道"} and o[0]["class_size"] == 29

    first = t[0]
    assert first["bonus"] == 3 and first["deductions"] == 0 and first["final"] == 95.25  # 90 x 1.025 + 3 - 0
    assert first["rank"] == 1 and first["grade"] == "A" and first["qualified"] and first["award_eligible"]
    assert first["explanation"].startswith(
        "党建得分 352.5，在“街道”类 11 个单位中排第 1 名，系数 = 1 + ((11+1)/2 - 1) × 0.5% = 1.025；"
        "最终得分 = 90 × 1.025 + 加分 3（区级表彰 2；积分竞位赛“2026年度社区积分竞位赛”第1名 1）- 扣分 0 = 95.25，")
    assert first["contest_items"] == [{"contest_id": first["contest_items"][0]["contest_id"],
                                       "title": "2026年度社区积分竞位赛", "place": 1, "bonus": 1,
                                       "award_ineligible": False}]
    # the finalized contest's last place is excluded from awards, and the explanation says why
    assert t[10]["award_eligible"] is False
    assert "积分竞位赛“2026年度社区积分竞位赛”第11名（末位）" in t[10]["explanation"]
    # the running contest and last year's contest change nothing
    assert t[5]["award_eligible"] is True and t[5]["bonus"] == 0
    assert "擂台赛" not in first["explanation"] and "2025" not in first["explanation"]
    # grades by quota within each class: 11 -> A 2, B 3; 29 -> A 5, B 8
    assert [r["grade"] for r in sorted(t, key=lambda r: r["rank"])] == ["A"] * 2 + ["B"] * 3 + ["C"] * 6
    assert [r["grade"] for r in sorted(o, key=lambda r: r["rank"])] == ["A"] * 5 + ["B"] * 8 + ["C"] * 16
    assert o[0]["final"] == 82.24  # 80 x 1.028
    assert t[6]["talk"] is True and t[0]["talk"] is False

    only = results(api, aid, unit_class="二类机关")
    assert set(only) == {x.id for x in organs}


def test_coefficient_is_a_json_number(tree, api_as, make_units):
    units = make_units(4)
    api = api_as(tree.admin)
    aid = create(api)["id"]
    for i, org in enumerate(units):
        put(api, aid, org, party_building=300 - i)
    text = api.get(f"/api/v1/assessments/{aid}/results").get_data(as_text=True)
    assert '"coefficient":1.0075' in text and '"coefficient":0.9925' in text
    res = results(api, aid)
    assert [res[o.id]["coefficient"] for o in units] == [1.0075, 1.0025, 0.9975, 0.9925]


def test_criticism_and_sixty_percent_through_the_api(tree, api_as, make_units):
    a, b, c = make_units(3)
    api = api_as(tree.admin)
    aid = create(api)["id"]
    put(api, aid, a, base=100, party_building=300)
    put(api, aid, b, base=95, party_building=290, criticized=True, criticized_reason="被市委通报批评")
    put(api, aid, c, base=50, party_building=280)
    res = results(api, aid)
    assert res[a.id]["final"] == 100.5 and res[a.id]["qualified"] and res[a.id]["grade"] == "A"
    assert res[b.id]["qualified"] is False and res[b.id]["grade"] == "D"
    assert res[b.id]["unqualified_reasons"] == ["criticized"]
    assert res[c.id]["final"] == 49.75 and res[c.id]["qualified"] is False  # below 60.3
    assert res[c.id]["unqualified_reasons"] == ["below_ratio"]
    assert res[c.id]["talk"] is True


def test_veto_through_the_api(tree, api_as, make_units):
    a, b = make_units(2)
    api = api_as(tree.admin)
    aid = create(api)["id"]
    put(api, aid, a, base=95, party_building=300, veto=True, veto_reason="安全生产事故")
    put(api, aid, b)
    res = results(api, aid)
    assert res[a.id]["rank"] == 1 and res[a.id]["award_eligible"] is False
    assert res[a.id]["veto_items"] == [{"item": "", "reason": "安全生产事故"}]
    assert "一票否决（安全生产事故）" in res[a.id]["explanation"]
    assert res[b.id]["award_eligible"] is True


def test_indirect_link_uses_active_members(tree, api_as, make_user):
    api = api_as(tree.admin)
    aid = create(api)["id"]
    for _ in range(6):
        make_user(tree.b21)
    make_user(tree.b21, active=False)
    make_user(tree.b21, "admin")  # an admin account placed there is not the unit's staff
    put(api, aid, tree.c1, base=95, party_building=300, unit_class="社区")
    put(api, aid, tree.c2, base=80, party_building=200, unit_class="社区")
    res = results(api, aid)
    # 桂花社区: 李书记, 陈支书, 张三, 李四 = 4 active; 荷花社区: 赵书记, 王五 + 6 = 8 active
    assert res[tree.c1.id]["member_count"] == 4 and res[tree.c1.id]["grade"] == "A"
    assert res[tree.c1.id]["excellent_allowed"] == 1  # floor(0.3 x 4)
    assert res[tree.c2.id]["member_count"] == 8 and res[tree.c2.id]["grade"] == "B"
    assert res[tree.c2.id]["excellent_allowed"] == 1  # floor(0.2 x 8)


def test_direct_link_lists_members_with_the_unit_coefficient(tree, api_as, db):
    from datetime import date

    from app.points.ledger import append_entry

    append_entry(category="study", points=12, occurred_on=date(2026, 3, 1), source="award",
                 source_key="assessment-test-1", rule_code="TEST", member_id=tree.m11.id)
    db.session.commit()
    api = api_as(tree.admin)
    aid = create(api)["id"]
    put(api, aid, tree.c1, base=95, party_building=300, unit_class="社区")
    put(api, aid, tree.c2, base=80, party_building=200, unit_class="社区")
    r = api.get(f"/api/v1/assessments/{aid}/units/{tree.c1.id}/members")
    assert r.status_code == 200
    body = r.get_json()
    assert body["index_available"] is True
    members = {m["name"]: m for m in body["items"]}
    assert set(members) == {"李书记", "陈支书", "张三", "李四"}
    assert all(m["coefficient"] == 1.0025 for m in body["items"])
    # 张三: study 12 of a yearly ceiling 120 at weight 30 -> index 3.0; 3.0 x 1.0025 = 3.0075 -> 3.01
    assert members["张三"]["index"] == 3.0 and members["张三"]["performance"] == 3.01
    assert members["李四"]["index"] == 0 and members["李四"]["performance"] == 0
    # a list pages like every list: ?limit=&offset=, the total of all
    names = [m["name"] for m in body["items"]]
    page = api.get(f"/api/v1/assessments/{aid}/units/{tree.c1.id}/members?limit=2&offset=1").get_json()
    assert page["total"] == 4 and [m["name"] for m in page["items"]] == names[1:3]
    units = api.get(f"/api/v1/assessments/{aid}/units").get_json()
    page = api.get(f"/api/v1/assessments/{aid}/units?limit=1&offset=1").get_json()
    assert units["total"] == page["total"] == 2 and page["items"] == units["items"][1:]
    assert error_of(api.get(f"/api/v1/assessments/{aid}/units?limit=0"), 422)["fields"]


def test_publish_freezes_results_and_locks_scores(tree, api_as, make_units, make_contest):
    a, b = make_units(2)
    api = api_as(tree.admin)
    aid = create(api)["id"]
    put(api, aid, a, base=95, party_building=300)
    put(api, aid, b)
    before = results(api, aid)
    assert api.post(f"/api/v1/assessments/{aid}/publish").get_json()["status"] == "published"
    assert error_of(put(api, aid, a, base=10), 409)["code"] == "assessment_published"
    make_contest("2026年度社区积分竞位赛", {a: (1, 2, False)})
    assert results(api, aid) == before  # a contest finalized later does not change a published notice
    assert api.post(f"/api/v1/assessments/{aid}/publish").status_code == 409
    assert api.post(f"/api/v1/assessments/{aid}/reopen").get_json()["status"] == "draft"
    assert results(api, aid)[a.id]["bonus"] == 2


def test_a_step_too_large_for_the_class_is_not_published(tree, api_as, login_as, make_units, db):
    """Twenty-five units at a 10% step would give the last place 1 + (13 - 25) x 0.1 = -0.2: its
    base score would count against it. The results say so and publishing is refused until the
    step fits (below 2 / 24 = 8.333%)."""
    units = make_units(5)
    api = api_as(tree.admin)
    aid = create(api, coefficient_step=0.1)["id"]
    for i, org in enumerate(units):
        assert put(api, aid, org, party_building=300 - i).status_code == 200
    assert api.post(f"/api/v1/assessments/{aid}/publish").status_code == 200  # 0.8 for the last: fine
    assert api.post(f"/api/v1/assessments/{aid}/reopen").status_code == 200
    for i, org in enumerate(make_units(20, "新单位"), start=5):
        assert put(api, aid, org, party_building=300 - i).status_code == 200
    # 25 units: the last is 1 + (13 - 25) x 0.1 = -0.2
    err = error_of(api.post(f"/api/v1/assessments/{aid}/publish"), 409)
    assert err["code"] == "coefficient_not_positive"
    assert "“街道”共 25 个单位" in err["message"] and "-0.200" in err["message"] and "8.333%" in err["message"]
    assert api.get(f"/api/v1/assessments/{aid}").get_json()["status"] == "draft"
    page = login_as(tree.admin).get(f"/assessments/{aid}/results").get_data(as_text=True)
    assert "“街道”共 25 个单位，步长 10% 使末位系数为 -0.200（须大于 0）" in page
    assert patch(api, f"/api/v1/assessments/{aid}", {"coefficient_step": 0.005}).status_code == 200
    assert api.post(f"/api/v1/assessments/{aid}/publish").get_json()["status"] == "published"


def test_update_settings_and_delete_unit(tree, api_as, make_units):
    a, b = make_units(2)
    api = api_as(tree.admin)
    aid = create(api)["id"]
    put(api, aid, a, party_building={"纪委": 90, "组织部": 88, "宣传部": 87, "统战部": 87})
    put(api, aid, b)
    r = patch(api, f"/api/v1/assessments/{aid}", {"coefficient_step": 0.002})
    assert r.status_code == 200 and r.get_json()["coefficient_step"] == 0.002
    assert results(api, aid)[a.id]["coefficient"] == 1.001
    r = patch(api, f"/api/v1/assessments/{aid}", {"departments": ["纪委", "组织部"]})
    assert "departments" in error_of(r, 422)["fields"]
    assert api.delete(f"/api/v1/assessments/{aid}/units/{b.id}").status_code == 204
    assert set(results(api, aid)) == {a.id}


def test_openapi_documents_the_assessment_paths(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/assessments" in paths
    assert "put" in paths["/api/v1/assessments/{assessment_id}/units/{org_id}"]
    assert "/api/v1/assessments/{assessment_id}/results" in paths


def test_a_contest_finalized_by_the_contests_feature_feeds_the_assessment(tree, api_as, db):
    """The real path: a community points race finalized through its own service, not a fixture row."""
    from datetime import date

    from app.contests import services as contests
    from app.points.ledger import append_entry

    append_entry(category="study", points=20, occurred_on=date(2026, 3, 1), source="award",
                 source_key="assessment-feed-1", rule_code="TEST", member_id=tree.m11.id)
    db.session.commit()
    contest = contests.create_contest(
        tree.admin, title="2026年度社区积分竞位赛", participant_type="community", scope_org_id=tree.street.id,
        starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31), categories=["study", "service"],
        scoring="total", top_places=1, top_points=2, exclude_last=True)
    api = api_as(tree.admin)
    aid = create(api)["id"]
    put(api, aid, tree.c1, base=90, party_building=290, unit_class="社区")
    put(api, aid, tree.c2, base=90, party_building=300, unit_class="社区")
    running = results(api, aid)
    assert running[tree.c1.id]["bonus"] == 0 and running[tree.c2.id]["award_eligible"] is True

    contests.finalize(tree.admin, contest.id)
    res = results(api, aid)
    first, last = res[tree.c1.id], res[tree.c2.id]
    # 桂花社区 won the race: 90 x 0.9975 + 2 = 91.775 -> 91.78; 荷花社区 came last: no awards this year
    assert first["bonus"] == 2 and first["final"] == 91.78 and first["award_eligible"] is True
    assert "积分竞位赛“2026年度社区积分竞位赛”第1名 2" in first["explanation"]
    assert last["bonus"] == 0 and last["final"] == 90.23 and last["award_eligible"] is False
    assert last["qualified"] is True
    assert "积分竞位赛“2026年度社区积分竞位赛”第2名（末位），不得参加当年评优评先" in last["explanation"]


def test_an_update_sent_as_text_is_refused_not_ignored(tree, api_as):
    """PATCH with every field optional: a JSON body sent as text/plain (or with no type) used to
    be read as no change and answered 200; now 415, and the title stays."""
    api = api_as(tree.admin)
    aid = create(api)["id"]
    for headers in ({"Content-Type": "text/plain"}, {}):
        r = api.client.patch(f"/api/v1/assessments/{aid}", data='{"title": "改过的标题"}',
                             headers={"Authorization": f"Bearer {api.token}", **headers})
        assert error_of(r, 415)["code"] == "unsupported_media_type"
    assert api.get(f"/api/v1/assessments/{aid}").get_json()["title"] == "社区党组织年度考核"
    assert patch(api, f"/api/v1/assessments/{aid}", {"title": "改过的标题"}).get_json()["title"] == "改过的标题"


@pytest.mark.parametrize("body, field", [
    ({"veto": True}, "veto_reason"), ({"veto": True, "veto_reason": "  "}, "veto_reason"),
    ({"criticized": True}, "criticized_reason"), ({"criticized": True, "criticized_reason": ""}, "criticized_reason"),
    ({"criticized": True, "criticized_reason": "\u200b"}, "criticized_reason"),  # shows as "（）" on the notice
    ({"veto": ["\u200b\u200d"]}, "veto"),
])
def test_a_veto_or_criticism_needs_its_reason(tree, api_as, make_units, body, field):
    """Every decision is recorded with who and why: a veto or a public criticism without a
    reason is 422 on the reason, and the unit keeps what it had."""
    (org,) = make_units(1)
    api = api_as(tree.admin)
    aid = create(api)["id"]
    assert put(api, aid, org).status_code == 200
    err = error_of(put(api, aid, org, **body), 422)
    assert "请填写" in err["fields"][field][0]
    unit = results(api, aid)[org.id]
    assert unit["qualified"] is True and unit["award_eligible"] is True
