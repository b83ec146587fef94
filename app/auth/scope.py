"""The one scope rule every feature uses.

An admin acts everywhere, a secretary inside their own org subtree, a member on themselves.
"""
from __future__ import annotations

import sqlalchemy as sa

from app.errors import Forbidden
from app.orgs.models import Org


def can_manage_org(user, org: Org) -> bool:
    """May ``user`` act on ``org`` (award, approve, manage members, print codes)?"""
    if user.role == "admin":
        return True
    if user.role == "secretary":
        return org.path.startswith(user.org.path)
    return False


def is_fellow_secretary(user, org_id: int, role: str) -> bool:
    """Would a ``role`` account in org ``org_id`` be a secretary of ``user``'s own org, while
    ``user`` is a secretary? Such accounts and their points are for the level above."""
    return user.role == "secretary" and role == "secretary" and org_id == user.org_id


def can_view_org(user, org: Org) -> bool:
    """Managers see their subtree; everybody sees the orgs on their own path."""
    return can_manage_org(user, org) or org.id in user.org.ancestor_ids


def can_act_on_member(user, member) -> bool:
    """May ``user`` act on ``member``'s data? Members only on themselves."""
    if user.id == member.id:
        return True
    return can_manage_org(user, member.org)


def require_manage_org(user, org: Org) -> None:
    if not can_manage_org(user, org):
        raise Forbidden("该组织不在您的管理范围内。", code="out_of_scope")


def require_view_org(user, org: Org) -> None:
    if not can_view_org(user, org):
        raise Forbidden("该组织不在您的管理范围内。", code="out_of_scope")


def require_act_on_member(user, member) -> None:
    if not can_act_on_member(user, member):
        raise Forbidden("该党员不在您的管理范围内。", code="out_of_scope")


def require_role(user, *roles: str) -> None:
    if user.role not in roles:
        raise Forbidden("您的角色无权进行此操作。", code="forbidden_role")


def org_scope_clause(user, path_column=Org.path):
    """A SQL condition limiting rows to orgs ``user`` manages (join Org first)."""
    if user.role == "admin":
        return sa.true()
    if user.role == "secretary":
        return path_column.startswith(user.org.path, autoescape=True)
    return sa.false()


class SystemActor:
    """The command line: acts with an admin's reach, and is nobody's member."""

    id = None
    role = "admin"
    name = "命令行"
    org = None


SYSTEM = SystemActor()
