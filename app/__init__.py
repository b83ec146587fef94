"""先锋指数 (Vanguard Index): the application factory."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import unquote_to_bytes

from flask import Flask, abort, request, session
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.routing import IntegerConverter

from app.config import Config
from app.ids import MAX_ID
from app.json_provider import JSONProvider
from app.extensions import babel, csrf, db, limiter, login_manager, migrate
from app import sqlite_gate  # noqa: F401  (SQLite writers queue in the kernel, see the module)
from app.xlsx import CONTROL_CHARACTERS, safe_workbook_cells

safe_workbook_cells()

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


# Reads of an SQLite file through a memory map instead of a read() call per page: a member's 50
# entries are about 50 pages, and at 100,000 members the statement took 0.23 ms with the calls
# and 0.15 ms mapped (bench/RESULTS.md). The file's pages are the kernel's page cache, shared by
# all connections and processes, so this costs address space, not memory. SQLite caps the size
# at its compile-time maximum (2 GiB in Debian's build); the rest of a larger file is read.
SQLITE_MMAP_BYTES = 2 * 1024**3


def _is_utf8_form(raw: bytes) -> bool:
    """Whether an urlencoded body or query string decodes to UTF-8 text."""
    if b"%" not in raw and raw.isascii():
        return True
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """WAL, foreign keys, recursive triggers, a busy timeout and memory-mapped reads on every
    SQLite connection."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # REPLACE deletes the row it replaces without firing DELETE triggers unless this is on:
        # with it, the ledger's append-only trigger refuses a REPLACE INTO ledger_entries too
        cursor.execute("PRAGMA recursive_triggers=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.close()


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: a number beyond what an id column holds is simply not found
    (404), instead of an overflow inside the database driver.

    Such a number still matches the route, as the id -1 that no row has: refusing it in the
    converter made Werkzeug answer 405 where one path has a rule per method (GET, PUT, DELETE).
    """

    NO_SUCH_ID = -1

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        return number if number <= MAX_ID else self.NO_SUCH_ID


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions; over HTTPS every cookie of the response is made Secure.

    Saving the session is the last step of a response, after every ``after_request`` hook, so the
    session cookie, Flask-Login's remember-me cookie and any other get the flag whatever the config.
    """

    def save_session(self, app, session, response) -> None:
        super().save_session(app, session, response)
        if request.is_secure:
            cookies = response.headers.getlist("Set-Cookie")
            if any("; secure" not in c.lower() for c in cookies):
                response.headers.setlist(
                    "Set-Cookie", [c if "; secure" in c.lower() else c + "; Secure" for c in cookies])


def select_locale() -> str:
    lang = session.get("lang") if request else None
    return lang if lang in ("zh", "en") else "zh"


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.json = JSONProvider(app)
    app.url_map.converters["int"] = IdConverter
    app.session_interface = SessionInterface()
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(Config(app.instance_path).as_dict())
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY must be set in production (APP_ENV=production).")
    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    os.makedirs(app.config["UPLOAD_DIR"], exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录。"
    login_manager.login_message_category = "info"
    @app.before_request
    def room_for_a_photo():
        """The claim form takes a photo as the phone's camera wrote it; every other request keeps
        the app's limit (before CSRF protection, which reads the form)."""
        if request.endpoint == "points.claim_new" and request.method == "POST":
            from app.points.evidence import max_bytes

            request.max_content_length = max_bytes() + 1024 * 1024

    csrf.init_app(app)
    limiter.init_app(app)
    from app.templating import compile_translations

    # (not app.logger: making it here adds Flask's stderr handler to the "app" logger, and every
    # line the scheduler's own logging prints would be printed twice)
    compile_translations(os.path.join(app.root_path, "translations"))
    babel.init_app(app, locale_selector=select_locale, default_timezone=app.config["TIMEZONE"])

    from app import models  # noqa: F401 - every model registered with the metadata
    from app.api import health as health_api, init_app as init_api
    from app.auth import api as auth_api, views as auth_views
    from app.orgs import api as orgs_api, views as orgs_views
    from app.points import api as points_api, index_api, index_views, views as points_views
    from app.assessments import api as assessments_api, views as assessments_views
    from app.contests import api as contests_api, views as contests_views
    from app.qr import api as qr_api, views as qr_views
    from app.targets import api as targets_api, views as targets_views

    api = init_api(app)
    for blp in (auth_api.blp, orgs_api.blp, points_api.blp, index_api.blp, assessments_api.blp,
                contests_api.blp, qr_api.blp, targets_api.blp, health_api.blp):
        csrf.exempt(blp)  # the API authenticates with bearer tokens, never with cookies
        api.register_blueprint(blp)
    for bp in (auth_views.bp, orgs_views.bp, points_views.bp, index_views.bp, assessments_views.bp,
               contests_views.bp, qr_views.bp, targets_views.bp):
        app.register_blueprint(bp)

    from app import cli, templating

    cli.init_app(app)
    templating.init_app(app)

    @app.before_request
    def refuse_characters_no_text_holds():
        """400 for a query or form value that no text column stores or shows: a NUL (PostgreSQL
        refuses it), another control character but tab and line breaks (an .xlsx cannot hold
        it), or bytes that are not UTF-8 (Werkzeug would keep them as "%FF" text)."""
        if request.mimetype == "application/x-www-form-urlencoded" and not _is_utf8_form(request.get_data(cache=True)):
            abort(400)
        if not _is_utf8_form(request.query_string):
            abort(400)
        for values in (request.args, request.form):
            if any(CONTROL_CHARACTERS.search(v) for _key, vs in values.lists() for v in vs):
                abort(400)

    @app.after_request
    def security_headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.is_secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    from app.points.index import IndexConfig

    # index weights and ceilings from the environment: refuse to start on figures that cannot work
    IndexConfig.from_mapping(app.config["INDEX_WEIGHTS"], app.config["INDEX_CEILINGS"])
    return app
