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
from app.extensions import db, login_manager
from app.orgs.services import change_own_password, org_chain
from app.templating import register_nav

bp = Blueprint("auth", __name__)

# Each role's start page; features replace these with their own as they arrive.
START_PAGES = {"member": "index.me", "secretary": "points.review", "admin": "orgs.tree"}

register_nav(90, _l("我的账号"), "auth.account", ("member", "secretary", "admin"))


@login_manager.user_loader
def load_user(user_id: str):
    from app.auth.models import User

    from app.ids import valid_id
    from app.readonly import is_read_only_request, wants_own_path_marks

    raw_id, _sep, stamp = (user_id or "").partition(":")  # User.get_id: "<id>:<password stamp>"
    try:
        user_id = int(raw_id)
    except (TypeError, ValueError):
        return None
    if not valid_id(user_id) or not stamp:
        return None
    if is_read_only_request():
        # nothing in the request moves the marks: read them along with the user
        from app.auth.services import user_and_marks_by_id
        from app.marks import prefetch_marks

        user, marks = user_and_marks_by_id(user_id, own_path=wants_own_path_marks())
        if user is None or not user.has_session_stamp(stamp):
            return None
        prefetch_marks(marks)
        return user
    user = db.session.get(User, user_id)
    return user if user is not None and user.active and user.has_session_stamp(stamp) else None


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
            login_user(user, remember=form.remember.data)
            return redirect(safe_next(request.args.get("next")) or url_for("auth.home"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
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


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            change_own_password(current_user, form.current.data, form.new.data)
            # every other session and remember cookie of the old password has ended; this one
            # goes on under the new (and keeps "remember me" if it had it)
            login_user(current_user._get_current_object(),
                       remember=bool(request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME",
                                                                                 "remember_token"))))
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
