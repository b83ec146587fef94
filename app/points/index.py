"""The Vanguard Index (先锋指数): periods, category sums, the index, ranks and org scores.

The formula
-----------
For a member and a period (a year, a quarter or a month of local dates in Asia/Shanghai), take
every ledger entry of the member whose ``occurred_on`` lies in the period (reversing entries
included, so a reversed entry nets out) and sum the points per category: ``sum_c``, rounded to one
decimal in SQL. With the yearly ceiling ``C_c`` (config ``INDEX_CEILINGS``; a quarter uses
``C_c / 4``, a month ``C_c / 12``) and the weight ``w_c`` (config ``INDEX_WEIGHTS``, summing to 100)::

    score_c = min(max(sum_c, 0), ceiling_c)           for c in study, service, innovation, rating
    index   = max(0, Σ_c w_c × score_c / ceiling_c + min(sum_penalty, 0))

rounded once, at the end, to one decimal (half up). So the index runs from 0 to 100: a member
at every ceiling scores 100, deductions (扣分, negative points) come off the weighted score.

Exactness: the database evaluates the formula in integers. Sums become tenths
(``CAST(ROUND(SUM(points) * 10) AS BIGINT)``), ``score_c / ceiling_c`` becomes
``clamp(d × sum10_c, 0, C10_c) / C10_c`` with ``d`` = 1, 4 or 12 (no fractional ceilings), all
terms are put over one common denominator ``D`` and the index in tenths is ``(2N + D) / (2D)``
in integer division. SQLite (which does NUMERIC arithmetic on floats) and PostgreSQL therefore
give the same, exact result, and equal indexes tie exactly when ranked. One expression builder,
:func:`index10_expr`, is used for a single member, for ranking many and for org averages.

Ranks come from :mod:`app.points.ranking` (competition ranking, 1, 2, 2, 4): a member is ranked
inside their own org (the branch; none for a member whose own org is not a branch, such as a
community secretary) and inside their community (the nearest ancestor of kind ``community``, or
the root when there is none), in one SQL statement.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Mapping

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement

from app.auth.models import User
from app.auth.scope import require_act_on_member, require_manage_org
from app.errors import Invalid, NotFound
from app.extensions import db
from app.orgs.models import Org
from app.orm import planned_for_parameters
from app.points.models import CATEGORIES, CATEGORY_LABELS, SYSTEM_RULE_TITLES, LedgerEntry, Rule, category_problem
from app.ids import get_by_id
from app.points.ranking import ranked_select
from app.templating import points as points_text
from app.timeutil import local_today, local_tz

SCORED = ("study", "service", "innovation", "rating")
RANKED_ROLES = ("member", "secretary")
PERIOD_KINDS = ("year", "quarter", "month")
MIN_YEAR, MAX_YEAR = 2000, 2100
TENTH = Decimal("0.1")
HUNDREDTH = Decimal("0.01")
SOURCE_LABELS = {"claim": "申报", "award": "加扣分", "rating": "群众评议", "contest": "竞赛奖励", "reversal": "冲正"}


def in_ranked_population() -> sa.ColumnElement[bool]:
    """The people ranks, per-capita figures and org totals count: active members and secretaries."""
    return sa.and_(User.active.is_(True), User.role.in_(RANKED_ROLES))


def num(value):
    """A Decimal as a JSON number: 5 -> 5, 2.5 -> 2.5, 2.25 -> 2.25; None stays None."""
    if value is None:
        return None
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


# --------------------------------------------------------------------------- periods






@dataclass(frozen=True)
class Period:
    """A year, a quarter (``number`` 1-4) or a month (``number`` 1-12) of local dates."""

    kind: str
    year: int
    number: int = 0

    @property
    def start(self) -> date:
        if self.kind == "year":
            return date(self.year, 1, 1)
        if self.kind == "quarter":
            return date(self.year, 3 * self.number - 2, 1)
        return date(self.year, self.number, 1)

    @property
    def end(self) -> date:
        """The last day, inclusive."""
        if self.kind == "year":
            return date(self.year, 12, 31)
        last_month = 3 * self.number if self.kind == "quarter" else self.number
        if last_month == 12:
            return date(self.year, 12, 31)
        return date(self.year, last_month + 1, 1) - timedelta(days=1)

    @property
    def key(self) -> str:
        if self.kind == "year":
            return f"{self.year}"
        if self.kind == "quarter":
            return f"{self.year}-Q{self.number}"
        return f"{self.year}-{self.number:02d}"

    @property
    def divisor(self) -> int:
        """How many such periods make a year: ceilings are yearly values divided by this."""
        return {"year": 1, "quarter": 4, "month": 12}[self.kind]

    @property
    def label(self) -> str:
        if self.kind == "year":
            return _("%(year)s年", year=self.year)
        if self.kind == "quarter":
            return _("%(year)s年第%(n)s季度", year=self.year, n=self.number)
        return _("%(year)s年%(n)s月", year=self.year, n=self.number)

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """The period as a half-open range of UTC instants [start, end)."""
        tz = local_tz()
        start = datetime.combine(self.start, time.min, tz).astimezone(timezone.utc)
        end = datetime.combine(self.end + timedelta(days=1), time.min, tz).astimezone(timezone.utc)
        return start, end

    def shifted(self, steps: int) -> "Period":
        """The period ``steps`` periods later (earlier when negative), of the same kind."""
        if self.kind == "year":
            return Period("year", self.year + steps)
        per_year = 4 if self.kind == "quarter" else 12
        n = self.year * per_year + (self.number - 1) + steps
        return Period(self.kind, n // per_year, n % per_year + 1)

    def of_kind(self, kind: str, anchor: date | None = None) -> "Period":
        """The period of ``kind`` around ``anchor`` (today when it lies in this period, else the end)."""
        if anchor is None or not self.contains(anchor):
            anchor = self.end
        return period_of(kind, anchor)

    def choices(self) -> list["Period"]:
        """The year, its quarters and its months, for a period picker."""
        return ([Period("year", self.year)] + [Period("quarter", self.year, q) for q in range(1, 5)]
                + [Period("month", self.year, m) for m in range(1, 13)])

    def as_dict(self) -> dict:
        return {"key": self.key, "kind": self.kind, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "label": self.label}

    def __str__(self) -> str:
        return self.key


def period_of(kind: str, day: date) -> Period:
    if kind == "year":
        return Period("year", day.year)
    if kind == "quarter":
        return Period("quarter", day.year, (day.month - 1) // 3 + 1)
    return Period("month", day.year, day.month)


_YEAR_RE = re.compile(r"^\d{4}$")
_QUARTER_RE = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")


def _year_value(year) -> int | None:
    if year is None or year == "":
        return None
    if isinstance(year, bool):
        raise Invalid(_("年份有误。"), fields={"year": [_("年份须为 2000 到 2100 之间的整数。")]})
    if isinstance(year, str):
        year = year.strip()
        if not _YEAR_RE.match(year):
            raise Invalid(_("年份有误。"), fields={"year": [_("年份须为 2000 到 2100 之间的整数。")]})
        year = int(year)
    if not isinstance(year, int) or not MIN_YEAR <= year <= MAX_YEAR:
        raise Invalid(_("年份有误。"), fields={"year": [_("年份须为 2000 到 2100 之间的整数。")]})
    return year


def _period_value(text: str) -> Period:
    bad = Invalid(_("统计周期有误。"), fields={"period": [
        _("统计周期须写作 2026（年）、2026-Q3（季度）或 2026-11（月）。")]})
    text = text.strip()
    if _YEAR_RE.match(text):
        p = Period("year", int(text))
    elif m := _QUARTER_RE.match(text):
        p = Period("quarter", int(m.group(1)), int(m.group(2)))
    elif (m := _MONTH_RE.match(text)) and 1 <= int(m.group(2)) <= 12:
        p = Period("month", int(m.group(1)), int(m.group(2)))
    else:
        raise bad
    if not MIN_YEAR <= p.year <= MAX_YEAR:
        raise bad
    return p


def parse_period(year=None, period: str | None = None, *, today: date | None = None) -> Period:
    """``?year=`` and ``?period=`` (2026, 2026-Q3, 2026-11) to a Period; 422 when bad.

    Without either, the current year in Asia/Shanghai. Both given must agree on the year.
    """
    y = _year_value(year)
    if period is not None and not isinstance(period, str):
        raise Invalid(_("统计周期有误。"), fields={"period": [_("统计周期须为文本。")]})
    if period is None or not period.strip():
        return Period("year", y if y is not None else (today or local_today()).year)
    p = _period_value(period)
    if y is not None and p.year != y:
        raise Invalid(_("统计周期不在所选年份内。"), fields={"period": [_("统计周期不在所选年份内。")]})
    return p


# --------------------------------------------------------------------------- configuration


def _one_decimal(value, what: str) -> Decimal:
    d = Decimal(str(value))
    if d <= 0 or d != d.quantize(TENTH):
        raise RuntimeError(f"{what} must be positive with at most one decimal, got {value!r}")
    return d


@dataclass(frozen=True)
class IndexConfig:
    """Weights and yearly ceilings per scored category, validated."""

    weights: Mapping[str, Decimal]
    ceilings: Mapping[str, Decimal]

    @classmethod
    def from_mapping(cls, weights: Mapping, ceilings: Mapping) -> "IndexConfig":
        w = {c: _one_decimal(weights[c], f"INDEX_WEIGHTS[{c!r}]") for c in SCORED}
        y = {c: _one_decimal(ceilings[c], f"INDEX_CEILINGS[{c!r}]") for c in SCORED}
        if sum(w.values()) != 100:
            raise RuntimeError(f"INDEX_WEIGHTS must sum to 100, got {sum(w.values())}")
        return cls(w, y)

    def w10(self, c: str) -> int:
        return int(self.weights[c] * 10)

    def y10(self, c: str) -> int:
        return int(self.ceilings[c] * 10)

    @property
    def denominator(self) -> int:
        """The common denominator D of every ``score_c / ceiling_c`` (lcm of the ceilings in tenths)."""
        return math.lcm(*(self.y10(c) for c in SCORED))

    def ceiling(self, c: str, period: Period) -> Decimal:
        return self.ceilings[c] / period.divisor


def index_config() -> IndexConfig:
    cfg = current_app.config
    return IndexConfig.from_mapping(cfg["INDEX_WEIGHTS"], cfg["INDEX_CEILINGS"])


# --------------------------------------------------------------------------- SQL building blocks


def _int(value: int) -> ColumnElement:
    """An integer constant written into the SQL (typed, never a float)."""
    return sa.literal_column(str(int(value)), sa.BigInteger)


def tenths_of(points_sum) -> ColumnElement:
    """``CAST(ROUND(COALESCE(sum, 0) * 10) AS BIGINT)``: a sum of points as exact tenths."""
    return sa.cast(sa.func.round(sa.func.coalesce(points_sum, 0) * 10), sa.BigInteger)


def category_tenths(points=LedgerEntry.points, category=LedgerEntry.category, *, columns=None) -> list[ColumnElement]:
    """Aggregate columns ``<category>10`` per category and ``total10``, in tenths of a point.

    From entries (one ``points`` and a ``category`` column), or from rows holding one column
    per category (``columns``, e.g. year totals; ``points`` is then their sum).
    """
    if columns is not None:
        cols = [tenths_of(sa.func.sum(columns[c])).label(f"{c}10") for c in CATEGORIES]
    else:
        cols = [
            tenths_of(sa.func.sum(sa.case((category == c, points), else_=0))).label(f"{c}10")
            for c in CATEGORIES
        ]
    cols.append(tenths_of(sa.func.sum(points)).label("total10"))
    return cols


def _clamp(expr, low: int, high: int) -> ColumnElement:
    return sa.case((expr < _int(low), _int(low)), (expr > _int(high), _int(high)), else_=expr)


def index10_expr(t: Mapping[str, ColumnElement], period: Period, cfg: IndexConfig | None = None) -> ColumnElement:
    """The index in tenths (0..1000) from per-category sums in tenths, as one SQL expression.

    ``t`` maps every category to an integer expression (``study10`` ...). See the module
    docstring for the formula; this is the only place it is written in SQL.
    """
    cfg = cfg or index_config()
    d = period.divisor
    big_d = cfg.denominator
    numerator = None
    for c in SCORED:
        k = cfg.w10(c) * (big_d // cfg.y10(c))
        term = _int(k) * _clamp(_int(d) * t[c], 0, cfg.y10(c))
        numerator = term if numerator is None else numerator + term
    penalty = sa.case((t["penalty"] > _int(0), _int(0)), else_=t["penalty"])
    numerator = numerator + penalty * _int(big_d)
    return sa.case(
        (numerator <= _int(0), _int(0)),
        else_=(_int(2) * numerator + _int(big_d)) // _int(2 * big_d),
    )


def tenths(value) -> Decimal:
    """An integer count of tenths as a one-decimal Decimal: 735 -> Decimal('73.5')."""
    return Decimal(int(value or 0)).scaleb(-1)


def round1(value: Decimal) -> Decimal:
    return value.quantize(TENTH, rounding=ROUND_HALF_UP)


_ANCESTOR = aliased(Org, name="ancestor")


def _org_community(within: Org | None = None) -> sa.CTE:
    """Per org (below ``within``): its community, the nearest ``community`` at or above it, else the root.

    A MATERIALIZED common table expression: the orgs are few, and folded into the members'
    query the nearest-community lookup would run once per member instead of once per org.
    """
    anc = _ANCESTOR
    nearest = (
        sa.select(anc.id)
        .where(Org.path.startswith(anc.path), sa.or_(anc.kind == "community", anc.parent_id.is_(None)))
        .order_by(sa.case((anc.kind == "community", 1), else_=0).desc(), anc.depth.desc())
        .limit(1)
        .correlate(Org)
        .scalar_subquery()
    )
    stmt = sa.select(Org.id.label("org_id"), Org.name.label("org_name"), Org.path.label("org_path"),
                     nearest.label("community_id"))
    if within is not None:
        stmt = stmt.where(Org.path.startswith(within.path, autoescape=True))
    return stmt.cte("org_community").prefix_with("MATERIALIZED")


def period_sums(period: Period, *, within: Org | None = None) -> sa.Subquery:
    """Per member below ``within``: the period's points per category and in total, in tenths.

    A year comes from the member year totals (:mod:`app.points.totals`: folded from the ledger)
    plus the entries the fold has not reached yet (by id, or by member when the fold lags far
    behind); both are exact, so the figures are those of summing the year's entries, at the
    cost of one row per member. Quarters and months sum their entries.
    """
    e = LedgerEntry
    members = None
    if within is not None:
        members = (sa.select(User.id).join(Org, Org.id == User.org_id)
                   .where(Org.path.startswith(within.path, autoescape=True)))
    if period.kind != "year":
        sums = (sa.select(e.member_id.label("member_id"), *category_tenths())
                .where(e.member_id.is_not(None), e.occurred_on.between(period.start, period.end))
                .group_by(e.member_id))
        if members is not None:
            sums = sums.where(e.member_id.in_(members))
        return sums.subquery("sums")
    from app.points.totals import MEMBER_TOTALS, LedgerCheckpoint, MemberYearPoints, _unindexed

    t = MemberYearPoints.__table__
    cut = sa.func.coalesce(sa.select(LedgerCheckpoint.entry_id).where(LedgerCheckpoint.name == MEMBER_TOTALS)
                           .scalar_subquery(), 0)
    folded = sa.select(t.c.member_id, *[t.c[c] for c in CATEGORIES]).where(t.c.year == period.year)
    tail = sa.select(e.member_id, *[sa.case((e.category == c, e.points), else_=0).label(c) for c in CATEGORIES]).where(
        e.id > cut, e.member_id.is_not(None), _unindexed(e.occurred_on).between(period.start, period.end))
    if members is not None:
        folded = folded.where(t.c.member_id.in_(members))
        tail = tail.where(e.member_id.in_(members))
    parts = sa.union_all(folded, tail).subquery("parts")
    return (
        sa.select(parts.c.member_id.label("member_id"),
                  *category_tenths(points=parts.c.study + parts.c.service + parts.c.innovation + parts.c.rating
                                   + parts.c.penalty, category=None, columns=parts.c))
        .group_by(parts.c.member_id)
        .subquery("sums")
    )


def member_scores(period: Period, *, within: Org | None = None, member_id: int | None = None,
                  cfg: IndexConfig | None = None) -> sa.Subquery:
    """One row per ranked member (active, role member or secretary) below ``within``.

    Columns: member_id, name, org_id, org_name, community_id, ranked (1/0), ``<category>10``,
    total10, index10. ``member_id`` adds that member even when not ranked (ranked = 0).
    """
    in_population = in_ranked_population()
    sums = period_sums(period, within=within)
    oc = _org_community(within)
    who = in_population if member_id is None else sa.or_(in_population, User.id == member_id)
    base = (
        sa.select(
            User.id.label("member_id"), User.name.label("name"), User.org_id.label("org_id"),
            oc.c.org_name, oc.c.community_id, sa.case((in_population, 1), else_=0).label("ranked"),
            *[sa.func.coalesce(sums.c[f"{c}10"], 0).label(f"{c}10") for c in (*CATEGORIES, "total")],
        )
        .select_from(User)
        .join(oc, oc.c.org_id == User.org_id)
        .outerjoin(sums, sums.c.member_id == User.id)
        .where(who)
    )
    base = base.subquery("base")
    t = {c: base.c[f"{c}10"] for c in CATEGORIES}
    return sa.select(*base.c, index10_expr(t, period, cfg).label("index10")).subquery("scored")


def ranked_members(period: Period, *, within: Org | None = None, member_id: int | None = None,
                   cfg: IndexConfig | None = None) -> sa.Subquery:
    """:func:`member_scores` with branch and community ranks and the sizes of both groups."""
    scored = member_scores(period, within=within, member_id=member_id, cfg=cfg)
    stmt = ranked_select(scored, score="index10", ranks={
        "rank": ("ranked",),
        "branch_rank": ("ranked", "org_id"),
        "community_rank": ("ranked", "community_id"),
    })
    stmt = stmt.add_columns(
        sa.func.count().over(partition_by=[scored.c.ranked, scored.c.org_id]).label("branch_size"),
        sa.func.count().over(partition_by=[scored.c.ranked, scored.c.community_id]).label("community_size"),
        sa.func.count().over(partition_by=[scored.c.ranked]).label("population"),
    )
    return stmt.subquery("ranked")


# --------------------------------------------------------------------------- member points


@dataclass
class EntryRow:
    """A ledger entry as shown in histories and explanations."""

    id: int
    occurred_on: date
    category: str
    rule_code: str
    rule_title: str
    points: Decimal
    source: str
    note: str
    created_at: datetime
    reverses_id: int | None
    reversed_by_id: int | None
    member_id: int | None = None
    org_id: int | None = None
    member_name: str | None = None
    owner_name: str | None = None

    def __post_init__(self):
        # no rule row: an entry the app made itself reads with its feature's title, not its code
        if self.rule_title == self.rule_code and self.rule_code in SYSTEM_RULE_TITLES:
            self.rule_title = str(SYSTEM_RULE_TITLES[self.rule_code])

    @property
    def reversed(self) -> bool:
        return self.reversed_by_id is not None

    @property
    def category_label(self) -> str:
        return CATEGORY_LABELS.get(self.category, self.category)

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS.get(self.source, self.source)

    @property
    def created_at_local(self) -> datetime:
        value = self.created_at
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(local_tz())


# One alias for every entries statement: a new alias per call costs milliseconds of column
# adaptation, and a statement built on the same alias hits SQLAlchemy's compiled cache.
_REVERSAL = aliased(LedgerEntry, name="reversal")


def entries_select(period: Period | None, *, member_id: int | None = None, org_id: int | None = None,
                   category: str | None = None) -> sa.Select:
    """Entries of one subject in a period, newest first, with rule titles and reversal marks."""
    rev = _REVERSAL
    stmt = (
        sa.select(
            LedgerEntry.id, LedgerEntry.occurred_on, LedgerEntry.category, LedgerEntry.rule_code,
            sa.func.coalesce(Rule.title, LedgerEntry.rule_code).label("rule_title"),
            LedgerEntry.points, LedgerEntry.source, LedgerEntry.note, LedgerEntry.created_at,
            LedgerEntry.reverses_id, rev.id.label("reversed_by_id"),
            LedgerEntry.member_id, LedgerEntry.org_id,
        )
        .select_from(LedgerEntry)
        .outerjoin(Rule, Rule.id == LedgerEntry.rule_id)
        .outerjoin(rev, rev.reverses_id == LedgerEntry.id)
    )
    if member_id is not None:
        stmt = stmt.where(LedgerEntry.member_id == member_id)
    if org_id is not None:
        stmt = stmt.where(LedgerEntry.org_id == org_id)
    if period is not None:
        stmt = stmt.where(LedgerEntry.occurred_on.between(period.start, period.end))
    if category:
        stmt = stmt.where(LedgerEntry.category == category)
    return stmt.order_by(LedgerEntry.occurred_on.desc(), LedgerEntry.id.desc())


def entry_rows(stmt) -> list[EntryRow]:
    """Run a statement shaped like :func:`entries_select` into EntryRows."""
    return [EntryRow(**{**row._mapping, "points": round1(Decimal(str(row.points))), "note": row.note or ""})
            for row in db.session.execute(stmt)]


@functools.cache
def _member_entries_stmt() -> sa.Select:
    """:func:`entries_select` for one member and a date range, built once with bound parameters."""
    return entries_select(None).where(
        LedgerEntry.member_id == sa.bindparam("member_id"),
        LedgerEntry.occurred_on.between(sa.bindparam("start", type_=sa.Date), sa.bindparam("end", type_=sa.Date)))


def member_entry_rows(member_id: int, period: Period) -> list[EntryRow]:
    """A member's entries in a period, newest first (the explanation's statement, on the hot path)."""
    rows = db.session.connection().execute(
        _member_entries_stmt(), {"member_id": member_id, "start": period.start, "end": period.end})
    out = []
    for r in rows:
        e = EntryRow(*r)  # the statement's columns are EntryRow's fields, in order
        points = e.points if isinstance(e.points, Decimal) else Decimal(str(e.points))
        e.points, e.note = round1(points), e.note or ""
        out.append(e)
    return out


@dataclass
class CategoryLine:
    """One line of the explanation: how a category adds to the index."""

    category: str
    raw: Decimal
    ceiling: Decimal | None = None
    score: Decimal | None = None
    weight: Decimal | None = None
    contribution: Decimal | None = None
    entries: list[EntryRow] = field(default_factory=list)
    exact_ceiling: Decimal | None = None  # a month's 160 / 12 = 13.333...; ``ceiling`` is 13.3

    @property
    def label(self) -> str:
        return CATEGORY_LABELS.get(self.category, self.category)

    @property
    def _exact_ceiling(self) -> Decimal | None:
        return self.exact_ceiling if self.exact_ceiling is not None else self.ceiling

    @property
    def shown_ceiling(self) -> Decimal | None:
        """The ceiling to two decimals, as pages and the API show it: one decimal would hide that
        a score is below it (13.3 of a month's 13.33 is not full, and its contribution is 39.9,
        not 40)."""
        if self._exact_ceiling is None:
            return None
        return Decimal(self._exact_ceiling).quantize(HUNDREDTH, rounding=ROUND_HALF_UP).normalize()

    @property
    def shown_score(self) -> Decimal | None:
        """The score counted, to the ceiling's decimals when capped (13.33 of 13.33)."""
        return self.shown_ceiling if self.capped and self.score is not None else self.score

    @property
    def ceiling_text(self) -> str:
        if self.shown_ceiling is None:
            return "—"
        return format(self.shown_ceiling, "f")  # 120, 13.3, 13.33

    @property
    def capped(self) -> bool:
        return self._exact_ceiling is not None and self.raw > self._exact_ceiling

    @property
    def score_text(self) -> str:
        """The score counted, as the pages show it: a capped score is its ceiling, to the same
        decimals (13.33 of 13.33, not 13.3 of 13.33)."""
        if self.score is None:
            return "—"
        return self.ceiling_text if self.capped else points_text(self.score)


@dataclass
class MemberPoints:
    member: User
    period: Period
    index: Decimal
    total: Decimal
    by_category: dict[str, Decimal]
    ranked: bool
    branch_rank: int | None
    branch_size: int
    community_rank: int | None
    community_size: int
    branch: Org
    community: Org  # an Org or a shared boards.OrgRef (id, name, kind, path)
    lines: list[CategoryLine]
    explained: bool = False
    branch_tied: int = 1  # ranked members sharing the branch place (1: nobody else)
    community_tied: int = 1

    @property
    def in_branch(self) -> bool:
        """Is the member's own org a branch? A community secretary sitting in the community has
        no branch rank (the community's direct members are no 支部)."""
        return self.branch.kind == "branch"

    def as_json(self, *, explanation: bool = True) -> dict:
        body = {
            "index": num(self.index),
            "total": num(self.total),
            "by_category": {c: num(v) for c, v in self.by_category.items()},
            "rank": {"branch": self.branch_rank, "community": self.community_rank},
            "period": self.period.as_dict(),
            "member": {"id": self.member.id, "name": self.member.name, "org_id": self.member.org_id},
            "rank_groups": {
                "branch": ({"id": self.branch.id, "name": self.branch.name, "size": self.branch_size}
                           if self.in_branch else None),
                "community": {"id": self.community.id, "name": self.community.name, "size": self.community_size},
            },
        }
        if explanation:
            body["explanation"] = explanation_json(self)
        return body


def explanation_lines(row, period: Period, cfg: IndexConfig, entries: list[EntryRow] | None = None) -> list[CategoryLine]:
    """The per-category breakdown of one member's index (Decimal, from the SQL sums)."""
    by_cat: dict[str, list[EntryRow]] = {c: [] for c in CATEGORIES}
    for e in entries or []:
        by_cat.setdefault(e.category, []).append(e)
    lines = []
    for c in SCORED:
        raw = tenths(row[f"{c}10"])
        ceiling = cfg.ceiling(c, period)
        m = min(max(int(row[f"{c}10"]) * period.divisor, 0), cfg.y10(c))  # clamp(d × sum10, 0, C10)
        score = Decimal(m) / period.divisor / 10
        contribution = cfg.weights[c] * Decimal(m) / cfg.y10(c)
        lines.append(CategoryLine(c, raw, round1(ceiling), round1(score), cfg.weights[c],
                                  contribution.quantize(HUNDREDTH, rounding=ROUND_HALF_UP), by_cat[c],
                                  exact_ceiling=ceiling))
    penalty = tenths(row["penalty10"])
    lines.append(CategoryLine("penalty", penalty, contribution=min(penalty, Decimal(0)),
                              entries=by_cat["penalty"]))
    return lines


def explanation_json(mp: MemberPoints) -> dict:
    tz = local_tz()
    return {
        "formula": "index = max(0, Σ weight × min(max(sum, 0), ceiling) / ceiling + penalty), rounded to 0.1",
        "categories": [
            {
                "category": line.category, "label": line.label, "raw": num(line.raw),
                "ceiling": num(line.shown_ceiling), "score": num(line.shown_score), "weight": num(line.weight),
                "contribution": num(line.contribution),
                "entries": [entry_json(e, tz) for e in line.entries],
            }
            for line in mp.lines
        ],
        "index": num(mp.index),
    }


def entry_json(e: EntryRow, tz=None) -> dict:
    created = e.created_at_local if tz is None else (
        e.created_at if e.created_at.tzinfo else e.created_at.replace(tzinfo=timezone.utc)).astimezone(tz)
    return {
        "id": e.id, "rule_code": e.rule_code, "rule_title": e.rule_title, "category": e.category,
        "points": num(e.points), "occurred_on": e.occurred_on.isoformat(), "source": e.source,
        "note": e.note, "created_at": created.isoformat(), "reverses_id": e.reverses_id,
        "reversed": e.reversed_by_id is not None, "reversed_by_id": e.reversed_by_id,
    }


def community_of(chain: list[Org]) -> Org:
    """The nearest org of kind ``community`` on a root-first chain, else the root."""
    for org in reversed(chain):
        if org.kind == "community":
            return org
    return chain[0]


def get_member(member_id: int) -> User:
    member = get_by_id(User, member_id)
    if member is None:
        raise NotFound(_("找不到该党员。"), code="member_not_found")
    return member


def get_org(org_id: int) -> Org:
    org = get_by_id(Org, org_id)
    if org is None:
        raise NotFound(_("找不到该组织。"), code="org_not_found")
    return org


def member_points(actor, member_id: int, period: Period, *, explain: bool = False) -> MemberPoints:
    """A member's index, category sums and ranks for a period (in scope of ``actor``).

    The figures and ranks are the member's row of the community's rank board
    (:mod:`app.points.boards`): one small statement reads the change marks, and the community is
    ranked again (one statement) only when an entry or the roster changed since. A member who is
    not ranked (an admin, an inactive account) is computed on their own. One more statement
    reads the entries behind the figures when ``explain`` is set.
    """
    from app.marks import ROSTER, ledger_key, read_marks
    from app.points import boards

    member = get_member(member_id)
    require_act_on_member(actor, member)
    cfg = index_config()
    marks = read_marks([ROSTER, *(ledger_key(i) for i in member.org.ancestor_ids)])
    community = boards.community_of(member.org, marks[ROSTER])
    board = boards.community_board(period, community, cfg, (marks[ROSTER], marks[ledger_key(community.id)]))
    row = board.row(member.id)
    if row is None:
        ranked = ranked_members(period, within=community, member_id=member.id, cfg=cfg)
        with planned_for_parameters():
            row = db.session.execute(sa.select(ranked).where(ranked.c.member_id == member.id)).mappings().one()
    entries = member_entry_rows(member.id, period) if explain else None
    is_ranked = bool(row["ranked"])
    in_branch = member.org.kind == "branch"
    branch_tied = community_tied = 1
    if is_ranked:
        branch_size, community_size = int(row["branch_size"]), int(row["community_size"])
        branch_tied, community_tied = board.tied(member.org_id, int(row["branch_rank"]), community.id,
                                                 int(row["community_rank"]))
    else:
        branch_size, community_size = board.group_sizes(member.org_id, community.id)
    return MemberPoints(
        member=member, period=period, index=tenths(row["index10"]), total=tenths(row["total10"]),
        by_category={c: tenths(row[f"{c}10"]) for c in CATEGORIES},
        ranked=is_ranked,
        branch_rank=int(row["branch_rank"]) if is_ranked and in_branch else None,
        branch_size=branch_size if in_branch else 0,
        community_rank=int(row["community_rank"]) if is_ranked else None,
        community_size=community_size,
        branch=member.org, community=community,
        lines=explanation_lines(row, period, cfg, entries), explained=explain,
        branch_tied=branch_tied, community_tied=community_tied,
    )


def member_entries(actor, member_id: int, period: Period, *, category: str | None = None,
                   limit: int = 50, offset: int = 0) -> tuple[list[EntryRow], int]:
    """A member's entries in a period (optionally one category), newest first, paged."""
    member = get_member(member_id)
    require_act_on_member(actor, member)
    if category and category not in CATEGORIES:
        raise Invalid(_("类别有误。"), fields={"category": [category_problem()]})
    stmt = entries_select(period, member_id=member.id, category=category or None)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    return entry_rows(stmt.limit(limit).offset(offset)), int(total or 0)


# --------------------------------------------------------------------------- the branch table


@dataclass
class TableRow:
    member_id: int
    name: str
    org_id: int
    org_name: str
    index: Decimal
    total: Decimal
    by_category: dict[str, Decimal]
    rank: int
    branch_rank: int
    community_rank: int


def _table_row(r) -> TableRow:
    return TableRow(
        member_id=r["member_id"], name=r["name"], org_id=r["org_id"], org_name=r["org_name"],
        index=tenths(r["index10"]), total=tenths(r["total10"]),
        by_category={c: tenths(r[f"{c}10"]) for c in CATEGORIES},
        rank=int(r["rank"]), branch_rank=int(r["branch_rank"]), community_rank=int(r["community_rank"]),
    )


def org_table(actor, org_id: int, period: Period, *, limit: int = 50, offset: int = 0) -> tuple[Org, list[TableRow], int]:
    """Members below an org in scope, ranked by index inside that org, best first, paged.

    One statement: the ranks and the total count come from window functions.
    """
    org = get_org(org_id)
    require_manage_org(actor, org)
    ranked = ranked_members(period, within=org)
    stmt = (
        sa.select(ranked, sa.func.count().over().label("n"))
        .order_by(ranked.c.rank, ranked.c.name, ranked.c.member_id)
        .limit(limit).offset(offset)
    )
    with planned_for_parameters():
        rows = db.session.execute(stmt).mappings().all()
        if rows:
            total = int(rows[0]["n"])
        else:
            total = int(db.session.scalar(sa.select(sa.func.count()).select_from(ranked)) or 0)
    return org, [_table_row(r) for r in rows], total


# --------------------------------------------------------------------------- org scores


def org_direct_sums(period: Period | DateSpan) -> sa.Subquery:
    """Per org: the tenths per category of its own entries plus its direct members' entries.

    The members are the ranked population the per-capita figure divides by (active members and
    secretaries): a member who left takes their points along, so a branch's total and its head
    count always describe the same people.
    """
    owner = sa.func.coalesce(LedgerEntry.org_id, User.org_id)
    return (
        sa.select(owner.label("org_id"), *category_tenths())
        .select_from(LedgerEntry)
        .outerjoin(User, User.id == LedgerEntry.member_id)
        .where(LedgerEntry.occurred_on.between(period.start, period.end),
               sa.or_(LedgerEntry.org_id.is_not(None), in_ranked_population()))
        .group_by(owner)
        .subquery("direct")
    )


@dataclass(frozen=True)
class DateSpan:
    """Local days from ``start`` to ``end`` (inclusive) that are no Period, e.g. January to June."""

    start: date
    end: date


def org_subtree_sums(period: Period | DateSpan, target_where) -> sa.Subquery:
    """Per target org: the tenths per category (and total10) of every entry its total counts.

    The entries of the active members and secretaries whose org lies in the target's subtree
    plus the entries made to the orgs in it (README "Org totals"); ``target_where`` is a
    condition on an ``Org`` alias choosing the targets.
    """
    target = aliased(Org, name="target")
    below = aliased(Org, name="below")
    direct = org_direct_sums(period)
    return (
        sa.select(
            target.id.label("org_id"),
            *[sa.func.coalesce(sa.func.sum(direct.c[f"{c}10"]), 0).label(f"{c}10") for c in (*CATEGORIES, "total")],
        )
        .select_from(target)
        .join(below, below.path.startswith(target.path))
        .outerjoin(direct, direct.c.org_id == below.id)
        .where(target_where(target))
        .group_by(target.id)
        .subquery("org_sums")
    )


def org_totals_select(period: Period | DateSpan, target_where) -> sa.Select:
    """Totals of many orgs in one statement, one row per target org, without member indexes.

    Columns: org_id, name, kind, path, depth, ``<category>10``, total10 (as
    :func:`org_subtree_sums`) and member_count: the active members and secretaries in the
    subtree, the people a per-capita figure divides by (:func:`per_capita`).
    """
    sums = org_subtree_sums(period, target_where)
    t2 = aliased(Org, name="t2")
    member_org = aliased(Org, name="member_org")
    people = (
        sa.select(t2.id.label("org_id"), sa.func.count(User.id).label("member_count"))
        .select_from(t2)
        .join(member_org, member_org.path.startswith(t2.path))
        .join(User, User.org_id == member_org.id)
        .where(target_where(t2), in_ranked_population())
        .group_by(t2.id)
        .subquery("org_people")
    )
    return (
        sa.select(
            Org.id.label("org_id"), Org.name, Org.kind, Org.path, Org.depth,
            *[sums.c[f"{c}10"] for c in (*CATEGORIES, "total")],
            sa.func.coalesce(people.c.member_count, 0).label("member_count"),
        )
        .select_from(Org)
        .join(sums, sums.c.org_id == Org.id)
        .outerjoin(people, people.c.org_id == Org.id)
        .order_by(Org.path)
    )


def per_capita(total: Decimal, n: int) -> Decimal | None:
    """A total divided by a head count, rounded half away from zero to one decimal (as contests
    rank on it); None without anybody to divide by."""
    return round1(total / n) if n else None


def org_scores_select(period: Period, target_where, *, cfg: IndexConfig | None = None,
                      within: Org | None = None) -> sa.Select:
    """Scores of many orgs in one statement, one row per target org.

    Columns: org_id, name, kind, path, ``<category>10`` and total10 (the entries of every member
    whose org lies in the target's subtree plus the entries of the orgs in it), member_count
    (active ranked members in the subtree) and index10_sum (the sum of their indexes, for the
    average). ``target_where`` is a condition on ``Org`` choosing the targets; ``within`` limits
    the member indexes computed to one subtree (a performance hint holding all the targets).
    """
    sums = org_subtree_sums(period, target_where)
    scored = member_scores(period, within=within, cfg=cfg)
    t2 = aliased(Org, name="t2")
    member_org = aliased(Org, name="member_org")
    people = (
        sa.select(
            t2.id.label("org_id"),
            sa.func.count(scored.c.member_id).label("member_count"),
            sa.func.coalesce(sa.func.sum(scored.c.index10), 0).label("index10_sum"),
        )
        .select_from(t2)
        .join(member_org, member_org.path.startswith(t2.path))
        .join(scored, scored.c.org_id == member_org.id)
        .where(target_where(t2))
        .group_by(t2.id)
        .subquery("org_people")
    )
    return (
        sa.select(
            Org.id.label("org_id"), Org.name, Org.kind, Org.path,
            *[sums.c[f"{c}10"] for c in (*CATEGORIES, "total")],
            sa.func.coalesce(people.c.member_count, 0).label("member_count"),
            sa.func.coalesce(people.c.index10_sum, 0).label("index10_sum"),
        )
        .select_from(Org)
        .join(sums, sums.c.org_id == Org.id)
        .outerjoin(people, people.c.org_id == Org.id)
        .order_by(Org.path)
    )


@dataclass
class OrgScore:
    org_id: int
    name: str
    kind: str
    by_category: dict[str, Decimal]
    total: Decimal
    member_count: int
    per_capita: Decimal | None
    average_index: Decimal | None

    @property
    def kind_label(self) -> str:
        from app.orgs.models import ORG_KIND_LABELS

        return ORG_KIND_LABELS.get(self.kind, self.kind)


def _org_score(r) -> OrgScore:
    total = tenths(r["total10"])
    n = int(r["member_count"])
    return OrgScore(
        org_id=r["org_id"], name=r["name"], kind=r["kind"],
        by_category={c: tenths(r[f"{c}10"]) for c in CATEGORIES}, total=total, member_count=n,
        per_capita=per_capita(total, n),
        average_index=round1(Decimal(int(r["index10_sum"])) / 10 / n) if n else None,
    )


@dataclass
class OrgPoints:
    org: Org
    period: Period
    score: OrgScore
    children: list[OrgScore]
    entries: list[EntryRow]
    entries_total: int


def org_scores(period: Period, orgs_where, *, within: Org | None = None) -> list[OrgScore]:
    """Scores of the orgs chosen by ``orgs_where(OrgAlias)`` (one statement)."""
    with planned_for_parameters():
        rows = db.session.execute(org_scores_select(period, orgs_where, within=within)).mappings().all()
    return [_org_score(r) for r in rows]


def org_points(actor, org_id: int, period: Period, *, limit: int = 50, offset: int = 0) -> OrgPoints:
    """An org's score with its children's, and the org's own entries in the period."""
    org = get_org(org_id)
    require_manage_org(actor, org)
    scores = org_scores(period, lambda o: sa.or_(o.id == org.id, o.parent_id == org.id), within=org)
    own = next(s for s in scores if s.org_id == org.id)
    children = [s for s in scores if s.org_id != org.id]
    stmt = entries_select(period, org_id=org.id)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    entries = entry_rows(stmt.limit(limit).offset(offset))
    return OrgPoints(org, period, own, children, entries, int(total or 0))
