"""Pages: claims, the review queue, awards and deductions, reversals, the rule catalogue."""
from __future__ import annotations

import secrets

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.auth.scope import require_role
from app.errors import DomainError, Invalid, NotFound
from app.orgs.services import list_members, managed_orgs
from app.points import evidence as evidence_store
from app.points import services
from app.points.forms import AwardForm, ClaimForm, ReasonForm, RuleForm
from app.points.models import CATEGORY_LABELS, Rule
from app.ids import get_by_id
from app.templating import register_nav

bp = Blueprint("points", __name__, url_prefix="/points")

register_nav(10, _l("审核"), "points.review", ("secretary", "admin"))
register_nav(20, _l("申报"), "points.claim_new", ("member", "secretary"))
register_nav(30, _l("加扣分"), "points.award_new", ("secretary", "admin"))
register_nav(60, _l("积分细则"), "points.rules", ("admin",))

# A form page the browser must fetch again rather than restore from its history: Back after
# filing a claim would show the filled-in form with a fresh one-time key, and file it twice.
FRESH_FORM = {"Cache-Control": "no-store"}

PAGE_SIZE = 20
MAX_OFFSET = 10_000_000
SOURCE_LABELS = {"claim": "申报", "award": "加扣分", "rating": "群众评议", "contest": "竞赛奖励", "reversal": "冲正"}
STATUS_LABELS = {"pending": "待审核", "approved": "已通过", "rejected": "已退回"}
STATUS_BADGES = {"pending": "warn", "approved": "ok", "rejected": "bad"}


@bp.context_processor
def points_helpers():
    return {"caps_text": services.rule_caps_text, "source_labels": SOURCE_LABELS,
            "status_labels": STATUS_LABELS, "status_badges": STATUS_BADGES,
            "category_labels": CATEGORY_LABELS}


def _offset() -> int:
    try:
        return max(0, min(int(request.args.get("offset", 0)), MAX_OFFSET))
    except ValueError:
        return 0


def _int_arg(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _fail(exc: DomainError, target: str):
    flash(exc.message, "error")
    return redirect(target)


def _field_errors(exc: Invalid) -> dict:
    return {k: [str(m) for m in v] for k, v in (exc.fields or {}).items()}


# -- claims -------------------------------------------------------------------------------------

@bp.route("/claims/new", methods=["GET", "POST"])
@login_required
def claim_new():
    """The claim form: rule grouped by category, date, note, photo."""
    form = ClaimForm()
    errors: dict = {}
    if request.method == "GET" and not form.occurred_on.data:
        form.occurred_on.data = services.local_today().isoformat()
    if request.method == "GET":
        form.submission.data = secrets.token_urlsafe(16)
    if form.validate_on_submit():
        upload = request.files.get("evidence")
        data = None
        if upload is not None and upload.filename:
            data = upload.read(evidence_store.max_bytes() + 1)
        try:
            claim = services.submit_claim(current_user, rule_code=form.rule_code.data,
                                          occurred_on=form.occurred_on.data, note=form.note.data or "",
                                          evidence=data, submission_key=form.submission.data or None)
        except Invalid as exc:
            errors = _field_errors(exc)
            if "evidence" in errors and not data:
                # the service's words send API clients here; on this page the photo is a tap away
                errors["evidence"] = [_("该事项须附照片凭证，请选择照片后再提交。")]
            flash(exc.message, "error")
        except DomainError as exc:
            if exc.code == "rule_not_found":
                errors = {"rule_code": [exc.message]}  # shown at the field, once
            elif exc.code == services.KeyReused.code:
                # Back to a filed form, changed and sent again: that form is filed; this is a new one
                form.submission.data = secrets.token_urlsafe(16)
                flash(_("这张申报表已经提交过了（见“我的申报”）。如需再申报这一项，请确认内容后再次提交。"), "error")
            else:
                return _fail(exc, url_for("points.claim_new"))
        else:
            if claim.status == "approved":
                flash(_("申报成功，积分已计入。"), "success")
            else:
                flash(_("申报已提交，请等待书记审核。"), "success")
            return redirect(url_for("points.my_claims"))
    elif request.method == "POST":
        errors = {k: [str(m) for m in v] for k, v in form.errors.items()}
    window = services.claim_window_days()
    today = services.local_today()
    return render_template(
        "points/claim_form.html", form=form, errors=errors,
        groups=services.catalogue(services.CLAIMABLE_CATEGORIES),
        today=today, earliest=today - timedelta(days=window), window=window,
        max_mb=evidence_store.max_bytes() // (1024 * 1024), max_bytes=evidence_store.max_bytes(),
    ), (422 if errors else 200), FRESH_FORM


@bp.route("/claims")
@login_required
def my_claims():
    """我的申报: own claims with their status and reject reasons."""
    offset = _offset()
    items, total = services.my_claims(current_user, limit=PAGE_SIZE, offset=offset)
    return render_template("points/claim_list.html", claims=items, total=total, offset=offset,
                           limit=PAGE_SIZE, entry_ids=services.claim_entry_ids(items))


@bp.route("/claims/<int:claim_id>/evidence")
@login_required
def evidence(claim_id: int):
    """A claim's photo, to its claimant and the managers whose scope covers the claimant."""
    return evidence_store.send_photo(*services.claim_evidence(current_user, claim_id,
                                                              thumb=request.args.get("size") == "thumb"))


# -- review -------------------------------------------------------------------------------------

@bp.route("/review")
@login_required
def review():
    """The review queue: pending claims in scope, oldest first; approve with one tap."""
    require_role(current_user, "secretary", "admin")
    offset = _offset()
    items, total = services.review_queue(current_user, limit=PAGE_SIZE, offset=offset)
    if not items and total:
        # past the end (the last claim of the last page was just decided): that last page
        return redirect(url_for("points.review", offset=(total - 1) // PAGE_SIZE * PAGE_SIZE or None))
    return render_template("points/review.html", claims=items, total=total, offset=offset,
                           limit=PAGE_SIZE, form=ReasonForm(), repeats=services.repeated_claims(items))


def _review_page() -> str:
    """Back to the page of the queue the decision was made on (``?offset=`` of the form's action)."""
    return url_for("points.review", offset=_offset() or None)


def _at_next_card(back: str) -> str:
    """``back`` scrolled to the card that followed the decided one (the form's ``next_claim``), so
    a secretary working down the queue on a phone is not sent to the top after every tap."""
    next_id = request.form.get("next_claim", "")
    return f"{back}#claim-{next_id}" if next_id.isdigit() and len(next_id) < 20 else back


@bp.route("/claims/<int:claim_id>/approve", methods=["POST"])
@login_required
def approve(claim_id: int):
    back = _review_page()
    try:
        entry = services.approve_claim(current_user, claim_id)
    except DomainError as exc:
        return _fail(exc, back)
    flash(_("已通过：%(name)s · %(title)s %(points)s 分", name=entry.member.name,
            title=entry.rule.title if entry.rule else entry.rule_code,
            points=services.fmt_points(entry.points)), "success")
    return redirect(_at_next_card(back))


@bp.route("/claims/<int:claim_id>/reject", methods=["POST"])
@login_required
def reject(claim_id: int):
    back = _review_page()
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("理由不超过500字。"), "error")
        return redirect(back)
    try:
        claim = services.reject_claim(current_user, claim_id, form.reason.data)
    except DomainError as exc:
        return _fail(exc, back)
    flash(_("已退回 %(name)s 的申报。", name=claim.member.name), "success")
    return redirect(_at_next_card(back))


# -- awards -------------------------------------------------------------------------------------

def _award_subject(member_id, org_id):
    """(member, org) picked for the award form, checked against the actor's scope."""
    from app.auth.models import User
    from app.orgs.models import Org

    if member_id is not None:
        member = get_by_id(User, member_id)
        if member is None:
            raise NotFound("找不到该党员。", code="member_not_found")
        services.require_decide_for_member(current_user, member)
        return member, None
    org = get_by_id(Org, org_id)
    if org is None:
        raise NotFound("找不到该组织。", code="org_not_found")
    services.require_decide_for_org(current_user, org)
    return None, org


def _award_page(form, member, org, errors=None, status=200):
    return render_template("points/award_form.html", form=form, member=member, org=org,
                           groups=services.catalogue(), errors=errors or {},
                           today=services.local_today()), status, FRESH_FORM


@bp.route("/awards/new")
@login_required
def award_new():
    """Pick a member (search) or an org in scope, then the award or deduction form."""
    require_role(current_user, "secretary", "admin")
    member_id, org_id = _int_arg(request.args.get("member_id")), _int_arg(request.args.get("org_id"))
    if member_id is not None or org_id is not None:
        try:
            member, org = _award_subject(member_id, org_id)
        except DomainError as exc:
            return _fail(exc, url_for("points.award_new"))
        form = AwardForm(member_id=member.id if member else "", org_id=org.id if org else "",
                         submission=secrets.token_urlsafe(16))
        return _award_page(form, member, org)
    q = (request.args.get("q") or "").strip()[:50]
    members = []
    if q:
        found, _total = list_members(current_user, q=q, limit=30)
        members = [m for m in found if services.can_decide_for_member(current_user, m)]
    # a secretary's own org gets its points from the next level up (services.require_decide_for_org)
    orgs = [o for o in managed_orgs(current_user) if current_user.role != "secretary" or o.id != current_user.org_id]
    return render_template("points/award_pick.html", q=q, members=members, orgs=orgs)


@bp.route("/awards", methods=["POST"])
@login_required
def award_create():
    require_role(current_user, "secretary", "admin")
    form = AwardForm()
    member_id, org_id = _int_arg(form.member_id.data), _int_arg(form.org_id.data)
    if member_id is None and org_id is None:
        flash(_("请先选择党员或组织。"), "error")
        return redirect(url_for("points.award_new"))
    try:
        member, org = _award_subject(member_id, org_id)
    except DomainError as exc:
        return _fail(exc, url_for("points.award_new"))
    if not form.validate_on_submit():
        return _award_page(form, member, org, {k: [str(m) for m in v] for k, v in form.errors.items()}, 422)
    try:
        entry = services.award(current_user, rule_code=form.rule_code.data, member_id=member_id,
                               org_id=org_id, note=form.note.data or "", points=form.points.data or None,
                               occurred_on=form.occurred_on.data or None,
                               submission_key=form.submission.data or None)
    except Invalid as exc:
        flash(exc.message, "error")
        return _award_page(form, member, org, _field_errors(exc), 422)
    except DomainError as exc:
        if exc.code == "rule_not_found":  # shown at the field, once
            return _award_page(form, member, org, {"rule_code": [exc.message]}, 422)
        if exc.code == services.KeyReused.code:
            # Back to a recorded form, changed and sent again: that one is recorded; this is new
            form.submission.data = secrets.token_urlsafe(16)
            flash(_("这张表单已经记入过一次。如需再记一笔，请确认内容后再次提交。"), "error")
            return _award_page(form, member, org, status=409)
        flash(exc.message, "error")
        return _award_page(form, member, org, status=exc.status)
    flash(_("已记入：%(name)s %(points)s 分", name=(member or org).name,
            points=services.fmt_points(entry.points)), "success")
    return redirect(url_for("points.entry", entry_id=entry.id))


# -- entries ------------------------------------------------------------------------------------

@bp.route("/entries/<int:entry_id>")
@login_required
def entry(entry_id: int):
    """One ledger entry: who, when, which rule, why; the reversal form for managers."""
    item = services.view_entry(current_user, entry_id)
    reversal = services.reversal_of(item.id)
    reversed_entry = services.get_entry(item.reverses_id) if item.reverses_id else None
    claim_id = None
    if item.source == "claim" and item.source_key.startswith("claim:"):
        claim_id = _int_arg(item.source_key.split(":", 1)[1])
    return render_template("points/entry.html", entry=item, reversal=reversal, reversed_entry=reversed_entry,
                           can_reverse=reversal is None and services.can_reverse(current_user, item),
                           claim_id=claim_id, form=ReasonForm())


@bp.route("/entries/<int:entry_id>/reverse", methods=["POST"])
@login_required
def reverse(entry_id: int):
    back = url_for("points.entry", entry_id=entry_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("理由不超过500字。"), "error")
        return redirect(back)
    try:
        new = services.reverse_entry(current_user, entry_id, form.reason.data)
    except DomainError as exc:
        if exc.code == "already_reversed" and (done := services.reversal_of(entry_id)) is not None:
            # a second tap (or someone else first): show the reversal that stands
            flash(_("该记录已冲正，冲正记录如下。"), "info")
            return redirect(url_for("points.entry", entry_id=done.id))
        return _fail(exc, back)
    flash(_("已冲正，冲正记录已生成。"), "success")
    return redirect(url_for("points.entry", entry_id=new.id))


# -- the rule catalogue -------------------------------------------------------------------------

def _rule_input(form: RuleForm, code: str | None) -> services.RuleInput:
    return services.RuleInput(
        code=code, category=form.category.data, title=form.title.data or "", points=form.points.data,
        daily_cap=form.daily_cap.data, monthly_cap=form.monthly_cap.data, yearly_cap=form.yearly_cap.data,
        needs_approval=bool(form.needs_approval.data), evidence_required=bool(form.evidence_required.data))


@bp.route("/rules")
@login_required
def rules():
    """积分细则: the active catalogue (everyone reads it; admins change it)."""
    retired = services.retired_rules() if current_user.role == "admin" else []
    return render_template("points/rules.html", groups=services.catalogue(), retired=retired)


@bp.route("/rules/new", methods=["GET", "POST"])
@login_required
def rule_new():
    require_role(current_user, "admin")
    form = RuleForm()
    errors: dict = {}
    if form.validate_on_submit():
        try:
            rule = services.create_rule(current_user, _rule_input(form, form.code.data))
        except Invalid as exc:
            errors = _field_errors(exc)
            flash(exc.message, "error")
        except DomainError as exc:
            if exc.code == "rule_exists":
                errors = {"code": [exc.message]}  # shown at the field, once
            else:
                flash(exc.message, "error")
        else:
            flash(_("已新增细则：%(title)s", title=rule.title), "success")
            return redirect(url_for("points.rules"))
    elif request.method == "POST":
        errors = {k: [str(m) for m in v] for k, v in form.errors.items()}
    return render_template("points/rules_form.html", form=form, errors=errors, rule=None,
                           versions=[]), (422 if errors else 200)


@bp.route("/rules/<code>/edit", methods=["GET", "POST"])
@login_required
def rule_edit(code: str):
    """Change a rule: saving adds a version; the history lists every version."""
    require_role(current_user, "admin")
    versions = services.rule_versions(code)
    current = next((r for r in versions if r.active), versions[0])
    form = RuleForm(obj=None if request.method == "POST" else _rule_form_data(current))
    errors: dict = {}
    if form.validate_on_submit():
        try:
            rule = services.change_rule(current_user, code, _rule_input(form, code))
        except Invalid as exc:
            errors = _field_errors(exc)
            flash(exc.message, "error")
        except DomainError as exc:
            return _fail(exc, url_for("points.rule_edit", code=code))
        else:
            if rule.id == current.id and current.active:
                flash(_("内容没有变化。"), "info")
            else:
                flash(_("已保存为第 %(v)s 版，此前的积分记录保持原分值。", v=rule.version), "success")
            return redirect(url_for("points.rule_edit", code=code))
    elif request.method == "POST":
        errors = {k: [str(m) for m in v] for k, v in form.errors.items()}
    return render_template("points/rules_form.html", form=form, errors=errors, rule=current,
                           versions=versions), (422 if errors else 200)


class _RuleData:
    def __init__(self, rule: Rule):
        self.code = rule.code
        self.category = rule.category
        self.title = rule.title
        self.points = services.fmt_points(rule.points)
        self.daily_cap = services.fmt_points(rule.daily_cap) if rule.daily_cap is not None else ""
        self.monthly_cap = services.fmt_points(rule.monthly_cap) if rule.monthly_cap is not None else ""
        self.yearly_cap = services.fmt_points(rule.yearly_cap) if rule.yearly_cap is not None else ""
        self.needs_approval = rule.needs_approval
        self.evidence_required = rule.evidence_required


def _rule_form_data(rule: Rule) -> _RuleData:
    return _RuleData(rule)


@bp.route("/rules/<code>/retire", methods=["POST"])
@login_required
def rule_retire(code: str):
    require_role(current_user, "admin")
    try:
        rule = services.retire_rule(current_user, code)
    except DomainError as exc:
        return _fail(exc, url_for("points.rule_edit", code=code))
    flash(_("已停用：%(title)s。如需恢复，编辑并保存即可。", title=rule.title), "success")
    return redirect(url_for("points.rules"))


def _drain_upload(limit: int) -> None:
    """Read (and drop) the rest of an upload refused for its size, up to ``limit`` bytes: an answer
    sent while the phone is still sending makes the server close the connection, and the browser
    shows "this site can't be reached" instead of the form and its message."""
    length = request.content_length
    if not length or length > limit:
        return
    stream = request.environ.get("wsgi.input")
    left = length
    try:
        while left > 0:
            chunk = stream.read(min(left, 256 * 1024))
            if not chunk:
                break
            left -= len(chunk)
    except (OSError, ValueError):
        pass


@bp.errorhandler(413)
def too_large(exc):
    """An upload over the request limit: say so on the claim form instead of an error page."""
    if request.endpoint == "points.claim_new":
        _drain_upload(4 * evidence_store.max_bytes())
        flash(_("照片不能超过 %(mb)s MB，请压缩后再传。", mb=evidence_store.max_bytes() // (1024 * 1024)), "error")
        return redirect(url_for("points.claim_new"))
    from app.api.errors import handle_http_exception

    return handle_http_exception(exc)
