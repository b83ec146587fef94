"""Row ids from the outside world: what can be an id, and the row it names.

Every id and count column holds at most PostgreSQL's INTEGER (2**31 - 1). A bigger number from a
URL, a query string or a JSON body names no row: it is "not found", never a lookup that
overflows the database driver (SQLite raises OverflowError beyond 64 bits).
"""
from __future__ import annotations

from typing import TypeVar

from app.extensions import db

MAX_ID = 2**31 - 1
T = TypeVar("T")


def valid_id(value) -> bool:
    """True for an int that can be a row id."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def get_by_id(model: type[T], ident, **options) -> T | None:
    """The row of ``model`` with this id (``options`` as for ``Session.get``); None for a missing
    row and for anything not an id."""
    return db.session.get(model, ident, **options) if valid_id(ident) else None
