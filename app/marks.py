"""Change marks: cheap version numbers that say when a shared, cached result must be recomputed.

Some results are the same for many users and costly to compute: a community's members ranked
for a period (every member of the community sees their place in it), a contest's standings.
Such a result may be kept in the process (:class:`SharedCache`) under the marks it was computed
at, and reused while the marks have not moved. Reading the marks is one small query, so a reused
result is never stale.

Marks live in ``change_marks`` (key -> integer) and move in the same transaction as the change:

``ledger:<org id>``
    the id of the last ledger entry appended for a member of that org's subtree (set for every
    org on the member's path, by a mapper event on every insert of a ``LedgerEntry``);
``roster``
    a counter bumped by every change to a user or an org (roles, activity, moves, names, the tree).

Loaders that write with raw SQL (``COPY``) bypass the events; caches are per process, so restart
the web workers after such a load into a live database.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from itertools import chain
from typing import Callable, Hashable, Iterable, TypeVar

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session

from app.extensions import db

ROSTER = "roster"
T = TypeVar("T")


class ChangeMark(db.Model):
    """One change mark: a key and a number that only grows."""

    __tablename__ = "change_marks"

    key: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)


def ledger_key(org_id: int) -> str:
    return f"ledger:{org_id}"


_READ = sa.select(ChangeMark.key, ChangeMark.value).where(ChangeMark.key.in_(sa.bindparam("keys", expanding=True)))


def read_marks(keys: Iterable[str]) -> dict[str, int]:
    """The current value of each key (0 for a key never set), in one query."""
    keys = list(dict.fromkeys(keys))
    found = dict(db.session.connection().execute(_READ, {"keys": keys}).all())
    return {k: int(found.get(k) or 0) for k in keys}


def _upsert(connection, values: dict[str, int], *, increment: bool = False) -> None:
    """Set (or add to) the marks in ``values`` on ``connection``."""
    table = ChangeMark.__table__
    name = connection.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the app runs on SQLite and PostgreSQL only
        raise RuntimeError(f"change marks are not implemented for {name}")
    stmt = insert(table).values([{"key": k, "value": v} for k, v in sorted(values.items())])
    new_value = table.c.value + stmt.excluded.value if increment else stmt.excluded.value
    connection.execute(stmt.on_conflict_do_update(index_elements=[table.c.key], set_={"value": new_value}))


# --------------------------------------------------------------------------- what moves the marks


def _member_path(session: Session, connection, member_id: int) -> str | None:
    from app.auth.models import User
    from app.orgs.models import Org

    user = session.identity_map.get(session.identity_key(User, member_id)) if session is not None else None
    org = getattr(user, "org", None) if user is not None and "org" in user.__dict__ else None
    if org is not None and org.path:
        return org.path
    return connection.execute(
        sa.select(Org.path).join(User, User.org_id == Org.id).where(User.id == member_id)).scalar()


def _after_ledger_insert(_mapper, connection, entry) -> None:
    """A new member entry moves the ledger mark of every org on the member's path."""
    if entry.member_id is None:
        return
    path = _member_path(object_session(entry), connection, entry.member_id)
    ids = [int(p) for p in (path or "").strip("/").split("/") if p]
    if ids:
        _upsert(connection, {ledger_key(i): int(entry.id) for i in ids})


def _roster_types() -> tuple[type, ...]:
    from app.auth.models import User
    from app.orgs.models import Org

    return (User, Org)


def bump_roster(connection) -> None:
    _upsert(connection, {ROSTER: 1}, increment=True)


def _after_flush(session: Session, _flush_context) -> None:
    types = _roster_types()
    changed = any(isinstance(o, types) for o in chain(session.new, session.deleted)) or any(
        isinstance(o, types) and session.is_modified(o, include_collections=False) for o in session.dirty)
    if changed:
        bump_roster(session.connection())


def _on_orm_execute(state) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    types = _roster_types()
    if any(m.class_ in types for m in state.all_mappers):
        bump_roster(state.session.connection())


def _listen() -> None:
    from app.points.models import LedgerEntry

    if not event.contains(LedgerEntry, "after_insert", _after_ledger_insert):
        event.listen(LedgerEntry, "after_insert", _after_ledger_insert)
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "do_orm_execute", _on_orm_execute)


_listen()


# --------------------------------------------------------------------------- the per-process cache


class SharedCache:
    """A small thread-safe LRU of results shared by all users, each stored with its marks.

    ``get(key, marks, compute)`` returns the stored value when it was stored under the same
    marks, else computes, stores and returns it. Keep only shared data here, never one
    user's page.
    """

    def __init__(self, maxsize: int):
        self.maxsize = max(0, int(maxsize))
        self._data: OrderedDict[Hashable, tuple[Hashable, object]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable, marks: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            found = self._data.get(key)
            if found is not None and found[0] == marks:
                self._data.move_to_end(key)
                self.hits += 1
                return found[1]  # type: ignore[return-value]
            self.misses += 1
        value = compute()
        if self.maxsize:
            with self._lock:
                self._data[key] = (marks, value)
                self._data.move_to_end(key)
                while len(self._data) > self.maxsize:
                    self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


def shared_cache(name: str, default_size: int = 256) -> SharedCache:
    """The app's cache called ``name`` (size from config ``SHARED_CACHE_SIZES[name]``, 0 turns it off)."""
    caches = current_app.extensions.setdefault("shared_caches", {})
    cache = caches.get(name)
    if cache is None:
        size = (current_app.config.get("SHARED_CACHE_SIZES") or {}).get(name, default_size)
        cache = caches.setdefault(name, SharedCache(size))
    return cache
