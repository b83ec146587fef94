"""Pages: the public rating page and code images, and the secretaries' QR pages (/qr-admin)."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.auth.scope import require_role
from app.errors import DomainError, Invalid
from app.extensions import csrf, db, limiter
from app.orgs.forms import as_choices, org_options
from app.qr import images, init_config, services, tokens, web
from app.qr.forms import ActionForm, CloseFollowUpForm, NewTargetForm, PostForm, SheetForm
from app.templating import register_nav

bp = Blueprint("qr", __name__)
bp.record_once(lambda state: init_config(state.app))

register_nav(60, _l("扫码评议"), "qr.admin_index", ("secretary", "admin"))
register_nav(25, _l("我的二维码"), "qr.mine", ("member",))

PER_PAGE = 30


# --- public: the rating page and the code images ----------------------------------------------

def _not_found():
    return render_template("qr/not_found.html"), 404


def _rate_page(target, token: str, *, values: dict | None = None, errors: dict | None = None,
               message: str | None = None, status: int = 200):
    device = web.ensure_device()
    values = values or {"stars": "", "tags": [], "comment": ""}
    html = render_template(
        "qr/rate.html", target=target, org=target.scope_org, token=token,
        form_token=tokens.form_token(target.id, device), tags=current_app.config["QR_TAGS"],
        comment_max=int(current_app.config["QR_COMMENT_MAX"]), values=values, errors=errors or {},
        message=message,
    )
    # The form token is bound to this device: no shared cache may keep the page.
    return html, status, {"Cache-Control": "private, no-store"}


@bp.route("/r/<path:token>", methods=["GET", "POST"])
@csrf.exempt  # cross-site posts are stopped by the device cookie + signed form token instead
@limiter.shared_limit(web.rate_limit, scope="qr-rating", methods=["POST"])
def rate(token: str):
    """The resident's rating page (no login, no JavaScript needed)."""
    target = services.active_target_for_token(token)
    if target is None:
        return _not_found()
    if request.method == "GET":
        return _rate_page(target, token)

    values = {"stars": request.form.get("stars", ""), "tags": request.form.getlist("tags"),
              "comment": request.form.get("comment", "")}
    device = web.cookie_device()
    if not tokens.check_form_token(request.form.get("ft"), target.id, device):
        return _rate_page(target, token, values=values, status=400,
                          message=_("页面已过期，请确认后再提交一次。"))
    try:
        rating = services.submit_rating(token, stars=values["stars"], tags=values["tags"],
                                        comment=values["comment"], device_id=device, ip=web.client_ip(),
                                        channel="page")
    except Invalid as exc:
        db.session.rollback()
        said_at_a_field = bool(exc.fields) and set(exc.fields) <= set(values)  # shown where it applies
        return _rate_page(target, token, values=values, errors=exc.fields or {},
                          message=None if said_at_a_field else exc.message, status=422)
    except DomainError:
        db.session.rollback()
        return _not_found()
    # a repeat is stored, not counted: the thank-you page says so (a changed mind after Back)
    return redirect(url_for("qr.thanks", token=token, **({} if rating.counted else {"again": 1})), code=303)


@bp.errorhandler(429)
def too_many(exc):
    """Rating posts past the per-IP limit: the resident stays on the light rating page with their
    stars and words kept (the app's generic 429 page would send them to a login)."""
    token = (request.view_args or {}).get("token", "")
    target = services.active_target_for_token(token) if request.endpoint == "qr.rate" else None
    if target is None:
        return _not_found()
    values = {"stars": request.form.get("stars", ""), "tags": request.form.getlist("tags"),
              "comment": request.form.get("comment", "")}
    html, status, headers = _rate_page(target, token, values=values, status=429,
                                       message=_("提交太频繁了，请稍后再提交一次。"))
    retry = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    return html, status, [*headers.items(), *retry]


@bp.route("/r/<token>/thanks")
def thanks(token: str):
    target = services.active_target_for_token(token)
    if target is None:
        return _not_found()
    return render_template("qr/thanks.html", target=target, org=target.scope_org, again=request.args.get("again") == "1",
                           per_device=max(1, int(services.cfg("QR_COUNTED_PER_DAY"))),
                           per_network=max(1, int(services.cfg("QR_COUNTED_PER_IP"))))


def _image(token: str, kind: str):
    target = services.active_target_for_token(token)
    if target is None:
        return _not_found()
    url = services.url_of(target)
    if kind == "png":
        body, mimetype = images.png_bytes(url), "image/png"
    else:
        body, mimetype = images.svg_bytes(url), "image/svg+xml"
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.route("/qr/<token>.png")
def code_png(token: str):
    """The code as PNG (public: it only encodes the rating URL)."""
    return _image(token, "png")


@bp.route("/qr/<token>.svg")
def code_svg(token: str):
    return _image(token, "svg")


# --- secretaries: codes, sheets, service posts, follow-ups ------------------------------------

def _managers_only() -> None:
    require_role(current_user, "admin", "secretary")


def _page() -> int:
    page = request.args.get("page", 1, type=int) or 1
    return max(1, min(page, 100000))


def _paging(total: int, page: int, per_page: int = PER_PAGE) -> dict:
    pages = max(1, (total + per_page - 1) // per_page)
    return {"page": page, "pages": pages, "total": total,
            "prev": page - 1 if page > 1 else None, "next": page + 1 if page < pages else None}


def _org_options() -> list[tuple[str, str]]:
    """(value, label) pairs of the orgs the user manages, indented by depth."""
    return org_options(services.managed_orgs(current_user))


def _place_errors(form, exc: DomainError) -> list[str]:
    db.session.rollback()
    placed = False
    for name, messages in (exc.fields or {}).items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, *messages]
            placed = True
    return [] if placed else [exc.message]


@bp.route("/qr/mine")
@login_required
def mine():
    """A person's own rating codes, large enough to be scanned off the phone's screen, with the
    month's counted ratings."""
    own = services.own_codes(current_user)
    codes = [(t, services.token_of(t)) for t in own.targets]
    return render_template("qr/mine.html", own=own, codes=codes)


@bp.route("/qr-admin/")
@login_required
def admin_index():
    """Codes in scope with their rating figures; flagged ones and follow-ups stand out."""
    _managers_only()
    org_id = request.args.get("org", type=int)
    flagged = request.args.get("flagged") == "1"
    page = _page()
    rows, total = services.list_targets(current_user, org_id=org_id, flagged=flagged, limit=PER_PAGE,
                                        offset=(page - 1) * PER_PAGE)
    return render_template("qr/admin_index.html", rows=rows, paging=_paging(total, page), org_id=org_id,
                           flagged=flagged, org_options=_org_options(),
                           counts=services.followup_counts(current_user))


@bp.route("/qr-admin/new", methods=["GET", "POST"])
@login_required
def new_target():
    """Step 1: pick an org (GET ?org=); step 2: pick the member, the org itself or a post."""
    _managers_only()
    org_id = request.args.get("org", type=int)
    if org_id is None:
        return render_template("qr/target_new.html", org=None, org_options=_org_options(), form=None, errors=[])
    org, choices = services.subject_choices(current_user, org_id)
    form = NewTargetForm()
    form.subject.choices = as_choices([("", _("请选择"))] + choices)
    errors: list[str] = []
    if form.validate_on_submit():
        kind, _sep, sid = (form.subject.data or "").partition(":")
        try:
            target = services.create_target(current_user, kind, int(sid) if sid.isdigit() else None,
                                            form.label.data or "")
        except DomainError as exc:
            errors = _place_errors(form, exc)
        else:
            flash(_("二维码已生成：%(name)s", name=target.display_name), "success")
            return redirect(url_for("qr.target_page", target_id=target.id))
    return render_template("qr/target_new.html", org=org, form=form, errors=errors, org_options=None)


@bp.route("/qr-admin/targets/<int:target_id>")
@login_required
def target_page(target_id: int):
    """One code: image, link, print, rotate, revoke; its ratings and warnings."""
    _managers_only()
    page = _page()
    data = services.target_ratings(current_user, target_id, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    target = data["target"]
    token = services.token_of(target) if target.revoked_at is None else None
    return render_template("qr/target.html", target=target, token=token,
                           url=services.url_of(target) if token else None, data=data,
                           paging=_paging(data["total"], page), action_form=ActionForm())


@bp.route("/qr-admin/targets/<int:target_id>/rotate", methods=["POST"])
@login_required
def rotate(target_id: int):
    _managers_only()
    if ActionForm().validate_on_submit():
        try:
            services.rotate_target(current_user, target_id)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            flash(_("已更换二维码：旧二维码立即失效，请打印新的二维码替换。"), "success")
    return redirect(url_for("qr.target_page", target_id=target_id))


@bp.route("/qr-admin/targets/<int:target_id>/revoke", methods=["POST"])
@login_required
def revoke(target_id: int):
    _managers_only()
    if ActionForm().validate_on_submit():
        try:
            services.revoke_target(current_user, target_id)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            flash(_("二维码已停用，扫码将提示无效。"), "success")
    return redirect(url_for("qr.target_page", target_id=target_id))


@bp.route("/qr-admin/flags/<int:flag_id>/clear", methods=["POST"])
@login_required
def clear_flag(flag_id: int):
    _managers_only()
    target_id = request.form.get("target", type=int)
    if ActionForm().validate_on_submit():
        try:
            flag = services.clear_flag(current_user, flag_id)
        except DomainError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            target_id = flag.target_id
            flash(_("已标记为已核实。"), "success")
    if target_id:
        return redirect(url_for("qr.target_page", target_id=target_id))
    return redirect(url_for("qr.admin_index"))


def _pdf(body: bytes, filename: str) -> Response:
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f"inline; filename={filename}"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/qr-admin/targets/<int:target_id>/sheet.pdf")
@login_required
def target_sheet(target_id: int):
    """One large code on A4."""
    _managers_only()
    target, body = services.target_sheet_pdf(current_user, target_id)
    return _pdf(body, f"qr-{target.id}.pdf")


@bp.route("/qr-admin/sheets", methods=["GET", "POST"])
@login_required
def sheets():
    """Print a whole branch: codes for every member (made where missing), the org and its posts."""
    _managers_only()
    form = SheetForm()
    options = _org_options()
    form.org_id.choices = as_choices(options)
    if request.method == "GET" and request.args.get("org", type=int):
        form.org_id.data = request.args.get("org", type=int)
    errors: list[str] = []
    managed = {value for value, _label in options}  # the sheet's PDF is for these only
    if form.validate_on_submit():
        try:
            if str(form.org_id.data) not in managed:
                raise Invalid(_("该组织不在您的管理范围内。"), fields={"org_id": [_("该组织不在您的管理范围内。")]})
            made = services.ensure_member_targets(current_user, form.org_id.data) if form.create_missing.data else 0
        except DomainError as exc:
            errors = _place_errors(form, exc)
        else:
            if made:
                flash(_("已为 %(n)d 名党员生成二维码。", n=made), "success")
            return redirect(url_for("qr.sheets", org=form.org_id.data, ready=1))
    ready = request.args.get("ready") == "1" and str(form.org_id.data) in managed
    return render_template("qr/sheets.html", form=form, errors=errors, ready_org=form.org_id.data if ready else None)


@bp.route("/qr-admin/sheets/<int:org_id>.pdf")
@login_required
def org_sheet(org_id: int):
    _managers_only()
    org, body, _count = services.org_sheet_pdf(current_user, org_id)
    return _pdf(body, f"qr-org-{org.id}.pdf")


@bp.route("/qr-admin/posts", methods=["GET", "POST"])
@login_required
def posts():
    """Service posts (服务岗) in scope, and adding one."""
    _managers_only()
    form = PostForm()
    form.org_id.choices = as_choices(_org_options())
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            post = services.create_post(current_user, name=form.name.data, org_id=form.org_id.data,
                                        address=form.address.data or "", description=form.description.data or "")
        except DomainError as exc:
            errors = _place_errors(form, exc)
        else:
            flash(_("已添加服务岗：%(name)s", name=post.name), "success")
            return redirect(url_for("qr.posts"))
    page = _page()
    items, total = services.list_posts(current_user, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    return render_template("qr/posts.html", form=form, errors=errors, posts=items, paging=_paging(total, page))


@bp.route("/qr-admin/followups")
@login_required
def followups():
    """差评整改: open ones by deadline (overdue first), or closed ones."""
    _managers_only()
    status = request.args.get("status", "open")
    if status not in services.FOLLOWUP_STATUSES:
        status = "open"
    page = _page()
    items, total = services.list_followups(current_user, status=status, limit=PER_PAGE,
                                           offset=(page - 1) * PER_PAGE)
    return render_template("qr/followups.html", items=items, status=status, paging=_paging(total, page),
                           counts=services.followup_counts(current_user), is_overdue=services.is_overdue)


@bp.route("/qr-admin/followups/<int:followup_id>", methods=["GET", "POST"])
@login_required
def followup_page(followup_id: int):
    """One follow-up: the rating, the deadline, and closing it with what was done."""
    _managers_only()
    followup = services.get_followup(current_user, followup_id)
    form = CloseFollowUpForm()
    errors: list[str] = []
    if followup.closed_at is None and form.validate_on_submit():
        try:
            services.close_followup(current_user, followup_id, form.action.data)
        except DomainError as exc:
            errors = _place_errors(form, exc)
        else:
            flash(_("整改已办结。"), "success")
            return redirect(url_for("qr.followup_page", followup_id=followup_id))
    elif followup.closed_at is not None and request.method == "POST":  # a second tap, or an old tab
        flash(_("该整改事项已办结。"), "info")
        return redirect(url_for("qr.followup_page", followup_id=followup_id))
    return render_template("qr/followup.html", f=followup, form=form, errors=errors,
                           overdue=services.is_overdue(followup), about_me=services.is_about(current_user, followup.target))
