"""Done when (assessments): an admin enters a year's scores, reads results that match the published
method to the last decimal with an explanation for every unit, and exports them to Excel."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from app.demo import DEMO_PASSWORD, FIXED_ADMIN
from tests.e2e.conftest import login, phone_check

pytestmark = pytest.mark.e2e

STEP = Decimal("0.005")  # typed as 0.5 (%)
DEPARTMENTS = ["纪委", "组织部", "宣传部", "统战部"]
# What the admin types for each community: base, party-building (per department or a total),
# bonus and deduction lines ("事由 分值").
UNITS = {
    "桂花社区党委": {"base": "92", "depts": ["24", "23.5", "22", "21"], "total": None,
                     "bonus": [("区级先进基层党组织", "2")], "deductions": []},
    "荷花社区党委": {"base": "95", "depts": None, "total": "88",
                     "bonus": [], "deductions": [("信访问题处置不及时", "1.5")]},
    "梅园社区党委": {"base": "90.5", "depts": None, "total": "85.25",
                     "bonus": [("红旗项目", "1")], "deductions": [("安全检查整改滞后", "0.5")]},
}


def _by_hand() -> dict[str, dict]:
    """The published method worked through for the three units (N = 3, step 0.5%):
    party-building 90.5 > 88 > 85.25 gives ranks 1, 2, 3 and coefficients 1.005, 1.000, 0.995;
    final = base x coefficient + bonus - deductions, rounded once to two decimals."""
    out = {}
    n = len(UNITS)
    for name, u in UNITS.items():
        pb = sum(Decimal(d) for d in u["depts"]) if u["depts"] else Decimal(u["total"])
        out[name] = {"pb": pb, "base": Decimal(u["base"]),
                     "bonus": sum((Decimal(p) for _r, p in u["bonus"]), Decimal(0)),
                     "deductions": sum((Decimal(p) for _r, p in u["deductions"]), Decimal(0))}
    for name, r in out.items():
        r["pb_rank"] = 1 + sum(1 for o in out.values() if o["pb"] > r["pb"])
        r["coef"] = 1 + (Decimal(n + 1) / 2 - r["pb_rank"]) * STEP
        r["exact"] = r["base"] * r["coef"] + r["bonus"] - r["deductions"]
        r["final"] = r["exact"].quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    for name, r in out.items():
        r["rank"] = 1 + sum(1 for o in out.values() if o["final"] > r["final"])
    # Quotas A 20% and B 30% of 3 units: floor(0.6) and floor(0.9), at least one place each; the
    # rest (all above 60% of the top final) are C.
    top = max(r["final"] for r in out.values())
    for r in out.values():
        assert r["final"] >= Decimal("0.6") * top
        r["grade"] = {1: "A", 2: "B", 3: "C"}[r["rank"]]
    return out


EXPECTED = _by_hand()
GRADE_LABELS = {"A": "优秀", "B": "良好", "C": "合格", "D": "不合格"}


def _plain(d: Decimal) -> str:
    text = format(d.normalize(), "f")
    return text


def _coef(d: Decimal) -> str:
    return format(d.quantize(Decimal("0.001")) if d.normalize().as_tuple().exponent > -3 else d.normalize(), "f")


def test_admin_runs_the_annual_assessment_on_a_phone(live_server, page, console_errors, tmp_path):
    from app.points.services import local_today

    url = live_server.url
    with live_server.app.app_context():
        year = local_today().year
    title = "东湖街道社区党组织书记抓基层党建工作述职评议考核（手机录入）"  # a long one, as real ones are
    # the hand computation itself, against the published example's arithmetic
    assert [EXPECTED[n]["coef"] for n in UNITS] == [Decimal("1.005"), Decimal("1.000"), Decimal("0.995")]
    assert [EXPECTED[n]["final"] for n in UNITS] == [Decimal("94.46"), Decimal("93.50"), Decimal("90.55")]

    # -- create the assessment -----------------------------------------------------------------
    login(page, url, FIXED_ADMIN[1], DEMO_PASSWORD)
    page.goto(f"{url}/assessments/")
    with page.expect_navigation():
        page.click("a:has-text('新建考核')")
    phone_check(page, tmp_path, "01-new-assessment")
    assert page.input_value("#year") == str(year)
    page.fill("#title", title)
    page.fill("#step", "0.5")
    assert page.input_value("#ratio") == "60"
    assert page.input_value("#departments") == "、".join(DEPARTMENTS)
    page.fill("#unit_classes", "社区")
    with page.expect_navigation():
        page.tap("main form button[type=submit]")
    assert f"已创建考核：{title}" in page.inner_text(".flash-success")
    assert "0.5%" in page.inner_text("dl.facts")
    detail_url = page.url.split("#")[0]

    # -- enter three communities on the unit form ----------------------------------------------
    org_ids = {}
    for i, (name, u) in enumerate(UNITS.items()):
        page.goto(detail_url)
        option = page.locator("#org option", has_text=name)
        org_ids[name] = int(option.get_attribute("value"))
        page.select_option("#org", str(org_ids[name]))
        with page.expect_navigation():
            page.tap("form.search button[type=submit]")
        assert page.inner_text("main h1") == name
        page.select_option("#unit_class", "社区")
        page.fill("#base", u["base"])
        if u["depts"]:
            for j, score in enumerate(u["depts"]):
                page.fill(f"#dept_{j}", score)
        else:
            page.fill("#party_building_total", u["total"])
        page.fill("#bonus", "\n".join(f"{r} {p}" for r, p in u["bonus"]))
        page.fill("#deductions", "\n".join(f"{r} {p}" for r, p in u["deductions"]))
        if i == 0:
            phone_check(page, tmp_path, "02-unit-form")
        with page.expect_navigation():
            page.tap("main form.stack button[type=submit]")
        assert f"已保存：{name}" in page.inner_text(".flash-success")
    rows = page.locator("table.results tbody tr")
    assert rows.count() == 3
    phone_check(page, tmp_path, "03-detail")

    # -- results: coefficients, finals, grades and one explanation per unit ----------------------
    with page.expect_navigation():
        page.click("a:has-text('查看结果')")
    table = page.locator("section.card", has_text="计算说明").locator("table.results")
    shown = {}
    for tr in table.locator("tbody tr").all():
        cells = [c.strip() for c in tr.locator("td").all_text_contents()]
        shown[cells[1]] = {"rank": int(cells[0]), "base": Decimal(cells[2]), "pb": Decimal(cells[3]),
                           "pb_rank": int(cells[4]), "coef": cells[5], "bonus": Decimal(cells[6]),
                           "deductions": Decimal(cells[7]), "final": cells[8], "grade": cells[9]}
    assert set(shown) == set(UNITS)
    for name, e in EXPECTED.items():
        s = shown[name]
        assert (s["rank"], s["pb_rank"], s["base"], s["pb"], s["bonus"], s["deductions"]) == (
            e["rank"], e["pb_rank"], e["base"], e["pb"], e["bonus"], e["deductions"]), name
        assert s["coef"] == _coef(e["coef"]), name
        assert s["final"] == f"{e['final']:.2f}", name
        assert s["grade"] == f"{e['grade']} {GRADE_LABELS[e['grade']]}", name
    assert [r.split()[0] for r in table.locator("tbody tr td:nth-child(2)").all_text_contents()] == sorted(
        UNITS, key=lambda n: EXPECTED[n]["rank"])
    phone_check(page, tmp_path, "04-results")
    # on the phone each unit's final score is in view without sliding the table, on one short row
    wrap_right = table.evaluate("t => t.closest('.table-wrap').getBoundingClientRect().right")
    for tr in table.locator("tbody tr").all():
        final = tr.locator("td").nth(8).bounding_box()
        assert final["x"] + final["width"] <= wrap_right + 1, final
        assert tr.bounding_box()["height"] < 60

    for name, e in EXPECTED.items():
        item = page.locator(f"li#u-{org_ids[name]}")
        item.locator("summary").tap()
        text = item.locator("details p").first.inner_text()
        coef = _coef(e["coef"])
        assert f"在“社区”类 3 个单位中排第 {e['pb_rank']} 名" in text, text
        assert f"系数 = 1 + ((3+1)/2 - {e['pb_rank']}) × 0.5% = {coef}" in text, text
        assert f"最终得分 = {_plain(e['base'])} × {coef} + 加分 {_plain(e['bonus'])}" in text, text
        for reason, pts in UNITS[name]["bonus"] + UNITS[name]["deductions"]:
            assert f"{reason} {pts}" in text, text
        assert f"扣分 {_plain(e['deductions'])}" in text, text
        if e["exact"] != e["final"]:
            assert f"= {_plain(e['exact'])}，四舍五入保留两位小数为 {e['final']:.2f}" in text, text
        else:
            assert f"= {e['final']:.2f}，在“社区”类排第 {e['rank']} 名" in text, text
        assert f"等次：{e['grade']}（{GRADE_LABELS[e['grade']]}）" in text, text
        assert "可参加当年评优评先" in text, text
    talks = page.inner_text("#talks")
    assert "梅园社区党委" in talks and "桂花社区党委" not in talks and "荷花社区党委" not in talks
    phone_check(page, tmp_path, "05-results-explained")

    # -- the direct link: each member's performance = index x the unit's coefficient, in view -------
    first = min(EXPECTED, key=lambda n: EXPECTED[n]["rank"])
    with page.expect_navigation():
        page.locator(f"li#u-{org_ids[first]}").locator("a:has-text('党员绩效')").tap()
    assert first in page.inner_text("main h1")
    assert _coef(EXPECTED[first]["coef"]) in page.inner_text("main section.card >> nth=0")
    header = page.locator("table.results thead th", has_text="个人绩效")
    box = header.bounding_box()
    assert box and box["x"] + box["width"] <= 360, box
    cells = page.locator("table.results tbody tr").first.locator("td").all_text_contents()
    index, performance = Decimal(cells[2]), Decimal(cells[4])
    assert performance == (index * EXPECTED[first]["coef"]).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    phone_check(page, tmp_path, "06-direct-link")
    page.go_back()

    # -- the Excel export ------------------------------------------------------------------------
    import openpyxl

    with page.expect_download() as info:
        page.click("a.button:has-text('导出 Excel')")
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    path = tmp_path / "results.xlsx"
    download.save_as(str(path))
    ws = openpyxl.load_workbook(path, read_only=True)["考核结果"]
    sheet = [list(r) for r in ws.iter_rows(values_only=True)]
    header = sheet[0]
    assert header[:19] == ["类别", "名次", "单位", "基础分", *DEPARTMENTS, "党建得分", "党建排名", "本类单位数",
                           "系数步长", "党建系数", "加分", "加分明细", "扣分", "扣分明细", "最终得分", "等次"]
    assert header[-1] == "计算说明"
    col = {h: i for i, h in enumerate(header)}
    got = {r[col["单位"]]: r for r in sheet[1:] if r[col["单位"]]}
    assert set(got) == set(UNITS)
    for name, e in EXPECTED.items():
        r = got[name]
        assert r[col["类别"]] == "社区"
        assert r[col["名次"]] == e["rank"] and r[col["党建排名"]] == e["pb_rank"] and r[col["本类单位数"]] == 3
        assert Decimal(str(r[col["基础分"]])) == e["base"]
        assert Decimal(str(r[col["党建得分"]])) == e["pb"]
        assert r[col["系数步长"]] == "0.5%"
        assert Decimal(str(r[col["党建系数"]])) == e["coef"]
        assert Decimal(str(r[col["加分"]])) == e["bonus"]
        assert Decimal(str(r[col["扣分"]])) == e["deductions"]
        assert Decimal(str(r[col["最终得分"]])) == e["final"]
        assert r[col["等次"]] == f"{e['grade']}（{GRADE_LABELS[e['grade']]}）"
        assert f"最终得分 = {_plain(e['base'])} × {_coef(e['coef'])}" in r[col["计算说明"]]
    if UNITS["桂花社区党委"]["depts"]:
        r = got["桂花社区党委"]
        assert [Decimal(str(r[col[d]])) for d in DEPARTMENTS] == [Decimal(d) for d in UNITS["桂花社区党委"]["depts"]]
    assert console_errors == []
