"""Excel exports: they open with openpyxl, with Chinese headers, the right rows and the breakdown."""
from __future__ import annotations

from datetime import date
from io import BytesIO

import pytest
from openpyxl import load_workbook

from tests.points.index_support import add_entry, make_rule, page_as, reverse  # noqa: F401


def workbook(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    return load_workbook(BytesIO(response.data))


@pytest.fixture
def scored(tree, add_entry, make_rule):
    rule = make_rule("S01", "study", "学习强国每日答题")
    tree.e1 = add_entry(tree.m11, "study", 60, date(2026, 3, 1), rule=rule, note="三月学习")
    tree.e2 = add_entry(tree.m11, "service", 40, date(2026, 11, 5), note="=HYPERLINK(\"http://x\")")
    reverse(add_entry, tree.e2, tree.m11, note="录入错误")
    add_entry(tree.m11, "penalty", -2, date(2026, 6, 1))
    add_entry(tree.m11, "study", 10, date(2025, 6, 1))                 # another year
    add_entry(tree.m12, "service", 8, date(2026, 5, 1))
    add_entry(tree.b11, "service", 10, date(2026, 6, 1), note="支部活动")
    return tree


def test_member_export(scored, page_as):
    wb = workbook(page_as(scored.m11).get(f"/index/members/{scored.m11.id}/export.xlsx?period=2026"))
    assert wb.sheetnames == ["积分明细", "指数汇总"]
    ws = wb["积分明细"]
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0][:7]) == ["日期", "类别", "细则编码", "细则", "分值", "来源", "备注"]
    assert len(rows) == 1 + 4   # 60 study, 40 service, its reversal, -2 penalty (2025 left out)
    by_id = {r[-1]: r for r in rows[1:]}
    study = by_id[scored.e1.id]
    assert study[:7] == ("2026-03-01", "理论学习", "S01", "学习强国每日答题", 60, "加扣分", "三月学习")
    service = by_id[scored.e2.id]
    assert service[4] == 40 and "已被" in service[8]
    # A note that looks like a formula stays text.
    cell = next(c for c in ws["G"] if c.value and str(c.value).startswith("=HYPERLINK"))
    assert cell.data_type == "s"
    summary = {r[0]: r[1:] for r in wb["指数汇总"].iter_rows(values_only=True) if r and r[0]}
    # index: 30 * 60/120 - 2 = 13
    assert summary["姓名"][0] == "张三" and summary["统计周期"][0] == "2026年"
    assert float(summary["先锋指数"][0]) == 13.0
    assert summary["理论学习"][:5] == (60, 120, 60, 30, 15)
    assert float(summary["扣分"][0]) == -2


def test_month_export_and_scope(scored, page_as):
    wb = workbook(page_as(scored.sec_c1).get(f"/index/members/{scored.m11.id}/export.xlsx?period=2026-11"))
    assert wb["积分明细"].max_row == 1 + 2   # the service entry and its reversal
    assert page_as(scored.m12).get(f"/index/members/{scored.m11.id}/export.xlsx").status_code == 403
    assert page_as(scored.sec_c2).get(f"/index/members/{scored.m11.id}/export.xlsx").status_code == 403
    assert page_as(scored.sec_c1).get("/index/members/987654/export.xlsx").status_code == 404
    r = page_as(scored.m11).get(f"/index/members/{scored.m11.id}/export.xlsx?period=2026-13")
    assert r.status_code == 422 and "统计周期" in r.get_data(as_text=True)


def test_org_export(scored, page_as):
    wb = workbook(page_as(scored.sec_c1).get(f"/index/orgs/{scored.c1.id}/export.xlsx?year=2026"))
    assert wb.sheetnames == ["组织汇总", "党员积分", "积分明细"]
    summary = list(wb["组织汇总"].iter_rows(values_only=True))
    assert summary[0][:2] == ("组织", "类型") and "人均积分" in summary[0]
    header = summary[0]
    own = dict(zip(header, summary[1]))
    # m11: 60 + 40 - 40 - 2 = 58, m12: 8, the branch's own 10 -> 76 over 4 members
    assert own["组织"] == "桂花社区" and float(own["总积分"]) == 76 and own["党员人数"] == 4
    assert float(own["人均积分"]) == 19
    assert {r[0] for r in summary[2:]} == {"桂花第一支部", "桂花第二支部"}
    members = list(wb["党员积分"].iter_rows(values_only=True))
    assert members[0][:5] == ("排名", "姓名", "所在组织", "先锋指数", "总积分")
    assert [(r[0], r[1]) for r in members[1:3]] == [(1, "张三"), (2, "李四")]
    assert len(members) == 1 + 4
    entries = list(wb["积分明细"].iter_rows(values_only=True))
    assert entries[0][:4] == ("日期", "对象", "所属组织", "类别")
    assert len(entries) == 1 + 6   # 4 of m11, 1 of m12, 1 of the branch
    assert any(r[1] == "（组织）" and r[2] == "桂花第一支部" and r[8] == "支部活动" for r in entries[1:])
    assert page_as(scored.sec_c2).get(f"/index/orgs/{scored.c1.id}/export.xlsx").status_code == 403
    assert page_as(scored.m11).get(f"/index/orgs/{scored.b11.id}/export.xlsx").status_code == 403


def test_control_characters_stored_in_a_note_do_not_break_the_exports(scored, add_entry, page_as):
    """A note with a control character an .xlsx cannot hold (stored before the inputs refused
    them, and never removable from the append-only ledger) made every export of that member and
    their orgs fail with a 500; the character is left out of the workbook instead."""
    add_entry(scored.m11, "study", 1, date(2026, 7, 1), note="x\x01\x07\x1b[31m")
    for path in (f"/index/members/{scored.m11.id}/export.xlsx?period=2026",
                 f"/index/orgs/{scored.b11.id}/export.xlsx?period=2026"):
        wb = workbook(page_as(scored.sec_c1).get(path))
        notes = [c.value for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
        assert "x[31m" in notes and not any("\x1b" in n for n in notes)
