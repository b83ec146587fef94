"""Pages: annual assessments for the admin (desktop and phone)."""
from __future__ import annotations

import io
from decimal import Decimal

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.assessments import export, importer, notice, services
from app.assessments.calc import GRADE_LABELS, GRADES, fmt, fmt_coef, fmt_final, fmt_pct
from app.assessments.forms import AssessmentForm, ImportForm, items_text, percent, unit_from_form, veto_text
from app.auth.scope import require_role
from app.errors import DomainError
from app.extensions import db
from app.templating import register_nav
from app.timeutil import local_today

bp = Blueprint("assessments", __name__, url_prefix="/assessments")

register_nav(70, _l("考核"), "assessments.index", ("admin",))

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.before_request
@login_required
def _admins_only():
    """Every assessment page is for admins."""
    require_role(current_user, "admin")


@bp.app_template_filter("a_coef")
def _coef_filter(value) -> str:
    return fmt_coef(value)


@bp.app_template_filter("a_score")
def _score_filter(value) -> str:
    return "" if value is None else fmt(Decimal(value))


@bp.app_template_filter("a_final")
def _final_filter(value) -> str:
    return fmt_final(value)


@bp.app_template_filter("a_pct")
def _pct_filter(value) -> str:
    return fmt_pct(Decimal(value))


def org_options(orgs) -> list[tuple[int, str]]:
    """(id, name indented by depth) for an org picker."""
    base = min((o.depth for o in orgs), default=0)
    return [(o.id, "\u3000" * (o.depth - base) + o.name) for o in orgs]


def _settings_errors(form: AssessmentForm, exc: DomainError) -> list[str]:
    """Service errors next to their form fields; the rest for the top of the form."""
    db.session.rollback()
    loose = []
    for key, messages in (exc.fields or {}).items():
        name = form.SERVICE_FIELDS.get(key)
        if name:
            form[name].errors = [*form[name].errors, *messages]
        else:
            loose += messages
    return loose if exc.fields else [exc.message]


@bp.route("/")
def index():
    """Assessments, newest year first, and the way to start a new one."""
    rows, total = services.list_assessments(current_user, limit=200)
    return render_template("assessments/index.html", rows=rows, total=total)


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = AssessmentForm()
    errors: list[str] = []
    if request.method == "GET":
        form.year.data = str(local_today().year)
    if form.validate_on_submit():
        settings = form.settings()
        if settings is not None:
            try:
                a = services.create_assessment(current_user, **settings)
            except DomainError as exc:
                errors = _settings_errors(form, exc)
            else:
                flash(_("已创建考核：%(title)s", title=a.title), "success")
                return redirect(url_for("assessments.detail", assessment_id=a.id))
    return render_template("assessments/settings.html", form=form, errors=errors, assessment=None)


@bp.route("/<int:assessment_id>/settings", methods=["GET", "POST"])
def settings(assessment_id: int):
    a = services.get_assessment(current_user, assessment_id)
    form = AssessmentForm()
    if request.method == "GET":
        form.fill(a)
    errors: list[str] = []
    if form.validate_on_submit():
        values = form.settings()
        if values is not None:
            try:
                services.update_assessment(current_user, a.id, **values)
            except DomainError as exc:
                errors = _settings_errors(form, exc)
            else:
                flash(_("已保存考核设置。"), "success")
                return redirect(url_for("assessments.detail", assessment_id=a.id))
    return render_template("assessments/settings.html", form=form, errors=errors, assessment=a)


@bp.route("/<int:assessment_id>")
def detail(assessment_id: int):
    """Settings at a glance, the entered units, and what to do next."""
    a = services.get_assessment(current_user, assessment_id)
    units = services.list_units(current_user, a.id)
    entered = {u.org_id for u in units}
    orgs = [o for o in services.assessable_orgs(current_user) if o.id not in entered]
    return render_template("assessments/detail.html", a=a, units=units, org_options=org_options(orgs),
                           quotas={g: percent(v) for g, v in a.quotas.items()},
                           grade_labels=GRADE_LABELS)


@bp.route("/<int:assessment_id>/units/add")
def add_unit(assessment_id: int):
    """The "add a unit" picker sends the org here."""
    org_id = request.args.get("org", type=int)
    if org_id is None:
        flash(_("请选择要录入的单位。"), "error")
        return redirect(url_for("assessments.detail", assessment_id=assessment_id))
    return redirect(url_for("assessments.unit", assessment_id=assessment_id, org_id=org_id))


def _unit_form_values(a, unit) -> dict:
    """What the unit form shows for a stored unit (text as typed)."""
    if unit is None:
        only = a.class_names[0] if len(a.class_names) == 1 else ""
        return {"unit_class": only, "base": "", "party_building_total": "", "bonus": "", "deductions": "",
                "veto": "", "criticized": False, "criticized_reason": "",
                **{f"dept_{i}": "" for i in range(len(a.departments or []))}}
    parts = unit.party_building_parts or {}
    values = {
        "unit_class": unit.unit_class, "base": fmt(unit.base),
        "party_building_total": "" if parts else fmt(unit.party_building),
        "bonus": items_text(unit.bonus_items, unit.bonus), "deductions": items_text(unit.deduction_items, unit.deductions),
        "veto": veto_text(unit.veto_items) if unit.veto_items else ("一票否决" if unit.veto else ""),
        "criticized": unit.criticized, "criticized_reason": unit.criticized_reason,
    }
    for i, d in enumerate(a.departments or []):
        values[f"dept_{i}"] = fmt(parts[d]) if d in parts else ""
    return values


@bp.route("/<int:assessment_id>/units/<int:org_id>", methods=["GET", "POST"])
def unit(assessment_id: int, org_id: int):
    """Enter or correct one unit's scores."""
    from app.orgs.services import get_org

    a = services.get_assessment(current_user, assessment_id)
    org = get_org(org_id)
    stored = next((u for u in a.units if u.org_id == org.id), None)
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in _unit_form_values(a, None)}
        values["criticized"] = request.form.get("criticized") in ("y", "on", "1")
        data, errors = unit_from_form(request.form, a.departments or [])
        if errors:  # the rules' messages too, for the fields that did parse
            _clean, rule_errors = services.validate_unit(a, data)
            for key, messages in rule_errors.items():
                errors.setdefault(key, messages)
        else:
            try:
                services.save_unit(current_user, a.id, org.id, data)
            except DomainError as exc:
                db.session.rollback()
                errors = dict(exc.fields or {})
                if not exc.fields:
                    general.append(exc.message)
            else:
                flash(_("已保存：%(name)s", name=org.name), "success")
                return redirect(url_for("assessments.detail", assessment_id=a.id) + f"#unit-{org.id}")
    else:
        values = _unit_form_values(a, stored)
    page = render_template("assessments/unit.html", a=a, org=org, stored=stored, values=values, errors=errors,
                           general=general)
    return page, 422 if (errors or general) else 200


@bp.route("/<int:assessment_id>/units/<int:org_id>/delete", methods=["POST"])
def delete_unit(assessment_id: int, org_id: int):
    services.delete_unit(current_user, assessment_id, org_id)
    flash(_("已移出该单位。"), "success")
    return redirect(url_for("assessments.detail", assessment_id=assessment_id))


@bp.route("/<int:assessment_id>/import", methods=["GET", "POST"])
def import_units(assessment_id: int):
    """Upload an .xlsx of unit scores; all rows are imported or none."""
    a = services.get_assessment(current_user, assessment_id)
    form = ImportForm()
    problems, total = None, 0
    if form.validate_on_submit():
        try:
            units = importer.import_units(current_user, a.id, form.file.data.stream)
        except importer.ImportProblems as exc:
            db.session.rollback()
            problems, total = exc.problems, exc.total
        except DomainError as exc:
            db.session.rollback()
            problems, total = [(None, exc.message)], 1
        else:
            flash(_("已导入 %(count)d 个单位的得分。", count=len(units)), "success")
            return redirect(url_for("assessments.detail", assessment_id=a.id))
    status = 422 if problems else 200
    return render_template("assessments/import.html", a=a, form=form, problems=problems, total=total), status


@bp.route("/<int:assessment_id>/template.xlsx")
def import_template(assessment_id: int):
    a = services.get_assessment(current_user, assessment_id)
    data = importer.template_workbook(current_user, a.id)
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True,
                     download_name=f"{a.full_title}-得分导入表.xlsx", max_age=0)


@bp.route("/<int:assessment_id>/results")
def results(assessment_id: int):
    """Results by class with every unit's explanation, the links and the talk list."""
    a, rows = services.results(current_user, assessment_id)
    classes: dict[str, list] = {}
    for r in rows:
        classes.setdefault(r.unit_class, []).append(r)
    return render_template("assessments/results.html", a=a, classes=classes, rows=rows,
                           talks=[r for r in rows if r.talk], grade_labels=GRADE_LABELS, grades=GRADES,
                           step_problems=services.step_problems(rows),
                           shares={g: Decimal(v) for g, v in
                                   {**services.DEFAULT_EXCELLENT_SHARES, **(a.excellent_shares or {})}.items()})


@bp.route("/<int:assessment_id>/units/<int:org_id>/members")
def members(assessment_id: int, org_id: int):
    """The direct link for one unit: each member's index x the unit's coefficient."""
    a, result, rows, available = services.direct_link(current_user, assessment_id, org_id)
    return render_template("assessments/members.html", a=a, r=result, rows=rows, available=available)


@bp.route("/<int:assessment_id>/export.xlsx")
def export_xlsx(assessment_id: int):
    name, data = export.results_workbook(current_user, assessment_id)
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True, download_name=name, max_age=0)


@bp.route("/<int:assessment_id>/notice")
def notice_page(assessment_id: int):
    """The printable notice (通报)."""
    a, n = notice.build_notice(current_user, assessment_id)
    return render_template("assessments/notice.html", a=a, n=n, grade_labels=GRADE_LABELS)


@bp.route("/<int:assessment_id>/notice.pdf")
def notice_pdf(assessment_id: int):
    name, data = notice.notice_pdf(current_user, assessment_id)
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=False, download_name=name,
                     max_age=0)


@bp.route("/<int:assessment_id>/publish", methods=["POST"])
def publish(assessment_id: int):
    try:
        services.publish(current_user, assessment_id)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("已发布考核结果，得分已锁定。"), "success")
    return redirect(url_for("assessments.detail", assessment_id=assessment_id))


@bp.route("/<int:assessment_id>/reopen", methods=["POST"])
def reopen(assessment_id: int):
    try:
        services.reopen(current_user, assessment_id)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("已撤回发布，可以修改得分；改完请重新发布。"), "success")
    return redirect(url_for("assessments.detail", assessment_id=assessment_id))
