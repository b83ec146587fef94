"""The demo street gets the year's contests, with a few day closes for the trend chart."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.contests.rollup import local_date, utcnow

from app.contests.models import Contest, ContestSnapshot


def test_demo_contests_on_the_demo_street(app, db):
    from app.contests.demo import load_demo_contests
    from app.demo import load_demo

    load_demo(seed=7)  # the demo street loads its contests with three weeks of day closes
    contests = load_demo_contests(days=3)  # a later call finds them and adds nothing
    assert [c.participant_type for c in contests] == ["branch", "community", "member"]
    today = local_date(utcnow())
    for c in contests:
        days = db.session.scalar(sa.select(sa.func.count()).select_from(ContestSnapshot).where(
            ContestSnapshot.contest_id == c.id, ContestSnapshot.kind == "day"))
        expected = sum(c.starts_on <= today - timedelta(days=n) <= c.ends_on for n in range(1, 22))
        assert days == expected  # one close for each of the last 21 days inside the period
    assert [c.id for c in load_demo_contests(days=3)] == [c.id for c in contests]  # a second run adds nothing
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contest)) == 3


def test_a_fresh_demo_shows_the_days_movement(app, db):
    """Claims approved today in the demo community move places against yesterday's close, so
    the member race of a fresh demo (``make run``: the default seed) shows arrows, no place
    reads as new, and the members still at 0 keep their shared place."""
    from app.contests.models import ContestStanding
    from app.demo import load_demo

    load_demo()
    contest = db.session.scalar(sa.select(Contest).where(Contest.participant_type == "member"))
    latest = db.session.scalar(sa.select(ContestSnapshot).where(ContestSnapshot.contest_id == contest.id)
                               .order_by(ContestSnapshot.id.desc()).limit(1))
    assert latest.kind == "manual"
    standings = list(db.session.scalars(sa.select(ContestStanding).where(ContestStanding.snapshot_id == latest.id)))
    assert standings and all(s.previous_rank is not None for s in standings)
    assert sum(s.rank != s.previous_rank for s in standings) >= 2
    assert all(s.rank == s.previous_rank for s in standings if s.score == 0)
