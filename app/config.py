"""Configuration read from the environment."""
from __future__ import annotations

import json
import os
from pathlib import Path

DEV_SECRET_KEY = "dev-only-not-for-production"


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int, low: int = 1) -> int:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        number = int(value)
    except ValueError:
        raise RuntimeError(f"{name} must be a whole number, got {value!r}") from None
    if number < low:
        raise RuntimeError(f"{name} must be at least {low}, got {number}")
    return number


def _categories(name: str, default: dict) -> dict:
    """A JSON object of the index categories (``{"study": 30, "service": 40, ...}``): the ones
    given replace the defaults; an unknown category or a non-number refuses to start."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return dict(default)
    try:
        given = json.loads(value)
    except ValueError:
        given = None
    if not isinstance(given, dict) or not all(
            k in default and isinstance(v, (int, float)) and not isinstance(v, bool) for k, v in given.items()):
        raise RuntimeError(f"{name} must be a JSON object of numbers over {', '.join(default)}, got {value!r}")
    return {**default, **given}


def normalize_database_url(url: str) -> str:
    """Make plain ``postgres://`` and ``postgresql://`` URLs use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def web_threads(database_url: str | None) -> int:
    """Threads per gunicorn worker (``-k gthread``) for a database: 1 on SQLite, 2 on PostgreSQL.

    A request here is mostly Python, which holds the GIL: a second thread in a worker only helps
    while the first waits for the database server, and every further thread adds GIL hand-offs
    that raise the tail latency (with 4 threads the reads' p99 was up to twice as high, at about
    the same requests a second; bench/RESULTS.md). SQLite runs in the worker itself, so one
    thread per worker; add workers, not threads, to use more cores.
    """
    return 2 if normalize_database_url(database_url or "").startswith("postgresql") else 1


class Config:
    """Settings from the environment, with an SQLite file under instance/ as fallback."""

    def __init__(self, instance_path: str):
        self.ENV_NAME = os.environ.get("APP_ENV", os.environ.get("FLASK_ENV", "development"))
        self.PRODUCTION = self.ENV_NAME == "production"
        default_db = "sqlite:///" + str(Path(instance_path) / "vanguard.sqlite3")
        self.SQLALCHEMY_DATABASE_URI = normalize_database_url(
            os.environ.get("DATABASE_URL", default_db)
        )
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or (None if self.PRODUCTION else DEV_SECRET_KEY)
        self.REDIS_URL = os.environ.get("REDIS_URL") or None
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
        self.RATELIMIT_HEADERS_ENABLED = True
        self.LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute")  # per account and address
        self.LOGIN_IP_RATE_LIMIT = os.environ.get("LOGIN_IP_RATE_LIMIT", "100 per minute")  # per address
        self.LOGIN_PHONE_RATE_LIMIT = os.environ.get("LOGIN_PHONE_RATE_LIMIT", "30 per hour")  # per account, any address
        # Number of reverse proxies in front of the app whose X-Forwarded-* headers are trusted
        # (the client IP then comes from X-Forwarded-For for rate limits and rating hashes).
        self.PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))
        self.PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
        self.BABEL_DEFAULT_LOCALE = "zh"
        self.BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
        self.LANGUAGES = ["zh", "en"]
        self.TIMEZONE = "Asia/Shanghai"
        self.PASSWORD_HASH_METHOD = os.environ.get("PASSWORD_HASH_METHOD", "scrypt")
        self.MAX_CONTENT_LENGTH = 6 * 1024 * 1024
        self.UPLOAD_DIR = os.environ.get("UPLOAD_DIR", str(Path(instance_path) / "uploads"))
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", self.PRODUCTION)
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.PREFERRED_URL_SCHEME = "https" if self.PRODUCTION else "http"
        self.WTF_CSRF_TIME_LIMIT = None
        # No pool pre-ping: it costs a round trip on every request. A connection the database
        # dropped (a restart) fails its request once with 503 (app.api.errors), the pool is
        # invalidated by SQLAlchemy and the next request reconnects.
        self.SQLALCHEMY_ENGINE_OPTIONS = {}
        # The Vanguard Index (app/points/index.py): yearly ceilings per category (a quarter uses
        # 1/4, a month 1/12) and weights summing to 100; at most one decimal each.
        self.INDEX_CEILINGS = _categories("INDEX_CEILINGS", {"study": 120, "service": 160, "innovation": 60, "rating": 20})
        self.INDEX_WEIGHTS = _categories("INDEX_WEIGHTS", {"study": 30, "service": 40, "innovation": 20, "rating": 10})
        self.CLAIM_WINDOW_DAYS = _int("CLAIM_WINDOW_DAYS", 60)
        self.PDF_FONT = os.environ.get("PDF_FONT") or None
        self.DUTY_REVIEW_DAYS = 3  # a claim reviewed within this many days counts as on time
        # flask-smorest / OpenAPI
        self.API_TITLE = "先锋指数 API"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api/v1"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.JSON_AS_ASCII = False

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}
