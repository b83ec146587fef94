"""The one scope rule (app/auth/scope.py) at any depth of the tree."""
from __future__ import annotations

import sqlalchemy as sa

from app.auth.scope import can_act_on_member, can_manage_org, can_view_org, org_scope_clause


def test_scope_follows_a_deep_tree(tree, make_org, make_user, db, api_as):
    """Five levels below a community secretary still are in scope; a sibling subtree never is."""
    from app.orgs.models import Org

    chain = [tree.b11]
    for depth in range(5):
        chain.append(make_org(f"第{depth + 1}层小组", "branch", chain[-1]))
    deepest = chain[-1]
    deep_member = make_user(deepest, "member", "深层党员")

    assert deepest.depth == 7
    for actor in (tree.admin, tree.sec_c1, tree.sec_b11):
        assert can_manage_org(actor, deepest) and can_act_on_member(actor, deep_member)
    assert not can_manage_org(tree.sec_c2, deepest) and not can_act_on_member(tree.sec_c2, deep_member)
    assert not can_manage_org(tree.m11, tree.b11)
    assert can_act_on_member(deep_member, deep_member) and not can_act_on_member(deep_member, tree.m11)
    # a member sees the orgs on their own path, up to the root, and nothing below or beside them
    assert all(can_view_org(deep_member, o) for o in (tree.street, tree.c1, *chain))
    assert not can_view_org(tree.m11, chain[1]) and not can_view_org(deep_member, tree.b12)

    managed = set(db.session.scalars(sa.select(Org.id).where(org_scope_clause(tree.sec_b11))))
    assert managed == {o.id for o in chain}
    assert api_as(tree.sec_c1).get(f"/api/v1/orgs/{deepest.id}").get_json()["depth"] == 7
    assert api_as(tree.sec_c2).get(f"/api/v1/orgs/{deepest.id}").status_code == 403


def test_ids_sharing_a_prefix_are_not_nested(tree, make_org, make_user, db):
    """Org 1's subtree is /1/...: org 12 (path /12/) is not inside it, though "12" starts with "1"."""
    from app.orgs.models import Org

    while db.session.scalar(sa.select(sa.func.max(Org.id))) < 11:
        make_org("填充", "street")
    other_root = make_org("西湖街道", "street")
    assert str(other_root.id).startswith(str(tree.street.id))
    secretary = make_user(tree.street, "secretary", "街道书记")
    outsider = make_user(other_root, "member", "外街党员")
    assert not can_manage_org(secretary, other_root) and not can_act_on_member(secretary, outsider)
    managed = set(db.session.scalars(sa.select(Org.id).where(org_scope_clause(secretary))))
    assert other_root.id not in managed and tree.b22.id in managed
