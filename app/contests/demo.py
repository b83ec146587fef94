"""Demo contests for the demo street (app.demo): the year's races, with a few weeks of day closes.

``load_demo_contests()`` expects the demo street and its points activity to exist; it creates
the contests through the same service the pages use, then writes a day close for each of the
last ``days`` days so the trend chart has a history. Running it twice adds nothing.
"""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from app.auth.models import User
from app.contests import rollup, services
from app.contests.models import Contest, ContestSnapshot
from app.extensions import db
from app.orgs.models import Org


def load_demo_contests(days: int = 21) -> list[Contest]:
    """A branch race in the demo community secretary's community, a community race for the
    street (admin) and a members' race in that community; returns them."""
    from app.demo import FIXED_ADMIN, FIXED_COMMUNITY_SECRETARY

    admin = db.session.scalar(sa.select(User).where(User.phone == FIXED_ADMIN[1]))
    secretary = db.session.scalar(sa.select(User).where(User.phone == FIXED_COMMUNITY_SECRETARY[1]))
    if admin is None or secretary is None:
        return []
    if db.session.scalar(sa.select(sa.func.count()).select_from(Contest)):
        return list(db.session.scalars(sa.select(Contest).order_by(Contest.id)))
    today = rollup.local_date(rollup.utcnow())
    year = today.year
    community = secretary.org
    street = db.session.get(Org, community.parent_id) if community.parent_id else community
    common = {"starts_on": date(year, 1, 1), "ends_on": date(year, 12, 31),
              "categories": ["study", "service", "innovation", "rating", "penalty"]}
    contests = [
        services.create_contest(
            secretary, title=f"{year}年度{community.name}支部积分竞位赛", participant_type="branch",
            scope_org_id=community.id, scoring="per_capita", top_places=2, top_points=2, exclude_last=True,
            **common),
        services.create_contest(
            admin, title=f"{year}年度社区积分竞位赛", participant_type="community", scope_org_id=street.id,
            scoring="per_capita", top_places=2, top_points=3, exclude_last=True, **common),
        services.create_contest(
            secretary, title=f"{year}年度{community.name}党员比学赶超擂台赛", participant_type="member",
            scope_org_id=community.id, scoring="total", top_places=3, top_points=5, exclude_last=False,
            **common),
    ]
    for contest in contests:
        # The first rollup (made by create_contest, as of now) goes: the days are filled in
        # after it, and the closing refresh below should show the movement since yesterday's
        # close, which it could not against a refresh of its own standings.
        rollup.delete_snapshots(ContestSnapshot.contest_id == contest.id)
        db.session.commit()
        for back in range(days, 0, -1):
            day = today - timedelta(days=back)
            if contest.starts_on <= day <= contest.ends_on:
                services.commit_snapshot(contest.id, period_key=f"day:{day.isoformat()}", kind="day",
                                         through=day, as_of=rollup.end_of_day(day))
        services.commit_snapshot(contest.id, period_key=services.manual_key(), kind="manual")
    return contests
