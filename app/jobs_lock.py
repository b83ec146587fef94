"""Job bookkeeping: one run per (job, period) and a lock per job across processes.

A scheduled job runs at most once per period: ``job_runs`` has a unique ``(job, period_key)``
and a run marked ``done`` is never repeated. While it runs, the job holds a lock, so two
scheduler processes (or a scheduler and a cron ``run-once``) never work on it at the same time:

* PostgreSQL: a session-level ``pg_try_advisory_lock`` on a connection of its own, released
  when the job ends (or, if the process dies, when its connection closes).
* SQLite: a row in ``job_locks`` with an expiry; a crashed holder's row expires, or is taken
  over at once when its process (on the same host) is gone.
"""
from __future__ import annotations

import functools
import logging
import os
import socket
import uuid
import zlib
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.timeutil import utcnow

log = logging.getLogger(__name__)

RUN_STATUSES = ("running", "done", "failed")
LOCK_CLASS = 7341  # first key of the two-int advisory lock space, reserved for jobs
DEFAULT_TTL = 3600




class JobRun(db.Model):
    """One job for one period: ``running``, ``done`` (never repeated) or ``failed`` (retried)."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(sa.String(40))
    period_key: Mapped[str] = mapped_column(sa.String(60))
    status: Mapped[str] = mapped_column(sa.String(20), default="running")
    holder: Mapped[str] = mapped_column(sa.String(120), default="")
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(default=1)
    detail: Mapped[str] = mapped_column(sa.Text, default="")

    __table_args__ = (
        sa.UniqueConstraint("job", "period_key", name="uq_job_runs_period"),
        sa.CheckConstraint("status IN ('running', 'done', 'failed')", name="status"),
        sa.Index("ix_job_runs_job_started", "job", "started_at"),
    )


class JobLock(db.Model):
    """A lock row (used where advisory locks do not exist, i.e. SQLite)."""

    __tablename__ = "job_locks"

    name: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(120))
    acquired_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


@functools.cache
def process_space() -> str:
    """Which process-id space this process lives in: the boot and the PID namespace (two
    containers may share a host name and an SQLite volume while their process ids are
    unrelated); "" when the system does not say (then no holder is ever judged gone)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()[:8]
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return f"{boot}-{namespace}" if boot else ""


def holder_id() -> str:
    """Who holds a lock: host, process, its process-id space and a random part (unique per
    acquisition)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{process_space()}:{uuid.uuid4().hex[:8]}"


def advisory_key(name: str) -> int:
    """A stable signed 32-bit key for ``name`` (the second key of the advisory lock pair)."""
    value = zlib.crc32(name.encode("utf-8"))
    return value - (1 << 32) if value >= (1 << 31) else value


@contextmanager
def _pg_lock(name: str) -> Iterator[bool]:
    conn = db.engine.connect()
    got = False
    try:
        got = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:c, :k)"),
                                {"c": LOCK_CLASS, "k": advisory_key(name)}).scalar())
        conn.commit()
        yield got
    finally:
        try:
            if got:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:c, :k)"),
                             {"c": LOCK_CLASS, "k": advisory_key(name)})
                conn.commit()
        except Exception:  # never hand a connection that may still hold the lock back to the pool
            log.exception("could not release the advisory lock %s", name)
            conn.invalidate()
        finally:
            conn.close()


def holder_is_gone(holder: str) -> bool:
    """Whether the process named in ``holder`` ("host:pid:space:random") is known to have ended:
    it ran on this host, in this process-id space (same boot, same PID namespace), and no
    process has its id any more. Any other holder is taken to be alive: its row waits for its
    expiry. (A dead holder's id given to a new process also just waits: it fails safe.)"""
    parts = holder.split(":")
    if len(parts) != 4:
        return False
    host, pid_text, space, _random = parts
    if host != socket.gethostname()[:60] or not pid_text.isdigit() or not space or space != process_space():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


def _acquire_row(name: str, holder: str, ttl: int) -> bool:
    now = utcnow()
    expires = now + timedelta(seconds=ttl)
    table = JobLock.__table__
    with db.engine.connect() as conn:
        try:
            conn.execute(table.insert().values(name=name, holder=holder, acquired_at=now, expires_at=expires))
            conn.commit()
            return True
        except IntegrityError:
            conn.rollback()
        held_by = conn.execute(sa.select(table.c.holder).where(table.c.name == name)).scalar()
        # an expired row, or one whose process died (a crash or kill -9 leaves its row behind,
        # and the job would wait out the whole lifetime, an hour for the monthly jobs)
        stale = table.c.expires_at < now
        if held_by is not None and holder_is_gone(held_by):
            stale = sa.or_(stale, table.c.holder == held_by)
        taken = conn.execute(
            table.update().where(table.c.name == name, stale)
            .values(holder=holder, acquired_at=now, expires_at=expires)
        ).rowcount
        conn.commit()
        return taken == 1


def _release_row(name: str, holder: str) -> None:
    table = JobLock.__table__
    with db.engine.connect() as conn:
        conn.execute(table.delete().where(table.c.name == name, table.c.holder == holder))
        conn.commit()


@contextmanager
def _row_lock(name: str, ttl: int) -> Iterator[bool]:
    holder = holder_id()
    got = _acquire_row(name, holder, ttl)
    try:
        yield got
    finally:
        if got:
            _release_row(name, holder)


@contextmanager
def job_lock(name: str, ttl: int = DEFAULT_TTL) -> Iterator[bool]:
    """Try to take the lock ``name`` without waiting; yields whether it was taken."""
    if db.engine.dialect.name == "postgresql":
        with _pg_lock(name) as got:
            yield got
    else:
        with _row_lock(name, ttl) as got:
            yield got


def last_runs() -> dict[str, JobRun]:
    """The latest run of every job (for ``scheduler jobs``)."""
    latest = (
        sa.select(JobRun.job, sa.func.max(JobRun.id).label("id")).group_by(JobRun.job).subquery()
    )
    rows = db.session.scalars(sa.select(JobRun).join(latest, latest.c.id == JobRun.id))
    return {r.job: r for r in rows}
