"""Year targets (年度目标书), the progress table (进度表) and the scorecard (成绩单).

The rules
---------
* An org's targets for a year are per-capita points for study, service and innovation, each
  optional, one decimal, above 0 and at most 10000. They are set by the level above: an admin
  for any org, a secretary for the orgs strictly below their own (403 ``next_level_up`` for
  their own org, as with awards to orgs). The current year and the next one may be set; a
  finished year's targets are its scorecard's and stay as they were (409 ``year_closed``).
* Every change is a new version row naming who, when and why (:mod:`app.targets.models`).
* The progress of month M of a year counts January 1 to the last day of M: an org's actual
  figure per category is its total (README "Org totals": the subtree's active members' and
  secretaries' entries plus the entries made to the orgs in it, :func:`app.points.index.
  org_totals_select`) divided by the active members and secretaries in its subtree, rounded
  half away from zero to one decimal, as contests' per-capita figure.
* Completion = actual / target, as a percentage with one decimal rounded down (so 100.0% is
  shown only for a target met, never for 99.96%). Time progress = M / 12 (one decimal,
  rounded half up). Status: 已完成 when actual ≥ target, 进度正常 when actual / target ≥ M / 12
  (compared exactly: 12 × actual ≥ M × target), else 进度滞后. An org with nobody to divide by
  has no actual figure (暂无党员).
* The scorecard is month 12 of a finished year: each target 完成 (actual ≥ target) or 未完成,
  and how many of its targets an org met.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Mapping

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from app.auth.scope import require_view_org
from app.errors import Conflict, Invalid
from app.extensions import db
from app.orgs.models import ORG_KIND_LABELS, Org, utcnow
from app.orm import planned_for_parameters
from app.points import index as ix
from app.points.boards import OrgRef  # an org from a row already fetched, for the scope rule
from app.points.models import CATEGORY_LABELS
from app.points.services import can_decide_for_org, parse_points, require_decide_for_org
from app.targets.models import TARGET_CATEGORIES, YearTarget
from app.text import visible_text
from app.timeutil import iso_local, local_today

MAX_TARGET = Decimal(10000)
NOTE_MAX = 200
TENTH = Decimal("0.1")
HUNDRED = Decimal(100)

STATUS_LABELS = {
    "done": _l("已完成"),
    "on_track": _l("进度正常"),
    "behind": _l("进度滞后"),
    "no_target": _l("未设目标"),
    "no_members": _l("暂无党员"),
    "met": _l("完成"),
    "not_met": _l("未完成"),
}
STATUS_BADGES = {"done": "ok", "on_track": "", "behind": "bad", "met": "ok", "not_met": "bad"}


# --------------------------------------------------------------------------- target books


def current_targets(org_ids: list[int], year: int) -> dict[int, YearTarget]:
    """The target book in force (the latest version) of each org of ``org_ids`` for ``year``;
    one statement whatever the number of orgs."""
    if not org_ids:
        return {}
    latest = (
        sa.select(YearTarget.org_id, sa.func.max(YearTarget.version).label("version"))
        .where(YearTarget.org_id.in_(org_ids), YearTarget.year == year)
        .group_by(YearTarget.org_id)
        .subquery("latest")
    )
    rows = db.session.scalars(
        sa.select(YearTarget)
        .join(latest, sa.and_(latest.c.org_id == YearTarget.org_id, latest.c.version == YearTarget.version))
        .where(YearTarget.year == year)
        .options(joinedload(YearTarget.set_by))
    )
    return {t.org_id: t for t in rows}


def target_history(org_id: int, year: int) -> list[YearTarget]:
    """Every version of an org's target book for a year, the one in force first."""
    return list(db.session.scalars(
        sa.select(YearTarget).where(YearTarget.org_id == org_id, YearTarget.year == year)
        .options(joinedload(YearTarget.set_by))
        .order_by(YearTarget.version.desc())
    ))


def settable_years(today: date | None = None) -> tuple[int, int]:
    """The years whose targets may be set: this year and the next."""
    year = (today or local_today()).year
    return year, year + 1


def check_year_settable(year, today: date | None = None) -> int:
    """``year`` as an int when its targets may still be set; 422 for no year, 409 for a finished one."""
    first, last = settable_years(today)
    if isinstance(year, bool) or not isinstance(year, int) or not ix.MIN_YEAR <= year <= ix.MAX_YEAR:
        raise Invalid(_("年份有误。"), fields={"year": [_("年份须为 2000 到 2100 之间的整数。")]})
    if year < first:
        raise Conflict(_("%(year)s 年已结束，当年的目标书已归档，不能再修改。", year=year), code="year_closed")
    if year > last:
        raise Invalid(_("目标书只能设定今年和明年的。"),
                      fields={"year": [_("年份须为 %(a)s 或 %(b)s。", a=first, b=last)]})
    return year


def clean_targets(values: Mapping) -> dict[str, Decimal | None]:
    """The three targets from ``values`` (numbers, numeric text, or empty/None for no target);
    422 with a message per field when any is bad."""
    fields: dict[str, list[str]] = {}
    out: dict[str, Decimal | None] = {}
    for c in TARGET_CATEGORIES:
        raw = values.get(c)
        if isinstance(raw, str):
            raw = raw.strip().translate(_FULLWIDTH)
        number = parse_points(raw, c, fields, limit=MAX_TARGET)
        if number is not None and number <= 0:
            fields[c] = [_("目标须大于 0（不设目标请留空）。")]
            number = None
        out[c] = number
    if fields:
        raise Invalid(_("目标有误，请按提示修改。"), fields=fields)
    return out


_FULLWIDTH = str.maketrans("０１２３４５６７８９．", "0123456789.")


def clean_note(note) -> str:
    if note is None:
        return ""
    if not isinstance(note, str):
        raise Invalid(_("说明有误。"), fields={"note": [_("说明须为文字。")]})
    note = visible_text(note)
    if len(note) > NOTE_MAX:
        raise Invalid(_("说明太长。"), fields={"note": [_("说明不超过%(n)s个字。", n=NOTE_MAX)]})
    return note


@dataclass
class SetResult:
    book: YearTarget | None  # the target book in force afterwards (None: never set)
    changed: bool


def set_targets(actor, org_id: int, year, values: Mapping, note=None, *, today: date | None = None) -> SetResult:
    """Set ``org_id``'s targets for ``year`` (all three: a missing or empty one is no target).

    Checks the actor's scope and level, the year and every value before writing anything; the
    same targets as those in force write nothing (``changed`` False). Commits.
    """
    org = ix.get_org(org_id)
    require_decide_for_org(actor, org, own_message=_("本组织的年度目标由上级组织制定。"))
    year = check_year_settable(year, today)
    cleaned = clean_targets(values)
    note = clean_note(note)
    current = current_targets([org.id], year).get(org.id)
    before = current.values if current else dict.fromkeys(TARGET_CATEGORIES)
    if cleaned == before:
        return SetResult(current, False)
    row = YearTarget(org_id=org.id, year=year, version=(current.version + 1) if current else 1, note=note,
                     set_by_id=getattr(actor, "id", None), set_at=utcnow(), **cleaned)
    db.session.add(row)
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise Conflict(_("该组织的目标刚被别人修改过，请刷新后再试。"), code="concurrent_change") from None
    return SetResult(row, True)


def target_form_context(actor, org_id: int, year: int) -> tuple[Org, YearTarget | None, list[YearTarget]]:
    """(org, the book in force, its history) for the form, after the same checks as setting."""
    org = ix.get_org(org_id)
    require_decide_for_org(actor, org, own_message=_("本组织的年度目标由上级组织制定。"))
    history = target_history(org.id, year)
    return org, (history[0] if history else None), history


# --------------------------------------------------------------------------- progress


def _int_value(value, name: str, lo: int, hi: int, problem: str):
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise Invalid(problem, fields={name: [problem]})
    return value


def parse_year_month(year=None, month=None, *, today: date | None = None) -> tuple[int, int]:
    """``?year=&month=`` to (year, month): by default the current month of the current year and
    December of a past year; a year or a month still to come is refused (422)."""
    today = today or local_today()
    y = _int_value(year, "year", ix.MIN_YEAR, ix.MAX_YEAR, _("年份须为 2000 到 2100 之间的整数。"))
    m = _int_value(month, "month", 1, 12, _("月份须为 1 到 12 之间的整数。"))
    y = today.year if y is None else y
    if y > today.year:
        message = _("%(year)s 年还没有到，进度表只能查看今年和往年。", year=y)
        raise Invalid(message, fields={"year": [message]})
    if m is None:
        m = today.month if y == today.year else 12
    if y == today.year and m > today.month:
        message = _("%(month)s 月还没有到，请选择 1 到 %(now)s 月。", month=m, now=today.month)
        raise Invalid(message, fields={"month": [message]})
    return y, m


@dataclass
class Cell:
    """One category of one org: target, actual per capita, completion and status."""

    category: str
    target: Decimal | None
    actual: Decimal | None
    completion: Decimal | None
    status: str

    @property
    def label(self) -> str:
        return CATEGORY_LABELS.get(self.category, self.category)

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[self.status])

    @property
    def badge(self) -> str:
        return STATUS_BADGES.get(self.status, "")

    def as_json(self) -> dict:
        return {"target": ix.num(self.target), "actual": ix.num(self.actual), "completion": ix.num(self.completion),
                "status": self.status, "status_label": self.status_label}


@dataclass
class Row:
    org_id: int
    name: str
    kind: str
    member_count: int
    cells: dict[str, Cell]
    book: YearTarget | None
    settable: bool = False

    @property
    def has_targets(self) -> bool:
        return any(c.target is not None for c in self.cells.values())

    @property
    def targeted(self) -> int:
        return sum(1 for c in self.cells.values() if c.target is not None)

    @property
    def met(self) -> int:
        return sum(1 for c in self.cells.values() if c.target is not None and c.status in ("done", "met"))

    @property
    def kind_label(self) -> str:
        return ORG_KIND_LABELS.get(self.kind, self.kind)

    def as_json(self) -> dict:
        book = self.book
        return {
            "org": {"id": self.org_id, "name": self.name, "kind": self.kind},
            "member_count": self.member_count,
            "has_targets": self.has_targets,
            "targets_met": self.met,
            "targets_set": self.targeted,
            "categories": {c: cell.as_json() for c, cell in self.cells.items()},
            "version": book.version if book else None,
            "set_by": {"id": book.set_by.id, "name": book.set_by.name} if book and book.set_by else None,
            "set_at": iso_local(book.set_at) if book else None,
            "note": book.note if book else None,
        }


@dataclass
class ProgressTable:
    org: Org
    year: int
    month: int
    scorecard: bool
    time_progress: Decimal
    own: Row
    rows: list[Row]
    categories: list[str] = field(default_factory=list)

    @property
    def span(self) -> ix.DateSpan:
        return ix.DateSpan(date(self.year, 1, 1), ix.Period("month", self.year, self.month).end)

    @property
    def title(self) -> str:
        if self.scorecard:
            return _("%(year)s年度成绩单", year=self.year)
        return _("%(year)s年度进度表", year=self.year)

    @property
    def period_label(self) -> str:
        if self.month == 1:
            return _("%(year)s年1月", year=self.year)
        return _("%(year)s年1—%(month)s月", year=self.year, month=self.month)

    def as_json(self) -> dict:
        span = self.span
        return {
            "org": {"id": self.org.id, "name": self.org.name, "kind": self.org.kind},
            "kind": "scorecard" if self.scorecard else "progress",
            "title": self.title,
            "period": {"year": self.year, "month": self.month, "start": span.start.isoformat(),
                       "end": span.end.isoformat(), "label": self.period_label},
            "time_progress": ix.num(self.time_progress),
            "categories": self.categories,
            "summary": self.own.as_json(),
            "rows": [r.as_json() for r in self.rows],
        }


def time_progress(month: int) -> Decimal:
    """M / 12 as a percentage, one decimal (half up): 6 -> 50.0, 1 -> 8.3."""
    return (Decimal(month) * HUNDRED / 12).quantize(TENTH, rounding=ROUND_HALF_UP)


def cell(category: str, target: Decimal | None, actual: Decimal | None, month: int, scorecard: bool) -> Cell:
    """The completion and status of one target (see the module docstring)."""
    if target is None:
        return Cell(category, None, actual, None, "no_target")
    if actual is None:
        return Cell(category, target, None, None, "no_members")
    completion = (actual * HUNDRED / target).quantize(TENTH, rounding=ROUND_DOWN)
    if scorecard:
        status = "met" if actual >= target else "not_met"
    elif actual >= target:
        status = "done"
    elif actual * 12 >= target * month:
        status = "on_track"
    else:
        status = "behind"
    return Cell(category, target, actual, completion, status)


def progress(actor, org_id: int, year: int, month: int, *, today: date | None = None) -> ProgressTable:
    """The progress table (or, for December of a finished year, the scorecard) of an org and its
    children, in the actor's scope. Two statements whatever the number of orgs: the totals
    and head counts of the org and every child (one SQL aggregation), and their target books.
    """
    org = ix.get_org(org_id)
    require_view_org(actor, org)  # managers their subtree; everybody the orgs on their own path
    today = today or local_today()
    scorecard = year < today.year and month == 12
    span = ix.DateSpan(date(year, 1, 1), ix.Period("month", year, month).end)
    stmt = ix.org_totals_select(span, lambda o: sa.or_(o.id == org.id, o.parent_id == org.id))
    with planned_for_parameters():
        totals = db.session.execute(stmt).mappings().all()
    books = current_targets([r["org_id"] for r in totals], year)
    rows = []
    for r in totals:
        n = int(r["member_count"])
        book = books.get(r["org_id"])
        cells = {}
        for c in TARGET_CATEGORIES:
            actual = ix.per_capita(ix.tenths(r[f"{c}10"]), n)
            cells[c] = cell(c, book.value(c) if book else None, actual, month, scorecard)
        rows.append(Row(r["org_id"], r["name"], r["kind"], n, cells, book,
                        settable=can_decide_for_org(actor, OrgRef(r["org_id"], r["name"], r["kind"], r["path"]))))
    own = next(row for row in rows if row.org_id == org.id)
    children = [row for row in rows if row.org_id != org.id]
    targeted = [c for c in TARGET_CATEGORIES if any(row.cells[c].target is not None for row in rows)]
    return ProgressTable(org, year, month, scorecard, time_progress(month), own, children,
                         targeted or list(TARGET_CATEGORIES))
