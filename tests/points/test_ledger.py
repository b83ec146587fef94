"""The append-only, hash-chained ledger: no update, no delete, and `ledger verify` catches tampering."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from app.points.models import AppendOnlyError, LedgerEntry
from tests.points.test_claims import add_rule, freeze_today


@pytest.fixture
def entries(tree, api_as, monkeypatch):
    """Three entries made the ordinary way: a claim approved, an award, a reversal."""
    freeze_today(monkeypatch, date(2026, 6, 10))
    add_rule(tree.admin, "shyk", "study", 2, title="参加“三会一课”")
    add_rule(tree.admin, "jiedui", "service", 5, title="结对帮扶")
    cid = api_as(tree.m11).post("/api/v1/claims", json={"rule_code": "shyk", "occurred_on": "2026-06-09",
                                                        "note": "党课"}).get_json()["id"]
    sec = api_as(tree.sec_b11)
    a = sec.post(f"/api/v1/claims/{cid}/approve").get_json()
    b = sec.post("/api/v1/awards", json={"member_id": tree.m11.id, "rule_code": "jiedui", "note": "帮扶"}).get_json()
    c = sec.post(f"/api/v1/entries/{b['id']}/reverse", json={"reason": "重复记录"}).get_json()
    return [a["id"], b["id"], c["id"]]


def test_orm_refuses_update_and_delete(entries, db):
    entry = db.session.get(LedgerEntry, entries[0])
    entry.points = 100
    with pytest.raises(AppendOnlyError):
        db.session.commit()
    db.session.rollback()
    entry = db.session.get(LedgerEntry, entries[0])
    db.session.delete(entry)
    with pytest.raises(AppendOnlyError):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(LedgerEntry, entries[0]).points == 2


def test_database_refuses_raw_update_and_delete(entries, db):
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(sa.text("UPDATE ledger_entries SET points = 100 WHERE id = :id"), {"id": entries[0]})
    db.session.rollback()
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(sa.text("DELETE FROM ledger_entries WHERE id = :id"), {"id": entries[0]})
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(LedgerEntry.id))) == 3
    assert db.session.get(LedgerEntry, entries[0]).points == 2


def test_database_refuses_replace_and_truncate(entries, db):
    """SQLite's REPLACE deletes the old row without DELETE triggers unless recursive triggers are
    on; PostgreSQL's TRUNCATE fires no row trigger. Both are refused."""
    if db.engine.dialect.name == "sqlite":
        columns = [c.name for c in LedgerEntry.__table__.columns]
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(sa.text(
                f"REPLACE INTO ledger_entries ({', '.join(columns)}) SELECT "
                + ", ".join("100" if c == "points" else c for c in columns)
                + " FROM ledger_entries WHERE id = :id"), {"id": entries[0]})
    else:
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(sa.text("TRUNCATE ledger_entries CASCADE"))
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(LedgerEntry.id))) == 3
    assert db.session.get(LedgerEntry, entries[0]).points == 2


def test_entries_chain_to_each_other(entries, db):
    rows = db.session.scalars(sa.select(LedgerEntry).order_by(LedgerEntry.id)).all()
    assert rows[0].prev_hash == "0" * 64
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert [r.source_key for r in rows] == [f"claim:{1}", rows[1].source_key, f"reversal:{entries[1]}"]
    assert rows[1].source_key.startswith("award:")


def test_verify_passes_on_a_good_chain(entries, runner):
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert "checked 3 entries" in result.output and "OK" in result.output


def test_verify_passes_on_an_empty_ledger(app, runner):
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0 and "checked 0 entries: OK" in result.output


def _tamper(db, sql: str, params: dict, *, action: str = "update") -> None:
    """Change (or delete) rows behind the app's back: lift the append-only trigger, change, put
    it back. PostgreSQL has one trigger for both; SQLite one per ``action``."""
    dialect = db.engine.dialect.name
    with db.engine.begin() as conn:
        if dialect == "postgresql":
            conn.exec_driver_sql("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_no_update")
            conn.execute(sa.text(sql), params)
            conn.exec_driver_sql("ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_no_update")
        else:
            conn.exec_driver_sql(f"DROP TRIGGER ledger_entries_no_{action}")
            conn.execute(sa.text(sql), params)
            conn.exec_driver_sql(
                f"CREATE TRIGGER ledger_entries_no_{action} BEFORE {action.upper()} ON ledger_entries "
                "BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END")


def test_verify_catches_a_row_changed_behind_the_apps_back(entries, db, runner):
    _tamper(db, "UPDATE ledger_entries SET points = 20 WHERE id = :id", {"id": entries[1]})
    db.session.expire_all()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1, result.output
    assert f"entry {entries[1]}" in result.output and "hash" in result.output
    assert "checked 1 entries" in result.output


def test_verify_catches_a_broken_link(entries, db, runner):
    _tamper(db, "UPDATE ledger_entries SET prev_hash = :h WHERE id = :id", {"h": "f" * 64, "id": entries[2]})
    db.session.expire_all()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert f"entry {entries[2]}" in result.output and "prev_hash" in result.output


def test_verify_catches_the_newest_entry_deleted(entries, db, runner):
    # what is left is a valid chain: only the head mark, moved by every append, tells
    _tamper(db, "DELETE FROM ledger_entries WHERE id = :id", {"id": entries[2]}, action="delete")
    db.session.expire_all()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1, result.output
    assert f"BROKEN at entry {entries[2]}" in result.output and "newest entries were deleted" in result.output


def test_verify_catches_an_entry_added_behind_the_apps_back(entries, db, runner):
    from app.points.ledger import entry_digest

    last = db.session.get(LedgerEntry, entries[2])
    forged = {c.name: getattr(last, c.key) for c in LedgerEntry.__table__.columns}
    forged.update(id=last.id + 1, source_key="forged:1", points=50, reverses_id=None, prev_hash=last.hash)
    forged["hash"] = entry_digest(last.hash, type("E", (), forged)())  # a well-formed link
    with db.engine.begin() as conn:
        conn.execute(sa.insert(LedgerEntry.__table__), forged)
    db.session.expire_all()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1, result.output
    assert f"BROKEN at entry {last.id + 1}" in result.output and "not written by the app" in result.output


def test_verify_prints_the_head_and_checks_a_recorded_one(entries, db, runner):
    first = runner.invoke(args=["ledger", "verify"])
    head = first.output.split("head: ", 1)[1].strip()
    assert head.startswith(f"{entries[2]}:") and len(head.split(":")[1]) == 64
    again = runner.invoke(args=["ledger", "verify", "--head", head])
    assert again.exit_code == 0 and "OK" in again.output, again.output
    wrong = runner.invoke(args=["ledger", "verify", "--head", f"{entries[2]}:{'0' * 64}"])
    assert wrong.exit_code == 1 and "recorded head" in wrong.output
    gone = runner.invoke(args=["ledger", "verify", "--head", f"{entries[2] + 10}:{'0' * 64}"])
    assert gone.exit_code == 1 and "no longer on the chain" in gone.output
    bad = runner.invoke(args=["ledger", "verify", "--head", "latest"])
    assert bad.exit_code == 2 and "ENTRY_ID:HASH" in bad.output
