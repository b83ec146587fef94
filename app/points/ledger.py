"""Writing to and verifying the append-only, hash-chained ledger.

Every entry is written by ``append_entry``; nothing else inserts into ``ledger_entries``.
``run_atomic`` wraps a unit of work that appends, retrying when another writer extended the
chain first (the unique ``prev_hash`` makes such a race fail instead of forking the chain).
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Callable, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from app.extensions import db
from app.orm import commit_keeping_loaded
from app.points.models import LedgerEntry

GENESIS = "0" * 64
LEDGER_LOCK_KEY = 7_340_001  # pg_advisory_xact_lock key serializing chain appends
ONE_DECIMAL = Decimal("0.1")
T = TypeVar("T")


def quantize(points) -> Decimal:
    return Decimal(points).quantize(ONE_DECIMAL)


def _utc_text(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


def entry_digest(prev_hash: str, e) -> str:
    """SHA-256 over the previous hash and every field that gives an entry its meaning."""
    payload = {
        "member_id": e.member_id,
        "org_id": e.org_id,
        "rule_id": e.rule_id,
        "rule_code": e.rule_code,
        "category": e.category,
        "points": format(quantize(e.points), "f"),
        "occurred_on": e.occurred_on.isoformat(),
        "source": e.source,
        "source_key": e.source_key,
        "note": e.note or "",
        "created_by_id": e.created_by_id,
        "created_at": _utc_text(e.created_at),
        "reverses_id": e.reverses_id,
    }
    text = prev_hash + json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def lock_ledger() -> None:
    """Serialize ledger writers for the rest of the current transaction.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: take the database write lock now
    (BEGIN IMMEDIATE) unless this transaction already writes. Call it before reading anything a
    new entry depends on (cap room, "already reversed"), so the read and the append cannot race.
    """
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        # Taken once per transaction: a claim approval locks before its cap check and again in
        # append_entry, and each lock is a round trip. A savepoint that is rolled back releases
        # what it took, so the memo is keyed on the innermost transaction, not the outer one.
        tx = conn.get_nested_transaction() or conn.get_transaction()
        if conn.info.get("ledger_locked_in") is tx:
            return
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": LEDGER_LOCK_KEY})
        conn.info["ledger_locked_in"] = tx
    elif conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if not raw.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def _lock_chain() -> None:
    lock_ledger()


def last_hash() -> str:
    return db.session.scalar(
        sa.select(LedgerEntry.hash).order_by(LedgerEntry.id.desc()).limit(1)
    ) or GENESIS


def append_entry(
    *,
    category: str,
    points,
    occurred_on: date,
    source: str,
    source_key: str,
    rule_code: str,
    rule_id: int | None = None,
    member_id: int | None = None,
    org_id: int | None = None,
    note: str = "",
    created_by_id: int | None = None,
    reverses_id: int | None = None,
) -> LedgerEntry:
    """Append one entry to the chain inside the current transaction (flushed, not committed)."""
    _lock_chain()
    entry = LedgerEntry(
        member_id=member_id, org_id=org_id, rule_id=rule_id, rule_code=rule_code, category=category,
        points=quantize(points), occurred_on=occurred_on, source=source, source_key=source_key,
        note=note or "", created_by_id=created_by_id,
        created_at=datetime.now(timezone.utc).replace(microsecond=0), reverses_id=reverses_id,
    )
    entry.prev_hash = last_hash()
    entry.hash = entry_digest(entry.prev_hash, entry)
    db.session.add(entry)
    db.session.flush()
    return entry


def is_chain_race(exc: Exception) -> bool:
    """True for the failures a concurrent append causes, which a retry resolves."""
    text = str(getattr(exc, "orig", exc)).lower()
    if isinstance(exc, IntegrityError):
        return "prev_hash" in text
    if isinstance(exc, OperationalError):
        return "locked" in text or "busy" in text or "deadlock" in text
    return False


def run_atomic(work: Callable[[], T], attempts: int = 8) -> T:
    """Run ``work`` and commit; retry from scratch when a concurrent append won the race."""
    for attempt in range(attempts):
        try:
            result = work()
            if isinstance(result, LedgerEntry):  # append-only: the commit changes none of its values
                commit_keeping_loaded(result)
            else:
                db.session.commit()
            return result
        except (IntegrityError, OperationalError) as exc:
            db.session.rollback()
            if not is_chain_race(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
        except Exception:
            db.session.rollback()
            raise
    raise RuntimeError("unreachable")


@dataclass
class VerifyResult:
    checked: int
    broken_id: int | None = None
    reason: str = ""
    head_id: int | None = None  # the last entry walked, and its hash (worth recording elsewhere)
    head_hash: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify_chain(batch: int = 5000, *, expect_head: tuple[int, str] | None = None) -> VerifyResult:
    """Walk the ledger in id order; report the first entry whose link or content does not match.

    Then compare the end of the chain with the ledger head mark (``app.marks.LEDGER_HEAD``, moved
    by every append): a chain that ends before it lost its newest entries, one that runs past it
    has rows the app did not write. ``expect_head`` (an entry id and hash recorded earlier, e.g.
    from a past run's output) must still be on the chain with that hash.
    """
    from app.marks import LEDGER_HEAD, read_marks

    prev = GENESIS
    checked = 0
    last_id = 0
    seen_expected = expect_head is None
    while True:
        rows = db.session.scalars(
            sa.select(LedgerEntry).where(LedgerEntry.id > last_id).order_by(LedgerEntry.id).limit(batch)
        ).all()
        if not rows:
            break
        for e in rows:
            if e.prev_hash != prev:
                return VerifyResult(checked, e.id, "prev_hash does not match the previous entry's hash")
            if entry_digest(prev, e) != e.hash:
                return VerifyResult(checked, e.id, "content does not match its hash")
            if expect_head is not None and e.id == expect_head[0]:
                if e.hash != expect_head[1]:
                    return VerifyResult(checked, e.id, "hash differs from the recorded head")
                seen_expected = True
            prev = e.hash
            checked += 1
            last_id = e.id
        db.session.expunge_all()
    head = read_marks([LEDGER_HEAD])[LEDGER_HEAD]
    done = dict(head_id=last_id or None, head_hash=prev if last_id else None)
    if head > last_id:
        return VerifyResult(checked, head, f"the chain ends at entry {last_id} but entries up to {head} were "
                                           "appended: the newest entries were deleted", **done)
    if head < last_id:
        return VerifyResult(checked, last_id, f"entries after {head} were not written by the app", **done)
    if not seen_expected:
        return VerifyResult(checked, expect_head[0], "the recorded head is no longer on the chain", **done)
    return VerifyResult(checked, **done)
