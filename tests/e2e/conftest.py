"""Browser tests: the app on a local port with demo data, driven by Debian's Chromium at phone size.

These run on SQLite only (their own migrated file), not through the parametrized ``app`` fixture.
"""
from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import BASE_CONFIG, REQUIRE_SERVICES

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def _unavailable(reason: str):
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@dataclass
class LiveServer:
    """The running app: its base URL, the app object and the demo logins (label, phone, password)."""

    url: str
    app: Flask
    logins: list[tuple[str, str, str]] = field(default_factory=list)

    def path_for(self, endpoint: str, **values) -> str:
        from flask import url_for

        with self.app.test_request_context():
            return url_for(endpoint, **values)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The app on a free 127.0.0.1 port in a background thread, with its own migrated SQLite file and demo data."""
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from app import create_app
    from app.demo import load_demo
    from app.extensions import db

    folder = tmp_path_factory.mktemp("live")
    app = create_app({
        **BASE_CONFIG,
        "TESTING": False,
        "WTF_CSRF_ENABLED": True,
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'live.sqlite3'}",
        "UPLOAD_DIR": str(folder / "uploads"),
    })
    with app.app_context():
        upgrade(directory=str(MIGRATIONS))
        logins = load_demo()
        db.session.remove()

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app, logins=logins)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium from the system (never a downloaded build)."""
    if not (shutil.which(CHROMIUM_PATH) or os.access(CHROMIUM_PATH, os.X_OK)):
        _unavailable(f"Chromium not found at {CHROMIUM_PATH} (install Debian's chromium or set CHROMIUM_PATH)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def console_errors():
    """Console errors and uncaught page errors (CSP violations show up here)."""
    return []


@pytest.fixture
def page(browser, console_errors):
    """A fresh phone-sized page (360x740, 2x, touch) with its own cookies."""
    context = browser.new_context(**PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()


def login(page, base_url: str, phone: str, password: str):
    """Log in through the real form and wait for the page the app lands on."""
    page.goto(f"{base_url}/login")
    page.fill("#phone", phone)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    return page


def has_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


SMALL_TARGETS_JS = """
() => {
  const out = [];
  const sel = 'button, select, textarea, input:not([type=hidden]), a.button, .nav a, .footer a';
  for (const el of document.querySelectorAll(sel)) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || getComputedStyle(el).visibility === 'hidden') continue;
    let h = r.height;
    if (el.type === 'checkbox' || el.type === 'radio') {
      const label = el.closest('label');
      h = label ? label.getBoundingClientRect().height : h;
    }
    if (h < 43.5) out.push(`${el.tagName.toLowerCase()} "${(el.innerText || el.name || '').trim()}" ${Math.round(h)}px`);
  }
  return out;
}
"""


def small_touch_targets(page) -> list[str]:
    """Buttons, fields and navigation links lower than 44 CSS px."""
    return page.evaluate(SMALL_TARGETS_JS)


def phone_check(page, tmp_path, name: str, *, touch: bool = True) -> None:
    """A page as a phone user sees it: no sideways scrolling at 360 px, (optionally) no small
    touch targets, and a full-page screenshot ``<name>.png`` in ``tmp_path``."""
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    assert page.evaluate("window.innerWidth") == 360
    assert not has_horizontal_scroll(page), f"{name}: {page.url} scrolls sideways at 360 px"
    if touch:
        assert small_touch_targets(page) == [], f"{name}: {page.url}"
