"""`flask --app wsgi create-admin PHONE --password PW --name NAME`: the first admin of a database."""
from __future__ import annotations

import pytest
import sqlalchemy as sa


def accounts(db):
    from app.auth.models import User
    from app.orgs.models import Org

    users = [(u.name, u.phone, u.role, u.org_id) for u in db.session.scalars(sa.select(User).order_by(User.id))]
    orgs = [(o.id, o.name, o.kind, o.path) for o in db.session.scalars(sa.select(Org).order_by(Org.id))]
    return users, orgs


def test_first_admin_on_an_empty_database_can_use_the_api(app, db, runner, client):
    result = runner.invoke(args=["create-admin", "13600000001", "--password", "secret-123", "--name", "周管理"])
    assert result.exit_code == 0, result.output
    assert "管理员已创建：周管理 13600000001" in result.output
    users, orgs = accounts(db)
    assert len(orgs) == 1 and orgs[0][2] == "street" and orgs[0][3] == f"/{orgs[0][0]}/"
    assert users == [("周管理", "13600000001", "admin", orgs[0][0])]

    token = client.post("/api/v1/auth/token", json={"phone": "13600000001", "password": "secret-123"})
    assert token.status_code == 200 and token.get_json()["user"]["role"] == "admin"
    made = client.post("/api/v1/orgs", json={"name": "桂花社区", "kind": "community", "parent_id": orgs[0][0]},
                       headers={"Authorization": f"Bearer {token.get_json()['token']}"})
    assert made.status_code == 201


def test_admin_joins_the_existing_root(tree, db, runner):
    result = runner.invoke(args=["create-admin", "13600000002", "--password", "secret-123", "--name", "钱管理"])
    assert result.exit_code == 0, result.output
    users, orgs = accounts(db)
    assert ("钱管理", "13600000002", "admin", tree.street.id) in users
    assert len(orgs) == 7  # no new root


def test_named_root_is_created_with_that_name(app, db, runner):
    result = runner.invoke(args=["create-admin", "13600000003", "--password", "secret-123", "--name", "孙管理",
                                 "--org", " 西湖街道党工委 "])
    assert result.exit_code == 0, result.output
    assert [o[1] for o in accounts(db)[1]] == ["西湖街道党工委"]


@pytest.mark.parametrize("args, message", [
    (["1360000", "--password", "secret-123", "--name", "周管理"], "11位"),
    (["13600000004", "--password", "short", "--name", "周管理"], "密码至少8位"),
    (["13600000004", "--password", "secret-123", "--name", "  "], "姓名不能为空"),
    (["13600000004", "--password", "secret-123", "--name", "名" * 51], "不超过50个字"),
    (["13600000004", "--password", "secret-123", "--name", "周\n管理"], "控制字符"),
    (["13600000004", "--password", "secret-123", "--name", "周管理", "--org", "街" * 101], "不超过100个字"),
], ids=["phone", "password", "empty-name", "long-name", "newline-name", "long-org"])
def test_bad_input_is_refused_and_nothing_stored(app, db, runner, args, message):
    result = runner.invoke(args=["create-admin", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert accounts(db) == ([], [])


def test_phone_already_used_is_refused(tree, db, runner):
    before = accounts(db)
    result = runner.invoke(args=["create-admin", tree.m11.phone, "--password", "secret-123", "--name", "冒名"])
    assert result.exit_code == 1
    assert f"手机号 {tree.m11.phone} 已被使用" in result.output
    assert accounts(db) == before
