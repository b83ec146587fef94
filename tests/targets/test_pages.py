"""The 年度目标 pages: the progress table and scorecard, the target form, the Excel export."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest

from app.extensions import db
from app.targets import services


def html_of(response, status=200) -> str:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    text = response.get_data(as_text=True)
    assert 'style="' not in text  # the CSP forbids inline styles
    return text


def row_text(html: str, row_id: str) -> str:
    row = html[html.index(f'id="{row_id}"'):]
    return re.sub(r"<[^>]+>|\s+", " ", row[row.index(">") + 1:row.index("</tr>")])


def test_nav_entry_for_everyone(tree, login_as):
    assert '<a href="/targets/"' in login_as(tree.sec_c1).get("/targets/").get_data(as_text=True)
    assert '<a href="/targets/"' in login_as(tree.admin).get("/index/me").get_data(as_text=True)
    assert '<a href="/targets/"' in login_as(tree.m11).get("/index/me").get_data(as_text=True)


def test_a_member_sees_the_progress_of_their_own_community_read_only(targets_2025, login_as, api_as):
    """DOMAIN: monthly progress shown publicly. A member reads the table of the orgs on their own
    path (their community's branches by default), sets nothing, and sees no other community."""
    t = targets_2025
    member = login_as(t.m11)
    html = html_of(member.get("/targets/?year=2025&month=6"))
    assert "桂花社区" in html and "2025年度进度表" in html
    assert row_text(html, f"row-{t.b11.id}-study").split() == ["桂花第一支部", "10", "3.3", "33.0%", "进度滞后", "2"]
    assert "/targets/orgs/" not in html and "设定目标" not in html
    assert "荷花" not in html  # the picker offers the member's own path only
    assert member.get(f"/targets/?org_id={t.c2.id}").status_code == 403
    assert member.get(f"/targets/orgs/{t.b11.id}/2026").status_code == 403
    assert member.get("/targets/export.xlsx?year=2025&month=6").status_code == 200
    api = api_as(t.m11)
    assert api.get(f"/api/v1/orgs/{t.c1.id}/targets?year=2025&month=6").status_code == 200
    assert api.get(f"/api/v1/orgs/{t.c2.id}/targets").status_code == 403


def test_progress_page_shows_the_figures(targets_2025, login_as):
    t = targets_2025
    html = html_of(login_as(t.sec_c1).get("/targets/?year=2025&month=6"))
    assert "桂花社区" in html and "2025年度进度表" in html and "2025年1—6月" in html
    assert 'id="time-progress">50.0%<' in html
    assert row_text(html, f"row-{t.b11.id}-study").split() == ["桂花第一支部", "10", "3.3", "33.0%", "进度滞后", "2"]
    assert row_text(html, f"row-{t.b12.id}-study").split() == ["桂花第二支部", "2", "2", "100.0%", "已完成", "1"]
    assert row_text(html, f"row-{t.b12.id}-service").split() == ["桂花第二支部", "10", "6", "60.0%", "进度正常", "1"]
    assert 'id="category-innovation"' not in html  # no org targets innovation
    own = html[html.index('id="own-study"'):html.index("</li>", html.index('id="own-study"'))]
    assert "2.2 / 5" in own and "44.0%" in own and "进度滞后" in own
    assert 'class="num hide-narrow"' in html and 'class="table-wrap"' in html
    # 李书记 sets his branches' targets but not his own community's
    assert f'/targets/orgs/{t.b11.id}/2025' not in html  # a finished year: no more changes
    now = html_of(login_as(t.sec_c1).get("/targets/"))
    assert "2026年度进度表" in now and "2026年1—12月" in now
    assert f'href="/targets/orgs/{t.b11.id}/2026"' in now and f'href="/targets/orgs/{t.c1.id}/2026"' not in now
    assert "设定目标" in now and "设定本组织目标" not in now


def test_orgs_without_targets_are_listed_as_such(targets_2025, login_as):
    t = targets_2025
    html = html_of(login_as(t.admin).get(f"/targets/?org_id={t.c2.id}&year=2025&month=6"))
    assert row_text(html, f"row-{t.b21.id}-study").split() == ["荷花第一支部", "—", "0", "—", "未设目标", "1"]
    assert row_text(html, f"row-{t.b22.id}-study").split() == ["荷花第二支部", "3", "—", "—", "暂无党员", "0"]


def test_scorecard_page(targets_2025, login_as):
    t = targets_2025
    html = html_of(login_as(t.sec_c1).get("/targets/?year=2025&month=12"))
    assert "2025年度成绩单" in html and 'id="scorecard"' in html
    assert row_text(html, f"row-{t.b11.id}-study").split() == ["桂花第一支部", "10", "5.3", "53.0%", "未完成", "2"]
    assert row_text(html, f"row-{t.b12.id}-study").split()[4] == "完成"
    card = html[html.index('id="scorecard"'):]
    card = " ".join(re.sub(r"<[^>]+>", " ", card[:card.index("</table>")]).split())
    assert "桂花第一支部 0 / 1" in card and "桂花第二支部 1 / 2" in card
    # the year's page links to last year's scorecard
    assert "/targets/?org_id=%d&amp;year=2025&amp;month=12" % t.c1.id in html_of(login_as(t.sec_c1).get("/targets/"))


def test_future_and_bad_periods_say_so(targets_2025, login_as, today_is):
    t = targets_2025
    c = login_as(t.sec_c1)
    html = html_of(c.get("/targets/?year=2027"))
    assert "2027 年还没有到" in html and "2026年度进度表" in html
    today_is(date(2026, 5, 20))
    html = html_of(c.get("/targets/?year=2026&month=9"))
    assert "9 月还没有到，请选择 1 到 5 月。" in html and "2026年1—5月" in html
    assert html_of(c.get("/targets/?year=2026&month=abc")).count("月份须为 1 到 12 之间的整数。") == 1
    assert c.get("/targets/export.xlsx?year=2027").status_code == 422


def test_scope_on_the_pages(targets_2025, login_as):
    t = targets_2025
    c = login_as(t.sec_c1)
    assert c.get(f"/targets/?org_id={t.c2.id}").status_code == 403
    assert c.get(f"/targets/export.xlsx?org_id={t.c2.id}").status_code == 403
    assert c.get(f"/targets/orgs/{t.b21.id}/2026").status_code == 403
    own = c.get(f"/targets/orgs/{t.c1.id}/2026")
    assert own.status_code == 403 and "本组织的年度目标由上级组织制定。" in own.get_data(as_text=True)
    assert c.post(f"/targets/orgs/{t.c1.id}/2026", data={"study": "5"}).status_code == 403
    assert c.get("/targets/orgs/999999/2026").status_code == 404
    assert c.get(f"/targets/orgs/{t.b11.id}/2025").status_code == 409  # a finished year


def test_set_targets_through_the_form(targets_2025, login_as):
    t = targets_2025
    c = login_as(t.sec_c1)
    form = html_of(c.get(f"/targets/orgs/{t.b11.id}/2026"))
    assert "2026年度目标" in form and "还没有设定过目标。" in form and 'name="study"' in form
    r = c.post(f"/targets/orgs/{t.b11.id}/2026", data={"study": "12.5", "service": "", "innovation": "",
                                                        "note": "支部党员大会通过"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/targets/?org_id={t.c1.id}&year=2026")
    book = services.current_targets([t.b11.id], 2026)[t.b11.id]
    assert book.values == {"study": Decimal("12.5"), "service": None, "innovation": None}
    assert book.set_by_id == t.sec_c1.id and book.note == "支部党员大会通过"
    html = html_of(c.get(r.headers["Location"]))
    assert "已保存 桂花第一支部 2026 年的目标。" in html
    edit = html_of(c.get(f"/targets/orgs/{t.b11.id}/2026"))
    assert 'value="12.5"' in edit and "第 1 版" in edit and "李书记" in edit and "支部党员大会通过" in edit


def test_a_refused_form_keeps_the_values_and_stores_nothing(targets_2025, login_as):
    t = targets_2025
    c = login_as(t.sec_c1)
    c.post(f"/targets/orgs/{t.b11.id}/2026", data={"study": "10"})
    r = c.post(f"/targets/orgs/{t.b11.id}/2026", data={"study": "0", "service": "1.25", "innovation": "一百"})
    html = html_of(r, 422)
    assert "目标须大于 0（不设目标请留空）。" in html and "最多保留一位小数。" in html and "须为数字。" in html
    assert 'value="0"' in html and 'value="1.25"' in html and 'value="一百"' in html
    assert r.headers["Cache-Control"] == "no-store"
    history = services.target_history(t.b11.id, 2026)
    assert [(h.version, h.study) for h in history] == [(1, Decimal(10))]


def test_the_form_needs_its_csrf_token(app, targets_2025, login_as):
    t = targets_2025
    c = login_as(t.sec_c1)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        r = c.post(f"/targets/orgs/{t.b11.id}/2026", data={"study": "10"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert r.status_code == 400
    assert services.target_history(t.b11.id, 2026) == []


def test_excel_has_the_page_figures(targets_2025, login_as):
    from openpyxl import load_workbook

    t = targets_2025
    r = login_as(t.sec_c1).get("/targets/export.xlsx?year=2025&month=6")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in r.headers["Content-Disposition"]
    ws = load_workbook(BytesIO(r.data)).active
    assert ws.title == "进度表"
    assert ws["A1"].value == "标题" and ws["B1"].value == "桂花社区 2025年度进度表"
    assert ws["B2"].value == "2025年1—6月" and ws["B3"].value == 50
    header = [c.value for c in ws[5]]
    assert header == ["组织", "类型", "党员人数", "理论学习目标", "理论学习人均", "理论学习完成率（%）", "理论学习状态",
                      "志愿服务目标", "志愿服务人均", "志愿服务完成率（%）", "志愿服务状态", "完成目标数"]
    rows = {row[0]: row for row in ws.iter_rows(min_row=6, values_only=True)}
    assert rows["桂花社区"][:7] == ("桂花社区", "社区", 4, 5, 2.2, 44, "进度滞后")
    assert rows["桂花第一支部"][3:7] == (10, 3.3, 33, "进度滞后")
    assert rows["桂花第二支部"][3:] == (2, 2, 100, "已完成", 10, 6, 60, "进度正常", "1/2")
    card = load_workbook(BytesIO(login_as(t.sec_c1).get("/targets/export.xlsx?year=2025&month=12").data)).active
    assert card.title == "成绩单"
    rows = {row[0]: row for row in card.iter_rows(min_row=6, values_only=True)}
    assert rows["桂花第一支部"][3:7] == (10, 5.3, 53, "未完成") and rows["桂花第一支部"][-1] == "0/1"


def test_org_names_are_text_in_the_excel(targets_2025, login_as, make_org):
    from openpyxl import load_workbook

    t = targets_2025
    make_org("=HYPERLINK(\"http://x\")", "branch", t.c1)
    ws = load_workbook(BytesIO(login_as(t.admin).get(f"/targets/export.xlsx?org_id={t.c1.id}&year=2025&month=6").data)).active
    cell = next(c for c in ws["A"] if c.value and str(c.value).startswith("="))
    assert cell.data_type == "s"


def test_the_page_in_english(targets_2025, login_as):
    from flask_babel import refresh

    refresh()  # the fixtures' messages cached Chinese in the test's app context
    c = login_as(targets_2025.sec_c1)
    with c.session_transaction() as s:
        s["lang"] = "en"
    html = html_of(c.get("/targets/?year=2025&month=12"))
    assert "Scorecard" in html and "Not met" in html
