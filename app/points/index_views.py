"""Pages: my index, ranks, history, the branch table, member look-up, the duty index, exports."""
from __future__ import annotations

from io import BytesIO

from flask import Blueprint, flash, render_template, request, send_file
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.auth.scope import require_role
from app.errors import Invalid
from app.orgs.services import list_members, managed_orgs
from app.points import duty as duty_service
from app.points import export
from app.points import index as ix
from app.points.models import CATEGORIES, CATEGORY_LABELS
from app.readonly import read_only
from app.templating import register_nav

bp = Blueprint("index", __name__, url_prefix="/index")

register_nav(5, _l("我的积分"), "index.me", ("member", "secretary", "admin"))
register_nav(40, _l("排行"), "index.table", ("secretary", "admin"))
register_nav(45, _l("履职"), "index.duty", ("secretary",))

PAGE_SIZE = 20


@bp.context_processor
def index_helpers():
    return {"category_labels": CATEGORY_LABELS, "source_labels": ix.SOURCE_LABELS,
            "today": ix.local_today(), "scored_categories": ix.SCORED}


def _period() -> ix.Period:
    """The period of ``?year=&period=``; on bad input, a message and the current year."""
    try:
        return ix.parse_period(request.args.get("year"), request.args.get("period"))
    except Invalid as exc:
        messages = [str(m) for ms in (exc.fields or {}).values() for m in ms]
        flash(messages[0] if messages else exc.message, "error")
        return ix.parse_period()


def _strict_period() -> ix.Period:
    """For downloads: a bad period is an error page (422), not a silent fallback."""
    return ix.parse_period(request.args.get("year"), request.args.get("period"))


def _page() -> int:
    try:
        return max(1, min(int(request.args.get("page", 1)), 100_000))
    except (TypeError, ValueError):
        return 1


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    try:
        return int(value) if value.strip() else None
    except ValueError:
        return None


def _pager(page: int, total: int, size: int = PAGE_SIZE) -> dict:
    pages = max(1, -(-total // size))
    return {"page": page, "pages": pages, "total": total,
            "prev": page - 1 if page > 1 else None, "next": page + 1 if page < pages else None}


# -- the member's own pages ------------------------------------------------------------------------

@bp.route("/me")
@read_only(own_path=True)
@login_required
def me():
    """My index: the number, category bars, ranks in branch and community, the period switch."""
    period = _period()
    mp = ix.member_points(current_user, current_user.id, period)
    return render_template("index/member.html", mp=mp, period=period, mine=True)


@bp.route("/me/explain")
@login_required
def me_explain():
    """How my index is computed, down to the entries."""
    period = _period()
    mp = ix.member_points(current_user, current_user.id, period, explain=True)
    return render_template("index/explain.html", mp=mp, period=period, mine=True)


def _entries_page(member_id: int, mine: bool):
    period = _period()
    category = request.args.get("category") or None
    if category not in (None, *CATEGORIES):
        flash(_("类别有误，已显示全部类别。"), "error")
        category = None
    page = _page()
    member = ix.get_member(member_id)
    rows, total = ix.member_entries(current_user, member.id, period, category=category,
                                    limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("index/entries.html", member=member, rows=rows, period=period, category=category,
                           pager=_pager(page, total), mine=mine)


@bp.route("/me/entries")
@login_required
def my_entries():
    """My ledger entries, filtered by category and period, reversed entries marked."""
    return _entries_page(current_user.id, True)


# -- secretaries and admins ------------------------------------------------------------------------

@bp.route("/members")
@login_required
def lookup():
    """Find a member in scope by name or phone."""
    require_role(current_user, "secretary", "admin")
    q = (request.args.get("q") or "").strip()[:50]
    page = _page()
    members, total = ([], 0)
    if q:
        members, total = list_members(current_user, q=q, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("index/lookup.html", q=q, members=members, pager=_pager(page, total))


@bp.route("/members/<int:member_id>")
@login_required
def member(member_id: int):
    """A member's index page with the explanation (the member, or a manager in scope)."""
    period = _period()
    mp = ix.member_points(current_user, member_id, period, explain=True)
    return render_template("index/explain.html", mp=mp, period=period, mine=mp.member.id == current_user.id)


@bp.route("/members/<int:member_id>/entries")
@login_required
def member_entries(member_id: int):
    return _entries_page(member_id, member_id == current_user.id)


def _org_choice() -> int:
    chosen = _int_arg("org_id")
    return chosen if chosen is not None else current_user.org_id


@bp.route("/table")
@login_required
def table():
    """The branch table: members of an org in scope with index, total and rank, best first."""
    require_role(current_user, "secretary", "admin")
    period = _period()
    orgs = managed_orgs(current_user)
    page = _page()
    org, rows, total = ix.org_table(current_user, _org_choice(), period,
                                    limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("index/table.html", org=org, orgs=orgs, rows=rows, period=period,
                           pager=_pager(page, total))


@bp.route("/orgs/<int:org_id>")
@login_required
def org(org_id: int):
    """An org's score: total, per capita, categories, its children and its own entries."""
    period = _period()
    page = _page()
    op = ix.org_points(current_user, org_id, period, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("index/org.html", op=op, period=period, pager=_pager(page, op.entries_total))


@bp.route("/duty")
@login_required
def duty():
    """The secretary duty index (党建履职指数) of an org subtree for a period."""
    require_role(current_user, "secretary", "admin")
    period = _period()
    orgs = managed_orgs(current_user)
    result = duty_service.duty_index(current_user, _org_choice(), period)
    return render_template("index/duty.html", result=result, orgs=orgs, period=period)


# -- Excel -----------------------------------------------------------------------------------------

def _xlsx(name: str, data: bytes):
    return send_file(BytesIO(data), mimetype=export.XLSX_MIME, as_attachment=True, download_name=name,
                     max_age=0)


@bp.route("/members/<int:member_id>/export.xlsx")
@login_required
def export_member(member_id: int):
    """A member's entries and index breakdown (the member, or a manager in scope)."""
    return _xlsx(*export.member_workbook(current_user, member_id, _strict_period()))


@bp.route("/orgs/<int:org_id>/export.xlsx")
@login_required
def export_org(org_id: int):
    """An org's score, members and entries (managers in scope)."""
    return _xlsx(*export.org_workbook(current_user, org_id, _strict_period()))
