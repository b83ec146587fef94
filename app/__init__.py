"""先锋指数 (Vanguard Index): the application factory."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from flask import Flask, request, session
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.config import Config
from app.extensions import babel, csrf, db, limiter, login_manager, migrate
from app import sqlite_gate  # noqa: F401  (SQLite writers queue in the kernel, see the module)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """WAL, foreign keys and a busy timeout on every SQLite connection."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def select_locale() -> str:
    lang = session.get("lang") if request else None
    return lang if lang in ("zh", "en") else "zh"


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
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
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    os.makedirs(app.config["UPLOAD_DIR"], exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录。"
    login_manager.login_message_category = "info"
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_timezone=app.config["TIMEZONE"])

    from app import models  # noqa: F401 - every model registered with the metadata
    from app.api import health as health_api, init_app as init_api
    from app.auth import api as auth_api, views as auth_views
    from app.orgs import api as orgs_api, views as orgs_views
    from app.points import api as points_api, index_api, index_views, views as points_views
    from app.assessments import api as assessments_api, views as assessments_views
    from app.contests import api as contests_api, views as contests_views
    from app.qr import api as qr_api, views as qr_views

    api = init_api(app)
    for blp in (auth_api.blp, orgs_api.blp, points_api.blp, index_api.blp, assessments_api.blp,
                contests_api.blp, qr_api.blp, health_api.blp):
        csrf.exempt(blp)  # the API authenticates with bearer tokens, never with cookies
        api.register_blueprint(blp)
    for bp in (auth_views.bp, orgs_views.bp, points_views.bp, index_views.bp, assessments_views.bp,
               contests_views.bp, qr_views.bp):
        app.register_blueprint(bp)

    from app import cli, templating

    cli.init_app(app)
    templating.init_app(app)

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

    return app
