"""Read-only requests without a transaction on PostgreSQL.

A request that only reads runs its statements in autocommit: under READ COMMITTED, PostgreSQL's
default, every statement takes its own snapshot inside a transaction too, so nothing is lost,
and the BEGIN before the first query and the ROLLBACK at the end of the request (two of a read's
four round trips) are saved. SQLite needs nothing: pysqlite does not BEGIN for reads.

Such a request may also read the global change marks along with its first statement (the user
lookup by bearer token or session, :func:`app.marks.prefetch_marks`): nothing in it moves them
afterwards; a view about the caller's own place reads their path's ledger marks there too.

Only for views that never write: a write there would commit statement by statement.
"""
from __future__ import annotations

from functools import wraps

from flask import has_request_context, request

from app.extensions import db


READ_ONLY = "vanguard.read_only"  # in the WSGI environ: request-scoped, unlike ``g`` in tests
OWN_PATH = "vanguard.own_path_marks"


def is_read_only_request() -> bool:
    return has_request_context() and bool(request.environ.get(READ_ONLY))


def wants_own_path_marks() -> bool:
    """True in a read-only view about the caller's own place (``read_only(own_path=True)``):
    the user lookup also reads the ledger marks of the orgs on the caller's path."""
    return is_read_only_request() and bool(request.environ.get(OWN_PATH))


def read_only(view=None, *, own_path: bool = False):
    """``@read_only`` or ``@read_only(own_path=True)`` (outside the login decorator)."""
    if view is None:
        return lambda v: read_only(v, own_path=own_path)

    @wraps(view)
    def wrapped(*args, **kwargs):
        session = db.session()
        if not session.in_transaction() and db.engine.dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        request.environ[READ_ONLY] = True
        if own_path:
            request.environ[OWN_PATH] = True
        return view(*args, **kwargs)

    return wrapped
