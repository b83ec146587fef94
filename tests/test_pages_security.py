"""Pages as a person meets them: login, start pages, CSRF, headers, cookies, errors, limits, tokens."""
from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from flask import url_for

from app import create_app
from app.auth.views import START_PAGES
from tests.conftest import BASE_CONFIG, PASSWORD


@pytest.fixture
def settings():
    """Extra app settings; a test changes them with ``@pytest.mark.parametrize("settings", [...])``."""
    return {}


@pytest.fixture
def app_config(app_config, settings):
    return {**app_config, **settings}


def csrf_token_of(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def start_path(app, role: str) -> str:
    with app.test_request_context():
        return url_for(START_PAGES[role])


def test_login_page_renders(client):
    r = client.get("/login")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert r.mimetype == "text/html"
    assert "<h1>登录</h1>" in html
    assert 'name="phone"' in html and 'name="password"' in html and 'type="password"' in html


def test_anonymous_pages_redirect_to_login(client):
    r = client.get("/account")
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("password", ["wrong-password", ""])
def test_bad_password_shows_chinese_error_and_does_not_log_in(tree, client, password):
    r = client.post("/login", data={"phone": tree.m11.phone, "password": password})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "手机号或密码错误" in html or "请输入密码" in html
    assert "退出登录" not in html
    assert client.get("/account").status_code == 302


def test_unknown_phone_and_inactive_user_get_the_same_error(tree, client, make_user):
    gone = make_user(tree.b11, active=False)
    for phone in ("13999999999", gone.phone):
        r = client.post("/login", data={"phone": phone, "password": PASSWORD})
        assert r.status_code == 200
        assert "手机号或密码错误" in r.get_data(as_text=True)
    assert client.get("/account").status_code == 302


@pytest.mark.parametrize("who", ["m11", "sec_b11", "sec_c1", "admin"])
def test_each_role_lands_on_its_start_page(app, tree, client, who):
    user = getattr(tree, who)
    r = client.post("/login", data={"phone": user.phone, "password": PASSWORD}, follow_redirects=True)
    assert r.status_code == 200
    assert r.request.path == start_path(app, user.role)
    html = r.get_data(as_text=True)
    assert user.name in html and "退出登录" in html


def test_logout_is_post_only(tree, login_as):
    client = login_as(tree.m11)
    r = client.get("/logout")
    assert r.status_code == 405
    assert "不支持该请求方法" in r.get_data(as_text=True)
    assert client.get("/account").status_code == 200  # still logged in

    r = client.post("/logout", follow_redirects=True)
    assert r.request.path == "/login"
    assert "您已退出登录" in r.get_data(as_text=True)
    assert client.get("/account").status_code == 302


@pytest.mark.parametrize("settings", [{"WTF_CSRF_ENABLED": True}], ids=["csrf"])
def test_csrf_is_enforced_on_forms(tree, client):
    data = {"phone": tree.m11.phone, "password": PASSWORD}
    r = client.post("/login", data=data)
    assert r.status_code == 400
    assert r.mimetype == "text/html"
    assert "页面已过期或表单无效" in r.get_data(as_text=True)
    assert client.get("/account").status_code == 302

    r = client.post("/login", data={**data, "csrf_token": "forged"})
    assert r.status_code == 400
    # posted from one of our pages (a session lost while the form was open): that page again,
    # fresh, saying why; from another site: the error page, nothing followed
    r = client.post("/login", data=data, headers={"Referer": "http://localhost/login?next=/account"})
    assert r.status_code == 303 and r.headers["Location"] == "/login?next=/account"
    assert "页面已过期，请重新填写后再提交。" in client.get(r.headers["Location"]).get_data(as_text=True)
    r = client.post("/login", data=data, headers={"Referer": "http://evil.example/login"})
    assert r.status_code == 400
    assert client.get("/account").status_code == 302

    token = csrf_token_of(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={**data, "csrf_token": token})
    assert r.status_code == 302
    account = client.get("/account")
    assert account.status_code == 200

    # Logging out needs the token too.
    assert client.post("/logout").status_code == 400
    assert client.get("/account").status_code == 200
    token = csrf_token_of(account.get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/account").status_code == 302


@pytest.mark.parametrize("settings", [{"WTF_CSRF_ENABLED": True}], ids=["csrf"])
def test_api_needs_no_csrf_token(tree, client):
    r = client.post("/api/v1/auth/token", json={"phone": tree.m11.phone, "password": PASSWORD})
    assert r.status_code == 200


def csp_directives(value: str) -> dict[str, list[str]]:
    out = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


@pytest.mark.parametrize("path", ["/login", "/no-such-page", "/api/v1/me", "/api/v1/openapi.json"])
def test_security_headers(client, path):
    r = client.get(path)
    csp = csp_directives(r.headers["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp.get("style-src", [])
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] in ("same-origin", "strict-origin-when-cross-origin", "no-referrer")
    assert r.headers["X-Frame-Options"] == "DENY"


def test_pages_have_no_inline_scripts_or_styles(tree, login_as):
    client = login_as(tree.admin)
    for path in ("/login", "/account", "/orgs/"):
        html = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert " style=" not in html and "<style" not in html, path


def session_cookie(response, name: str = "session") -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(name + "=")]
    assert cookies, response.headers
    return cookies[-1]


def test_session_cookie_flags(tree, client):
    r = client.post("/login", data={"phone": tree.m11.phone, "password": PASSWORD, "remember": "y"})
    assert r.status_code == 302
    for name in ("session", "remember_token"):
        cookie = session_cookie(r, name).lower()
        assert "; httponly" in cookie
        assert "; samesite=lax" in cookie
        assert "; secure" not in cookie


@pytest.mark.parametrize("settings", [{}, {"SESSION_COOKIE_SECURE": True, "REMEMBER_COOKIE_SECURE": True}],
                         ids=["by-request", "configured"])
def test_cookies_are_secure_over_https(tree, client):
    """Over HTTPS the cookies are Secure, whether configured so (production) or not (development)."""
    r = client.post("/login", data={"phone": tree.m11.phone, "password": PASSWORD, "remember": "y"},
                    base_url="https://localhost")
    assert r.status_code == 302
    for name in ("session", "remember_token"):
        cookie = session_cookie(r, name).lower()
        assert "; secure" in cookie and "; httponly" in cookie and "; samesite=lax" in cookie
    assert "max-age=" in r.headers["Strict-Transport-Security"]


def test_nul_character_in_a_form_or_query_is_a_400_page(tree, client, login_as):
    r = client.post("/login", data={"phone": "138\x0000000000", "password": PASSWORD})
    assert r.status_code == 400 and "请求格式有误" in r.get_data(as_text=True)
    page = login_as(tree.sec_c1)
    r = page.get("/orgs/members?q=%00")
    assert r.status_code == 400 and r.mimetype == "text/html"
    r = page.post("/orgs/new", data={"name": "坏\x00名", "kind": "branch", "parent_id": str(tree.c1.id)})
    assert r.status_code == 400
    assert "坏" not in page.get("/orgs/").get_data(as_text=True)


def test_control_characters_and_bytes_that_are_not_utf8_are_a_400_page(tree, login_as, db):
    """What no column or workbook holds: an escape or bell character (a reversal reason stored
    with one broke every Excel export of that member), or bytes that are not UTF-8 (Werkzeug
    kept them as the text "%FF%FE"). Tab and line breaks in a text area stay fine."""
    from app.orgs.models import Org

    page = login_as(tree.sec_c1)
    before = db.session.scalar(db.select(db.func.count(Org.id)))
    for body in ("name=%E5%9D%8F%1B%5B31m&kind=branch", "name=%FF%FE%C3%28&kind=branch", "name=x%07&kind=branch"):
        r = page.post("/orgs/new", data=f"{body}&parent_id={tree.c1.id}".encode(),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 400 and "请求格式有误" in r.get_data(as_text=True), body
    assert page.get("/orgs/members?q=%FF%FE").status_code == 400
    assert page.get("/orgs/members?q=%1B").status_code == 400
    assert db.session.scalar(db.select(db.func.count(Org.id))) == before
    assert page.get("/orgs/members?q=%E5%BC%A0%09").status_code == 200  # 张 and a tab


def test_control_characters_in_json_are_malformed(tree, api_as, db):
    from app.points.models import LedgerEntry

    before = db.session.scalar(db.select(db.func.count(LedgerEntry.id)))
    r = api_as(tree.sec_c1).post("/api/v1/awards", json={"member_id": tree.m11.id, "rule_code": "x",
                                                         "note": "x\x01\x07\x1b[31m"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "malformed_json"
    assert "\\x1b" in r.get_json()["error"]["message"] or "\\x01" in r.get_json()["error"]["message"]
    assert db.session.scalar(db.select(db.func.count(LedgerEntry.id))) == before


@pytest.mark.parametrize("target", ["https://evil.example/steal", "//evil.example/steal", "http:/evil.example",
                                    "javascript:alert(1)", "\\\\evil.example", "/\\evil.example",
                                    "/\t/evil.example", " //evil.example"])
def test_next_never_leaves_the_site(app, tree, client, target):
    r = client.post("/login", query_string={"next": target},
                    data={"phone": tree.m11.phone, "password": PASSWORD})
    assert r.status_code == 302
    assert stays_on_site(r.headers["Location"])

    r = client.get("/lang/zh", query_string={"next": target})
    assert stays_on_site(r.headers["Location"])


def stays_on_site(location: str) -> bool:
    """Where a browser goes: same scheme and host, and nothing a browser would read as a slash."""
    if any(c in location for c in "\\\t\r\n ") or location.lower().startswith("javascript:"):
        return False
    target = urljoin("http://localhost/login", location)
    return urlsplit(target)[:2] == ("http", "localhost")


def test_next_within_the_site_is_followed(tree, client):
    r = client.post("/login?next=/account", data={"phone": tree.sec_b11.phone, "password": PASSWORD})
    assert r.status_code == 302
    assert r.headers["Location"] == "/account"


def test_404_is_a_chinese_page_for_pages_and_json_for_the_api(client):
    r = client.get("/no-such-page")
    assert r.status_code == 404
    assert r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert "您要找的内容不存在" in html and 'lang="zh-CN"' in html

    r = client.get("/api/v1/no-such-thing")
    assert r.status_code == 404
    assert r.mimetype == "application/json"
    assert r.get_json() == {"error": {"code": "not_found", "message": "您要找的内容不存在。"}}


@pytest.mark.parametrize("settings", [{"RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute"}],
                         ids=["limited"])
def test_login_post_is_rate_limited(tree, client):
    for _ in range(3):
        r = client.post("/login", data={"phone": tree.m11.phone, "password": "wrong-password"})
        assert r.status_code == 200
    r = client.post("/login", data={"phone": tree.m11.phone, "password": PASSWORD})
    assert r.status_code == 429
    assert r.mimetype == "text/html"
    assert "操作太频繁" in r.get_data(as_text=True)
    assert client.get("/account").status_code == 302  # the right password did not get through
    assert client.get("/login").status_code == 200  # only the POST is limited


@pytest.mark.parametrize("settings", [{"RATELIMIT_ENABLED": True, "LOGIN_PHONE_RATE_LIMIT": "3 per hour"}],
                         ids=["limited"])
def test_login_guesses_for_one_phone_stop_across_addresses_and_share_the_api_budget(app, tree):
    def from_address(n):
        c = app.test_client()
        c.environ_base["REMOTE_ADDR"] = f"10.0.1.{n}"
        return c

    for n in range(2):
        assert from_address(n).post("/login", data={"phone": tree.m11.phone, "password": "bad"}).status_code == 200
    api = from_address(2).post("/api/v1/auth/token", json={"phone": tree.m11.phone, "password": "bad"})
    assert api.status_code == 401
    c = from_address(3)
    r = c.post("/login", data={"phone": tree.m11.phone, "password": PASSWORD})
    assert r.status_code == 429 and r.mimetype == "text/html"
    assert "操作太频繁" in r.get_data(as_text=True)
    assert c.get("/account").status_code == 302
    assert from_address(3).post("/login", data={"phone": tree.m12.phone, "password": PASSWORD}).status_code == 302


def test_production_refuses_to_start_without_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    config = {k: v for k, v in BASE_CONFIG.items() if k != "SECRET_KEY"}
    config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/x.sqlite3", UPLOAD_DIR=str(tmp_path / "up"))
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(config)


def test_production_with_secret_key_uses_secure_cookies(monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-long-production-secret")
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.sqlite3",
                      "UPLOAD_DIR": str(tmp_path / "up")})
    assert app.config["SECRET_KEY"] == "a-long-production-secret"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


def test_configuration_comes_from_the_environment(monkeypatch, tmp_path):
    from app.config import DEV_SECRET_KEY, Config

    for name in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL", "APP_ENV", "FLASK_ENV"):
        monkeypatch.delenv(name, raising=False)
    dev = Config(str(tmp_path))
    assert dev.SQLALCHEMY_DATABASE_URI == f"sqlite:///{tmp_path / 'vanguard.sqlite3'}"
    assert dev.SECRET_KEY == DEV_SECRET_KEY and dev.RATELIMIT_STORAGE_URI == "memory://"
    monkeypatch.setenv("DATABASE_URL", "postgres://vanguard:pw@db-host/vanguard")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    prod = Config(str(tmp_path))
    assert prod.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://vanguard:pw@db-host/vanguard"
    assert prod.RATELIMIT_STORAGE_URI == "redis://127.0.0.1:6379/0"


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app, db):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # reads through a memory map (SQLite caps the size at its build's maximum)
        assert conn.exec_driver_sql("PRAGMA mmap_size").scalar() >= 256 * 1024**2
    from app.auth.models import User

    db.session.add(User(name="无组织", phone="13600009999", password_hash="x", role="member", org_id=424242))
    with pytest.raises(Exception, match="FOREIGN KEY"):
        db.session.commit()
    db.session.rollback()


def test_english_after_lang_en(client):
    r = client.get("/lang/en?next=/login")
    assert r.headers["Location"] == "/login"
    html = client.get("/login").get_data(as_text=True)
    assert "<h1>Log in</h1>" in html
    assert "Mobile number" in html and 'lang="en"' in html
    assert "登录" not in html

    client.get("/lang/zh")
    assert "<h1>登录</h1>" in client.get("/login").get_data(as_text=True)


def test_unknown_language_keeps_chinese(client):
    client.get("/lang/fr")
    assert "<h1>登录</h1>" in client.get("/login").get_data(as_text=True)


def test_account_token_create_list_revoke(tree, login_as, client):
    page = login_as(tree.m11)
    r = page.post("/account/tokens", data={"label": "社区小程序"}, follow_redirects=True)
    assert r.request.path == "/account"
    html = r.get_data(as_text=True)
    assert "新令牌已生成" in html and "社区小程序" in html
    raw = re.search(r'<code class="token">([^<]+)</code>', html).group(1)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert me.status_code == 200 and me.get_json()["name"] == tree.m11.name

    html = page.get("/account").get_data(as_text=True)
    assert raw not in html  # shown only once
    assert "社区小程序" in html
    revoke = re.search(r'action="(/account/tokens/\d+/revoke)"', html).group(1)

    # Someone else cannot revoke it.
    other = login_as(tree.m12)
    r = other.post(revoke, follow_redirects=True)
    assert "找不到该令牌" in r.get_data(as_text=True)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200

    r = page.post(revoke, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "令牌已吊销" in html and "已吊销" in html
    assert revoke not in html
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert me.status_code == 401
    assert me.get_json()["error"]["code"] == "invalid_token"


def test_token_label_too_long_is_a_readable_error(tree, login_as):
    page = login_as(tree.m11)
    r = page.post("/account/tokens", data={"label": "长" * 101}, follow_redirects=True)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert html.count("令牌用途不超过100个字") == 1 and 'class="token"' not in html
    assert 'value="' + "长" * 101 + '"' in html  # what was typed stays in the field


def test_password_change_messages(tree, login_as, db):
    page = login_as(tree.m11)  # the test tree's password: see tests/conftest.py
    from tests.conftest import PASSWORD

    def change(new, current=PASSWORD):
        return page.post("/account/password", data={"current": current, "new": new},
                         follow_redirects=True).get_data(as_text=True)

    assert "新密码不超过200位。" in change("x" * 201)
    assert "新密码至少8位。" in change("short")
    html = change(PASSWORD)
    assert "新密码与当前密码相同，请换一个。" in html and "密码已修改" not in html
    assert "密码已修改。" in change("another-secret-9")


def test_every_chinese_text_has_an_english_translation():
    """Each msgid marked in the code and templates has English in the catalogue (run `make translations`)."""
    from pathlib import Path

    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[1]
    with open(root / "babel.cfg", encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
    extracted = {
        (msgid if isinstance(msgid, str) else msgid[0])
        for _, _, msgid, _, _ in extract_from_dir(str(root / "app"), method_map, options_map, keywords=keywords)
    }
    with open(root / "app/translations/en/LC_MESSAGES/messages.po", "rb") as fh:
        catalog = read_po(fh, locale="en")
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id and "fuzzy" not in m.flags and (m.string if isinstance(m.string, str) else all(m.string))
    }
    missing = sorted(extracted - translated)
    assert not missing, "no English in messages.po for: " + " | ".join(missing)
