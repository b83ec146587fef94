"""The org tree, org page and member management pages."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD


def text(response) -> str:
    return response.get_data(as_text=True)


def count_users(db, **where) -> int:
    from app.auth.models import User

    stmt = sa.select(sa.func.count(User.id))
    for key, value in where.items():
        stmt = stmt.where(getattr(User, key) == value)
    return db.session.scalar(stmt)


def member_form(org, **overrides) -> dict:
    data = {"name": "周新", "phone": "13712345678", "password": "initpass123", "org_id": str(org.id), "role": "member"}
    data.update(overrides)
    return data


@pytest.fixture
def count_queries(app, db):
    """A context manager counting the SQL statements run inside it."""
    from contextlib import contextmanager

    @contextmanager
    def counter():
        seen: list[str] = []

        def listener(conn, cursor, statement, *args):
            seen.append(statement)

        engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            yield seen
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)

    return counter


# --- the tree -------------------------------------------------------------------------------

def test_admin_sees_whole_tree_with_kinds_and_counts(tree, login_as):
    r = login_as(tree.admin).get("/orgs/")
    assert r.status_code == 200
    body = text(r)
    for name in ("东湖街道", "桂花社区", "荷花社区", "桂花第一支部", "荷花第二支部"):
        assert name in body
    assert "街道</span>" in body and "社区</span>" in body and "支部</span>" in body
    # 桂花社区: 李书记, 陈支书, 张三, 李四; 东湖街道: everybody (7)
    assert re.search(r"桂花社区</a>\s*<span[^>]*>社区</span>\s*<small[^>]*>4人", body)
    assert re.search(r"东湖街道</a>\s*<span[^>]*>街道</span>\s*<small[^>]*>7人", body)
    assert f'href="/orgs/{tree.b21.id}"' in body
    assert "（无，设为顶级组织）" in body


def test_secretary_sees_only_own_subtree(tree, login_as):
    body = text(login_as(tree.sec_c1).get("/orgs/"))
    assert "桂花第一支部" in body and "桂花第二支部" in body
    assert "荷花社区" not in body and "荷花第一支部" not in body
    assert "顶级组织" not in body


def test_tree_query_count_does_not_grow_with_orgs(tree, db, login_as, make_org, make_user, count_queries):
    client = login_as(tree.admin)
    db.session.expire_all()
    with count_queries() as before:
        assert client.get("/orgs/").status_code == 200
    for i in range(6):
        branch = make_org(f"新建第{i}支部", "branch", tree.c2)
        make_user(branch)
    db.session.expire_all()
    with count_queries() as after:
        body = text(client.get("/orgs/"))
    assert "新建第5支部" in body
    assert len(after) == len(before)


def test_member_cannot_open_manager_pages(tree, login_as):
    client = login_as(tree.m11)
    for path in ("/orgs/", f"/orgs/{tree.b11.id}", "/orgs/members", "/orgs/members/new", "/orgs/members/import"):
        r = client.get(path)
        assert r.status_code == 403, path
        assert "无权" in text(r)


def test_nav_has_members_entry_for_managers(tree, login_as):
    body = text(login_as(tree.sec_c1).get("/orgs/"))
    assert 'href="/orgs/members">党员</a>' in body
    member_page = text(login_as(tree.m11).get("/account"))
    assert 'href="/orgs/members"' not in member_page


# --- adding orgs -----------------------------------------------------------------------------

def test_secretary_adds_child_in_scope(tree, login_as, db):
    from app.orgs.models import Org

    client = login_as(tree.sec_c1)
    r = client.post("/orgs/new", data={"parent_id": str(tree.c1.id), "name": "桂花第三支部", "kind": "branch"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/orgs/{tree.c1.id}")
    org = db.session.scalar(sa.select(Org).where(Org.name == "桂花第三支部"))
    assert org.parent_id == tree.c1.id and org.path == f"{tree.c1.path}{org.id}/"
    assert "桂花第三支部" in text(client.get(f"/orgs/{tree.c1.id}"))


def test_secretary_cannot_add_root_or_outside_scope(tree, login_as, db):
    from app.orgs.models import Org

    before = db.session.scalar(sa.select(sa.func.count(Org.id)))
    client = login_as(tree.sec_c1)
    r = client.post("/orgs/new", data={"parent_id": "", "name": "西湖街道", "kind": "street"})
    assert r.status_code == 200 and "请选择上级组织" in text(r)
    r = client.post("/orgs/new", data={"parent_id": str(tree.c2.id), "name": "荷花第三支部", "kind": "branch"})
    assert "不在您的管理范围内" in text(r)
    assert db.session.scalar(sa.select(sa.func.count(Org.id))) == before


def test_admin_adds_root_and_sees_field_errors(tree, login_as, db):
    from app.orgs.models import Org

    client = login_as(tree.admin)
    r = client.post("/orgs/new", data={"parent_id": "", "name": "", "kind": "street"})
    assert r.status_code == 200 and "请填写组织名称" in text(r)
    r = client.post("/orgs/new", data={"parent_id": "", "name": "西湖街道", "kind": "street"})
    assert r.status_code == 302
    root = db.session.scalar(sa.select(Org).where(Org.name == "西湖街道"))
    assert root.parent_id is None and root.depth == 0
    assert "西湖街道" in text(client.get("/orgs/"))


# --- the org page ----------------------------------------------------------------------------

def test_org_page_shows_path_children_and_members(tree, login_as):
    client = login_as(tree.sec_c1)
    body = text(client.get(f"/orgs/{tree.c1.id}"))
    assert "东湖街道" in body and "桂花社区" in body
    assert f'href="/orgs/{tree.street.id}"' not in body  # the street is above the secretary's scope
    assert "桂花第一支部" in body and "桂花第二支部" in body
    assert "张三" in body and "李四" in body
    assert f"/orgs/members/new?org={tree.c1.id}" in body

    searched = text(client.get(f"/orgs/{tree.c1.id}?q=张"))
    assert "张三" in searched and "李四" not in searched
    by_phone = text(client.get(f"/orgs/{tree.c1.id}?q={tree.m12.phone[-6:]}"))
    assert "李四" in by_phone and "张三" not in by_phone


def test_org_page_out_of_scope_and_unknown(tree, login_as):
    client = login_as(tree.sec_c2)
    r = client.get(f"/orgs/{tree.c1.id}")
    assert r.status_code == 403 and "不在您的管理范围内" in text(r)
    r = client.get("/orgs/999999")
    assert r.status_code == 404 and "找不到该组织" in text(r)


# --- members list ----------------------------------------------------------------------------

def test_members_list_search_filter_and_paging(tree, login_as, make_user):
    for i in range(52):
        make_user(tree.b12, name=f"批量{i:02d}")
    client = login_as(tree.sec_c1)
    page1 = text(client.get("/orgs/members"))
    assert "共 56 人" in page1  # 52 + 李书记, 陈支书, 张三, 李四
    assert page1.count("/edit\"><strong>") == 50
    assert "第 1 / 2 页" in page1 and "王五" not in page1
    page2 = text(client.get("/orgs/members?page=2"))
    assert page2.count("/edit\"><strong>") == 6
    only_b11 = text(client.get(f"/orgs/members?org={tree.b11.id}"))
    assert "张三" in only_b11 and "李四" not in only_b11 and "批量" not in only_b11
    found = text(client.get("/orgs/members?q=批量5"))
    assert "批量50" in found and "批量51" in found and "张三" not in found
    assert client.get(f"/orgs/members?org={tree.b21.id}").status_code == 403


# --- adding members --------------------------------------------------------------------------

def test_secretary_adds_member_on_page(tree, login_as, db):
    from app.auth.models import User

    client = login_as(tree.sec_c1)
    form = text(client.get(f"/orgs/members/new?org={tree.b12.id}"))
    assert f'<option selected value="{tree.b12.id}">' in form or f'value="{tree.b12.id}" selected' in form
    assert ">管理员</option>" not in form
    r = client.post("/orgs/members/new", data=member_form(tree.b12, role="secretary"))
    assert r.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.phone == "13712345678"))
    assert user.name == "周新" and user.org_id == tree.b12.id and user.role == "secretary"
    assert user.check_password("initpass123")
    assert "已添加书记：周新" in text(client.get(r.headers["Location"]))


def test_a_phone_typed_with_dashes_or_86_is_stored_as_its_digits(tree, login_as, db):
    from app.auth.models import User

    client = login_as(tree.sec_c1)
    assert client.post("/orgs/members/new", data=member_form(tree.b11, phone="+86 137-1234-5678")).status_code == 302
    assert db.session.scalar(sa.select(User.phone).where(User.name == "周新")) == "13712345678"
    r = client.post("/orgs/members/new", data=member_form(tree.b11, name="周二", phone="137 1234 5678"))
    assert "该手机号已被使用" in text(r)  # the same number, however it is typed


def test_add_member_validation_changes_nothing(tree, login_as, db):
    client = login_as(tree.sec_c1)
    before = count_users(db)
    r = client.post("/orgs/members/new", data=member_form(tree.b11, name="", phone="12345", password="short"))
    body = text(r)
    assert r.status_code == 200
    assert "请填写姓名" in body and "密码至少8位" in body
    r = client.post("/orgs/members/new", data=member_form(tree.b11, phone="12345"))
    assert "手机号须为11位大陆手机号码" in text(r)
    r = client.post("/orgs/members/new", data=member_form(tree.b11, phone=tree.m21.phone))
    assert "该手机号已被使用" in text(r)
    r = client.post("/orgs/members/new", data=member_form(tree.b11, role="admin"))
    assert "只有管理员可以设立管理员账号" in text(r)
    r = client.post("/orgs/members/new", data=member_form(tree.b21))
    assert "不在您的管理范围内" in text(r)
    r = client.post("/orgs/members/new", data=member_form(tree.b11, org_id="abc"))
    assert "请选择所属组织" in text(r)
    r = client.post("/orgs/members/new", data=member_form(tree.b11, org_id="999999"))
    assert "所属组织不存在" in text(r)
    assert count_users(db) == before


def test_every_problem_of_the_new_member_form_is_said_at_once(tree, login_as, db):
    """No org chosen and a bad phone: both are said in one answer, not one per try."""
    client = login_as(tree.sec_c1)
    before = count_users(db)
    body = text(client.post("/orgs/members/new", data=member_form(tree.b11, org_id="", phone="abcdefghijk",
                                                                  password="123")))
    assert "请选择所属组织" in body and "手机号须为11位大陆手机号码" in body and "密码至少8位" in body
    assert count_users(db) == before
    # the initial password typed stays for the next try
    body = text(client.post("/orgs/members/new", data=member_form(tree.b11, org_id="")))
    assert 'value="initpass123"' in body


def test_a_branch_secretary_gets_their_branch_chosen_and_no_role_they_cannot_give(tree, login_as, db):
    form = text(login_as(tree.sec_b11).get("/orgs/members/new"))
    assert f'<option selected value="{tree.b11.id}">' in form or f'value="{tree.b11.id}" selected' in form
    assert ">书记</option>" not in form and ">党员</option>" in form
    # a community secretary may appoint branch secretaries below: offered
    assert ">书记</option>" in text(login_as(tree.sec_c1).get("/orgs/members/new"))
    r = login_as(tree.sec_b11).post("/orgs/members/new", data=member_form(tree.b11))
    assert r.status_code == 302 and count_users(db, phone="13712345678", role="member") == 1


def test_admin_may_create_admin(tree, login_as, db):
    client = login_as(tree.admin)
    assert ">管理员</option>" in text(client.get("/orgs/members/new"))
    r = client.post("/orgs/members/new", data=member_form(tree.street, role="admin"))
    assert r.status_code == 302
    assert count_users(db, phone="13712345678", role="admin") == 1


# --- editing members -------------------------------------------------------------------------

def test_secretary_edits_member(tree, login_as, db):
    from app.auth.models import User

    client = login_as(tree.sec_c1)
    page = text(client.get(f"/orgs/members/{tree.m11.id}/edit"))
    assert "张三" in page and tree.m11.phone in page
    r = client.post(f"/orgs/members/{tree.m11.id}/edit", data={
        "name": "张三丰", "org_id": str(tree.b12.id), "role": "secretary", "password": "newpass123"})
    assert r.status_code == 302
    db.session.expire_all()
    m = db.session.get(User, tree.m11.id)
    assert (m.name, m.org_id, m.role, m.active) == ("张三丰", tree.b12.id, "secretary", False)
    assert m.check_password("newpass123")
    # a deactivated member can no longer log in
    r = client.application.test_client().post("/login", data={"phone": m.phone, "password": "newpass123"})
    assert r.status_code != 302


def test_edit_member_validation_changes_nothing(tree, login_as, db):
    from app.auth.models import User

    client = login_as(tree.sec_c1)
    r = client.post(f"/orgs/members/{tree.m11.id}/edit", data={
        "name": "", "org_id": str(tree.b12.id), "role": "member", "active": "y", "password": "short"})
    body = text(r)
    assert r.status_code == 200 and "请填写姓名" in body and "密码至少8位" in body
    r = client.post(f"/orgs/members/{tree.m11.id}/edit", data={
        "name": "张三", "org_id": str(tree.b21.id), "role": "member", "active": "y"})
    assert "不在您的管理范围内" in text(r)
    # one's own account: the page changes the name only, whatever else is posted (no active: stays active)
    r = client.post(f"/orgs/members/{tree.sec_c1.id}/edit", data={
        "name": "李书记", "org_id": str(tree.b11.id), "role": "member", "password": "hijack-12345"})
    assert r.status_code == 302
    db.session.expire_all()
    m = db.session.get(User, tree.m11.id)
    assert (m.name, m.org_id, m.active) == ("张三", tree.b11.id, True)
    assert m.check_password(PASSWORD)
    me = db.session.get(User, tree.sec_c1.id)
    assert (me.active, me.role, me.org_id) == (True, "secretary", tree.c1.id) and me.check_password(PASSWORD)


def test_a_secretary_cannot_take_over_a_fellow_secretary(tree, login_as, api_as, make_user, db):
    """A second secretary of the same org is managed by the level above: the first may not reset
    their password, demote or stop them (page 403, no edit link), nor make a member of their own
    org a secretary or create one there; the community secretary above may do all of it."""
    from app.auth.models import User

    peer = make_user(tree.b11, "secretary", "王副书记")
    branch = login_as(tree.sec_b11)
    assert branch.get(f"/orgs/members/{peer.id}/edit").status_code == 403
    r = branch.post(f"/orgs/members/{peer.id}/edit", data={
        "name": "王副书记", "org_id": str(tree.b11.id), "role": "member", "password": "hijack-12345"})
    assert r.status_code == 403 and "由上级组织管理" in text(r)
    listing = text(branch.get(f"/orgs/{tree.b11.id}"))
    assert "王副书记" in listing and f"/orgs/members/{peer.id}/edit" not in listing
    assert f"/orgs/members/{tree.m11.id}/edit" in listing  # their members, as before
    r = branch.post(f"/orgs/members/{tree.m11.id}/edit", data={
        "name": "张三", "org_id": str(tree.b11.id), "role": "secretary", "active": "y"})
    assert "由上级组织设立" in text(r)
    r = api_as(tree.sec_b11).post("/api/v1/members", json={
        "name": "赵副书记", "phone": "13712349999", "password": "secret-123", "org_id": tree.b11.id, "role": "secretary"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "next_level_up"
    db.session.expire_all()
    p, m = db.session.get(User, peer.id), db.session.get(User, tree.m11.id)
    assert (p.role, p.active, p.check_password(PASSWORD), m.role) == ("secretary", True, True, "member")
    community = login_as(tree.sec_c1)
    r = community.post(f"/orgs/members/{peer.id}/edit", data={
        "name": "王副书记", "org_id": str(tree.b11.id), "role": "member", "active": "y"})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, peer.id).role == "member"


def test_edit_member_out_of_scope(tree, login_as, db):
    from app.auth.models import User

    client = login_as(tree.sec_c2)
    r = client.get(f"/orgs/members/{tree.m11.id}/edit")
    assert r.status_code == 403 and "不在您的管理范围内" in text(r)
    r = client.post(f"/orgs/members/{tree.m11.id}/edit", data={
        "name": "被改了", "org_id": str(tree.b21.id), "role": "member", "active": "y"})
    assert r.status_code == 403
    db.session.expire_all()
    assert db.session.get(User, tree.m11.id).name == "张三"
    assert client.get("/orgs/members/999999/edit").status_code == 404


def test_secretary_cannot_edit_admin(tree, login_as, make_user):
    boss = make_user(tree.b11, "admin", "钱管理")
    r = login_as(tree.sec_c1).get(f"/orgs/members/{boss.id}/edit")
    assert r.status_code == 403 and "只有管理员可以修改管理员账号" in text(r)


@pytest.mark.parametrize("path", ["/orgs/members?org={}", "/orgs/new?parent={}", "/orgs/members/new?org={}"])
def test_an_id_no_column_holds_in_a_query_string_is_not_found(tree, login_as, path):
    """A number past any id (2**63, which the driver cannot even bind) is 404 in Chinese, not 500."""
    client = login_as(tree.sec_c1)
    for huge in (2**63, 10**30, 2**31):
        r = client.get(path.format(huge))
        assert r.status_code in (200, 404), (path, huge, r.status_code)
        if r.status_code == 404:
            assert "找不到该组织" in text(r)
