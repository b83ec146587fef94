"""Helpers for the contest tests: ledger entries, contests, a bigger community, a query counter."""
from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app.extensions import db as _db

YEAR = date.today().year  # the contests run over the current year, so the rollup picks them up
START, END = date(YEAR, 1, 1), date(YEAR, 12, 31)
_keys = itertools.count(1)


@pytest.fixture
def add_points(app):
    """``add_points(member=u or org=o, points=5, category="study", day=date)`` -> a committed entry."""
    from app.points.ledger import append_entry

    def add(points, category: str = "study", *, member=None, org=None, day: date = date(YEAR, 3, 1)):
        entry = append_entry(
            category=category, points=Decimal(str(points)), occurred_on=day, source="award",
            source_key=f"test:{next(_keys)}", rule_code="TEST", member_id=member.id if member else None,
            org_id=org.id if org else None, note="test",
        )
        _db.session.commit()
        return entry

    return add


@pytest.fixture
def make_contest(app):
    """``make_contest(actor, scope, participant_type="branch", **overrides)`` through the service."""
    from app.contests import services

    def make(actor, scope, participant_type: str = "branch", **kw):
        data = {
            "title": f"{YEAR}年度积分竞位赛", "participant_type": participant_type, "scope_org_id": scope.id,
            "starts_on": START, "ends_on": END,
            "categories": ["study", "service", "innovation", "rating", "penalty"],
            "scoring": "total", "top_places": 0, "top_points": Decimal(0), "exclude_last": False,
        }
        data.update(kw)
        return services.create_contest(actor, **data)

    return make


class Race:
    """Community 桂花社区 (tree.c1) with four branches and hand-computed scores.

    Categories counted: study and service, 2026. Active ranked members per branch:
    b11 2 (陈支书, 张三), b12 3 (李四 + 2), b13 1, b14 1.

    ======  =====================================  =====  ==========
    branch  counted entries                        total  per capita
    ======  =====================================  =====  ==========
    b11     张三 study 10, 陈支书 service 5,        18     9.00
            org service 3
    b12     李四 study 6, org study 4               10     3.3 (3.33 to one decimal)
    b13     member study 7.5 + service 2.5          10     10.00
    b14     org service 9                           9      9.00
    ======  =====================================  =====  ==========

    Total: 1, 2, 2, 4 (b11, b12=b13, b14). Per capita: 1, 2, 2, 4 (b13, b11=b14, b12).
    Not counted: a rating (category not in the contest), an entry dated 2025, and a penalty.
    """


@pytest.fixture
def race(tree, make_org, make_user, add_points):
    r = Race()
    r.tree = tree
    r.c1 = tree.c1
    r.b11, r.b12 = tree.b11, tree.b12
    r.b13 = make_org("桂花第三支部", "branch", tree.c1)
    r.b14 = make_org("桂花第四支部", "branch", tree.c1)
    r.m12b = make_user(r.b12, "member", "刘六")
    r.m12c = make_user(r.b12, "member", "孙七")
    make_user(r.b12, "member", "已停用", active=False)
    r.m13 = make_user(r.b13, "member", "周八")
    r.m14 = make_user(r.b14, "member", "吴九")
    add_points(10, "study", member=tree.m11)
    add_points(5, "service", member=tree.sec_b11)
    add_points(3, "service", org=tree.b11)
    add_points(6, "study", member=tree.m12)
    add_points(4, "study", org=tree.b12)
    add_points("7.5", "study", member=r.m13)
    add_points("2.5", "service", member=r.m13)
    add_points(9, "service", org=r.b14)
    add_points(20, "rating", member=r.m14)  # category not counted
    add_points(50, "study", member=r.m14, day=date(YEAR - 1, 12, 31))  # before the period
    add_points(-4, "penalty", member=tree.m11)  # category not counted
    return r


class QueryCounter:
    def __init__(self):
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """``with count_queries() as q: ...`` then ``q.count`` statements were executed."""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        counter = QueryCounter()

        def before(_conn, _cursor, statement, _params, _context, _many):
            counter.statements.append(statement)

        engine = _db.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting


def board(contest_id: int):
    """{participant_id: (rank, score, previous_rank)} of the contest's current snapshot."""
    from app.contests import services
    from app.contests.models import Contest

    contest = _db.session.get(Contest, contest_id)
    snap = services.current_snapshot(contest)
    return {r.participant_id: (r.rank, r.score, r.previous_rank)
            for r in services.standings(contest, snap, limit=None)}


def snapshot_count(contest_id: int) -> int:
    from app.contests.models import ContestSnapshot

    return _db.session.scalar(sa.select(sa.func.count()).select_from(ContestSnapshot)
                              .where(ContestSnapshot.contest_id == contest_id))
