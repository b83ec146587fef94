"""The progress table (进度表) or scorecard (成绩单) as an Excel workbook, with the page's figures."""
from __future__ import annotations

from flask_babel import gettext as _
from openpyxl import Workbook

from app.points.export import BOLD, _save, _sheet
from app.points.models import CATEGORY_LABELS
from app.targets.services import ProgressTable, Row


def progress_workbook(t: ProgressTable) -> tuple[str, bytes]:
    """One sheet: the period and time progress on top, then the org and each child with target,
    actual per capita, completion and status per targeted category (and targets met)."""
    wb = Workbook()
    wb.remove(wb.active)
    headers = [_("组织"), _("类型"), _("党员人数")]
    for c in t.categories:
        label = CATEGORY_LABELS[c]
        headers += [_("%(c)s目标", c=label), _("%(c)s人均", c=label), _("%(c)s完成率（%%）", c=label),
                    _("%(c)s状态", c=label)]
    headers.append(_("完成目标数"))

    def cells(row: Row) -> list:
        out = [row.name, row.kind_label, row.member_count]
        for c in t.categories:
            cell = row.cells[c]
            out += [cell.target, cell.actual, cell.completion, cell.status_label]
        out.append(f"{row.met}/{row.targeted}" if row.targeted else _("未设目标"))
        return out

    ws = _sheet(wb, _("成绩单") if t.scorecard else _("进度表"), headers,
                [cells(t.own)] + [cells(r) for r in t.rows], {1: 22})
    ws.freeze_panes = None
    ws.insert_rows(1, 4)
    for i, (label, value) in enumerate([
        (_("标题"), f"{t.org.name} {t.title}"),
        (_("统计期间"), t.period_label),
        (_("时间进度（%）"), t.time_progress),
    ], start=1):
        ws.cell(i, 1, label).font = BOLD
        ws.cell(i, 2, value)
    ws.cell(3, 2).number_format = "0.0"
    ws.freeze_panes = "B6"
    name = f"{'成绩单' if t.scorecard else '进度表'}_{t.org.name}_{t.year}-{t.month:02d}.xlsx"
    return name, _save(wb)
