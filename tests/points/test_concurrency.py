"""Concurrent writers: one approval wins, caps hold, an entry is reversed once, the chain stays whole."""
from __future__ import annotations

import threading
from datetime import date

import sqlalchemy as sa

from app.auth.services import issue_token
from app.points.ledger import verify_chain
from app.points.models import Claim, LedgerEntry
from tests.points.test_claims import add_rule, freeze_today

THREADS = 8


def in_parallel(app, tokens, path, payload=None):
    """POST ``path`` from one thread per token, all released at once; the status codes."""
    barrier = threading.Barrier(len(tokens))
    statuses: list[int | None] = [None] * len(tokens)
    errors: list[BaseException] = []

    def worker(i: int, token: str) -> None:
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            r = client.post(path, json=payload, headers={"Authorization": f"Bearer {token}"})
            statuses[i] = r.status_code
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i, t)) for i, t in enumerate(tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return statuses


def reviewer_tokens(tree):
    people = [tree.sec_b11, tree.sec_c1, tree.admin, tree.sec_b11, tree.sec_c1, tree.admin, tree.sec_c1, tree.admin]
    return [issue_token(u, f"t{i}") for i, u in enumerate(people[:THREADS])]


def test_concurrent_approvals_make_exactly_one_entry(app, tree, api_as, db, monkeypatch):
    freeze_today(monkeypatch, date(2026, 6, 10))
    add_rule(tree.admin, "shyk", "study", 2, title="参加“三会一课”")
    cid = api_as(tree.m11).post("/api/v1/claims", json={"rule_code": "shyk", "occurred_on": "2026-06-09"}).get_json()["id"]
    tokens = reviewer_tokens(tree)
    db.session.commit()  # the main thread holds no transaction while the threads run

    statuses = in_parallel(app, tokens, f"/api/v1/claims/{cid}/approve")

    assert sorted(statuses) == [200] + [409] * (THREADS - 1), statuses
    assert db.session.scalar(sa.select(sa.func.count(LedgerEntry.id))) == 1
    assert db.session.scalar(sa.select(LedgerEntry.source_key)) == f"claim:{cid}"
    assert db.session.get(Claim, cid).status == "approved"
    assert verify_chain().ok


def test_concurrent_awards_never_pass_a_cap(app, tree, db, monkeypatch):
    freeze_today(monkeypatch, date(2026, 6, 10))
    add_rule(tree.admin, "vol", "service", 2, title="志愿服务", daily_cap=6)
    tokens = reviewer_tokens(tree)
    db.session.commit()  # the main thread holds no transaction while the threads run

    statuses = in_parallel(app, tokens, "/api/v1/awards",
                           {"member_id": tree.m11.id, "rule_code": "vol", "occurred_on": "2026-06-10"})

    assert sorted(statuses) == [201] * 3 + [409] * (THREADS - 3), statuses
    assert db.session.scalar(sa.select(sa.func.sum(LedgerEntry.points))) == 6
    assert verify_chain().ok


def test_concurrent_reversals_reverse_once(app, tree, api_as, db, monkeypatch):
    freeze_today(monkeypatch, date(2026, 6, 10))
    add_rule(tree.admin, "absent", "penalty", -5, title="无故缺席组织生活")
    eid = api_as(tree.sec_c1).post("/api/v1/awards", json={"member_id": tree.m11.id, "rule_code": "absent"}).get_json()["id"]
    tokens = reviewer_tokens(tree)
    db.session.commit()  # the main thread holds no transaction while the threads run

    statuses = in_parallel(app, tokens, f"/api/v1/entries/{eid}/reverse", {"reason": "已请假"})

    assert sorted(statuses) == [201] + [409] * (THREADS - 1), statuses
    assert db.session.scalar(sa.select(sa.func.count(LedgerEntry.id))) == 2
    assert verify_chain().ok


def test_concurrent_writers_keep_one_chain(app, tree, db, monkeypatch):
    """Awards to different members at once: all stored, one unbroken chain (no fork)."""
    freeze_today(monkeypatch, date(2026, 6, 10))
    add_rule(tree.admin, "jiedui", "service", 5, title="结对帮扶")
    tokens = [issue_token(tree.admin, f"a{i}") for i in range(THREADS)]
    db.session.commit()  # the main thread holds no transaction while the threads run

    statuses = in_parallel(app, tokens, "/api/v1/awards", {"member_id": tree.m21.id, "rule_code": "jiedui"})

    assert statuses == [201] * THREADS
    result = verify_chain()
    assert result.ok and result.checked == THREADS


def test_an_approval_takes_the_ledger_lock_once(app, tree, api_as, db, monkeypatch, count_statements):
    """The cap check and the append share one lock: one round trip, not one each."""
    freeze_today(monkeypatch, date(2026, 6, 10))
    add_rule(tree.admin, "shyk", "study", 2, title="参加“三会一课”")
    cid = api_as(tree.m11).post("/api/v1/claims", json={"rule_code": "shyk", "occurred_on": "2026-06-09"}).get_json()["id"]
    reviewer = api_as(tree.sec_b11)
    db.session.commit()

    with count_statements() as log:
        assert reviewer.post(f"/api/v1/claims/{cid}/approve").status_code == 200
    locks = [s for s in log.statements if "pg_advisory_xact_lock" in s or s.strip().upper() == "BEGIN IMMEDIATE"]
    # SQLite: the claim's UPDATE has already taken the database's write lock, so no BEGIN IMMEDIATE
    assert len(locks) == (1 if db.engine.dialect.name == "postgresql" else 0), log.statements
    assert db.session.scalar(sa.select(sa.func.count(LedgerEntry.id))) == 1
    assert verify_chain().ok
