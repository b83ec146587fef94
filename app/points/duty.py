"""The secretary duty index (党建履职指数): how well the duties of a secretary's subtree are done.

Each duty is a *metric*: a function ``(org, period, now) -> DutyMetric`` registered with
:func:`duty_metric`, giving a share (numerator / denominator) and the figures behind it. The
duty index is the plain average of the shares that can be computed, in percent, rounded once.
Other features add their own duties by registering a metric, e.g. the QR ratings add the
follow-up closure rate::

    @duty_metric("followups", order=30)
    def followups_closed(org, period, now) -> DutyMetric: ...
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.auth.models import User
from app.auth.scope import require_manage_org, require_role
from app.extensions import db
from app.orgs.models import Org
from app.points.index import Period, in_ranked_population
from app.points.models import Claim, LedgerEntry

TENTH = Decimal("0.1")


@dataclass
class DutyMetric:
    """One measured duty: ``numerator`` of ``denominator`` done well, and the figures behind it."""

    key: str
    label: str
    numerator: int
    denominator: int
    figures: list[tuple[str, int]] = field(default_factory=list)
    note: str = ""
    people: list[tuple[int, str]] = field(default_factory=list)

    @property
    def percent(self) -> Decimal | None:
        """The share in percent with one decimal; None when there is nothing to measure."""
        if not self.denominator:
            return None
        return (Decimal(100 * self.numerator) / self.denominator).quantize(TENTH, rounding=ROUND_HALF_UP)

    def as_json(self) -> dict:
        return {
            "key": self.key, "label": self.label, "numerator": self.numerator,
            "denominator": self.denominator,
            "percent": float(self.percent) if self.percent is not None else None,
            "figures": [{"label": label, "value": value} for label, value in self.figures],
        }


@dataclass
class DutyIndex:
    org: Org
    period: Period
    metrics: list[DutyMetric]

    @property
    def score(self) -> Decimal | None:
        """The average of the measurable shares, in percent, rounded once to one decimal."""
        shares = [Decimal(100 * m.numerator) / m.denominator for m in self.metrics if m.denominator]
        if not shares:
            return None
        return (sum(shares) / len(shares)).quantize(TENTH, rounding=ROUND_HALF_UP)

    def as_json(self) -> dict:
        return {
            "org": {"id": self.org.id, "name": self.org.name},
            "period": self.period.as_dict(),
            "score": float(self.score) if self.score is not None else None,
            "metrics": [m.as_json() for m in self.metrics],
        }


MetricFn = Callable[[Org, Period, datetime], DutyMetric]
DUTY_METRICS: list[tuple[int, str, MetricFn]] = []


def duty_metric(key: str, order: int = 50):
    """Register a duty metric (once per key); metrics are shown in ``order``."""

    def register(fn: MetricFn) -> MetricFn:
        if not any(k == key for _o, k, _f in DUTY_METRICS):
            DUTY_METRICS.append((order, key, fn))
            DUTY_METRICS.sort(key=lambda item: item[0])
        return fn

    return register


def _in_subtree(org: Org):
    return Org.path.startswith(org.path, autoescape=True)


def _within_days(later, earlier, days: int):
    """``later - earlier <= days`` for two timestamp columns, on SQLite and PostgreSQL."""
    if db.session.get_bind().dialect.name == "postgresql":
        return later <= earlier + sa.literal(timedelta(days=days), sa.Interval)
    # SQLite keeps UTC timestamps as text; julianday() reads them (allowing for a millisecond).
    return sa.func.julianday(later) - sa.func.julianday(earlier) <= days + 1e-8


def _as_utc_naive_if_sqlite(value: datetime) -> datetime:
    value = value.astimezone(timezone.utc)
    if db.session.get_bind().dialect.name == "sqlite":
        return value.replace(tzinfo=None)
    return value


@duty_metric("claims_on_time", order=10)
def claims_on_time(org: Org, period: Period, now: datetime) -> DutyMetric:
    """Claims created in the period, reviewed within N days (pending past N days are late)."""
    days = int(current_app.config.get("DUTY_REVIEW_DAYS", 3))
    start, end = period.utc_bounds()
    cutoff = now - timedelta(days=days)
    pending = Claim.status == "pending"
    on_time = sa.and_(~pending, Claim.reviewed_at.is_not(None),
                      _within_days(Claim.reviewed_at, Claim.created_at, days))
    late = sa.and_(~pending, sa.not_(on_time))
    overdue = sa.and_(pending, Claim.created_at < _as_utc_naive_if_sqlite(cutoff))

    def count(cond):
        return sa.func.coalesce(sa.func.sum(sa.case((cond, 1), else_=0)), 0)

    row = db.session.execute(
        sa.select(sa.func.count(Claim.id), count(on_time), count(late), count(overdue), count(pending))
        .select_from(Claim)
        .join(User, User.id == Claim.member_id)
        .join(Org, Org.id == User.org_id)
        .where(_in_subtree(org), Claim.created_at >= _as_utc_naive_if_sqlite(start),
               Claim.created_at < _as_utc_naive_if_sqlite(end))
    ).one()
    total, n_on_time, n_late, n_overdue, n_pending = (int(v or 0) for v in row)
    waiting = n_pending - n_overdue
    return DutyMetric(
        key="claims_on_time",
        label=_("申报%(days)s天内审核率", days=days),
        numerator=n_on_time,
        denominator=n_on_time + n_late + n_overdue,
        figures=[
            (_("本期申报"), total),
            (_("按时审核"), n_on_time),
            (_("超时审核"), n_late),
            (_("超时未审"), n_overdue),
            (_("待审未超时"), waiting),
        ],
        note=_("待审未超时的申报不计入。"),
    )


@duty_metric("members_active", order=20)
def members_active(org: Org, period: Period, now: datetime) -> DutyMetric:
    """Active members with at least one entry (not a reversal) dated in the period."""
    has_entry = (
        sa.exists()
        .where(LedgerEntry.member_id == User.id, LedgerEntry.reverses_id.is_(None),
               LedgerEntry.occurred_on.between(period.start, period.end))
    )
    population = (
        sa.select(User.id, User.name, sa.case((has_entry, 1), else_=0).label("active_in_period"))
        .join(Org, Org.id == User.org_id)
        .where(_in_subtree(org), in_ranked_population())
        .subquery("population")
    )
    # One statement: the counts on every row (window functions), the idle members listed first.
    rows = db.session.execute(
        sa.select(
            population.c.id, population.c.name, population.c.active_in_period,
            sa.func.count().over().label("n"),
            sa.func.sum(population.c.active_in_period).over().label("n_active"),
        )
        .order_by(population.c.active_in_period, population.c.name, population.c.id)
        .limit(50)
    ).all()
    total = int(rows[0].n) if rows else 0
    active = int(rows[0].n_active or 0) if rows else 0
    return DutyMetric(
        key="members_active",
        label=_("党员参与率"),
        numerator=active,
        denominator=total,
        figures=[(_("党员总数"), total), (_("本期有积分"), active), (_("本期无积分"), total - active)],
        note=_("本期至少有一条积分记录（冲正记录除外）即为参与。"),
        people=[(r.id, r.name) for r in rows if not r.active_in_period],
    )


def duty_index(actor, org_id: int | None, period: Period, *, now: datetime | None = None) -> DutyIndex:
    """The duty index of an org subtree in scope (default: the actor's own org)."""
    from app.points.index import get_org

    require_role(actor, "secretary", "admin")
    org = get_org(org_id) if org_id is not None else actor.org
    require_manage_org(actor, org)
    now = now or datetime.now(timezone.utc)
    return DutyIndex(org, period, [fn(org, period, now) for _order, _key, fn in DUTY_METRICS])


from app.qr import duty as _qr_duty  # noqa: E402,F401 - registers the QR follow-up closure rate
