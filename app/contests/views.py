"""Pages: contests, leaderboards, the hall display, results notices."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.auth.scope import require_role
from app.contests import services
from app.contests.chart import trend_svg
from app.contests.export import XLSX, filename, standings_workbook
from app.contests.forms import ContestForm
from app.contests.notice import build_notice, period_label
from app.contests.rollup import setting
from app.errors import DomainError
from app.extensions import db
from app.orgs.forms import org_choices
from app.orgs.services import managed_orgs
from app.templating import register_nav

bp = Blueprint("contests", __name__, url_prefix="/contests")


@bp.app_template_global("contest_phase")
def contest_phase(contest) -> tuple[str, str]:
    """(phase, its label) for the status badge of the contest pages."""
    key = services.phase(contest)
    return key, str(services.PHASE_LABELS[key])

register_nav(35, _l("竞位赛"), "contests.index", ("member", "secretary", "admin"))

PER_PAGE = 50
HALL_ROWS = 15


def _page() -> int:
    page = request.args.get("page", 1, type=int) or 1
    return max(1, min(page, 100000))


def _paging(total: int, page: int, per_page: int = PER_PAGE) -> dict:
    pages = max(1, (total + per_page - 1) // per_page)
    return {"page": page, "pages": pages, "total": total,
            "prev": page - 1 if page > 1 else None, "next": page + 1 if page < pages else None}


def _mine_suffix(contest) -> str:
    return _("（我）") if contest.participant_type == "member" else _("（本单位）")


@bp.route("/")
@login_required
def index():
    """Contests I may see: running first."""
    page = _page()
    items, total = services.list_contests(current_user, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    return render_template("contests/index.html", contests=items, paging=_paging(total, page),
                           can_create=current_user.role in ("admin", "secretary"))


DEFAULT_PARTICIPANTS = {"branch": "member", "community": "branch"}


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Create a contest (secretaries and admins, inside their scope)."""
    require_role(current_user, "admin", "secretary")
    form = ContestForm()
    orgs = managed_orgs(current_user)
    form.scope_org_id.choices = org_choices(orgs, root_label=_("请选择"))
    if orgs and all(o.kind == "branch" for o in orgs):
        # inside a branch only members can race (a branch race needs two branches)
        form.participant_type.choices = [c for c in form.participant_type.choices if c[0] == "member"]
    if request.method == "GET" and orgs:
        form.scope_org_id.data = orgs[0].id
        # the level below the scope races by default: a branch's members, a community's branches
        form.participant_type.data = DEFAULT_PARTICIPANTS.get(orgs[0].kind, "community")
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            contest = services.create_contest(
                current_user, title=form.title.data, participant_type=form.participant_type.data,
                scope_org_id=form.scope_org_id.data, starts_on=form.starts_on.data, ends_on=form.ends_on.data,
                categories=list(form.categories.data or []), scoring=form.scoring.data,
                top_places=form.top_places.data, top_points=form.top_points.data or 0,
                exclude_last=bool(form.exclude_last.data),
            )
        except DomainError as exc:
            db.session.rollback()
            errors = _place_errors(form, exc)
        else:
            flash(_("已创建竞赛：%(title)s", title=contest.title), "success")
            return redirect(url_for("contests.show", contest_id=contest.id))
    return render_template("contests/new.html", form=form, errors=errors)


def _place_errors(form, exc: DomainError) -> list[str]:
    """Service field errors next to their fields; the rest as a list."""
    rest: list[str] = []
    for name, messages in (exc.fields or {}).items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, *messages]
        else:
            rest.extend(messages)
    if not exc.fields:
        rest.append(exc.message)
    return rest


@bp.route("/<int:contest_id>")
@login_required
def show(contest_id: int):
    """The board on a phone: the top 10, the places around me, my branch marked, the trend."""
    view = services.board_view(current_user, contest_id)
    mine_id = view.mine.participant_id if view.mine else None
    return render_template(
        "contests/show.html", view=view, contest=view.contest, mine_id=mine_id,
        my_org_id=current_user.org_id if view.contest.participant_type == "member" else None,
        chart=trend_svg(view.trend, mine_id, _mine_suffix(view.contest)),
        category_names=services.category_labels(view.contest),
    )


@bp.route("/<int:contest_id>/standings")
@login_required
def standings(contest_id: int):
    """The whole board, 50 a page."""
    page = _page()
    board = services.leaderboard(current_user, contest_id, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    last = _paging(board.total, page)["pages"]
    if page > last > 0:  # a page past the end (an old link, a typed number): the last one
        return redirect(url_for("contests.standings", contest_id=contest_id, **({"page": last} if last > 1 else {})))
    mine = services.my_standing(current_user, board.contest, board.snapshot) if board.snapshot else None
    return render_template(
        "contests/standings.html", board=board, contest=board.contest, paging=_paging(board.total, page),
        mine_id=mine.participant_id if mine else None,
        my_org_id=current_user.org_id if board.contest.participant_type == "member" else None,
    )


@bp.route("/<int:contest_id>/hall")
@login_required
def hall(contest_id: int):
    """Full-screen display for a hall screen: refreshes itself and pages through the board."""
    page = _page()
    board = services.leaderboard(current_user, contest_id, limit=HALL_ROWS, offset=(page - 1) * HALL_ROWS)
    paging = _paging(board.total, page, HALL_ROWS)
    if page > paging["pages"]:
        return redirect(url_for("contests.hall", contest_id=contest_id))
    next_page = paging["next"] or 1
    seconds = setting("CONTEST_HALL_REFRESH_SECONDS", 30)
    return render_template("contests/hall.html", board=board, contest=board.contest, paging=paging,
                           refresh_url=url_for("contests.hall", contest_id=contest_id, page=next_page),
                           refresh_seconds=max(5, seconds))


@bp.route("/<int:contest_id>/rollup", methods=["POST"])
@login_required
def rollup(contest_id: int):
    """Refresh the board now."""
    try:
        _snapshot, created = services.rollup_now(current_user, contest_id)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        flash(exc.message, "error")
    else:
        flash(_("榜单已刷新。") if created else _("榜单已是最新：上次刷新以来积分和人员都没有变化。"), "success")
    return redirect(url_for("contests.show", contest_id=contest_id))


@bp.route("/<int:contest_id>/finalize", methods=["GET", "POST"])
@login_required
def finalize(contest_id: int):
    """Confirm, then freeze the standings and apply the bonus and the last-place exclusion."""
    contest = services.manage_contest(current_user, contest_id)
    if request.method == "POST":
        try:
            services.finalize(current_user, contest_id)
        except DomainError as exc:
            if exc.status in (403, 404):
                raise
            if exc.code == "already_final":  # a second tap: the first one finalized it
                flash(_("该竞赛已定稿，最终排名见下。"), "info")
            else:
                flash(exc.message, "error")
            return redirect(url_for("contests.show", contest_id=contest_id))
        flash(_("已定稿：最终排名已冻结，结果已计入年度考核。") if contest.participant_type != "member"
              else _("已定稿：最终排名已冻结，加分已记入党员积分。"), "success")
        return redirect(url_for("contests.show", contest_id=contest_id))
    if contest.status == "final":
        flash(_("该竞赛已定稿。"), "info")
        return redirect(url_for("contests.show", contest_id=contest_id))
    if (early := services.not_started(contest)) is not None:
        flash(early.message, "error")
        return redirect(url_for("contests.show", contest_id=contest_id))
    board = services.leaderboard(current_user, contest_id, limit=services.TOP_N)
    return render_template("contests/finalize.html", contest=contest, board=board)


@bp.route("/<int:contest_id>/export.xlsx")
@login_required
def export(contest_id: int):
    """The whole board as an Excel file."""
    contest = services.view_contest(current_user, contest_id)
    data = standings_workbook(contest, services.current_snapshot(contest))
    return send_file(data, mimetype=XLSX, as_attachment=True, download_name=filename(contest))


@bp.route("/<int:contest_id>/notice")
@login_required
def notice(contest_id: int):
    """The printable results notice (通报) of a published month or of the final standings."""
    snapshot_id = request.args.get("snapshot", type=int)
    notice = build_notice(current_user, contest_id, snapshot_id)
    return render_template("contests/notice.html", notice=notice, period_label=period_label,
                           category_names=services.category_labels(notice.contest))
