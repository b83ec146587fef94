"""SQLite: writers queue in the kernel, not in SQLite's busy handler.

SQLite lets one connection write at a time. The others wait in its busy handler, which sleeps
1, 2, 5, 10 ... up to 100 ms between tries; under a burst of concurrent writes (QR ratings, claim
approvals from several web workers and threads) those sleeps, not the work, set the pace, and
p99 latencies reach a second.

Every app connection to an SQLite file therefore takes an exclusive ``flock`` on
``<database>.write-lock`` before the first write statement of a transaction (INSERT, UPDATE,
DELETE, REPLACE, BEGIN IMMEDIATE) and lets it go right after COMMIT, ROLLBACK or close. That is
the span SQLite holds its own write lock anyway, so nothing waits longer than before; waiting
writers sleep in the kernel and wake the moment the writer before them is done. SQLite's locking
is unchanged underneath (its busy timeout still covers writers outside the app). A thread that
already holds the gate on one connection does not wait for it on a second one.

Installed for every SQLite engine by a ``do_connect`` event (a ``sqlite3.Connection`` subclass).
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading

from sqlalchemy import event
from sqlalchemy.engine import Engine

WRITE_PREFIXES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN IMMEDIATE", "BEGIN EXCLUSIVE")
_held = threading.local()  # paths whose gate this thread holds


def _is_write(sql) -> bool:
    return isinstance(sql, str) and sql.lstrip()[:15].upper().startswith(WRITE_PREFIXES)


def _gate_path(database, uri: bool) -> str | None:
    name = str(database or "")
    if uri or name.startswith("file:"):
        if "mode=memory" in name:
            return None
        name = name[5:].split("?", 1)[0] if name.startswith("file:") else name
    if not name or name == ":memory:":
        return None
    return os.path.abspath(name) + ".write-lock"


class GatedCursor(sqlite3.Cursor):
    def execute(self, sql, parameters=(), /):
        if _is_write(sql):
            self.connection._gate_acquire()
        return super().execute(sql, parameters)

    def executemany(self, sql, seq_of_parameters, /):
        if _is_write(sql):
            self.connection._gate_acquire()
        return super().executemany(sql, seq_of_parameters)


class GatedConnection(sqlite3.Connection):
    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        self._gate = _gate_path(database, bool(kwargs.get("uri")))
        self._gate_fd: int | None = None
        self._gate_held = False

    def cursor(self, factory=GatedCursor):
        return super().cursor(factory)

    def execute(self, sql, parameters=(), /):
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, seq_of_parameters, /):
        return self.cursor().executemany(sql, seq_of_parameters)

    def _gate_acquire(self) -> None:
        if self._gate is None or self._gate_held:
            return
        paths = getattr(_held, "paths", None)
        if paths is None:
            paths = _held.paths = set()
        if self._gate in paths:
            return  # this thread writes on another connection already: SQLite itself decides
        if self._gate_fd is None:
            self._gate_fd = os.open(self._gate, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._gate_fd, fcntl.LOCK_EX)
        self._gate_held = True
        paths.add(self._gate)

    def _gate_release(self) -> None:
        if self._gate_held:
            self._gate_held = False
            getattr(_held, "paths", set()).discard(self._gate)
            fcntl.flock(self._gate_fd, fcntl.LOCK_UN)

    def commit(self):
        try:
            return super().commit()
        finally:
            if not self.in_transaction:
                self._gate_release()

    def rollback(self):
        try:
            return super().rollback()
        finally:
            if not self.in_transaction:
                self._gate_release()

    def close(self):
        try:
            return super().close()
        finally:
            self._gate_release()
            if self._gate_fd is not None:
                os.close(self._gate_fd)
                self._gate_fd = None


@event.listens_for(Engine, "do_connect")
def _gated_sqlite(dialect, _conn_rec, _cargs, cparams):
    """Open SQLite connections as GatedConnection (unless a factory was configured)."""
    if dialect.name == "sqlite" and dialect.driver == "pysqlite":
        cparams.setdefault("factory", GatedConnection)
