"""Excel exports (openpyxl) of a member's or an org's points for a period, with Chinese headers."""
from __future__ import annotations

from decimal import Decimal
from io import BytesIO

import sqlalchemy as sa
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import aliased

from app.auth.models import User
from app.orgs.models import Org
from app.points import index as ix
from app.points.models import CATEGORIES, CATEGORY_LABELS, LedgerEntry, Rule

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_ROWS = 100_000
BOLD = Font(bold=True)


def _sheet(wb: Workbook, title: str, headers: list[str], rows, widths: dict[int, int] | None = None):
    ws = wb.create_sheet(title)
    ws.append(headers)
    for cell in ws[1]:
        cell.font = BOLD
    for row in rows:
        ws.append(list(row))
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, Decimal):
                cell.number_format = "0.0"
    for i, header in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(i)].width = (widths or {}).get(i, max(10, len(header) * 2 + 2))
    ws.freeze_panes = "A2"
    return ws


def _reversal_note(e) -> str:
    if e.reverses_id is not None:
        return _("冲正第%(id)s号记录", id=e.reverses_id)
    if e.reversed_by_id is not None:
        return _("已被第%(id)s号记录冲正", id=e.reversed_by_id)
    return ""


def _entry_cells(e) -> list:
    return [
        e.occurred_on.isoformat(), CATEGORY_LABELS.get(e.category, e.category), e.rule_code, e.rule_title,
        e.points, e.source_label, e.note, e.created_at_local.strftime("%Y-%m-%d %H:%M"),
        _reversal_note(e), e.id,
    ]


ENTRY_HEADERS = ["日期", "类别", "细则编码", "细则", "分值", "来源", "备注", "录入时间", "冲正说明", "记录编号"]


def _save(wb: Workbook) -> bytes:
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


def member_workbook(actor, member_id: int, period: ix.Period) -> tuple[str, bytes]:
    """The entries and the index breakdown of one member (the member, or managers in scope)."""
    mp = ix.member_points(actor, member_id, period, explain=True)
    entries = ix.entry_rows(ix.entries_select(period, member_id=mp.member.id).limit(MAX_ROWS))
    wb = Workbook()
    wb.remove(wb.active)
    _sheet(wb, "积分明细", [_(h) for h in ENTRY_HEADERS], (_entry_cells(e) for e in entries),
           {4: 28, 7: 30, 8: 18, 9: 22})
    summary = wb.create_sheet("指数汇总")
    for label, value in [
        (_("姓名"), mp.member.name), (_("所在组织"), mp.branch.name), (_("统计周期"), mp.period.label),
        (_("先锋指数"), mp.index), (_("总积分"), mp.total),
        (_("支部排名"), f"{mp.branch_rank}/{mp.branch_size}" if mp.branch_rank else "—"),
        (_("社区排名"), f"{mp.community_rank}/{mp.community_size}" if mp.community_rank else "—"),
    ]:
        summary.append([label, value])
        summary.cell(summary.max_row, 1).font = BOLD
    summary.append([])
    summary.append([_("类别"), _("原始得分"), _("上限"), _("计入得分"), _("权重"), _("贡献")])
    for cell in summary[summary.max_row]:
        cell.font = BOLD
    for line in mp.lines:
        summary.append([line.label, line.raw, line.ceiling, line.score, line.weight, line.contribution])
    summary.append([_("合计"), None, None, None, 100, mp.index])
    summary.append([])
    summary.append([_("计算方法：各类得分封顶后按权重折算，加上扣分，不低于0，最后四舍五入保留一位小数。")])
    summary.column_dimensions["A"].width = 14
    for col in "BCDEF":
        summary.column_dimensions[col].width = 12
    for row in summary.iter_rows():
        for cell in row:
            cell.alignment = Alignment(vertical="top")
    name = f"积分_{mp.member.name}_{period.key}.xlsx"
    return name, _save(wb)


def subtree_entries_select(period: ix.Period, org: Org) -> sa.Select:
    """Every entry counted in an org's score: its subtree's members' and orgs' own entries."""
    rev = aliased(LedgerEntry)
    owner = aliased(Org, name="owner")
    return (
        sa.select(
            LedgerEntry.id, LedgerEntry.occurred_on, LedgerEntry.category, LedgerEntry.rule_code,
            sa.func.coalesce(Rule.title, LedgerEntry.rule_code).label("rule_title"),
            LedgerEntry.points, LedgerEntry.source, LedgerEntry.note, LedgerEntry.created_at,
            LedgerEntry.reverses_id, rev.id.label("reversed_by_id"),
            LedgerEntry.member_id, LedgerEntry.org_id,
            User.name.label("member_name"), owner.name.label("owner_name"),
        )
        .select_from(LedgerEntry)
        .outerjoin(User, User.id == LedgerEntry.member_id)
        .join(owner, owner.id == sa.func.coalesce(LedgerEntry.org_id, User.org_id))
        .outerjoin(Rule, Rule.id == LedgerEntry.rule_id)
        .outerjoin(rev, rev.reverses_id == LedgerEntry.id)
        .where(owner.path.startswith(org.path, autoescape=True),
               LedgerEntry.occurred_on.between(period.start, period.end))
        .order_by(LedgerEntry.occurred_on.desc(), LedgerEntry.id.desc())
        .limit(MAX_ROWS)
    )


def org_workbook(actor, org_id: int, period: ix.Period) -> tuple[str, bytes]:
    """An org's score, its children's, its members ranked, and every entry behind the total."""
    op = ix.org_points(actor, org_id, period, limit=0)
    org, members, _total = ix.org_table(actor, org_id, period, limit=MAX_ROWS)
    wb = Workbook()
    wb.remove(wb.active)
    cats = [CATEGORY_LABELS[c] for c in CATEGORIES]
    score_headers = [_("组织"), _("类型"), *cats, _("总积分"), _("党员人数"), _("人均积分"), _("党员平均指数")]

    def score_cells(s: ix.OrgScore) -> list:
        return [s.name, s.kind_label, *[s.by_category[c] for c in CATEGORIES], s.total, s.member_count,
                s.per_capita, s.average_index]

    _sheet(wb, "组织汇总", score_headers, [score_cells(op.score)] + [score_cells(c) for c in op.children],
           {1: 20})
    _sheet(wb, "党员积分", [_("排名"), _("姓名"), _("所在组织"), _("先锋指数"), _("总积分"), *cats],
           ([r.rank, r.name, r.org_name, r.index, r.total, *[r.by_category[c] for c in CATEGORIES]]
            for r in members), {2: 12, 3: 20})
    rows = []
    for e in ix.entry_rows(subtree_entries_select(period, org)):
        cells = _entry_cells(e)
        rows.append(cells[:1] + [e.member_name or _("（组织）"), e.owner_name] + cells[1:])
    _sheet(wb, "积分明细", [_("日期"), _("对象"), _("所属组织"), *[_(h) for h in ENTRY_HEADERS[1:]]], rows,
           {3: 20, 6: 28, 9: 30, 10: 18, 11: 22})
    name = f"积分_{org.name}_{period.key}.xlsx"
    return name, _save(wb)
