"""Points race contests (积分竞位赛): create, view, roll up, finalize. Plain functions, no HTTP.

Scope: a contest belongs to its ``scope_org``. Secretaries managing that org (and admins) create,
roll up and finalize it; everybody whose own org lies inside the scope, and every manager of the
scope, may view it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from app.auth.models import User
from app.auth.scope import can_manage_org, org_scope_clause, require_manage_org, require_role
from app.contests import rollup
from app.contests.models import (
    PARTICIPANT_TYPES,
    SCORINGS,
    Contest,
    ContestOutcome,
    ContestSnapshot,
    ContestStanding,
)
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.ids import get_by_id
from app.orgs.models import Org
from app.points.ledger import append_entry, run_atomic
from app.points.models import CATEGORIES, CATEGORY_LABELS, register_system_rule
from app.text import visible_text

log = logging.getLogger(__name__)

PARTICIPANT_LABELS = {"member": _l("党员"), "branch": _l("支部"), "community": _l("社区")}
SCORING_LABELS = {"total": _l("总分"), "per_capita": _l("人均分")}
STATUS_LABELS = {"running": _l("进行中"), "final": _l("已定稿")}
MAX_TITLE = 100
MAX_PLACES = 50
MAX_BONUS = Decimal("100")
MAX_SPAN_DAYS = 3 * 366
TOP_N = 10
AROUND = 2
BONUS_RULE_CODE = "CONTEST_BONUS"
register_system_rule(BONUS_RULE_CODE, _l("积分竞位赛名次奖励"))
LATE_DAYS = 7  # the rollup keeps refreshing a contest this many days past its end (late approvals)


# --------------------------------------------------------------------------- look-ups and scope


def get_contest(contest_id: int) -> Contest:
    contest = db.session.get(Contest, contest_id, options=[sa.orm.joinedload(Contest.scope_org)])
    if contest is None:
        raise NotFound(_("找不到该竞赛。"), code="contest_not_found")
    return contest


def can_manage(actor, contest: Contest) -> bool:
    return actor.role in ("admin", "secretary") and can_manage_org(actor, contest.scope_org)


def can_view(actor, contest: Contest) -> bool:
    """Managers of the scope, and everybody whose own org lies inside it."""
    if can_manage(actor, contest):
        return True
    org = getattr(actor, "org", None)
    return org is not None and org.path.startswith(contest.scope_org.path)


def view_contest(actor, contest_id: int) -> Contest:
    contest = get_contest(contest_id)
    if not can_view(actor, contest):
        raise Forbidden(_("该竞赛不在您的范围内。"), code="out_of_scope")
    return contest


def manage_contest(actor, contest_id: int) -> Contest:
    require_role(actor, "admin", "secretary")
    contest = get_contest(contest_id)
    require_manage_org(actor, contest.scope_org)
    return contest


def visible_clause(actor):
    """SQL condition (on Org joined as the contest's scope org) for contests ``actor`` may view."""
    if actor.role == "admin":
        return sa.true()
    inside = sa.literal(actor.org.path, sa.String).startswith(Org.path)
    return sa.or_(inside, org_scope_clause(actor, Org.path))


def list_contests(actor, *, status: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[Contest], int]:
    """Contests ``actor`` may view, running first, newest first."""
    stmt = sa.select(Contest).join(Org, Org.id == Contest.scope_org_id).where(visible_clause(actor))
    if status:
        if status not in ("running", "final"):
            raise Invalid(_("状态有误。"), fields={"status": [_("状态须为 running 或 final。")]})
        stmt = stmt.where(Contest.status == status)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.scalars(
        stmt.options(sa.orm.contains_eager(Contest.scope_org))
        .order_by(sa.case((Contest.status == "running", 0), else_=1), Contest.ends_on.desc(), Contest.id.desc())
        .limit(limit).offset(offset)
    ).all()
    return list(rows), int(total)


# --------------------------------------------------------------------------- create


def _date_value(value, name: str, fields: dict) -> date | None:
    if isinstance(value, datetime) or not isinstance(value, date):
        fields[name] = [_("请填写日期（YYYY-MM-DD）。")]
        return None
    if not 2000 <= value.year <= 2100:
        fields[name] = [_("日期须在 2000 年到 2100 年之间。")]
        return None
    return value


def _points_value(value, fields: dict) -> Decimal:
    try:
        points = Decimal(str(value if value is not None else 0))
    except (InvalidOperation, ValueError):
        points = None
    if isinstance(value, bool) or points is None or not points.is_finite():
        fields["top_points"] = [_("加分须为数字。")]
        return Decimal(0)
    if points < 0 or points > MAX_BONUS:
        fields["top_points"] = [_("加分须在 0 到 100 之间。")]
    elif points != points.quantize(Decimal("0.1")):
        fields["top_points"] = [_("加分最多保留一位小数。")]
    return points.quantize(Decimal("0.1")) if not fields.get("top_points") else Decimal(0)


def create_contest(actor, *, title, participant_type, scope_org_id, starts_on, ends_on, categories,
                   scoring="total", top_places=0, top_points=0, exclude_last=False) -> Contest:
    """Create a contest and take its first snapshot. 422 on bad fields, 403 out of scope."""
    require_role(actor, "admin", "secretary")
    fields: dict[str, list[str]] = {}
    title = visible_text(title)
    if not title or len(title) > MAX_TITLE:
        fields["title"] = [_("请填写竞赛名称，不超过100个字。")]
    if participant_type not in PARTICIPANT_TYPES:
        fields["participant_type"] = [_("参赛对象须为 member（党员）、branch（支部）或 community（社区）。")]
    org = None
    if isinstance(scope_org_id, bool) or not isinstance(scope_org_id, int):
        fields["scope_org_id"] = [_("请选择竞赛范围（组织）。")]
    else:
        # a number no id column holds is simply unknown (it would overflow the database driver)
        org = get_by_id(Org, scope_org_id)
        if org is None:
            fields["scope_org_id"] = [_("竞赛范围（组织）不存在。")]
    start = _date_value(starts_on, "starts_on", fields)
    end = _date_value(ends_on, "ends_on", fields)
    if start and end:
        earliest = date(rollup.local_date(rollup.utcnow()).year - 1, 1, 1)
        if end < earliest:
            # its bonus and exclusion would land in a year whose results are long out
            fields["ends_on"] = [_("结束日期不能早于%(d)s（上一年度的第一天）。", d=earliest.isoformat())]
        elif end < start:
            fields["ends_on"] = [_("结束日期不能早于开始日期。")]
        elif (end - start).days > MAX_SPAN_DAYS:
            fields["ends_on"] = [_("竞赛周期不能超过三年。")]
    if not isinstance(categories, (list, tuple)) or not categories:
        fields["categories"] = [_("请至少选择一个计分类别。")]
        chosen: list[str] = []
    else:
        unknown = [str(c)[:20] for c in categories if c not in CATEGORIES]  # echoed back: kept short
        if unknown:
            fields["categories"] = [_("未知的计分类别：%(names)s。可选：%(all)s。",
                                      names="、".join(unknown[:5]),
                                      all="、".join(f"{c}（{CATEGORY_LABELS[c]}）" for c in CATEGORIES))]
        chosen = [c for c in CATEGORIES if c in categories]
    if scoring not in SCORINGS:
        fields["scoring"] = [_("计分方式须为 total（总分）或 per_capita（人均）。")]
    if isinstance(top_places, bool) or not isinstance(top_places, int) or not 0 <= top_places <= MAX_PLACES:
        fields["top_places"] = [_("加分名次须为 0 到 50 之间的整数。")]
    points = _points_value(top_points, fields)
    if not isinstance(exclude_last, bool):
        fields["exclude_last"] = [_("末位限制须为是或否。")]
    elif exclude_last and participant_type == "member":
        fields["exclude_last"] = [_("末位不得评优评先只适用于支部或社区竞赛。")]
    if fields:
        raise Invalid(_("提交的内容有误。"), fields=fields)
    require_manage_org(actor, org)
    contest = Contest(
        title=title, participant_type=participant_type, scope_org_id=org.id, starts_on=start, ends_on=end,
        categories=",".join(chosen), scoring=scoring, top_places=top_places, top_points=points,
        exclude_last=bool(exclude_last), status="running", created_by_id=getattr(actor, "id", None),
    )
    contest.scope_org = org
    if rollup.participant_count(contest) < 2:
        raise Invalid(_("提交的内容有误。"), fields={"participant_type": [
            _("该范围内的参赛%(kind)s不足两个，无法开展竞赛。", kind=PARTICIPANT_LABELS[participant_type])]})

    def work() -> int:
        c = Contest(**{k: getattr(contest, k) for k in (
            "title", "participant_type", "scope_org_id", "starts_on", "ends_on", "categories", "scoring",
            "top_places", "top_points", "exclude_last", "status", "created_by_id")})
        db.session.add(c)
        db.session.flush()
        rollup.write_snapshot(c, period_key=manual_key(), kind="manual")
        return c.id

    return get_contest(run_atomic(work))


# --------------------------------------------------------------------------- snapshots


def manual_key(now: datetime | None = None) -> str:
    local = rollup.to_utc(now or rollup.utcnow()).astimezone(rollup.local_tz())
    return f"manual:{local:%Y-%m-%dT%H:%M:%S.%f}"  # every press of the button takes a fresh one


def commit_snapshot(contest_id: int, **kwargs) -> tuple[ContestSnapshot, bool]:
    """Write and commit one snapshot; a concurrent writer of the same period wins quietly."""
    try:
        return run_atomic(lambda: rollup.write_snapshot(get_contest(contest_id), **kwargs))
    except IntegrityError:
        existing = rollup.find_snapshot(contest_id, kwargs["period_key"])
        if existing is None:
            raise
        return existing, False


def rollup_now(actor, contest_id: int) -> tuple[ContestSnapshot, bool]:
    """Roll a running contest up now (the scheduler does this every few minutes by itself)."""
    contest = manage_contest(actor, contest_id)
    if contest.status == "final":
        raise Conflict(_("该竞赛已定稿，排名已冻结。"), code="contest_final")
    return commit_snapshot(contest.id, period_key=manual_key(), kind="manual")


current_snapshot = rollup.current_snapshot


# --------------------------------------------------------------------------- standings


@dataclass
class StandingRow:
    rank: int
    participant_id: int
    name: str
    score: Decimal
    previous_rank: int | None
    org_id: int | None = None
    org_name: str | None = None

    @property
    def movement(self) -> int | None:
        """Places gained since the previous snapshot (negative: lost); None when new."""
        return None if self.previous_rank is None else self.previous_rank - self.rank


def standings_select(contest: Contest, snapshot_id: int) -> sa.Select:
    s = ContestStanding
    if contest.participant_type == "member":
        org = aliased(Org, name="member_org")
        return (
            sa.select(s.rank, s.participant_id, User.name, s.score, s.previous_rank,
                      User.org_id.label("org_id"), org.name.label("org_name"))
            .join(User, User.id == s.participant_id)
            .join(org, org.id == User.org_id)
            .where(s.snapshot_id == snapshot_id)
        )
    return (
        sa.select(s.rank, s.participant_id, Org.name, s.score, s.previous_rank,
                  Org.id.label("org_id"), Org.name.label("org_name"))
        .join(Org, Org.id == s.participant_id)
        .where(s.snapshot_id == snapshot_id)
    )


def _rows(stmt) -> list[StandingRow]:
    return [StandingRow(r.rank, r.participant_id, r.name, r.score, r.previous_rank, r.org_id, r.org_name)
            for r in db.session.execute(stmt)]


def standings(contest: Contest, snapshot: ContestSnapshot, *, limit: int | None, offset: int = 0) -> list[StandingRow]:
    stmt = standings_select(contest, snapshot.id).order_by(ContestStanding.rank, ContestStanding.participant_id)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return _rows(stmt)


def standings_count(snapshot: ContestSnapshot) -> int:
    return int(db.session.scalar(
        sa.select(sa.func.count()).select_from(ContestStanding).where(ContestStanding.snapshot_id == snapshot.id)
    ) or 0)


@dataclass
class Board:
    contest: Contest
    snapshot: ContestSnapshot | None
    rows: list[StandingRow]
    total: int


class ContestRef:
    """A read-only copy of a contest (its columns, ``scope_org`` as an OrgRef, and the model's
    ``category_list`` and ``year``), safe to share between requests and threads."""

    __slots__ = ("_values",)

    def __init__(self, contest: Contest):
        from app.points.boards import OrgRef

        values = {c.key: getattr(contest, c.key) for c in sa.inspect(Contest).column_attrs}
        values["scope_org"] = OrgRef.of(contest.scope_org)
        object.__setattr__(self, "_values", values)

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("a ContestRef is read-only")

    category_list = Contest.category_list
    year = Contest.year


@dataclass(frozen=True)
class SnapshotRef:
    id: int
    period_key: str
    as_of: datetime
    is_final: bool

    @property
    def key(self) -> tuple:
        # a snapshot's standings never change; the id alone could come back on SQLite after a prune
        return (self.id, self.period_key, self.as_of.isoformat())


def _board_head(contest_id: int) -> tuple[ContestRef, SnapshotRef | None] | None:
    contest = db.session.get(Contest, contest_id, options=[sa.orm.joinedload(Contest.scope_org)])
    if contest is None:
        return None
    snap = current_snapshot(contest)
    return (ContestRef(contest),
            SnapshotRef(snap.id, snap.period_key, snap.as_of, snap.is_final) if snap is not None else None)


def leaderboard(actor, contest_id: int, *, limit: int = 50, offset: int = 0) -> Board:
    """A page of the current standings (the final ones once finalized).

    Everything here is shared by all who may see the board (app.marks.SharedCache): the contest
    and its current snapshot under the ``contests`` mark (moved by rollups and finalize), and
    a page of a snapshot's standings, which never change, under the roster mark (names).
    """
    from app.marks import CONTESTS, ROSTER, read_marks, shared_cache

    marks = read_marks([ROSTER, CONTESTS])
    head = shared_cache("board_heads", 1024).get(contest_id, (marks[ROSTER], marks[CONTESTS]),
                                                 lambda: _board_head(contest_id))
    if head is None:
        raise NotFound(_("找不到该竞赛。"), code="contest_not_found")
    contest, snapshot = head
    if not can_view(actor, contest):
        raise Forbidden(_("该竞赛不在您的范围内。"), code="out_of_scope")
    if snapshot is None:
        return Board(contest, None, [], 0)
    rows = shared_cache("standings_pages", 256).get(
        (snapshot.key, contest.participant_type, limit, offset), marks[ROSTER],
        lambda: standings(contest, snapshot, limit=limit, offset=offset))
    total = shared_cache("standings_counts", 1024).get(snapshot.key, 0, lambda: standings_count(snapshot))
    return Board(contest, snapshot, list(rows), total)


def my_participant_ids(actor, contest: Contest) -> list[int]:
    """Ids that would be ``actor``'s participant: themself, or the orgs on their path (deepest first)."""
    if contest.participant_type == "member":
        return [actor.id] if getattr(actor, "id", None) else []
    org = getattr(actor, "org", None)
    return list(reversed(org.ancestor_ids)) if org is not None else []


def my_standing(actor, contest: Contest, snapshot: ContestSnapshot) -> StandingRow | None:
    candidates = my_participant_ids(actor, contest)
    if not candidates:
        return None
    rows = _rows(standings_select(contest, snapshot.id).where(ContestStanding.participant_id.in_(candidates)))
    by_id = {r.participant_id: r for r in rows}
    return next((by_id[c] for c in candidates if c in by_id), None)


def position_of(snapshot: ContestSnapshot, row: StandingRow) -> int:
    """0-based position of ``row`` in board order (rank, then participant id)."""
    s = ContestStanding
    return int(db.session.scalar(
        sa.select(sa.func.count()).select_from(s).where(
            s.snapshot_id == snapshot.id,
            sa.or_(s.rank < row.rank, sa.and_(s.rank == row.rank, s.participant_id < row.participant_id)),
        )
    ) or 0)


@dataclass
class BoardView:
    """What the phone page shows: the top, the places around me, my row, the trend."""

    contest: Contest
    snapshot: ContestSnapshot | None
    top: list[StandingRow]
    around: list[StandingRow]
    mine: StandingRow | None
    total: int
    trend: "Trend | None" = None
    can_manage: bool = False
    outcomes: list = field(default_factory=list)


def board_view(actor, contest_id: int, *, top_n: int = TOP_N) -> BoardView:
    """Top ``top_n`` plus the places around ``actor``'s own participant, and the trend chart data."""
    contest = view_contest(actor, contest_id)
    view = BoardView(contest, None, [], [], None, 0, can_manage=can_manage(actor, contest))
    snapshot = current_snapshot(contest)
    if snapshot is None:
        return view
    view.snapshot = snapshot
    view.top = standings(contest, snapshot, limit=top_n)
    view.total = standings_count(snapshot)
    view.mine = my_standing(actor, contest, snapshot)
    if view.mine is not None and not any(r.participant_id == view.mine.participant_id for r in view.top):
        pos = position_of(snapshot, view.mine)
        start = max(top_n, pos - AROUND)
        view.around = standings(contest, snapshot, limit=pos + AROUND + 1 - start, offset=start)
    focus: dict[int, str] = {}
    if view.mine is not None:
        focus[view.mine.participant_id] = view.mine.name
    for r in view.top[:3]:
        focus.setdefault(r.participant_id, r.name)
    view.trend = trend(contest, snapshot, focus, view.total)
    if contest.status == "final":
        view.outcomes = outcomes(contest)
    return view


# --------------------------------------------------------------------------- trend


@dataclass
class Trend:
    """Ranks of a few participants over the contest's snapshots, oldest first."""

    times: list[datetime]
    series: list[tuple[int, str, list[int | None]]]  # (participant id, name, rank per time)
    size: int  # participants in the latest snapshot (the lowest possible rank)


TREND_POINTS = 30


def trend_snapshots(contest: Contest, current: ContestSnapshot) -> list[ContestSnapshot]:
    """Up to 30 points: day/month closes (and the final), ending with the current snapshot;
    recent rollups when the contest is too young to have closes."""
    closes = list(db.session.scalars(
        sa.select(ContestSnapshot)
        .where(ContestSnapshot.contest_id == contest.id, ContestSnapshot.kind.in_(("day", "month", "final")),
               ContestSnapshot.as_of <= current.as_of, ContestSnapshot.id != current.id)
        .order_by(ContestSnapshot.as_of.desc(), ContestSnapshot.id.desc())
        .limit(TREND_POINTS - 1)
    ))
    if len(closes) < 2:
        closes = list(db.session.scalars(
            sa.select(ContestSnapshot)
            .where(ContestSnapshot.contest_id == contest.id, ContestSnapshot.as_of <= current.as_of,
                   ContestSnapshot.id != current.id)
            .order_by(ContestSnapshot.as_of.desc(), ContestSnapshot.id.desc())
            .limit(TREND_POINTS - 1)
        ))
    return [*reversed(closes), current]


def trend(contest: Contest, current: ContestSnapshot, focus: dict[int, str], size: int = 0) -> Trend | None:
    """Ranks of the ``focus`` participants (id -> name) over the trend snapshots (two queries)."""
    if not focus:
        return None
    snaps = trend_snapshots(contest, current)
    index = {snap.id: i for i, snap in enumerate(snaps)}
    ranks: dict[int, list[int | None]] = {pid: [None] * len(snaps) for pid in focus}
    s = ContestStanding
    rows = db.session.execute(
        sa.select(s.snapshot_id, s.participant_id, s.rank)
        .where(s.snapshot_id.in_(list(index)), s.participant_id.in_(list(focus)))
    )
    for snapshot_id, pid, rank in rows:
        ranks[pid][index[snapshot_id]] = rank
    return Trend([snap.as_of for snap in snaps], [(pid, name, ranks[pid]) for pid, name in focus.items()], size)


# --------------------------------------------------------------------------- finalize


def outcomes(contest: Contest) -> list[ContestOutcome]:
    return list(db.session.scalars(
        sa.select(ContestOutcome).where(ContestOutcome.contest_id == contest.id)
        .options(sa.orm.joinedload(ContestOutcome.org))
        .order_by(ContestOutcome.place, ContestOutcome.org_id)
    ))


def final_snapshot(contest: Contest) -> ContestSnapshot | None:
    return rollup.find_snapshot(contest.id, "final")


def awarded_members(contest: Contest) -> list[StandingRow]:
    """Members given the top bonus by a finalized member contest (ties included)."""
    snapshot = final_snapshot(contest)
    if snapshot is None or contest.top_places <= 0 or contest.top_points <= 0:
        return []
    return _rows(standings_select(contest, snapshot.id).where(ContestStanding.rank <= contest.top_places)
                 .order_by(ContestStanding.rank, ContestStanding.participant_id))


def bonus_category() -> str:
    value = current_app.config.get("CONTEST_BONUS_CATEGORY", "service")
    return value if value in CATEGORIES and value != "penalty" else "service"


def _earns_bonus(contest: Contest):
    """A standing's claim to the top-places bonus: a top place (ties included) won with a score
    above zero (a board where nobody has earned anything puts everyone in first place)."""
    s = ContestStanding
    if contest.top_places <= 0 or contest.top_points <= 0:
        return sa.false()
    return sa.and_(s.rank <= contest.top_places, s.score > 0)


def _record_outcomes(contest: Contest, snapshot: ContestSnapshot) -> None:
    """One INSERT ... SELECT: place, bonus (top places, ties included, above zero) and the
    last-place exclusion (not for a unit that earned the bonus: with few participants or a tie
    the last place can also be a top place)."""
    s = ContestStanding
    last = sa.select(sa.func.max(s.rank)).where(s.snapshot_id == snapshot.id).scalar_subquery()
    earns = _earns_bonus(contest)
    bonus = sa.case((earns, sa.literal(contest.top_points, ContestOutcome.bonus.type)),
                    else_=sa.literal(Decimal(0), ContestOutcome.bonus.type))
    excluded = sa.case(
        (sa.and_(sa.literal(bool(contest.exclude_last), sa.Boolean), s.rank == last, last > 1, sa.not_(earns)),
         sa.true()),
        else_=sa.false(),
    )
    select = sa.select(
        sa.literal(contest.id, sa.Integer), sa.literal(contest.year, sa.Integer), s.participant_id, s.rank,
        bonus, excluded, sa.literal(rollup.utcnow(), sa.DateTime(timezone=True)),
    ).where(s.snapshot_id == snapshot.id)
    db.session.execute(sa.insert(ContestOutcome).from_select(
        ["contest_id", "year", "org_id", "place", "bonus", "award_ineligible", "created_at"], select))


def _award_members(contest: Contest, snapshot: ContestSnapshot, actor_id: int | None) -> int:
    """Ledger entries (source ``contest``) for the members in the top places; ties all get it."""
    if contest.top_places <= 0 or contest.top_points <= 0:
        return 0
    s = ContestStanding
    winners = db.session.execute(
        sa.select(s.participant_id, s.rank).where(s.snapshot_id == snapshot.id, _earns_bonus(contest))
        .order_by(s.rank, s.participant_id)
    ).all()
    occurred = min(rollup.local_date(rollup.utcnow()), contest.ends_on)
    for member_id, rank in winners:
        append_entry(
            category=bonus_category(), points=contest.top_points, occurred_on=occurred, source="contest",
            source_key=f"contest:{contest.id}:member:{member_id}", rule_code=BONUS_RULE_CODE,
            member_id=member_id, created_by_id=actor_id,
            note=_("%(title)s 第%(rank)s名奖励", title=contest.title, rank=rank),
        )
    return len(winners)


PHASE_LABELS = {"upcoming": _l("未开始"), "running": _l("进行中"), "ended": _l("已结束，待定稿"), "final": _l("已定稿")}


def phase(contest: Contest) -> str:
    """Where the contest stands today: upcoming, running, ended (past its last day, not
    finalized yet) or final."""
    if contest.status == "final":
        return "final"
    today = rollup.local_date(rollup.utcnow())
    if today < contest.starts_on:
        return "upcoming"
    return "ended" if today > contest.ends_on else "running"


def not_started(contest: Contest) -> Conflict | None:
    """Why ``contest`` cannot be finalized yet: it has not started (every place would tie at 0
    and take the bonus); None once its first day has come."""
    if rollup.local_date(rollup.utcnow()) < contest.starts_on:
        return Conflict(_("竞赛尚未开始（%(day)s开始），不能定稿。", day=contest.starts_on.isoformat()),
                        code="not_started")
    return None


def finalize(actor, contest_id: int) -> Contest:
    """Freeze the standings in a final snapshot and record what they entail; 409 when already final."""
    contest = manage_contest(actor, contest_id)
    already = Conflict(_("该竞赛已定稿，不能重复定稿。"), code="already_final")
    if contest.status == "final":
        raise already
    if (early := not_started(contest)) is not None:
        raise early
    actor_id = getattr(actor, "id", None)

    def work() -> int:
        c = db.session.execute(
            sa.select(Contest).where(Contest.id == contest_id).with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()
        if c.status == "final":
            raise already
        snapshot, created = rollup.write_snapshot(c, period_key="final", kind="final", through=c.ends_on)
        if not created:
            raise already
        c.status = "final"
        c.finalized_at = rollup.utcnow()
        c.finalized_by_id = actor_id
        if c.participant_type == "member":
            _award_members(c, snapshot, actor_id)
        else:
            _record_outcomes(c, snapshot)
        return c.id

    try:
        run_atomic(work)
    except IntegrityError:
        db.session.rollback()
        raise already
    return get_contest(contest_id)


# --------------------------------------------------------------------------- scheduled work


def _running_ids(where) -> list[int]:
    return list(db.session.scalars(
        sa.select(Contest.id).where(Contest.status == "running", *where).order_by(Contest.id)))


class PartialFailure(RuntimeError):
    """Some contests of a job failed (the others were written); a rerun retries the missing ones."""


def _each(ids: list[int], **kwargs) -> str:
    if ids:
        fold_totals()
    created = 0
    failed: list[int] = []
    for contest_id in ids:
        try:
            _snapshot, new = commit_snapshot(contest_id, **kwargs)
            created += int(new)
        except Exception:  # one contest must not stop the others
            db.session.rollback()
            log.exception("contest %s: snapshot %s failed", contest_id, kwargs.get("period_key"))
            failed.append(contest_id)
    summary = f"{created} new snapshot(s) for {len(ids)} contest(s)"
    if failed:
        raise PartialFailure(f"{summary}; failed: {failed}")
    return summary


def fold_totals() -> int:
    """Fold new ledger entries into the member year totals before a rollup job (it only makes the
    rollups cheaper; they are exact without it, so a failure is logged and the job goes on)."""
    from app.points.totals import fold_member_totals

    try:
        return fold_member_totals()
    except Exception:
        db.session.rollback()
        log.exception("folding the member year totals failed")
        return 0


def rollup_running(now: datetime) -> str:
    """The frequent rollup: a ``tick`` snapshot of every running contest for the time bucket.
    Its standings are those of the moment it runs, and say so (``as_of``), also when run for an
    earlier bucket (``scheduler run-once rollup --at``, a catch-up): a past stamp would put
    today's standings before older ones in the contest's history."""
    today = rollup.local_date(now)
    ids = _running_ids([Contest.starts_on <= today, Contest.ends_on >= today - timedelta(days=LATE_DAYS)])
    return _each(ids, period_key=rollup.bucket_key(now), kind="tick", as_of=max(rollup.to_utc(now), rollup.utcnow()))


def close_day(now: datetime) -> str:
    """The nightly recompute: a ``day`` snapshot of yesterday (recomputed from the whole ledger,
    so late approvals and reversals are picked up) for every running contest, then old ticks go."""
    day = rollup.local_date(now) - timedelta(days=1)
    ids = _running_ids([Contest.starts_on <= day, Contest.ends_on >= day])
    summary = _each(ids, period_key=f"day:{day.isoformat()}", kind="day", through=day, as_of=now)
    keep = max(1, rollup.setting("CONTEST_TICK_KEEP_DAYS", 7))
    pruned = rollup.prune_ticks(rollup.end_of_day(day) - timedelta(days=keep))
    db.session.commit()
    return f"{summary}; pruned {pruned} old rollup(s)"


def previous_month(now: datetime) -> tuple[date, date]:
    first = rollup.local_date(now).replace(day=1)
    end = first - timedelta(days=1)
    return end.replace(day=1), end


def publish_month(now: datetime) -> str:
    """The monthly publication: a published ``month`` snapshot of last month for every running
    contest that overlaps it (the 通报 of the month reads it)."""
    start, end = previous_month(now)
    ids = _running_ids([Contest.starts_on <= end, Contest.ends_on >= start])
    return _each(ids, period_key=f"month:{start:%Y-%m}", kind="month", through=end, as_of=now, published=True)


# --------------------------------------------------------------------------- labels


def category_labels(contest: Contest) -> list[str]:
    return [_(CATEGORY_LABELS[c]) for c in contest.category_list]


def contest_json(contest: Contest) -> dict:
    return {
        "id": contest.id,
        "title": contest.title,
        "participant_type": contest.participant_type,
        "scope_org_id": contest.scope_org_id,
        "scope_org": {"id": contest.scope_org.id, "name": contest.scope_org.name},
        "starts_on": contest.starts_on.isoformat(),
        "ends_on": contest.ends_on.isoformat(),
        "categories": contest.category_list,
        "scoring": contest.scoring,
        "top_bonus": {"places": contest.top_places, "points": float(contest.top_points)},
        "exclude_last": contest.exclude_last,
        "status": contest.status,
        "phase": phase(contest),
        "year": contest.year,
        "finalized_at": iso(contest.finalized_at),
    }


def iso(value: datetime | None) -> str | None:
    """An ISO 8601 time with the deployment's offset (+08:00)."""
    if value is None:
        return None
    return rollup.to_utc(value).astimezone(rollup.local_tz()).isoformat(timespec="seconds")
