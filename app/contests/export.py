"""Excel export of a contest's standings (a write-only workbook fed from a streamed query)."""
from __future__ import annotations

import io

from flask_babel import gettext as _

from app.contests import services
from app.contests.models import Contest, ContestSnapshot, ContestStanding
from app.extensions import db
from app.templating import local_dt

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _movement(previous: int | None, rank: int) -> str:
    if previous is None:
        return ""
    diff = previous - rank
    return f"↑{diff}" if diff > 0 else f"↓{-diff}" if diff < 0 else "—"


def standings_workbook(contest: Contest, snapshot: ContestSnapshot | None) -> io.BytesIO:
    """The standings of ``snapshot`` as .xlsx, with the contest's rules on top."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet(_("排名"))
    bold = Font(bold=True)

    def strong(value):
        cell = WriteOnlyCell(ws, value=value)
        cell.font = bold
        return cell

    member = contest.participant_type == "member"
    ws.column_dimensions["A"].width = 8
    ws.column_dimensions["B"].width = 24
    ws.column_dimensions["C"].width = 24 if member else 12
    ws.append([strong(contest.title)])
    ws.append([_("统计期间"), f"{contest.starts_on.isoformat()} — {contest.ends_on.isoformat()}"])
    ws.append([_("参赛对象"), str(services.PARTICIPANT_LABELS[contest.participant_type]),
               _("计分方式"), str(services.SCORING_LABELS[contest.scoring])])
    ws.append([_("计入类别"), "、".join(services.category_labels(contest))])
    if snapshot is not None:
        ws.append([_("数据截至"), local_dt(snapshot.as_of),
                   _("状态"), _("最终排名（已定稿）") if snapshot.is_final else _("实时排名")])
    ws.append([])
    header = [_("名次"), str(services.PARTICIPANT_LABELS[contest.participant_type])]
    if member:
        header.append(_("所属组织"))
    header += [_("得分"), _("上次名次"), _("变化")]
    final_orgs = snapshot is not None and snapshot.is_final and not member
    if final_orgs:
        header += [_("加分"), _("末位限制")]
    ws.append([strong(h) for h in header])
    if snapshot is None:
        return _save(wb)
    outcomes = {o.org_id: o for o in services.outcomes(contest)} if final_orgs else {}
    stmt = (services.standings_select(contest, snapshot.id)
            .order_by(ContestStanding.rank, ContestStanding.participant_id)
            .execution_options(yield_per=1000))
    for r in db.session.execute(stmt):
        row = [r.rank, r.name]
        if member:
            row.append(r.org_name)
        row += [float(r.score), r.previous_rank, _movement(r.previous_rank, r.rank)]
        if final_orgs:
            o = outcomes.get(r.participant_id)
            row += [float(o.bonus) if o and o.bonus else None,
                    _("不得参加当年评优评先") if o and o.award_ineligible else ""]
        ws.append(row)
    return _save(wb)


def _save(wb) -> io.BytesIO:
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out


def filename(contest: Contest) -> str:
    return f"{contest.title}-{_('排名')}.xlsx".replace("/", "-")
