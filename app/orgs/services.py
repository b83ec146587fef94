"""The org tree and member management, free of HTTP."""
from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.auth.models import ROLES, User, hash_password
from app.auth.services import revoke_all_tokens, revoke_login_sessions
from app.auth.scope import (
    can_manage_org,
    is_fellow_secretary,
    org_scope_clause,
    require_manage_org,
    require_role,
    require_view_org,
)
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.ids import get_by_id
from app.text import phone_number
from app.orgs.models import ORG_KIND_LABELS, ORG_KINDS, Org
from app.text import CONTROL_CHARS, INVISIBLE_CHARS  # noqa: F401 - re-exported

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
MIN_PASSWORD = 8


def name_problems(name: str, *, limit: int, what: str) -> list[str]:
    """Why ``name`` (already stripped) cannot name an org or a person: empty, too long, control or
    invisible characters."""
    if not name or len(name) > limit:
        return [f"{what}不能为空，且不超过{limit}个字。"]
    if CONTROL_CHARS.search(name):
        return [f"{what}不能包含换行、制表符等控制字符。"]
    if INVISIBLE_CHARS.search(name):
        return [f"{what}不能包含零宽空格、文字方向控制符等不可见字符。"]
    return []


MAX_PASSWORD = 200  # the login form's limit


def password_problem(password, what: str = "密码") -> str | None:
    """Why ``password`` cannot be set, or None: at least ``MIN_PASSWORD`` characters, at most
    ``MAX_PASSWORD``, not only spaces (the login form would read it as no password at all)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        return f"{what}至少{MIN_PASSWORD}位。"
    if len(password) > MAX_PASSWORD:
        return f"{what}不超过{MAX_PASSWORD}位。"
    if not password.strip():
        return f"{what}不能全是空格。"
    return None


def get_org(org_id: int) -> Org:
    org = get_by_id(Org, org_id)  # a number no id column holds (?org=9223372036854775808): not found
    if org is None:
        raise NotFound("找不到该组织。", code="org_not_found")
    return org


def get_user(user_id: int) -> User:
    user = get_by_id(User, user_id)
    if user is None:
        raise NotFound("找不到该党员。", code="member_not_found")
    return user


def create_org(actor, *, name: str, kind: str, parent_id: int | None) -> Org:
    """Add an org under ``parent_id`` (a root when None; roots are for admins)."""
    name = (name or "").strip()
    fields = {}
    if problems := name_problems(name, limit=100, what="名称"):
        fields["name"] = problems
    if kind not in ORG_KINDS:
        fields["kind"] = ["类型须为街道（street）、社区（community）或支部（branch）。"]
    parent = None
    if parent_id is not None:
        parent = get_by_id(Org, parent_id)
        if parent is None:
            fields["parent_id"] = ["上级组织不存在。"]
        elif kind in ORG_KINDS and ORG_KINDS.index(kind) < ORG_KINDS.index(parent.kind):
            # street -> community -> branch: a level may repeat (a district of streets), never climb
            fields["kind"] = [f"{ORG_KIND_LABELS[parent.kind]}下不能设{ORG_KIND_LABELS[kind]}。"]
    if fields:
        raise Invalid("提交的内容有误。", fields=fields)
    if parent is None:
        require_role(actor, "admin")
    else:
        require_manage_org(actor, parent)
    sibling = db.session.scalar(sa.select(Org.id).where(
        Org.parent_id.is_(None) if parent is None else Org.parent_id == parent.id, Org.name == name).limit(1))
    if sibling is not None:
        # imports name an org by its path: two of the same name under one parent could never be told apart
        message = f"{parent.name if parent else '顶层'}下已有名为“{name}”的组织。"
        raise Invalid(message, fields={"name": [message]})
    org = Org(name=name, kind=kind, parent_id=parent.id if parent else None,
              depth=(parent.depth + 1) if parent else 0)
    db.session.add(org)
    db.session.flush()
    org.path = (parent.path if parent else "/") + f"{org.id}/"
    db.session.commit()
    return org


def view_org(actor, org_id: int) -> Org:
    org = get_org(org_id)
    require_view_org(actor, org)
    return org


def org_chain(org: Org) -> list[Org]:
    """The orgs from the root down to ``org``, in one query."""
    ids = org.ancestor_ids
    by_id = {o.id: o for o in db.session.scalars(sa.select(Org).where(Org.id.in_(ids)))}
    return [by_id[i] for i in ids if i in by_id]


def subtree_member_count(org: Org) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(User.id)).join(Org, User.org_id == Org.id)
        .where(Org.path.startswith(org.path, autoescape=True), User.active.is_(True))
    ) or 0


def children_with_counts(org: Org) -> list[tuple[Org, int]]:
    """Each child of ``org`` with the number of active users in its subtree (one query)."""
    child = sa.orm.aliased(Org)
    below = sa.orm.aliased(Org)
    rows = db.session.execute(
        sa.select(child, sa.func.count(User.id))
        .select_from(child)
        .outerjoin(below, below.path.startswith(child.path))
        .outerjoin(User, sa.and_(User.org_id == below.id, User.active.is_(True)))
        .where(child.parent_id == org.id)
        .group_by(child.id)
        .order_by(child.id)
    ).all()
    return [(o, n) for o, n in rows]


def managed_orgs(actor) -> list[Org]:
    """Every org ``actor`` manages, ordered as a tree (by path)."""
    return list(db.session.scalars(sa.select(Org).where(org_scope_clause(actor)).order_by(Org.path)))


def tree_order(orgs: list[Org]) -> list[Org]:
    """Order orgs depth-first by name path for display."""
    return sorted(orgs, key=lambda o: [int(p) for p in o.path.strip("/").split("/")])


@dataclass
class MemberInput:
    name: str
    phone: str
    password: str | None
    org_id: int | None
    role: str = "member"


def validate_member_fields(actor, data: MemberInput, *, org: Org | None, password_required: bool = True) -> dict:
    """Field errors for a new member (empty dict when good). Scope is checked separately."""
    fields: dict[str, list[str]] = {}
    name = (data.name or "").strip()
    if problems := name_problems(name, limit=50, what="姓名"):
        fields["name"] = problems
    if not PHONE_RE.match(phone_number(data.phone)):
        fields["phone"] = ["手机号须为11位大陆手机号码。"]
    if password_required and (problem := password_problem(data.password)):
        fields["password"] = [problem]
    if data.role not in ROLES:
        fields["role"] = ["角色须为党员（member）、书记（secretary）或管理员（admin）。"]
    if org is None:
        fields["org_id"] = ["所属组织不存在。"]
    return fields


def check_member_scope(actor, org: Org, role: str) -> None:
    require_manage_org(actor, org)
    if role == "admin" and actor.role != "admin":
        raise Forbidden("只有管理员可以设立管理员账号。", code="forbidden_role")
    if is_fellow_secretary(actor, org.id, role):
        raise Forbidden("同一组织书记的账号由上级组织设立。", code="next_level_up")


def phone_taken(phone: str) -> bool:
    return db.session.scalar(sa.select(User.id).where(User.phone == phone)) is not None


def create_member(actor, data: MemberInput) -> User:
    """Add an account in ``actor``'s scope. 422 on bad fields, 403 out of scope, 409 on a used phone."""
    require_role(actor, "admin", "secretary")
    org = db.session.get(Org, data.org_id) if isinstance(data.org_id, int) else None
    fields = validate_member_fields(actor, data, org=org)
    if fields:
        raise Invalid("提交的内容有误。", fields=fields)
    check_member_scope(actor, org, data.role)
    phone = phone_number(data.phone)
    if phone_taken(phone):
        raise Conflict("该手机号已被使用。", code="phone_taken")
    user = User(name=data.name.strip(), phone=phone, role=data.role, org_id=org.id,
                password_hash=hash_password(data.password))
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("该手机号已被使用。", code="phone_taken")
    return user


def list_members(actor, *, org_id: int | None = None, q: str = "", limit: int = 50, offset: int = 0):
    """Members in ``actor``'s scope, optionally below one org and matching a name or phone."""
    require_role(actor, "admin", "secretary")
    stmt = sa.select(User).join(Org, User.org_id == Org.id).where(org_scope_clause(actor))
    if org_id is not None:
        org = get_org(org_id)
        require_manage_org(actor, org)
        stmt = stmt.where(Org.path.startswith(org.path, autoescape=True))
    q = (q or "").strip()
    if q:
        stmt = stmt.where(sa.or_(User.name.contains(q, autoescape=True), User.phone.contains(q, autoescape=True)))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))
    items = list(db.session.scalars(stmt.order_by(Org.path, User.name, User.id).limit(limit).offset(offset)))
    return items, total


def can_manage_account(actor, member: User) -> bool:
    """May ``actor`` change ``member``'s account (org, role, active, password)?

    Inside their subtree, but an admin's account is for admins, and a secretary's fellow
    secretaries of the same org are for the level above (as their points are): otherwise one
    secretary could reset another's password or demote them. One's own account: only the name
    here (the password on the account page, with the current one).
    """
    if not can_manage_org(actor, member.org):
        return False
    if actor.role == "admin" or member.id == actor.id:
        return True
    return member.role != "admin" and not is_fellow_secretary(actor, member.org_id, member.role)


def require_manage_account(actor, member: User) -> None:
    require_manage_org(actor, member.org)
    if member.role == "admin" and actor.role != "admin":
        raise Forbidden("只有管理员可以修改管理员账号。", code="forbidden_role")
    if not can_manage_account(actor, member):
        raise Forbidden("同一组织书记的账号由上级组织管理。", code="next_level_up")


def update_member(actor, member_id: int, *, name: str | None = None, role: str | None = None,
                  org_id: int | None = None, active: bool | None = None, password: str | None = None) -> User:
    """Change a member's details; both the old and the new org must be in scope."""
    member = get_user(member_id)
    require_manage_account(actor, member)
    if member.id == getattr(actor, "id", None) and (role not in (None, member.role) or active is False):
        raise Forbidden("不能更改自己的角色或停用自己。", code="self_change")
    if member.id == getattr(actor, "id", None) and (org_id not in (None, member.org_id) or password is not None):
        raise Forbidden("本人的所属组织由上级组织调整，密码请在“我的账号”中修改。", code="self_change")
    fields = {}
    if name is not None:
        name = name.strip()
        if problems := name_problems(name, limit=50, what="姓名"):
            fields["name"] = problems
    if role is not None and role not in ROLES:
        fields["role"] = ["角色须为党员（member）、书记（secretary）或管理员（admin）。"]
    new_org = None
    if org_id is not None:
        new_org = get_by_id(Org, org_id)
        if new_org is None:
            fields["org_id"] = ["所属组织不存在。"]
    if password is not None and (problem := password_problem(password)):
        fields["password"] = [problem]
    if fields:
        raise Invalid("提交的内容有误。", fields=fields)
    if new_org is not None or role is not None:  # where they land, with the role they will have
        check_member_scope(actor, new_org or member.org, role or member.role)
    if new_org is not None:
        member.org_id = new_org.id
    if role is not None:
        member.role = role
    if name is not None:
        member.name = name
    if active is not None:
        member.active = active
    if password is not None:
        member.password_hash = hash_password(password)
    if password is not None or active is False:
        # a reset password or a stopped account: their logins and the phone clients' tokens
        # end, and do not come back if the account is started again
        revoke_login_sessions(member.id)
        revoke_all_tokens(member.id)
    db.session.commit()
    return member


def change_own_password(user: User, current: str, new: str) -> None:
    if not user.check_password(current or ""):
        raise Invalid("当前密码不正确。", fields={"current": ["当前密码不正确。"]})
    if problem := password_problem(new, "新密码"):
        raise Invalid(problem, fields={"new": [problem]})
    if user.check_password(new):
        raise Invalid("新密码与当前密码相同，请换一个。", fields={"new": ["新密码与当前密码相同，请换一个。"]})
    user.password_hash = hash_password(new)
    revoke_login_sessions(user.id, keep=user.login_key)  # the other devices log in again
    db.session.commit()


def is_manager_of_anything(actor) -> bool:
    return actor.role in ("admin", "secretary")


__all__ = [
    "MemberInput", "create_org", "view_org", "org_chain", "children_with_counts", "create_member",
    "list_members", "update_member", "can_manage_account", "get_org", "get_user", "managed_orgs", "subtree_member_count",
    "can_manage_org",
]


@dataclass
class TreeNode:
    """One org of a displayed tree: the org, active users in its subtree, and its children."""

    org: Org
    member_count: int
    children: list["TreeNode"]


def scope_tree(actor) -> list[TreeNode]:
    """The orgs ``actor`` manages as nested nodes with subtree member counts (one query)."""
    below = sa.orm.aliased(Org)
    direct = (
        sa.select(User.org_id.label("org_id"), sa.func.count(User.id).label("n"))
        .where(User.active.is_(True))
        .group_by(User.org_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(Org, sa.func.coalesce(sa.func.sum(direct.c.n), 0))
        .select_from(Org)
        .outerjoin(below, below.path.startswith(Org.path))
        .outerjoin(direct, direct.c.org_id == below.id)
        .where(org_scope_clause(actor))
        .group_by(Org.id)
        .order_by(Org.path)
    ).all()
    nodes = {o.id: TreeNode(o, int(n), []) for o, n in rows}
    roots: list[TreeNode] = []
    for node in sorted(nodes.values(), key=lambda nd: nd.org.ancestor_ids):
        parent = nodes.get(node.org.parent_id) if node.org.parent_id is not None else None
        (parent.children if parent else roots).append(node)
    return roots


def edit_member(actor, member_id: int, *, name: str | None = None, role: str | None = None,
                org_id: int | None = None, active: bool | None = None, password: str | None = None) -> User:
    """The edit page's change: only what differs is passed on to ``update_member`` (which keeps
    a secretary off an admin's account, even one placed inside their subtree)."""
    member = get_user(member_id)
    return update_member(
        actor, member_id,
        name=name,
        role=role if role != member.role else None,
        org_id=org_id if org_id != member.org_id else None,
        active=active if active != member.active else None,
        password=password or None,
    )
