"""Helpers of the assessment tests: units as orgs, finalized and running contests."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest


@pytest.fixture
def make_units(make_org, tree):
    """``make_units(n, prefix)`` -> n community orgs under the street, named prefix1..prefixN."""

    def make(n: int, prefix: str = "单位"):
        return [make_org(f"{prefix}{i}", "community", tree.street) for i in range(1, n + 1)]

    return make


@pytest.fixture
def make_contest(db, tree):
    """``make_contest(title, outcomes={org: (place, bonus, excluded)}, status="final", year=2026)``."""
    from app.contests.models import Contest, ContestOutcome

    def make(title: str, outcomes: dict, *, status: str = "final", year: int = 2026):
        contest = Contest(title=title, participant_type="community", scope_org_id=tree.street.id,
                          starts_on=date(year, 1, 1), ends_on=date(year, 12, 31), categories="study,service",
                          scoring="total", top_places=2, top_points=Decimal(1), exclude_last=True, status=status)
        db.session.add(contest)
        db.session.flush()
        for org, (place, bonus, excluded) in outcomes.items():
            db.session.add(ContestOutcome(contest_id=contest.id, year=year, org_id=org.id, place=place,
                                          bonus=Decimal(str(bonus)), award_ineligible=excluded))
        db.session.commit()
        return contest

    return make

