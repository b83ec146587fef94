"""Contests, their leaderboard snapshots, and the consequences a final standing has."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.orgs.models import Org, utcnow

PARTICIPANT_TYPES = ("member", "branch", "community")
SCORINGS = ("total", "per_capita")
SCORE = sa.Numeric(14, 2)
SNAPSHOT_KINDS = ("tick", "manual", "day", "month", "final")


class Contest(db.Model):
    """A points race over a period among members, branches or communities inside ``scope_org``."""

    __tablename__ = "contests"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    participant_type: Mapped[str] = mapped_column(sa.String(20))
    scope_org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date] = mapped_column(sa.Date)
    categories: Mapped[str] = mapped_column(sa.String(100))  # comma-separated category codes
    scoring: Mapped[str] = mapped_column(sa.String(20), default="total")
    top_places: Mapped[int] = mapped_column(default=0)
    top_points: Mapped[Decimal] = mapped_column(sa.Numeric(10, 1), default=Decimal("0"))
    exclude_last: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(sa.String(20), default="running", index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    finalized_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    finalized_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    scope_org: Mapped[Org] = relationship()

    __table_args__ = (
        sa.CheckConstraint("participant_type IN ('member', 'branch', 'community')", name="participant_type"),
        sa.CheckConstraint("scoring IN ('total', 'per_capita')", name="scoring"),
        sa.CheckConstraint("status IN ('running', 'final')", name="status"),
        sa.CheckConstraint("ends_on >= starts_on", name="period"),
    )

    @property
    def category_list(self) -> list[str]:
        return [c for c in self.categories.split(",") if c]

    @property
    def year(self) -> int:
        return self.ends_on.year


class ContestSnapshot(db.Model):
    """One rollup of a contest's standings; ``period_key`` makes a rerun of a period a no-op."""

    __tablename__ = "contest_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(sa.ForeignKey("contests.id"), index=True)
    period_key: Mapped[str] = mapped_column(sa.String(40))
    as_of: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    is_final: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # tick (the 10-minute rollup), manual (rolled up now), day (a day's close), month (the
    # monthly publication), final (frozen by finalize)
    kind: Mapped[str] = mapped_column(sa.String(10), default="tick", server_default="tick")
    published: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # the change marks the standings were computed at (app.contests.rollup.source_marks): a
    # tick or manual rollup that finds them unmoved writes nothing new
    source_marks: Mapped[str | None] = mapped_column(sa.String(120))

    __table_args__ = (
        sa.UniqueConstraint("contest_id", "period_key", name="uq_contest_snapshots_period"),
        sa.CheckConstraint("kind IN ('tick', 'manual', 'day', 'month', 'final')", name="kind"),
        sa.Index("ix_contest_snapshots_as_of", "contest_id", "as_of"),
    )


class ContestStanding(db.Model):
    """One participant's place in one snapshot.

    Keyed by (snapshot, participant), with no surrogate id and no foreign key to the snapshot: a
    rollup writes one row per participant (100,000 in a district), and PostgreSQL checks a
    foreign key with a trigger per row, which cost more than the rest of the insert. Standings are
    derived rows, written only by ``app.contests.rollup.standings_insert`` for a snapshot created
    in the same transaction and deleted only together with their snapshot (``prune_ticks``).
    """

    __tablename__ = "contest_standings"

    snapshot_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    participant_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    score: Mapped[Decimal] = mapped_column(SCORE)
    rank: Mapped[int] = mapped_column()
    previous_rank: Mapped[int | None] = mapped_column()

    __table_args__ = (
        sa.Index("ix_contest_standings_rank", "snapshot_id", "rank"),
    )


class ContestOutcome(db.Model):
    """What a finalized contest hands to the annual assessment for one org participant.

    ``bonus`` is added to the org's assessment bonus for ``year``; ``award_ineligible`` marks the
    excluded last place (no collective awards, 评优评先, that year).
    """

    __tablename__ = "contest_outcomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(sa.ForeignKey("contests.id"), index=True)
    year: Mapped[int] = mapped_column(index=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    place: Mapped[int] = mapped_column()
    bonus: Mapped[Decimal] = mapped_column(sa.Numeric(10, 1), default=Decimal("0"))
    award_ineligible: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    contest: Mapped[Contest] = relationship()
    org: Mapped[Org] = relationship()

    __table_args__ = (sa.UniqueConstraint("contest_id", "org_id", name="uq_contest_outcomes_org"),)
