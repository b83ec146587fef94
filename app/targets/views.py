"""Pages: the progress table / scorecard of an org's children, its Excel, and the target form."""
from __future__ import annotations

from io import BytesIO

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.auth.scope import require_role
from app.errors import Invalid
from app.orgs.services import managed_orgs, org_chain
from app.points.export import XLSX_MIME
from app.points.index_views import _org_choice as org_choice  # ?org_id=, else the user's own org
from app.points.index import community_of
from app.points.models import CATEGORY_LABELS
from app.targets import export
from app.targets import services
from app.targets.forms import TargetForm
from app.targets.models import TARGET_CATEGORIES
from app.templating import register_nav

bp = Blueprint("targets", __name__, url_prefix="/targets")

register_nav(42, _l("年度目标"), "targets.progress", ("member", "secretary", "admin"))

FRESH_FORM = {"Cache-Control": "no-store"}
YEARS_SHOWN = 5


@bp.context_processor
def targets_helpers():
    return {"category_labels": CATEGORY_LABELS, "target_categories": TARGET_CATEGORIES}


def _chosen_org() -> int:
    """``?org_id=``, else the user's own org; for a member, their community (their own branch has
    no orgs below it to compare)."""
    if request.args.get("org_id") or current_user.role != "member":
        return org_choice()
    return community_of(org_chain(current_user.org)).id


def _orgs_to_pick():
    """The orgs the picker offers: a manager's subtree, a member's own path."""
    return org_chain(current_user.org) if current_user.role == "member" else managed_orgs(current_user)


def _year_month(strict: bool) -> tuple[int, int]:
    """The ``?year=&month=`` asked for; a bad or future one is a message and this month (pages),
    or a 422 page (downloads)."""
    try:
        return services.parse_year_month(request.args.get("year"), request.args.get("month"))
    except Invalid as exc:
        if strict:
            raise
        flash(exc.message, "error")
        return services.parse_year_month()


@bp.route("/")
@login_required
def progress():
    """The progress table (进度表) of an org's children; December of a finished year is the scorecard."""
    year, month = _year_month(strict=False)
    table = services.progress(current_user, _chosen_org(), year, month)
    today = services.local_today()
    years = list(range(today.year, today.year - YEARS_SHOWN, -1))
    if year not in years:
        years.append(year)
    return render_template("targets/progress.html", t=table, orgs=_orgs_to_pick(), years=years,
                           settable_years=services.settable_years(today), this_year=today.year,
                           status_labels=services.STATUS_LABELS)


@bp.route("/export.xlsx")
@login_required
def export_progress():
    """The same table as an Excel workbook."""
    year, month = _year_month(strict=True)
    name, data = export.progress_workbook(services.progress(current_user, _chosen_org(), year, month))
    return send_file(BytesIO(data), mimetype=XLSX_MIME, as_attachment=True, download_name=name, max_age=0)


def _form_page(form, org, book, history, year, errors=None, status=200):
    return render_template("targets/form.html", form=form, org=org, book=book, history=history, year=year,
                           errors=errors or {}, settable_years=services.settable_years()), status, FRESH_FORM


@bp.route("/orgs/<int:org_id>/<int:year>", methods=["GET", "POST"])
@login_required
def edit(org_id: int, year: int):
    """Set one org's targets for a year (the level above: an admin, or a secretary above it)."""
    require_role(current_user, "secretary", "admin")
    org, book, history = services.target_form_context(current_user, org_id, year)
    services.check_year_settable(year)
    form = TargetForm()
    if request.method == "GET":
        for c in TARGET_CATEGORIES:
            value = book.value(c) if book else None
            getattr(form, c).data = "" if value is None else format(value.normalize(), "f")
        return _form_page(form, org, book, history, year)
    if not form.validate_on_submit():
        return _form_page(form, org, book, history, year, {k: [str(m) for m in v] for k, v in form.errors.items()},
                          422)
    try:
        result = services.set_targets(current_user, org.id, year,
                                      {c: getattr(form, c).data for c in TARGET_CATEGORIES}, form.note.data)
    except Invalid as exc:
        flash(exc.message, "error")
        return _form_page(form, org, book, history, year,
                          {k: [str(m) for m in v] for k, v in (exc.fields or {}).items()}, 422)
    if result.changed:
        flash(_("已保存 %(org)s %(year)s 年的目标。", org=org.name, year=year), "success")
    else:
        flash(_("目标没有变化，未另存新版本。"), "success")
    back = org.parent_id or org.id
    if year > services.local_today().year:
        return redirect(url_for("targets.edit", org_id=org.id, year=year))
    return redirect(url_for("targets.progress", org_id=back, year=year))
