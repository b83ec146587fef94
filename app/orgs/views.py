"""Pages: the org tree, members and the roster import (secretaries in scope, admins)."""
from __future__ import annotations

import io

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.auth.scope import can_manage_org, require_manage_org, require_role
from app.errors import Conflict, DomainError, Forbidden
from app.extensions import db
from app.orgs import services
from app.orgs.forms import (
    MemberEditForm, MemberForm, OrgForm, RosterForm, org_choices, org_options, role_choices,
)
from app.orgs.roster import RosterError, import_roster, template_workbook
from app.templating import register_nav
from app.text import phone_number

bp = Blueprint("orgs", __name__, url_prefix="/orgs")

register_nav(50, _l("组织"), "orgs.tree", ("secretary", "admin"))
register_nav(55, _l("党员"), "orgs.members", ("secretary", "admin"))

PER_PAGE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NEXT_KIND = {"street": "community", "community": "branch", "branch": "branch"}


def _managers_only() -> None:
    require_role(current_user, "admin", "secretary")


def _page() -> int:
    page = request.args.get("page", 1, type=int) or 1
    return max(1, min(page, 100000))


def _paging(total: int, page: int) -> dict:
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    return {"page": page, "pages": pages, "total": total,
            "prev": page - 1 if page > 1 else None, "next": page + 1 if page < pages else None}


def _field_errors(form, exc: DomainError) -> list[str]:
    """Put a service error next to its field; return what belongs to no field."""
    db.session.rollback()
    placed = False
    for name, messages in (exc.fields or {}).items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, *messages]
            placed = True
    if placed:
        return []
    target = None
    if isinstance(exc, Conflict) and exc.code == "phone_taken":
        target, message = "phone", _("该手机号已被使用，请核对，或在党员名单中查找已有账号。")
    elif isinstance(exc, Forbidden) and exc.code == "forbidden_role":
        target, message = "role", exc.message
    elif isinstance(exc, Forbidden) and exc.code == "out_of_scope":
        target = "org_id" if "org_id" in form._fields else "parent_id"
        message = exc.message
    else:
        message = exc.message
    field = form._fields.get(target) if target else None
    if field is None:
        return [message]
    field.errors = [*field.errors, message]
    return []


def _org_form(actor, *, parent=None) -> OrgForm:
    """The add-org form: the parent is a select of managed orgs (admins may add a root)."""
    form = OrgForm()
    orgs = services.managed_orgs(actor)
    form.parent_id.choices = org_choices(orgs, root_label=_("（无，设为顶级组织）") if actor.role == "admin" else None)
    if request.method == "GET":
        if parent is not None:
            form.parent_id.data = parent.id
            form.kind.data = NEXT_KIND.get(parent.kind, "branch")
        elif orgs:
            form.parent_id.data = orgs[0].id
            form.kind.data = NEXT_KIND.get(orgs[0].kind, "branch")
        else:
            form.kind.data = "street"
    return form


@bp.route("/")
@login_required
def tree():
    """The org tree of the caller's scope with member counts."""
    _managers_only()
    roots = services.scope_tree(current_user)
    return render_template("orgs/tree.html", roots=roots, org_form=_org_form(current_user))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new_org():
    """Add an org (a child of a managed org; a root for admins)."""
    _managers_only()
    parent = None
    parent_arg = request.args.get("parent", type=int)
    if parent_arg is not None:
        parent = services.get_org(parent_arg)
        require_manage_org(current_user, parent)
    form = _org_form(current_user, parent=parent)
    errors: list[str] = []
    if form.validate_on_submit():
        if form.parent_id.data is None and request.form.get("parent_id", "") != "":
            form.parent_id.errors = [_("上级组织不存在。")]
        elif form.parent_id.data is None and current_user.role != "admin":
            form.parent_id.errors = [_("请选择上级组织。")]
        else:
            try:
                org = services.create_org(current_user, name=form.name.data, kind=form.kind.data,
                                          parent_id=form.parent_id.data)
            except DomainError as exc:
                errors = _field_errors(form, exc)
            else:
                flash(_("已添加组织：%(name)s", name=org.name), "success")
                if org.parent_id is not None:
                    return redirect(url_for("orgs.org_page", org_id=org.parent_id))
                return redirect(url_for("orgs.tree"))
    return render_template("orgs/org_new.html", form=form, errors=errors, parent=parent)


@bp.route("/<int:org_id>")
@login_required
def org_page(org_id: int):
    """One org: its path, children, and the members of its subtree."""
    _managers_only()
    org = services.get_org(org_id)
    require_manage_org(current_user, org)
    q = request.args.get("q", "").strip()[:50]
    page = _page()
    members, total = services.list_members(current_user, org_id=org.id, q=q,
                                           limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    chain = services.org_chain(org)
    form = OrgForm(formdata=None)
    form.kind.data = NEXT_KIND.get(org.kind, "branch")
    return render_template(
        "orgs/org.html", org=org, chain=[(o, can_manage_org(current_user, o)) for o in chain],
        children=services.children_with_counts(org), members=members, q=q,
        paging=_paging(total, page), member_count=services.subtree_member_count(org), child_form=form,
    )


@bp.route("/members")
@login_required
def members():
    """Members in scope: search by name or phone, filter by org, 50 a page."""
    _managers_only()
    q = request.args.get("q", "").strip()[:50]
    org_id = request.args.get("org", type=int)
    page = _page()
    items, total = services.list_members(current_user, org_id=org_id, q=q,
                                         limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    orgs = services.managed_orgs(current_user)
    return render_template("orgs/members.html", members=items, q=q, org_id=org_id,
                           org_options=org_options(orgs), paging=_paging(total, page))


@bp.route("/members/new", methods=["GET", "POST"])
@login_required
def new_member():
    """Add one account in scope."""
    _managers_only()
    form = MemberForm()
    orgs = services.managed_orgs(current_user)
    form.org_id.choices = org_choices(orgs, root_label=_("请选择"))
    form.role.choices = role_choices(current_user, orgs)
    if request.method == "GET":
        form.org_id.data = request.args.get("org", type=int) or (orgs[0].id if len(orgs) == 1 else None)
    errors: list[str] = []
    if form.is_submitted():
        data = services.MemberInput(name=form.name.data, phone=phone_number(form.phone.data),
                                    password=form.password.data, org_id=form.org_id.data, role=form.role.data)
        if not form.validate():
            # what the service would refuse too, said at once (the form's checks stop short of it)
            org = next((o for o in orgs if o.id == form.org_id.data), None)
            for name, messages in services.validate_member_fields(current_user, data, org=org).items():
                if (field := form._fields.get(name)) is not None and not field.errors:
                    field.errors = list(messages)
        else:
            try:
                user = services.create_member(current_user, data)
            except DomainError as exc:
                errors = _field_errors(form, exc)
            else:
                flash(_("已添加%(role)s：%(name)s（%(phone)s）", role=user.role_label, name=user.name,
                        phone=user.phone), "success")
                return redirect(url_for("orgs.org_page", org_id=user.org_id))
    return render_template("orgs/member_form.html", form=form, errors=errors)


@bp.route("/members/<int:member_id>/edit", methods=["GET", "POST"])
@login_required
def edit_member(member_id: int):
    """Change a member's name, org, role, active flag, or reset the password."""
    _managers_only()
    member = services.get_user(member_id)
    services.require_manage_account(current_user, member)
    is_self = member.id == current_user.id
    form = MemberEditForm(obj=member if request.method == "GET" else None)
    form.org_id.choices = org_choices(services.managed_orgs(current_user))
    form.role.choices = role_choices(current_user)
    if is_self:  # one's own account: the name only (the page shows nothing else to change)
        for name in ("org_id", "role", "active", "password"):
            delattr(form, name)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            if is_self:  # the other fields are off the form: edit_member passes on what differs
                services.edit_member(current_user, member.id, name=form.name.data)
            else:
                services.edit_member(current_user, member.id, name=form.name.data, role=form.role.data,
                                     org_id=form.org_id.data, active=form.active.data,
                                     password=form.password.data or None)
        except DomainError as exc:
            errors = _field_errors(form, exc)
            member = services.get_user(member_id)
        else:
            flash(_("已保存：%(name)s", name=member.name), "success")
            return redirect(url_for("orgs.org_page", org_id=member.org_id))
    return render_template("orgs/member_edit.html", form=form, member=member, errors=errors,
                           is_self=is_self)


@bp.route("/members/import", methods=["GET", "POST"])
@login_required
def import_members():
    """Upload an .xlsx roster; all rows are imported or none."""
    _managers_only()
    form = RosterForm()
    problems, total = None, 0
    if form.validate_on_submit():
        try:
            users = import_roster(current_user, form.file.data.stream, form.password.data)
        except RosterError as exc:
            db.session.rollback()
            problems, total = exc.problems, exc.total
        else:
            flash(_("已导入 %(count)d 名党员。", count=len(users)), "success")
            return redirect(url_for("orgs.members"))
    return render_template("orgs/import.html", form=form, problems=problems, total=total)


@bp.route("/members/import/template.xlsx")
@login_required
def import_template():
    """A blank roster to fill in."""
    _managers_only()
    return send_file(io.BytesIO(template_workbook(current_user)), mimetype=XLSX, as_attachment=True,
                     download_name="党员名单模板.xlsx", max_age=0)

