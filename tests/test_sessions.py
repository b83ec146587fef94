"""Sessions, remember cookies and tokens end when the password changes or the account stops."""
from __future__ import annotations

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


def test_a_session_id_without_the_password_stamp_is_no_login(app, tree):
    """An id alone (a cookie forged or made before the stamp) logs nobody in."""
    c = app.test_client()
    with c.session_transaction() as s:
        s["_user_id"] = str(tree.m11.id)
        s["_fresh"] = True
    assert not logged_in(c)
    with c.session_transaction() as s:
        s["_user_id"] = f"{tree.m11.id}:{'0' * 24}"
    assert not logged_in(c)
