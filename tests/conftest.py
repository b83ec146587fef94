"""Shared fixtures: the app on SQLite and PostgreSQL, factories, and clients per role."""
from __future__ import annotations

import itertools
import os
import shutil

import pytest
import sqlalchemy as sa
from flask import g, has_app_context
from flask.testing import FlaskClient

from app import create_app
from app.extensions import db as _db

PG_URL = os.environ.get("TEST_DATABASE_URL")
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
PASSWORD = "password123"

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret",
    "WTF_CSRF_ENABLED": False,
    "RATELIMIT_ENABLED": False,
    "RATELIMIT_STORAGE_URI": "memory://",
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    "SERVER_NAME": None,
}


def _upgrade(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade(directory=os.path.join(os.path.dirname(__file__), "..", "migrations"))
        _db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """An SQLite file brought to the current schema by the migrations, copied for each test."""
    path = tmp_path_factory.mktemp("db") / "template.sqlite3"
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    _upgrade(app)
    with sa.create_engine(f"sqlite:///{path}").connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.exec_driver_sql("PRAGMA journal_mode=DELETE")
    return path


@pytest.fixture(scope="session")
def pg_ready():
    """The PostgreSQL test database, emptied and migrated once per session."""
    if not PG_URL:
        if REQUIRE_SERVICES:
            pytest.fail("REQUIRE_SERVICES=1 but TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    from app.config import normalize_database_url

    url = normalize_database_url(PG_URL)
    try:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()
    except sa.exc.OperationalError as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc}")
        pytest.skip(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc}")
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
    _upgrade(app)
    return url


def _truncate_pg(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")]
        if tables:
            # the ledger refuses TRUNCATE (migration 0013): its trigger is off for the emptying
            # (as the tables' owner, no superuser needed), in the same transaction
            guard = conn.exec_driver_sql(
                "SELECT 1 FROM pg_trigger WHERE tgname = 'ledger_entries_no_truncate'").scalar()
            if guard:
                conn.exec_driver_sql("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_no_truncate")
            conn.exec_driver_sql("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
            if guard:
                conn.exec_driver_sql("ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_no_truncate")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """The database of one test: a fresh SQLite copy, or the emptied PostgreSQL test database."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_ready")
    _truncate_pg(url)
    return url


@pytest.fixture
def app_config(database_url, tmp_path):
    """Override in a test module (or use ``app_factory``) to change settings."""
    return {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url, "UPLOAD_DIR": str(tmp_path / "uploads")}


class IsolatedClient(FlaskClient):
    """A test client whose every request starts from the test's own ``g``.

    The ``app`` fixture keeps an app context pushed, and Flask reuses it for each test request, so
    per-request caches in ``g`` (Flask-Login's current user, Flask-Babel's locale) would otherwise
    leak from one request, or one client, into the next.
    """

    _g_base: dict | None = None

    def open(self, *args, **kwargs):
        outermost = self._g_base is None
        if has_app_context():
            if outermost:
                self._g_base = dict(vars(g))
            else:  # a redirect being followed: a new request
                vars(g).clear()
                vars(g).update(self._g_base)
        try:
            return super().open(*args, **kwargs)
        finally:
            if outermost and self._g_base is not None:
                vars(g).clear()
                vars(g).update(self._g_base)
                self._g_base = None


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    app.test_client_class = IsolatedClient
    ctx = app.app_context()
    ctx.push()
    yield app
    _db.session.remove()
    ctx.pop()
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


_phones = itertools.count(1)


@pytest.fixture
def make_org(app):
    from app.orgs.models import Org

    def make(name: str = "组织", kind: str = "branch", parent=None) -> Org:
        org = Org(name=name, kind=kind, parent_id=parent.id if parent else None,
                  depth=(parent.depth + 1) if parent else 0)
        _db.session.add(org)
        _db.session.flush()
        org.path = (parent.path if parent else "/") + f"{org.id}/"
        _db.session.commit()
        return org

    return make


@pytest.fixture
def make_user(app):
    from app.auth.models import User, hash_password

    hashed = hash_password(PASSWORD)

    def make(org, role: str = "member", name: str | None = None, phone: str | None = None, active: bool = True) -> User:
        n = next(_phones)
        user = User(name=name or f"党员{n}", phone=phone or f"139{n:08d}", role=role, org_id=org.id,
                    password_hash=hashed, active=active)
        _db.session.add(user)
        _db.session.commit()
        return user

    return make


class ApiClient:
    """A test client that sends JSON with a bearer token."""

    def __init__(self, client, token: str | None):
        self.client = client
        self.token = token

    def _headers(self, headers=None):
        h = dict(headers or {})
        if self.token:
            h.setdefault("Authorization", f"Bearer {self.token}")
        return h

    def get(self, path, **kw):
        return self.client.get(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, path, json=None, **kw):
        return self.client.post(path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def put(self, path, json=None, **kw):
        return self.client.put(path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, path, **kw):
        return self.client.delete(path, headers=self._headers(kw.pop("headers", None)), **kw)


@pytest.fixture
def api_as(app, client):
    """``api_as(user)`` -> an ApiClient holding a fresh token of ``user``; ``api_as(None)`` has none."""
    from app.auth.services import issue_token

    def make(user) -> ApiClient:
        return ApiClient(app.test_client(), issue_token(user, "test") if user is not None else None)

    return make


@pytest.fixture
def login_as(app):
    """``login_as(user)`` -> a page client logged in as ``user`` (through the real login form)."""

    def make(user):
        c = app.test_client()
        r = c.post("/login", data={"phone": user.phone, "password": PASSWORD})
        assert r.status_code == 302, r.get_data(as_text=True)
        return c

    return make


class Tree:
    """A street with two communities, each with two branches, their secretaries and members."""


@pytest.fixture
def tree(make_org, make_user):
    t = Tree()
    t.street = make_org("东湖街道", "street")
    t.c1 = make_org("桂花社区", "community", t.street)
    t.c2 = make_org("荷花社区", "community", t.street)
    t.b11 = make_org("桂花第一支部", "branch", t.c1)
    t.b12 = make_org("桂花第二支部", "branch", t.c1)
    t.b21 = make_org("荷花第一支部", "branch", t.c2)
    t.b22 = make_org("荷花第二支部", "branch", t.c2)
    t.admin = make_user(t.street, "admin", "王管理")
    t.sec_c1 = make_user(t.c1, "secretary", "李书记")
    t.sec_c2 = make_user(t.c2, "secretary", "赵书记")
    t.sec_b11 = make_user(t.b11, "secretary", "陈支书")
    t.m11 = make_user(t.b11, "member", "张三")
    t.m12 = make_user(t.b12, "member", "李四")
    t.m21 = make_user(t.b21, "member", "王五")
    return t


class StatementLog:
    """The SQL statements run inside a ``count_statements()`` block."""

    def __init__(self):
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements(app):
    """``with count_statements() as log: ...`` then ``log.count``: statements sent to the database
    (an engine ``before_cursor_execute`` listener), to guard pages against N+1 queries."""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        log = StatementLog()

        def before(_conn, _cursor, statement, _params, _context, _many):
            log.statements.append(statement)

        engine = _db.engine
        sa.event.listen(engine, "before_cursor_execute", before)
        try:
            yield log
        finally:
            sa.event.remove(engine, "before_cursor_execute", before)

    return counting
