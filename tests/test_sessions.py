"""Sessions, remember cookies and tokens end when the user logs out (that device only), the
password changes or the account stops: each login is a row (app.auth.models.LoginSession)."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from tests.conftest import PASSWORD


def logged_in(client) -> bool:
    r = client.get("/account")
    return r.status_code == 200


def remembered(app, phone, password=PASSWORD):
    """A client logged in with "remember me", and a second client holding only its remember cookie."""
    c = app.test_client()
    assert c.post("/login", data={"phone": phone, "password": password, "remember": "y"}).status_code == 302
    cookie = c.get_cookie("remember_token")
    assert cookie is not None
    bare = app.test_client()
    bare.set_cookie("remember_token", cookie.value)
    return c, bare


def test_own_password_change_ends_the_other_sessions_and_keeps_this_one(app, tree, login_as, api_as):
    phone_session, laptop = login_as(tree.m11), login_as(tree.m11)
    kept, remember_only = remembered(app, tree.m11.phone)
    assert logged_in(remember_only)
    api = api_as(tree.m11)
    r = laptop.post("/account/password", data={"current": PASSWORD, "new": "another-secret-9"}, follow_redirects=True)
    assert "密码已修改。" in r.get_data(as_text=True)
    assert logged_in(laptop)                      # the session that changed it goes on
    assert not logged_in(phone_session)           # a session of the old password has ended
    assert not logged_in(kept)
    assert not logged_in(remember_only)           # and so has a remember cookie of it
    assert api.get("/api/v1/me").status_code == 200  # phone-client tokens stay (listed on the account page)


def test_a_reset_password_ends_sessions_remember_cookies_and_tokens(app, tree, login_as, api_as):
    member_page = login_as(tree.m11)
    _kept, remember_only = remembered(app, tree.m11.phone)
    api = api_as(tree.m11)
    sec = login_as(tree.sec_c1)
    r = sec.post(f"/orgs/members/{tree.m11.id}/edit", data={
        "name": tree.m11.name, "org_id": str(tree.m11.org_id), "role": "member", "active": "y",
        "password": "reset-pass-123"})
    assert r.status_code == 302, r.get_data(as_text=True)
    assert not logged_in(member_page) and not logged_in(remember_only)
    assert api.get("/api/v1/me").status_code == 401
    fresh = app.test_client()
    assert fresh.post("/login", data={"phone": tree.m11.phone, "password": "reset-pass-123"}).status_code == 302
    assert logged_in(fresh)


def test_a_stopped_account_started_again_does_not_get_its_old_tokens_back(tree, api_as, db):
    from app.orgs import services

    api = api_as(tree.m11)
    services.update_member(tree.sec_c1, tree.m11.id, active=False)
    assert api.get("/api/v1/me").status_code == 401
    services.update_member(tree.sec_c1, tree.m11.id, active=True)
    assert api.get("/api/v1/me").status_code == 401
    assert api_as(tree.m11).get("/api/v1/me").status_code == 200  # a new token works


def copy_of(app, client, name="session"):
    """A second client holding only a copy of ``client``'s cookie ``name``."""
    cookie = client.get_cookie(name)
    assert cookie is not None
    copy = app.test_client()
    copy.set_cookie(name, cookie.value)
    return copy


def live_logins(db, user) -> int:
    from app.auth.models import LoginSession

    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(LoginSession)
                             .where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None)))


def test_logging_out_ends_copies_of_the_session_and_remember_cookies(app, tree, login_as, db):
    other_phone = login_as(tree.m11)
    c, _remember_only = remembered(app, tree.m11.phone)
    copied_session, copied_remember = copy_of(app, c), copy_of(app, c, "remember_token")
    assert logged_in(copied_session) and logged_in(copied_remember)
    r = c.post("/logout", follow_redirects=True)
    assert "您已退出登录。" in r.get_data(as_text=True)
    assert not logged_in(c)
    assert not logged_in(copied_session)          # a copy of the cookie taken before has ended too
    assert not logged_in(copied_remember)         # and so has one of the remember cookie
    assert logged_in(other_phone)                 # the member's other phone stays logged in
    assert live_logins(db, tree.m11) == 1


def test_logging_out_of_a_session_restored_from_the_remember_cookie_ends_it(app, tree, db):
    _c, remember_only = remembered(app, tree.m11.phone)
    assert logged_in(remember_only)               # the session comes back from the remember cookie
    copied = copy_of(app, remember_only, "remember_token")
    remember_only.post("/logout")
    assert not logged_in(remember_only) and not logged_in(copied)
    assert live_logins(db, tree.m11) == 0


def test_each_login_has_its_own_random_key(app, tree, login_as, db):
    from app.auth.models import LoginSession

    a, b = login_as(tree.m11), login_as(tree.m11)
    keys = {c.get_cookie("session").value for c in (a, b)}
    assert len(keys) == 2
    rows = db.session.scalars(sa.select(LoginSession).where(LoginSession.user_id == tree.m11.id)).all()
    assert len(rows) == 2 and len({r.key_hash for r in rows}) == 2
    assert all(len(r.key_hash) == 64 and r.revoked_at is None for r in rows)


def test_a_changed_password_revokes_the_other_logins(app, tree, login_as, db):
    this, other = login_as(tree.m11), login_as(tree.m11)
    this.post("/account/password", data={"current": PASSWORD, "new": "another-secret-9"})
    assert logged_in(this) and not logged_in(other)
    assert live_logins(db, tree.m11) == 1


def test_a_stopped_account_started_again_does_not_get_its_old_logins_back(tree, login_as, db):
    from app.orgs import services

    page = login_as(tree.m11)
    services.update_member(tree.sec_c1, tree.m11.id, active=False)
    assert not logged_in(page)
    services.update_member(tree.sec_c1, tree.m11.id, active=True)
    assert not logged_in(page)
    assert live_logins(db, tree.m11) == 0
    assert logged_in(login_as(tree.m11))


def test_a_login_ends_after_its_lifetime(app, tree, login_as, db):
    from app.auth.models import LoginSession, login_session_lifetime

    page = login_as(tree.m11)
    assert logged_in(page)
    db.session.execute(sa.update(LoginSession).values(
        created_at=LoginSession.created_at - login_session_lifetime() - timedelta(minutes=1)))
    db.session.commit()
    assert not logged_in(page)


def test_the_nightly_job_prunes_ended_logins(app, tree, login_as, db):
    from app import scheduler
    from app.auth.models import LoginSession, login_session_lifetime
    from app.orgs.models import utcnow

    kept, out, old = login_as(tree.m11), login_as(tree.m11), login_as(tree.m12)
    out.post("/logout")
    db.session.execute(sa.update(LoginSession).where(LoginSession.user_id == tree.m12.id).values(
        created_at=utcnow() - login_session_lifetime() - timedelta(days=1)))
    db.session.commit()
    result = scheduler.run_job("nightly", utcnow() + timedelta(minutes=1))
    assert result.outcome == "done", result
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginSession)) == 1
    assert logged_in(kept)


def test_a_cookie_of_before_login_sessions_is_no_login(app, tree):
    """An id with its password stamp (the cookie before migration 0014), an id alone, or a key
    that was never issued logs nobody in."""
    import hashlib
    import hmac

    m = tree.m11
    stamp = hmac.new(b"test-secret", b"session:" + m.password_hash.encode(), hashlib.sha256).hexdigest()[:24]
    c = app.test_client()
    for value in (f"{m.id}:{stamp}", str(m.id), "x" * 43, "y" * 500):
        with c.session_transaction() as s:
            s["_user_id"] = value
            s["_fresh"] = True
        assert not logged_in(c), value


def test_a_member_logs_out_their_other_devices_from_the_account_page(app, tree, login_as):
    """A phone lost or lent: 退出其他设备 ends every other login of the account, this one goes on."""
    lost, laptop = login_as(tree.m11), login_as(tree.m11)
    _kept, remember_only = remembered(app, tree.m11.phone)
    someone_else = login_as(tree.m12)
    page = login_as(tree.m11)
    html = page.get("/account").get_data(as_text=True)
    assert "除本机外，您的账号还在 3 台设备上保持登录。" in html and "退出其他设备" in html
    r = page.post("/account/logins/end-others", follow_redirects=True)
    assert "已退出其他 3 台设备。" in r.get_data(as_text=True) and "只有本机在登录。" in r.get_data(as_text=True)
    assert logged_in(page) and logged_in(someone_else)
    assert not logged_in(lost) and not logged_in(laptop) and not logged_in(remember_only)
    r = page.post("/account/logins/end-others", follow_redirects=True)
    assert "没有其他设备在登录。" in r.get_data(as_text=True)
    assert app.test_client().post("/account/logins/end-others").status_code in (302, 401)


def test_a_phone_number_typed_with_spaces_dashes_or_86_logs_in(app, tree):
    """A number pasted from WeChat or a contact card: the login reads it as the member form and
    the roster do."""
    digits = tree.m11.phone
    spaced = f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    for typed in (spaced, f"{digits[:3]}-{digits[3:7]}-{digits[7:]}", f"+86 {digits}", f"\u3000{digits} "):
        c = app.test_client()
        assert c.post("/login", data={"phone": typed, "password": PASSWORD}).status_code == 302, typed
        assert logged_in(c)
    r = app.test_client().post("/api/v1/auth/token", json={"phone": f"+86-{spaced}", "password": PASSWORD})
    assert r.status_code in (200, 201) and r.get_json()["token"]
    r = app.test_client().post("/api/v1/auth/token", json={"phone": f"{digits}9", "password": PASSWORD})
    assert r.status_code == 401
