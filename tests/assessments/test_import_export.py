"""Excel in and out: the import template, all-or-nothing import with row numbers, the results export."""
from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest

from tests.sheets import formulas_as_formulas

HEADERS = ["单位", "类别", "基础分", "纪委", "组织部", "宣传部", "统战部", "党建总分", "加分", "加分事由", "扣分",
           "扣分事由", "一票否决", "通报批评"]


@pytest.fixture
def assessment(tree, db):
    from app.assessments import services

    return services.create_assessment(tree.admin, year=2026, title="社区党组织年度考核", coefficient_step=0.005)


def xlsx(rows, headers=HEADERS) -> io.BytesIO:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(headers)
    for row in rows:
        ws.append(row)
    formulas_as_formulas(ws)
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out


def upload(client, assessment, fileobj, name="得分.xlsx"):
    return client.post(f"/assessments/{assessment.id}/import", data={"file": (fileobj, name)},
                       content_type="multipart/form-data")


def units(db):
    from app.assessments.models import AssessmentUnit

    db.session.expire_all()
    return {u.org.name: u for u in db.session.scalars(db.select(AssessmentUnit))}


def test_template_has_the_assessment_columns_and_entered_units(tree, login_as, assessment, db):
    from app.assessments import services

    services.save_unit(tree.admin, assessment.id, tree.c1.id, {
        "base": 90, "party_building": {"纪委": 90, "组织部": 88, "宣传部": 87.5, "统战部": 87}, "unit_class": "社区",
        "bonus": [{"points": 2, "reason": "区级表彰"}, {"points": 1, "reason": "红旗项目"}]})
    c = login_as(tree.admin)
    r = c.get(f"/assessments/{assessment.id}/template.xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    ws = wb.worksheets[0]
    assert [c.value for c in ws[1]] == HEADERS
    row = [c.value for c in ws[2]]
    assert row[:7] == ["桂花社区", "社区", 90, 90, 88, 87.5, 87]
    assert row[8:10] == [3, "区级表彰 2；红旗项目 1"]
    assert "填写说明" in wb.sheetnames
    # the filled template imports back unchanged
    r = upload(c, assessment, io.BytesIO(r.data))
    assert r.status_code == 302
    assert units(db)["桂花社区"].bonus_items == [
        {"points": "2", "reason": "区级表彰"}, {"points": "1", "reason": "红旗项目"}]


def test_good_file_imports_every_unit(tree, login_as, assessment, db):
    c = login_as(tree.admin)
    f = xlsx([
        ["桂花社区", "社区", 92, 90, 88, 87.5, 87, None, 3, "区级表彰 2；红旗项目 1", None, None, "否", "否"],
        ["荷花社区", "社区", "85.5", None, None, None, None, 320, 2, "市级先进", 1, "信访问题", "安全生产：发生较大事故", None],
        ["东湖街道/桂花社区/桂花第一支部", "支部", 80, None, None, None, None, "300", None, None, None, None, None,
         "被区委通报批评"],
    ])
    r = upload(c, assessment, f)
    assert r.status_code == 302, r.get_data(as_text=True)
    got = units(db)
    assert set(got) == {"桂花社区", "荷花社区", "桂花第一支部"}
    gh = got["桂花社区"]
    assert gh.party_building == Decimal("352.5") and gh.bonus == 3
    assert gh.party_building_parts == {"纪委": "90", "组织部": "88", "宣传部": "87.5", "统战部": "87"}
    assert len(gh.bonus_items) == 2 and not gh.veto and not gh.criticized
    hh = got["荷花社区"]
    assert hh.base == Decimal("85.5") and hh.party_building == 320
    assert hh.bonus_items == [{"points": "2", "reason": "市级先进"}]
    assert hh.deduction_items == [{"points": "1", "reason": "信访问题"}]
    assert hh.veto and hh.veto_items == [{"item": "安全生产", "reason": "发生较大事故"}]
    b = got["桂花第一支部"]
    assert b.criticized and b.criticized_reason == "被区委通报批评" and b.unit_class == "支部"


def test_bad_file_reports_every_bad_row_and_imports_nothing(tree, login_as, assessment, db):
    c = login_as(tree.admin)
    f = xlsx([
        ["桂花社区", "社区", 92, 90, 88, 87.5, 87, None, None, None, None, None, None, None],  # row 2: good
        ["荷花社区", "社区", 120, None, None, None, None, 300, None, None, None, None, None, None],  # row 3
        ["不存在社区", "社区", 90, None, None, None, None, 300, None, None, None, None, None, None],  # row 4
        ["桂花第一支部", "支部", "九十", 90, None, 80, 80, None, None, None, None, None, None, None],  # row 5
        ["桂花第二支部", "支部", 90, None, None, None, None, 300, 5, "区级表彰 2；红旗项目 1", None, None, None,
         None],  # row 6
        ["桂花社区", "社区", 90, None, None, None, None, 300, None, None, None, None, None, None],  # row 7: duplicate
        ["荷花第一支部", None, 90, None, None, None, None, 300, None, None, None, None, None, None],  # row 8
    ])
    r = upload(c, assessment, f)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "未导入任何单位" in html
    for row, text in ((3, "基础分须不小于0且不大于100"), (4, "找不到组织“不存在社区”"), (5, "基础分“九十”不是数字"),
                      (5, "缺少评价部门的得分：组织部"), (6, "不一致"), (7, "在表中重复：第2行和第7行"),
                      (8, "请填写单位类别")):
        assert f"第{row}行" in html and text in html, (row, text)
    assert "第2行</td>" not in html
    assert units(db) == {}


@pytest.mark.parametrize("content, message", [
    (b"not a spreadsheet", "文件无法读取"),
    (None, "表头缺少"),
])
def test_unreadable_or_headerless_files(tree, login_as, assessment, db, content, message):
    c = login_as(tree.admin)
    f = io.BytesIO(content) if content else xlsx([["桂花社区", 90]], headers=["单位", "基础分"])
    r = upload(c, assessment, f)
    assert r.status_code == 422 and message in r.get_data(as_text=True)
    assert units(db) == {}


def test_export_opens_with_openpyxl(tree, login_as, assessment, make_org):
    from app.assessments import services

    orgs = [make_org(f"街道{i}", "street") for i in range(1, 12)]
    for i, org in enumerate(orgs, start=1):
        services.save_unit(tree.admin, assessment.id, org.id, {
            "base": 90, "party_building": 400 - i, "unit_class": "街道",
            "bonus": [{"points": 2, "reason": "区级表彰"}] if i == 1 else None,
            "veto": ["环境保护问题"] if i == 2 else None})
    services.save_unit(tree.admin, assessment.id, tree.c1.id, {"base": 90, "party_building": 300, "unit_class": "社区"})
    c = login_as(tree.admin)
    r = c.get(f"/assessments/{assessment.id}/export.xlsx")
    assert r.status_code == 200
    assert "attachment" in r.headers["Content-Disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["考核结果", "间接挂钩", "直接挂钩", "约谈名单", "竞赛结果"]
    ws = wb["考核结果"]
    header = [c.value for c in ws[1]]
    for h in ("类别", "名次", "单位", "基础分", "党建得分", "党建排名", "党建系数", "加分", "扣分", "最终得分", "等次",
              "是否合格", "可否评优评先", "计算说明"):
        assert h in header
    rows = [dict(zip(header, [c.value for c in row])) for row in ws.iter_rows(min_row=2)]
    first = next(r for r in rows if r["单位"] == "街道1")
    assert first["党建系数"] == pytest.approx(1.025) and first["最终得分"] == pytest.approx(94.25)
    assert first["加分明细"] == "区级表彰 2" and first["等次"] == "A（优秀）"
    assert first["计算说明"].startswith("党建得分 399，在“街道”类 11 个单位中排第 1 名")
    assert next(r for r in rows if r["单位"] == "街道2")["可否评优评先"] == "否"
    assert next(r for r in rows if r["单位"] == "街道11")["党建系数"] == pytest.approx(0.975)
    # Excel shows the coefficient with three decimals at least and the final with two: 1 -> 1.000, 90 -> 90.00
    cells = {h: cell for h, cell in zip(header, ws[2])}
    assert cells["党建系数"].number_format == "0.000###"
    assert cells["最终得分"].number_format == "0.00"
    assert cells["加分"].number_format == "General" and cells["等次"].number_format == "General"
    middle = next(row for row in ws.iter_rows(min_row=2) if row[header.index("单位")].value == "街道6")
    assert middle[header.index("党建系数")].value == 1 and middle[header.index("党建系数")].number_format == "0.000###"
    indirect = [[c.value for c in row] for row in wb["间接挂钩"].iter_rows(min_row=2)]
    assert ["社区", 1, "桂花社区", "A（优秀）", "30%", 4, 1] in indirect
    direct = [[c.value for c in row] for row in wb["直接挂钩"].iter_rows(min_row=2)]
    assert {r[2] for r in direct if r[0] == "桂花社区"} >= {"张三", "李四", "李书记", "陈支书"}
    talks = [row[2].value for row in wb["约谈名单"].iter_rows(min_row=2)]
    assert "街道11" in talks and "街道1" not in talks
    assert all(row[4].number_format == "0.00" for row in wb["约谈名单"].iter_rows(min_row=2))


def test_a_total_formula_without_a_saved_value_is_named(tree, login_as, assessment, db):
    """A 党建总分 of =SUM(...) from a generated sheet has no value in the file: reading it as
    empty would take the departments' scores instead of what the sheet shows; the cell is named."""
    c = login_as(tree.admin)
    f = xlsx([["桂花社区", "社区", 92, 90, 88, 87.5, 87, "=SUM(D2:G2)", None, None, None, None, "否", "否"]])
    r = upload(c, assessment, f)
    assert r.status_code == 422
    assert "单元格 H2 是公式，但文件里没有保存它的计算结果" in r.get_data(as_text=True)
    assert units(db) == {}
    # listed with the other rows' problems in one pass
    f = xlsx([["桂花社区", "社区", 92, 90, 88, 87.5, 87, "=SUM(D2:G2)", None, None, None, None, "否", "否"],
              ["没有这个社区", "社区", 92, 90, 88, 87.5, 87, None, None, None, None, None, "否", "否"]])
    body = upload(c, assessment, f).get_data(as_text=True)
    assert "单元格 H2 是公式" in body and "没有这个社区" in body
    assert units(db) == {}


def test_names_that_look_like_formulas_are_exported_as_text(tree, login_as, assessment, make_org, db):
    """An org named =HYPERLINK(...) (or #N/A) is text in the export, never a live formula or an
    error value: the sheet's XML holds no <f> and the cell reads back as the name."""
    import zipfile

    from app.assessments import services

    evil = make_org('=HYPERLINK("http://x","点我")', "street")
    error_like = make_org("#N/A", "street")
    for org, pb in ((evil, 300), (error_like, 200)):
        services.save_unit(tree.admin, assessment.id, org.id, {"base": 90, "party_building": pb, "unit_class": "街道"})
    r = login_as(tree.admin).get(f"/assessments/{assessment.id}/export.xlsx")
    assert r.status_code == 200
    with zipfile.ZipFile(io.BytesIO(r.data)) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert sheets and not any("<f>" in x or 't="e"' in x for x in sheets)
    names = {c.value for row in openpyxl.load_workbook(io.BytesIO(r.data))["考核结果"].iter_rows() for c in row}
    assert '=HYPERLINK("http://x","点我")' in names and "#N/A" in names
