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
``orgledger:<org id>``
    the same for entries made to an org itself (a branch's activity, a commendation), for every
    org on that org's path (kept apart so that members' rank boards do not move with them);
``ledger:head``
    the id of the last ledger entry of all (``ledger verify`` tells by it when the newest
    entries were deleted, or rows were added behind the app's back);
``roster``
    a counter bumped by every change to a user or an org (roles, activity, moves, names, the tree);
``contests``
    a counter bumped by every change to a contest or a leaderboard snapshot (rollups, finalize).

Loaders that write with raw SQL (``COPY``) bypass the events; caches are per process, so restart
the web workers after such a load into a live database.
"""
from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from itertools import chain
from typing import Callable, Hashable, Iterable, TypeVar

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column, object_session

from app.extensions import db

ROSTER = "roster"
CONTESTS = "contests"
LEDGER_HEAD = "ledger:head"
T = TypeVar("T")


class ChangeMark(db.Model):
    """One change mark: a key and a number that only grows."""

    __tablename__ = "change_marks"

    key: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)


def ledger_key(org_id: int) -> str:
    return f"ledger:{org_id}"


def org_ledger_key(org_id: int) -> str:
    return f"orgledger:{org_id}"


@functools.cache
def _read_sql(n: int, paramstyle: str) -> str:
    """``SELECT key, value ... WHERE key IN (n placeholders)``: driver SQL, because this runs on
    every read request and SQLAlchemy's compile-and-process path costs more than the query."""
    mark = "?" if paramstyle == "qmark" else "%s"
    return f'SELECT "key", value FROM change_marks WHERE "key" IN ({", ".join([mark] * n)})'


GLOBAL_MARKS = (ROSTER, CONTESTS)
PREFETCHED = "vanguard.prefetched_marks"  # in the WSGI environ, so it ends with the request


def global_mark_columns() -> list[sa.ScalarSelect]:
    """The global marks as scalar subqueries, labelled by key, to read along with another
    statement (the bearer-token lookup) and hand to :func:`prefetch_marks`."""
    return [sa.select(ChangeMark.value).where(ChangeMark.key == key).scalar_subquery().label(key)
            for key in GLOBAL_MARKS]


PATH_LEVELS = 4  # orgs on a user's path read with the user: district, street, community, branch (deeper ones are read when asked for)


def path_mark_joins(stmt: sa.Select, org_id_column) -> sa.Select:
    """``stmt`` with, for the org in ``org_id_column`` and up to ``PATH_LEVELS - 1`` of its
    ancestors (primary-key joins up the parent chain), the org's id and its ``ledger:`` mark.
    :func:`read_mark_columns` turns the columns into marks.

    Each mark is a correlated scalar subquery rather than a join: with a join, a planner that
    believes ``change_marks`` tiny (statistics taken before the orgs had marks, as after a
    bulk load) scans the whole table once per level, about 0.4 ms on every read with marks for
    1,100 orgs; the subquery is a primary-key lookup whatever the statistics say."""
    from app.orgs.models import Org

    parent = org_id_column
    prefix = sa.literal_column("'ledger:'", sa.String)
    for level in range(PATH_LEVELS):
        org = aliased(Org, name=f"path{level}")
        mark = (sa.select(ChangeMark.value).where(ChangeMark.key == prefix + sa.cast(org.id, sa.String))
                .correlate(org).scalar_subquery())
        stmt = (stmt.outerjoin(org, org.id == parent)
                .add_columns(org.id.label(f"path{level}_id"), mark.label(f"path{level}_mark")))
        parent = org.parent_id
    return stmt


def read_mark_columns(values, own_path: bool) -> dict[str, int | None]:
    """The marks in the columns of :func:`global_mark_columns` (then, with ``own_path``, of
    :func:`path_mark_joins`): the global ones by key, and ``ledger:<id>`` for each org on the
    path (0 for one never set). A path deeper than the joins leaves out the orgs above them,
    which :func:`read_marks` then asks for."""
    values = list(values)
    marks = dict(zip(GLOBAL_MARKS, values[:len(GLOBAL_MARKS)]))
    if own_path:
        pairs = values[len(GLOBAL_MARKS):]
        for org_id, value in zip(pairs[0::2], pairs[1::2]):
            if org_id is not None:
                marks[ledger_key(org_id)] = value or 0
    return marks


def prefetch_marks(values: dict[str, int | None]) -> None:
    """Marks read along with an earlier statement of this request, for :func:`read_marks` to
    use instead of asking again. Only for read-only requests (:mod:`app.readonly`): a request
    that writes may move a mark after it was read, and must read it again."""
    request.environ[PREFETCHED] = {k: int(v or 0) for k, v in values.items()}


def read_marks(keys: Iterable[str]) -> dict[str, int]:
    """The current value of each key (0 for a key never set), in one query (none when the
    request has them already, see :func:`prefetch_marks`)."""
    keys = list(dict.fromkeys(keys))
    found = dict(request.environ.get(PREFETCHED, {})) if has_request_context() else {}
    missing = [k for k in keys if k not in found]
    if missing:
        connection = db.session.connection()
        found.update(connection.exec_driver_sql(_read_sql(len(missing), connection.dialect.paramstyle),
                                                tuple(missing)).all())
    return {k: int(found.get(k) or 0) for k in keys}


@functools.cache
def _upsert_stmt(n: int, increment: bool) -> sa.TextClause:
    """``INSERT ... ON CONFLICT (key) DO UPDATE`` for ``n`` marks (the same SQL on SQLite and
    PostgreSQL). Plain text, because SQLAlchemy does not cache the compiled form of its
    dialect-specific upsert constructs, and this runs with every ledger append."""
    rows = ", ".join(f"(:k{i}, :v{i})" for i in range(n))
    new_value = "change_marks.value + excluded.value" if increment else "excluded.value"
    return sa.text(f'INSERT INTO change_marks ("key", value) VALUES {rows} '
                   f'ON CONFLICT ("key") DO UPDATE SET value = {new_value}')


def set_marks(connection, values: dict[str, int]) -> None:
    """Set marks to the given values (for writers that bypass the ORM events, such as bulk loaders)."""
    _upsert(connection, values)


def _upsert(connection, values: dict[str, int], *, increment: bool = False) -> None:
    """Set (or add to) the marks in ``values`` on ``connection``."""
    params = {}
    for i, (k, v) in enumerate(sorted(values.items())):
        params[f"k{i}"], params[f"v{i}"] = k, int(v)
    connection.execute(_upsert_stmt(len(values), increment), params)


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


def _org_path(session: Session, connection, org_id: int) -> str | None:
    from app.orgs.models import Org

    org = session.identity_map.get(session.identity_key(Org, org_id)) if session is not None else None
    if org is not None and org.path:
        return org.path
    return connection.execute(sa.select(Org.path).where(Org.id == org_id)).scalar()


def _after_ledger_insert(_mapper, connection, entry) -> None:
    """A new entry moves the ledger head and the ledger mark of every org on its subject's path:
    ``ledger:`` for a member's entry, ``orgledger:`` for an org's own (one statement)."""
    session = object_session(entry)
    if entry.member_id is not None:
        path, key = _member_path(session, connection, entry.member_id), ledger_key
    else:
        path, key = _org_path(session, connection, entry.org_id), org_ledger_key
    ids = [int(p) for p in (path or "").strip("/").split("/") if p]
    _upsert(connection, {LEDGER_HEAD: int(entry.id), **{key(i): int(entry.id) for i in ids}})


@functools.cache
def _watched() -> dict[type, str]:
    """Which models move which mark when a row of theirs is added, changed or removed."""
    from app.auth.models import User
    from app.contests.models import Contest, ContestSnapshot
    from app.orgs.models import Org

    return {User: ROSTER, Org: ROSTER, Contest: CONTESTS, ContestSnapshot: CONTESTS}


def bump(connection, keys: Iterable[str]) -> None:
    _upsert(connection, {k: 1 for k in keys}, increment=True)


def _after_flush(session: Session, _flush_context) -> None:
    watched = _watched()
    keys = set()
    for obj in chain(session.new, session.deleted):
        if type(obj) in watched:
            keys.add(watched[type(obj)])
    for obj in session.dirty:
        if type(obj) in watched and watched[type(obj)] not in keys and session.is_modified(
                obj, include_collections=False):
            keys.add(watched[type(obj)])
    if keys:
        bump(session.connection(), keys)


def _on_orm_execute(state) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    watched = _watched()
    keys = {watched[m.class_] for m in state.all_mappers if m.class_ in watched}
    if keys:
        bump(state.session.connection(), keys)


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


def _frozen(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def shared_fragment(key, render, *args, **kwargs):
    """A piece of a page that is the same for everybody (given ``key``), rendered once per
    language and reused: e.g. the period switch of the index pages. ``render`` gets ``args``;
    ``key`` must name everything the piece depends on. Never for anything of one user.
    """
    from flask import request
    from flask_babel import get_locale
    from markupsafe import Markup

    full = (_frozen(key), str(get_locale()), request.script_root)
    return shared_cache("fragments", 1024).get(full, 0, lambda: Markup(render(*args, **kwargs)))
