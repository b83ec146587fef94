"""Demo data: a believable street that loads once and whose demo logins work."""
from __future__ import annotations

import re

import sqlalchemy as sa

from app.auth.models import User
from app.demo import load_demo
from app.orgs.models import Org


def count(db, model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_demo_street_is_big_and_consistent(app, db, client):
    logins = load_demo()

    assert count(db, Org, Org.kind == "street") == 1
    assert count(db, Org, Org.kind == "community") >= 6
    assert count(db, Org, Org.kind == "branch") >= 20
    assert count(db, User, User.role == "member") >= 500
    assert count(db, User, User.role == "admin") == 1

    orgs = db.session.scalars(sa.select(Org)).all()
    by_id = {o.id: o for o in orgs}
    for org in orgs:
        parent_path = by_id[org.parent_id].path if org.parent_id else "/"
        assert org.path == f"{parent_path}{org.id}/"
        assert org.depth == org.path.count("/") - 2

    # Every community and every branch has its own secretary.
    led = set(db.session.scalars(sa.select(User.org_id).where(User.role == "secretary")))
    assert {o.id for o in orgs if o.kind in ("community", "branch")} <= led

    phones = db.session.scalars(sa.select(User.phone)).all()
    assert len(phones) == len(set(phones))
    assert all(re.fullmatch(r"1[3-9]\d{9}", p) for p in phones)
    names = db.session.scalars(sa.select(User.name)).all()
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,3}", n) for n in names)

    assert [phone for _, phone, _ in logins] == ["13800000000", "13800000001", "13800000002", "13800000003"]
    users = {u.phone: u for u in db.session.scalars(sa.select(User).where(User.phone.in_([p for _, p, _ in logins])))}
    admin, community_sec, branch_sec, member = (users[p] for _, p, _ in logins)
    assert admin.role == "admin" and admin.org.kind == "street"
    assert community_sec.role == "secretary" and community_sec.org.kind == "community"
    assert branch_sec.role == "secretary" and branch_sec.org.parent_id == community_sec.org_id
    assert member.role == "member" and member.org_id == branch_sec.org_id

    for label, phone, password in logins:
        r = client.post("/api/v1/auth/token", json={"phone": phone, "password": password})
        assert r.status_code == 200, (label, r.get_json())
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {r.get_json()['token']}"})
        assert me.get_json()["phone"] == phone


def test_demo_is_reproducible(app, db, sqlite_template, tmp_path):
    """The same seed builds the same street, here on this database and on a fresh SQLite file."""
    import shutil

    from app import create_app
    from tests.conftest import BASE_CONFIG

    load_demo(seed=7)
    first = db.session.execute(sa.select(User.name, User.phone).order_by(User.id)).all()
    fresh = tmp_path / "again.sqlite3"
    shutil.copy(sqlite_template, fresh)
    other = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{fresh}",
                        "UPLOAD_DIR": str(tmp_path / "up2")})
    with other.app_context():
        load_demo(seed=7)
        again = db.session.execute(sa.select(User.name, User.phone).order_by(User.id)).all()
        db.session.remove()
        db.engine.dispose()
    assert again == first


def test_demo_load_if_empty_runs_once(app, db, runner):
    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "13800000000" in result.output and "demo12345" in result.output
    users, orgs = count(db, User), count(db, Org)
    assert users > 500

    again = runner.invoke(args=["demo", "load", "--if-empty"])
    assert again.exit_code == 0, again.output
    assert "跳过" in again.output
    assert "13800000003 / demo12345" in again.output  # the logins are shown again for `make run`
    db.session.expire_all()
    assert (count(db, User), count(db, Org)) == (users, orgs)


def test_demo_load_refuses_a_second_street(app, db, runner):
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    users = count(db, User)
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code != 0
    assert "演示账号已存在" in result.output
    db.session.expire_all()
    assert count(db, User) == users
