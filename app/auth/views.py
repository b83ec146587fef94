"""Pages: login, logout, the role-aware home, the account page with API tokens."""
from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from app.auth import services
from app.auth.limits import limit_logins
from app.auth.forms import LoginForm, PasswordForm, TokenForm
from app.errors import DomainError
from app.extensions import login_manager
from app.orgs.services import change_own_password, org_chain
from app.templating import register_nav

bp = Blueprint("auth", __name__)

# Each role's start page; features replace these with their own as they arrive.
START_PAGES = {"member": "index.me", "secretary": "points.review", "admin": "orgs.tree"}

register_nav(90, _l("我的账号"), "auth.account", ("member", "secretary", "admin"))


@login_manager.user_loader
def load_user(login_key: str):
    """The user of the live login whose key the session or remember cookie holds (User.get_id)."""
    from app.readonly import is_read_only_request, wants_own_path_marks

    if is_read_only_request():
        # nothing in the request moves the marks: read them along with the user
        from app.marks import prefetch_marks

        user, marks = services.user_and_marks_for_login(login_key, own_path=wants_own_path_marks())
        if user is not None:
            prefetch_marks(marks)
        return user
    return services.user_for_login(login_key)


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after login."""
    if not target:
        return None
    parts = urlparse(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@limit_logins(methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("auth.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.phone.data, form.password.data)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            services.start_login_session(user)
            login_user(user, remember=form.remember.data)
            return redirect(safe_next(request.args.get("next")) or url_for("auth.home"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        services.end_login_session(current_user.login_key)  # this device only
    logout_user()
    flash(_("您已退出登录。"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/")
def home():
    """Send each role to its start page."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for(START_PAGES.get(current_user.role, "auth.account")))


@bp.route("/account", methods=["GET"])
@login_required
def account(token_form: TokenForm | None = None, status: int = 200):
    return render_template(
        "auth/account.html",
        chain=org_chain(current_user.org),
        tokens=services.list_tokens(current_user),
        token_form=token_form or TokenForm(),
        password_form=PasswordForm(),
        new_token=session.pop("new_token", None),
        other_logins=services.other_logins(current_user),
    ), status


@bp.route("/account/tokens", methods=["POST"])
@login_required
def create_token():
    form = TokenForm()
    if form.validate_on_submit():
        session["new_token"] = services.issue_token(current_user, form.label.data or _("手机客户端"))
        flash(_("新令牌已生成，请立即复制保存，它只显示这一次。"), "success")
        return redirect(url_for("auth.account"))
    for errors in form.errors.values():
        for message in errors:
            flash(str(message), "error")
    return account(form, 422)  # the label typed stays in its field


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    try:
        services.revoke_token(current_user, token_id)
        flash(_("令牌已吊销。"), "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("auth.account"))


@bp.route("/account/logins/end-others", methods=["POST"])
@login_required
def end_other_logins():
    ended = services.end_other_logins(current_user)
    flash(_("已退出其他 %(n)d 台设备。", n=ended) if ended else _("没有其他设备在登录。"), "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            # every other login of the user ends; this one (and its remember cookie) goes on
            change_own_password(current_user, form.current.data, form.new.data)
            flash(_("密码已修改。"), "success")
        except DomainError as exc:
            flash(exc.message, "error")
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(str(message), "error")
    return redirect(url_for("auth.account"))


@bp.route("/lang/<code>")
def set_language(code: str):
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")) or url_for("auth.home"))
