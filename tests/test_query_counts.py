"""Query-count guards: the pages and API calls people open most run the same number of SQL
statements with a few rows as with many (no N+1), on both databases.

The contest leaderboard (API and page) has its guard in tests/contests/test_api.py and the index
pages theirs in tests/points/test_index_pages.py; this module adds the review queue and the
member's own points, page and API, measured with the shared ``count_statements`` fixture.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.points import services

pytestmark = pytest.mark.usefixtures("tree")


def add_rule(admin, code, category, points, title, **kw):
    return services.create_rule(admin, services.RuleInput(code=code, category=category, title=title,
                                                          points=points, **kw))


@pytest.fixture
def rules(tree):
    return [
        add_rule(tree.admin, "shyk", "study", 2, "参加“三会一课”"),
        add_rule(tree.admin, "vol", "service", 2, "志愿服务（每小时）"),
        add_rule(tree.admin, "idea", "innovation", 10, "金点子被采纳"),
        add_rule(tree.admin, "absent", "penalty", -5, "无故缺席组织生活"),
    ]


def measure(db, count_statements, calls):
    """{label: statements} for each (label, client, url); every call must answer 200."""
    counts = {}
    for label, client, url in calls:
        db.session.expire_all()  # as in a fresh request: nothing cached in the session
        with count_statements() as log:
            response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        counts[label] = log.count
    return counts


def file_claims(tree, make_user, people: int, start: int, claims_each: int = 3) -> None:
    """``people`` new members in the two branches of 桂花社区, each filing claims; the community
    secretary approves the first of each member's claims and rejects the second."""
    day = services.local_today() - timedelta(days=1)
    for i in range(start, start + people):
        member = make_user(tree.b11 if i % 2 else tree.b12, "member", f"申报人{i}")
        ids = [services.submit_claim(member, rule_code=("shyk", "vol")[k % 2], occurred_on=day,
                                     note=f"第{k + 1}次活动").id for k in range(claims_each)]
        services.approve_claim(tree.sec_c1, ids[0])
        if claims_each > 1:
            services.reject_claim(tree.sec_c1, ids[1], "照片看不清，请补充后重新申报。")


def test_review_queue_page_and_api_do_not_grow_with_claims(tree, rules, db, login_as, api_as, make_user,
                                                           count_statements):
    page, api = login_as(tree.sec_c1), api_as(tree.sec_c1)
    calls = [
        ("page", page, "/points/review"),
        ("page 2", page, "/points/review?offset=1"),  # a later page holding claims in both rounds
        ("api pending", api, "/api/v1/claims?status=pending&limit=50"),
        ("api all", api, "/api/v1/claims?limit=50"),
    ]
    file_claims(tree, make_user, 2, 0)
    small = measure(db, count_statements, calls)
    assert api.get("/api/v1/claims?status=pending").get_json()["total"] == 2

    file_claims(tree, make_user, 30, 2)
    large = measure(db, count_statements, calls)
    body = api.get("/api/v1/claims?limit=50").get_json()
    assert body["total"] == 96 and len(body["items"]) == 50
    assert sum(1 for c in body["items"] if c["entry_id"]) > 1  # approved claims link their entries
    assert "申报人31" in page.get("/points/review?offset=20").get_data(as_text=True)
    assert large == small


def test_my_points_page_and_api_do_not_grow_with_entries_or_members(tree, rules, db, login_as, api_as,
                                                                    make_user, count_statements):
    day = services.local_today()
    codes = ["shyk", "vol", "idea", "absent"]

    def awards(member, n: int) -> None:
        for k in range(n):
            services.award(tree.sec_c1, rule_code=codes[k % len(codes)], member_id=member.id,
                           occurred_on=day - timedelta(days=k % 5), note="书记核实")

    awards(tree.m11, 2)
    page, api = login_as(tree.m11), api_as(tree.m11)
    calls = [
        ("page", page, "/index/me"),
        ("page entries", page, "/index/me/entries"),
        ("api points", api, "/api/v1/me/points"),
        ("api entries", api, "/api/v1/me/entries"),
    ]
    small = measure(db, count_statements, calls)
    before = api.get("/api/v1/me/points").get_json()

    awards(tree.m11, 20)
    for i in range(25):  # more people to be ranked against, in the branch and in the community
        awards(make_user(tree.b11 if i % 2 else tree.b12, "member", f"队员{i}"), 2)
    large = measure(db, count_statements, calls)
    after = api.get("/api/v1/me/points").get_json()
    assert after["total"] != before["total"]
    assert large == small


def test_targets_progress_page_and_api_do_not_grow_with_orgs(tree, db, login_as, api_as, make_org, make_user,
                                                             count_statements, monkeypatch):
    """The progress table (年度目标) of a community: the same statements with 2 branches as with 12,
    each with targets, members and entries."""
    from datetime import date

    from app.points.ledger import append_entry
    from app.targets import services as targets

    monkeypatch.setattr(targets, "local_today", lambda: date(2026, 5, 20))
    n = [0]

    def branch_with_targets(i: int):
        org = tree.b11 if i == 0 else tree.b12 if i == 1 else make_org(f"新支部{i}", "branch", tree.c1)
        member = make_user(org, "member", f"队员{i}")
        n[0] += 1
        append_entry(category="study", points=2, occurred_on=date(2026, 3, 1), source="award",
                     source_key=f"qc-{n[0]}", rule_code="T-study", member_id=member.id)
        db.session.commit()
        targets.set_targets(tree.sec_c1, org.id, 2026, {"study": 10, "service": 5})

    page, api = login_as(tree.sec_c1), api_as(tree.sec_c1)
    calls = [
        ("page", page, f"/targets/?org_id={tree.c1.id}&year=2026&month=4"),
        ("api", api, f"/api/v1/orgs/{tree.c1.id}/targets?year=2026&month=4"),
        ("excel", page, f"/targets/export.xlsx?org_id={tree.c1.id}&year=2026&month=4"),
    ]
    for i in range(2):
        branch_with_targets(i)
    small = measure(db, count_statements, calls)
    for i in range(2, 12):
        branch_with_targets(i)
    large = measure(db, count_statements, calls)
    rows = api.get(f"/api/v1/orgs/{tree.c1.id}/targets?year=2026&month=4").get_json()["rows"]
    assert len(rows) == 12 and all(r["categories"]["study"]["target"] == 10 for r in rows)
    assert large == small
