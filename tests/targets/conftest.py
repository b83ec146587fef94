"""A small tree with hand-computed figures for the progress table of 2025.

Counted people (active members and secretaries; the admin is not): b11 2 (sec_b11, m11),
b12 1 (m12), c1 4 (sec_c1 and both branches), b21 1 (m21), b22 0, c2 2.

January to June 2025:
  b11 study 5 + 1.6 = 6.6 / 2 = 3.3 (target 10: 33.0%, behind at 6/12)
  b12 service 6 / 1 = 6 (target 10: 60.0%, on track); study 2 to the branch itself (target 2: done)
  c1 study 6.6 + 2 = 8.6 / 4 = 2.15 -> 2.2 (target 5: 44.0%, behind)
July adds m11 study 4 on 2025-07-01 (b11: 10.6 / 2 = 5.3); a stopped member's 100 never counts.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.points.index_support import add_entry, make_rule  # noqa: F401


@pytest.fixture
def today_is(monkeypatch):
    """``today_is(date(2025, 3, 1))``: the targets' notion of today (Asia/Shanghai)."""
    from app.targets import services

    def set_today(day: date) -> None:
        monkeypatch.setattr(services, "local_today", lambda: day)

    return set_today


@pytest.fixture
def ledger(tree, add_entry, make_user):
    t = tree
    add_entry(t.m11, "study", "5", date(2025, 3, 1))
    add_entry(t.sec_b11, "study", "1.6", date(2025, 6, 30))
    add_entry(t.m11, "study", "4", date(2025, 7, 1))          # the 1st of July: not in January-June
    add_entry(t.m12, "service", "6", date(2025, 2, 10))
    add_entry(t.b12, "study", "2", date(2025, 5, 1))          # to the branch itself
    add_entry(t.m11, "innovation", "3", date(2024, 12, 31))   # last year: never counted
    t.stopped = make_user(t.b11, "member", "离开的人")
    add_entry(t.stopped, "study", "100", date(2025, 3, 1))
    t.stopped.active = False
    from app.extensions import db

    db.session.commit()
    return t


@pytest.fixture
def targets_2025(ledger, today_is):
    """Targets set in March 2025 by the admin (c1) and by 李书记 (his branches)."""
    from app.targets import services

    t = ledger
    today_is(date(2025, 3, 1))
    services.set_targets(t.admin, t.c1.id, 2025, {"study": Decimal(5)}, "街道年度工作要点")
    services.set_targets(t.sec_c1, t.b11.id, 2025, {"study": 10})
    services.set_targets(t.sec_c1, t.b12.id, 2025, {"study": "2", "service": "10"})
    services.set_targets(t.admin, t.b22.id, 2025, {"study": 3})
    today_is(date(2026, 12, 7))
    return t
