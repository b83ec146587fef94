"""Results to Excel: the scorecard, the indirect and direct links, and the talk list."""
from __future__ import annotations

import io
from decimal import Decimal

from app.assessments import services
from app.assessments.calc import GRADE_LABELS, bonus_parts, contest_text, deduction_parts, fmt_pct

COEF_FORMAT = "0.000###"
SCORE_FORMAT = "0.00"


def _style_header(ws) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    for c in ws[1]:
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = PatternFill("solid", fgColor="C8102E")
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.freeze_panes = "C2"


def _widths(ws, widths) -> None:
    from openpyxl.utils import get_column_letter

    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width


def _yes(flag: bool) -> str:
    return "是" if flag else "否"


def _veto_cell(r) -> str:
    if not r.veto:
        return "否"
    return "；".join(v.text for v in r.veto_items if v.text) or "是"


def results_workbook(actor, assessment_id: int) -> tuple[str, bytes]:
    """(file name, .xlsx bytes) of an assessment's results."""
    import openpyxl
    from openpyxl.styles import Alignment

    a, rows = services.results(actor, assessment_id)
    departments = a.departments or []
    wb = openpyxl.Workbook()

    ws = wb.active
    ws.title = "考核结果"
    ws.append(["类别", "名次", "单位", "基础分", *departments, "党建得分", "党建排名", "本类单位数", "系数步长",
               "党建系数", "加分", "加分明细", "扣分", "扣分明细", "最终得分", "等次", "是否合格", "可否评优评先",
               "一票否决", "通报批评", "约谈", "计算说明"])
    for r in rows:
        parts = r.party_building_parts or {}
        ws.append([
            r.unit_class, r.rank, r.name, r.base, *[parts.get(d) for d in departments], r.party_building,
            r.party_building_rank, r.class_size, fmt_pct(r.step), r.coefficient, r.bonus,
            "；".join(bonus_parts(r)), r.deductions, "；".join(deduction_parts(r)), r.final,
            f"{r.grade}（{GRADE_LABELS[r.grade]}）", _yes(r.qualified), _yes(r.award_eligible),
            _veto_cell(r), (r.criticized_reason or "是") if r.criticized else "否", _yes(r.talk), r.explanation,
        ])
    header = [c.value for c in ws[1]]
    coef_col, final_col = header.index("党建系数"), header.index("最终得分")
    for row in ws.iter_rows(min_row=2):
        row[coef_col].number_format = COEF_FORMAT
        row[final_col].number_format = SCORE_FORMAT
        row[-1].alignment = Alignment(wrap_text=True, vertical="top")
    _style_header(ws)
    _widths(ws, [10, 6, 22, 8, *[8] * len(departments), 9, 8, 8, 8, 9, 7, 28, 7, 24, 9, 10, 8, 10, 16, 16, 6, 80])

    link = wb.create_sheet("间接挂钩")
    link.append(["类别", "名次", "单位", "等次", "可评优秀人员比例", "在册党员人数", "可评优秀人数"])
    for r in rows:
        link.append([r.unit_class, r.rank, r.name, f"{r.grade}（{GRADE_LABELS[r.grade]}）",
                     fmt_pct(r.excellent_share), r.member_count, r.excellent_allowed])
    _style_header(link)
    _widths(link, [10, 6, 22, 10, 16, 14, 14])

    direct = wb.create_sheet("直接挂钩")
    direct.append(["单位", "单位系数", "党员", "所在支部", f"{a.year}年先锋指数", "个人绩效（指数×单位系数）"])
    any_index = False
    for r in rows:
        members, available = services.unit_members(a, r)
        any_index = any_index or available
        for m in members:
            direct.append([r.name, r.coefficient, m.name, m.org_name, m.index, m.performance])
    for row in direct.iter_rows(min_row=2):
        row[1].number_format = COEF_FORMAT
        row[5].number_format = SCORE_FORMAT
    if not any_index and rows:
        direct.append([])
        direct.append(["说明：系统中暂无先锋指数，个人绩效请以个人指数乘以单位系数计算。"])
    _style_header(direct)
    _widths(direct, [22, 10, 12, 20, 14, 24])

    talk = wb.create_sheet("约谈名单")
    talk.append(["类别", "名次", "单位", "等次", "最终得分", "原因"])
    for r in rows:
        if r.talk:
            why = []
            if r.criticized:
                why.append("被通报批评" + (f"（{r.criticized_reason}）" if r.criticized_reason else ""))
            if "below_ratio" in r.unqualified_reasons:
                why.append(f"低于合格线 {_plain(r.threshold)}")
            if not why:
                why.append(f"等次为{GRADE_LABELS[r.grade]}")
            talk.append([r.unit_class, r.rank, r.name, f"{r.grade}（{GRADE_LABELS[r.grade]}）", r.final,
                         "；".join(why)])
    for row in talk.iter_rows(min_row=2):
        row[4].number_format = SCORE_FORMAT
    _style_header(talk)
    _widths(talk, [10, 6, 22, 10, 10, 40])

    contests = wb.create_sheet("竞赛结果")
    contests.append(["单位", "积分竞位赛", "名次", "加分", "取消评优评先"])
    for r in rows:
        for c in r.contest_items:
            contests.append([r.name, contest_text(c), c.place, c.bonus, _yes(c.excluded)])
    _style_header(contests)
    _widths(contests, [22, 40, 6, 8, 12])

    out = io.BytesIO()
    wb.save(out)
    return f"{a.full_title}-考核结果.xlsx", out.getvalue()


def _plain(value: Decimal) -> str:
    d = Decimal(value)
    return format(d.normalize(), "f") if d else "0"
