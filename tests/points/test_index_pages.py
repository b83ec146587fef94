"""Pages: my index, ranks, history, explanation; the branch table, look-up, org score; query counts."""
from __future__ import annotations

import re
from datetime import date

import pytest

from tests.points.index_support import (  # noqa: F401
    add_entry,
    count_queries,
    make_rule,
    page_as,
    reverse,
)


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    text = response.get_data(as_text=True)
    assert 'style="' not in text  # the CSP forbids inline styles
    return text


@pytest.fixture
def scored(tree, add_entry, make_rule):
    """b11: m11 22.5 and sec_b11 22.5 (a tie); c1 also has m12 (b12, 2.5) and sec_c1 (0)."""
    rule = make_rule("S01", "study", "学习强国每日答题")
    for m in (tree.m11, tree.sec_b11):
        add_entry(m, "study", 60, date(2026, 3, 1), rule=rule)       # 15
        add_entry(m, "service", 30, date(2026, 11, 5))               # 7.5
    add_entry(tree.m12, "service", 10, date(2026, 5, 1))             # 2.5
    return tree


def test_member_home_shows_index_bars_and_ranks(scored, page_as):
    page = page_as(scored.m11)
    assert page.get("/").headers["Location"].endswith("/index/me")
    text = html_of(page.get("/index/me?year=2026"))
    assert 'id="index-value">22.5<' in text
    assert len(re.findall(r"<meter ", text)) == 4
    assert 'max="120" value="60.0"' in text
    branch = text[text.index('id="rank-branch"'):text.index('id="rank-community"')]
    assert '<strong class="rank-number">1</strong>' in branch and "共 2 人" in branch
    community = text[text.index('id="rank-community"'):]
    assert '<strong class="rank-number">1</strong>' in community and "共 4 人" in community
    # m11 and sec_b11 share first place, and the page says so
    assert "并列第" in branch and "2 人同分" in branch and "并列第" in community and "2 人同分" in community
    alone = html_of(page_as(scored.m12).get("/index/me?year=2026"))
    assert "并列" not in alone and "人同分" not in alone
    assert "/index/me/explain?period=2026" in text
    assert "我的积分" in text  # the nav item


def test_period_switch_month_and_bad_period(scored, page_as):
    page = page_as(scored.m11)
    text = html_of(page.get("/index/me?period=2026-11"))
    # November: service 30 against a ceiling of 160/12 -> capped: 40.
    assert 'id="index-value">40.0<' in text and "2026年11月" in text
    assert "13.33 / 13.33" in text  # capped at the month's ceiling, shown to two decimals
    assert 'href="/index/me?period=2026-Q4"' in text and 'href="/index/me?period=2026-10"' in text
    text = html_of(page.get("/index/me?period=2026-13"))
    assert "统计周期须写作" in text  # a readable message, then the current year


def test_explanation_page_lists_entries(scored, page_as):
    text = html_of(page_as(scored.m11).get("/index/me/explain?year=2026"))
    assert "计算明细" in text and "学习强国每日答题" in text
    assert 'id="cat-study"' in text and "+60" in text


def test_history_with_filters_and_reversal_marks(scored, page_as, add_entry):
    from app.extensions import db
    from app.points.models import LedgerEntry

    entry = db.session.scalars(db.select(LedgerEntry).where(LedgerEntry.member_id == scored.m11.id,
                                                            LedgerEntry.category == "service")).one()
    reverse(add_entry, entry, scored.m11, note="重复录入")
    page = page_as(scored.m11)
    text = html_of(page.get("/index/me/entries?year=2026"))
    assert "共 3 条" in text and "已冲正" in text and "重复录入" in text
    assert f"冲正第 {entry.id} 号记录" in text
    # the rule's title is the link; its internal code is not printed beside the date
    codes = set(db.session.scalars(db.select(LedgerEntry.rule_code).where(LedgerEntry.member_id == scored.m11.id)))
    assert "S01" in codes and "S01" not in text and not any(f"· {code}" in text for code in codes)
    text = html_of(page.get("/index/me/entries?period=2026&category=study"))
    assert "共 1 条" in text and "已冲正" not in text
    text = html_of(page.get("/index/me/entries?period=2026-Q1"))
    assert "共 1 条" in text
    text = html_of(page.get("/index/me/entries?category=bogus&year=2026"))
    assert "共 3 条" in text and "类别有误" in text


def test_secretary_branch_table_sorted_by_rank(scored, page_as, make_user, add_entry):
    add_entry(make_user(scored.b11, "member", "孙七"), "service", 10, date(2026, 5, 1))   # 2.5
    page = page_as(scored.sec_c1)
    text = html_of(page.get(f"/index/table?org_id={scored.b11.id}&year=2026"))
    rows = re.findall(r'<td class="num"><strong>(\d+)</strong></td>\s*<td><a href="[^"]+">([^<]+)</a>', text)
    assert [r[0] for r in rows] == ["1", "1", "3"]
    assert {r[1] for r in rows[:2]} == {"张三", "陈支书"} and rows[2][1] == "孙七"
    # The default org is the secretary's own: the whole community.
    text = html_of(page.get("/index/table?year=2026"))
    assert "桂花社区 先锋指数排行" in text and "共 5 人" in text
    # Members have no table; another community's secretary cannot open this one.
    assert page_as(scored.m11).get("/index/table").status_code == 403
    assert page_as(scored.sec_c2).get(f"/index/table?org_id={scored.b11.id}").status_code == 403


def test_lookup_and_member_page_in_scope(scored, page_as):
    page = page_as(scored.sec_c1)
    text = html_of(page.get("/index/members?q=张"))
    assert f'href="/index/members/{scored.m11.id}"' in text
    text = html_of(page.get("/index/members?q=王五"))                # another community
    assert "找到 0 人" in text and f"/index/members/{scored.m21.id}" not in text
    text = html_of(page.get(f"/index/members/{scored.m11.id}?year=2026"))
    assert 'id="index-value">22.5<' in text and "计算明细" in text and "学习强国每日答题" in text
    assert page.get(f"/index/members/{scored.m21.id}").status_code == 403
    assert page.get("/index/members/987654").status_code == 404
    assert page_as(scored.m12).get(f"/index/members/{scored.m11.id}").status_code == 403
    text = html_of(page.get(f"/index/members/{scored.m11.id}/entries?year=2026"))
    assert "张三的积分记录" in text


def test_org_score_page(scored, page_as, add_entry):
    add_entry(scored.b11, "service", 10, date(2026, 6, 1), note="支部主题党日")
    page = page_as(scored.sec_c1)
    text = html_of(page.get(f"/index/orgs/{scored.b11.id}?year=2026"))
    # b11: 90 + 90 from the two members, 10 of its own = 190 over 2 members (m11, sec_b11)
    assert 'id="org-total">190<' in text and 'id="org-per-capita">95<' in text
    assert "支部主题党日" in text
    text = html_of(page.get(f"/index/orgs/{scored.c1.id}?year=2026"))
    assert 'id="org-total">200<' in text and "桂花第一支部" in text and "桂花第二支部" in text
    assert page_as(scored.sec_c2).get(f"/index/orgs/{scored.c1.id}").status_code == 403


def test_duty_page_renders_for_secretary(scored, page_as):
    text = html_of(page_as(scored.sec_c1).get("/index/duty?period=2026-11"))
    assert "党建履职指数" in text and "党员参与率" in text and "申报3天内审核率" in text
    # November: m11 and sec_b11 have entries out of the 4 members of the community.
    assert "50.0%" in text
    assert page_as(scored.m11).get("/index/duty").status_code == 403


def _populate(make_user, add_entry, org, n: int, start: int = 0):
    for i in range(start, start + n):
        m = make_user(org, "member", f"队员{i}")
        add_entry(m, "study", 1 + i % 7, date(2026, 2, 1))
        add_entry(m, "service", 2, date(2026, 3, 1))


def test_pages_run_a_constant_number_of_statements(tree, db, page_as, make_user, add_entry, count_queries):
    """/index/me and the branch table do not grow with members or entries (no N+1)."""
    _populate(make_user, add_entry, tree.b11, 3)
    add_entry(tree.m11, "study", 5, date(2026, 2, 1))
    member, secretary = page_as(tree.m11), page_as(tree.sec_c1)
    paths = {
        member: ["/index/me?year=2026", "/index/me/entries?year=2026", "/index/me/explain?year=2026"],
        secretary: [f"/index/table?org_id={tree.b11.id}&year=2026", f"/index/orgs/{tree.c1.id}?year=2026",
                    "/index/duty?year=2026"],
    }

    def measure():
        counts = {}
        for client, urls in paths.items():
            for url in urls:
                db.session.expire_all()  # as in a fresh request: nothing cached in the session
                with count_queries() as n:
                    assert client.get(url).status_code == 200
                counts[url] = n[0]
        return counts

    small = measure()
    _populate(make_user, add_entry, tree.b11, 27, start=3)
    for _ in range(5):
        add_entry(tree.m11, "service", 1, date(2026, 4, 1))
    large = measure()
    assert small == large
    assert small["/index/me?year=2026"] <= 4
    assert small[f"/index/table?org_id={tree.b11.id}&year=2026"] <= 4
