"""Rolling the ledger into contest snapshots: one INSERT ... SELECT per contest.

A snapshot is a header row (``contest_snapshots``) plus one standing per participant written by a
single statement::

    INSERT INTO contest_standings (snapshot_id, participant_id, score, rank, previous_rank)
    SELECT :snapshot, r.participant_id, r.score * 0.01, r.rank, prev.rank
    FROM (<participant scores ranked by app.points.ranking.ranked_select>) AS r
    LEFT JOIN contest_standings AS prev
      ON prev.snapshot_id = (<the contest's previous snapshot>) AND prev.participant_id = r.participant_id

so the database does all the work and memory does not grow with the number of participants.

Scores are exact integers until they are stored: sums of points become tenths (the index's
``tenths_of``), a score is kept in hundredths (per capita = total / active members in the
participant org's subtree, rounded half away from zero to one decimal), and the rank is computed on
those integers, so SQLite (floats) and PostgreSQL (numerics) tie and rank identically.

Who takes part: ``member`` contests rank every active member or secretary whose org lies in the
scope org's subtree (the population of the Vanguard Index); ``branch`` and ``community`` contests
rank the orgs of that kind in the subtree. An org's total is its active members' and secretaries'
entries (the per-capita divisor's people; a member who left takes their points along) plus the
entries of the orgs in its subtree (as the index's org scores count them). Counted entries are
those of the contest's categories with ``occurred_on`` between the start and ``through`` (the end
of the period, or earlier for a day's or a month's close).
"""
from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from app.auth.models import User
from app.contests.models import Contest, ContestSnapshot, ContestStanding
from app.extensions import db
from app.orgs.models import Org
from app.orm import planned_for_parameters
from app.points.index import in_ranked_population, tenths_of
from app.points.models import LedgerEntry
from app.points.ranking import ranked_select
from app.points.totals import member_sums
from app.timeutil import local_date, local_tz, to_utc, utcnow  # noqa: F401 - local_date is re-exported


def _int(value: int) -> sa.ColumnElement:
    return sa.literal_column(str(int(value)), sa.BigInteger)


# --------------------------------------------------------------------------- time and periods










def end_of_day(day: date) -> datetime:
    """The first instant after local ``day`` (its close), in UTC."""
    return datetime.combine(day + timedelta(days=1), time.min, local_tz()).astimezone(timezone.utc)


def setting(name: str, default: int) -> int:
    """An integer setting: app config first, then the environment, else ``default``."""
    value = current_app.config.get(name)
    if value in (None, ""):
        value = os.environ.get(name)
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def rollup_minutes() -> int:
    """The rollup interval in minutes (``CONTEST_ROLLUP_MINUTES``, a divisor of 60; default 10)."""
    value = setting("CONTEST_ROLLUP_MINUTES", 10)
    return value if 0 < value <= 60 and 60 % value == 0 else 10


def bucket_key(now: datetime, minutes: int | None = None) -> str:
    """The local ``minutes``-wide time bucket of ``now``: ``t:2026-05-01T10:10``."""
    minutes = minutes or rollup_minutes()
    local = to_utc(now).astimezone(local_tz())
    return f"t:{local:%Y-%m-%dT%H}:{local.minute // minutes * minutes:02d}"


# --------------------------------------------------------------------------- scores


def _covers_most_orgs(scope: Org) -> bool:
    """True when ``scope``'s subtree holds at least half of all orgs (one small query)."""
    inside = sa.func.sum(sa.case((Org.path.startswith(scope.path, autoescape=True), 1), else_=0))
    inside_count, total = db.session.execute(sa.select(inside, sa.func.count(Org.id))).one()
    return 2 * int(inside_count or 0) >= int(total or 0)


def _member_scores(contest: Contest, scope: Org, through: date) -> sa.Subquery:
    """(participant_id, score in hundredths) of every member taking part.

    The sums come from ``app.points.totals.member_sums``: grouped by member alone, from the
    folded year totals plus the entries not folded yet when the period allows it, else from the
    covering index ``ix_ledger_member_day``; then joined to the members taking part. When the
    scope is a small part of the tree, only its members are summed (one index range each); when
    it holds most of the tree, everyone is summed and the rest drop out in the join.
    """
    in_scope = (
        sa.select(User.id)
        .join(Org, Org.id == User.org_id)
        .where(in_ranked_population(), Org.path.startswith(scope.path, autoescape=True))
    )
    members = None if _covers_most_orgs(scope) else in_scope
    raw = member_sums(contest.starts_on, through, contest.category_list, members,
                      today=local_date(utcnow())).subquery("raw_sums")
    sums = sa.select(raw.c.member_id, tenths_of(raw.c.points).label("t10")).subquery("sums")
    return (
        sa.select(
            User.id.label("participant_id"),
            (sa.func.coalesce(sums.c.t10, _int(0)) * _int(10)).label("score"),
        )
        .join(Org, Org.id == User.org_id)
        .outerjoin(sums, sums.c.member_id == User.id)
        .where(in_ranked_population(), Org.path.startswith(scope.path, autoescape=True))
        .subquery("scores")
    )


def _per_capita(t10, n) -> sa.ColumnElement:
    """Hundredths of ``t10 / 10 / n`` rounded half away from zero to one decimal (points have
    at most one, and a rank follows the score shown: 3.33 and 3.34 both show 3.3 and tie);
    0 without members."""
    return sa.case(
        (n == _int(0), _int(0)),
        (t10 >= _int(0), (t10 * _int(2) + n) // (_int(2) * n) * _int(10)),
        else_=_int(0) - ((_int(0) - t10 * _int(2) + n) // (_int(2) * n) * _int(10)),
    )


def _outermost_of_kind(target, kind: str) -> sa.ColumnElement[bool]:
    """``target`` lies inside no other org of ``kind``: a branch made under a branch is part of
    the outer branch (its points are in the outer one's score), not a participant of its own."""
    outer = aliased(Org, name="outer_same_kind")
    return ~sa.exists().where(outer.kind == kind, outer.id != target.id, target.path.startswith(outer.path))


def _org_scores(contest: Contest, scope: Org, through: date) -> sa.Subquery:
    """(participant_id, score in hundredths) of every org of the contest's kind in the scope.

    An org's own total is the sums of its active members and secretaries (``member_sums``, as for
    a member contest: the people a per-capita score divides by) plus the entries made to the org
    itself.
    """
    owner_org = aliased(Org, name="owner_org")
    member_org = aliased(Org, name="member_org")
    members = None
    if not _covers_most_orgs(scope):
        members = sa.select(User.id).join(member_org, member_org.id == User.org_id).where(
            member_org.path.startswith(scope.path, autoescape=True))
    by_member = member_sums(contest.starts_on, through, contest.category_list, members,
                            today=local_date(utcnow())).subquery("member_sums")
    owned = sa.union_all(
        sa.select(User.org_id.label("org_id"), by_member.c.points.label("points"))
        .join(User, User.id == by_member.c.member_id)
        .where(in_ranked_population()),  # the people the per-capita divisor counts
        sa.select(LedgerEntry.org_id, LedgerEntry.points).where(
            LedgerEntry.org_id.is_not(None),
            LedgerEntry.occurred_on.between(contest.starts_on, through),
            LedgerEntry.category.in_(contest.category_list),
        ),
    ).subquery("owned")
    direct = (
        sa.select(owned.c.org_id, tenths_of(sa.func.sum(owned.c.points)).label("t10"))
        .join(owner_org, owner_org.id == owned.c.org_id)
        .where(owner_org.path.startswith(scope.path, autoescape=True))
        .group_by(owned.c.org_id)
        .subquery("direct")
    )
    people = (
        sa.select(User.org_id.label("org_id"), sa.func.count(User.id).label("n"))
        .where(in_ranked_population())
        .group_by(User.org_id)
        .subquery("people")
    )
    target = aliased(Org, name="target")
    below = aliased(Org, name="below")
    totals = (
        sa.select(
            target.id.label("participant_id"),
            sa.cast(sa.func.coalesce(sa.func.sum(direct.c.t10), 0), sa.BigInteger).label("t10"),
            sa.cast(sa.func.coalesce(sa.func.sum(people.c.n), 0), sa.BigInteger).label("n"),
        )
        .select_from(target)
        .join(below, below.path.startswith(target.path))
        .outerjoin(direct, direct.c.org_id == below.id)
        .outerjoin(people, people.c.org_id == below.id)
        .where(target.kind == contest.participant_type, target.path.startswith(scope.path, autoescape=True),
               _outermost_of_kind(target, contest.participant_type))
        .group_by(target.id)
        # an org with nobody in it (one made during the race) does not compete: it has no
        # per-capita score, and in last place it would take the exclusion from a real participant
        .having(sa.func.coalesce(sa.func.sum(people.c.n), 0) > 0)
        .subquery("totals")
    )
    if contest.scoring == "per_capita":
        score = _per_capita(totals.c.t10, totals.c.n)
    else:
        score = totals.c.t10 * _int(10)
    return sa.select(totals.c.participant_id, score.label("score")).subquery("scores")


def participant_scores(contest: Contest, through: date | None = None) -> sa.Subquery:
    """The contest's ``(participant_id, score)`` subquery, the score in integer hundredths."""
    scope = contest.scope_org
    through = min(through or contest.ends_on, contest.ends_on)
    if contest.participant_type == "member":
        return _member_scores(contest, scope, through)
    return _org_scores(contest, scope, through)


def participant_count(contest: Contest) -> int:
    """How many participants the contest has now (one query; no scores are summed)."""
    scope = contest.scope_org
    if contest.participant_type == "member":
        stmt = (sa.select(sa.func.count(User.id)).join(Org, Org.id == User.org_id)
                .where(in_ranked_population(), Org.path.startswith(scope.path, autoescape=True)))
    else:
        member_org = aliased(Org, name="member_org")
        someone = sa.exists().where(User.org_id == member_org.id, member_org.path.startswith(Org.path),
                                    in_ranked_population())
        stmt = sa.select(sa.func.count(Org.id)).where(
            Org.kind == contest.participant_type, Org.path.startswith(scope.path, autoescape=True),
            _outermost_of_kind(Org, contest.participant_type), someone)
    return int(db.session.scalar(stmt) or 0)


# --------------------------------------------------------------------------- snapshots


def standings_insert(contest: Contest, snapshot: ContestSnapshot, through: date | None) -> sa.Insert:
    """The one INSERT ... SELECT writing every standing of ``snapshot``."""
    ranked = ranked_select(participant_scores(contest, through), ranks={"rank": None}).subquery("ranked")
    previous_snapshot = (
        sa.select(ContestSnapshot.id)
        .where(
            ContestSnapshot.contest_id == contest.id,
            ContestSnapshot.id != snapshot.id,
            ContestSnapshot.as_of <= snapshot.as_of,
        )
        .order_by(ContestSnapshot.as_of.desc(), ContestSnapshot.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    prev = aliased(ContestStanding, name="prev")
    select = (
        sa.select(
            sa.literal_column(str(int(snapshot.id)), sa.Integer),
            ranked.c.participant_id,
            ranked.c.score * sa.literal_column("0.01", sa.Numeric(4, 2)),
            ranked.c.rank,
            prev.rank,
        )
        .select_from(ranked)
        .outerjoin(prev, sa.and_(prev.snapshot_id == previous_snapshot,
                                 prev.participant_id == ranked.c.participant_id))
    )
    return sa.insert(ContestStanding).from_select(
        ["snapshot_id", "participant_id", "score", "rank", "previous_rank"], select
    )


def find_snapshot(contest_id: int, period_key: str) -> ContestSnapshot | None:
    return db.session.scalar(
        sa.select(ContestSnapshot).where(ContestSnapshot.contest_id == contest_id,
                                         ContestSnapshot.period_key == period_key)
    )


# Rollups of "now" (the frequent tick, 立即刷新): when nothing they count has changed since the
# latest such snapshot, they write no new one.
REFRESHES = ("tick", "manual")


def source_marks(contest: Contest) -> str:
    """The change marks (:mod:`app.marks`) that move whenever the contest's standings can: the
    ledger of the scope's members, the entries of the scope's orgs, and the roster."""
    from app.marks import ROSTER, ledger_key, org_ledger_key, read_marks

    keys = [ledger_key(contest.scope_org_id), org_ledger_key(contest.scope_org_id), ROSTER]
    values = read_marks(keys)
    return ";".join(f"{k}={values[k]}" for k in keys)


def current_snapshot(contest: Contest) -> ContestSnapshot | None:
    """The board's snapshot: the final one once finalized, else the latest."""
    return db.session.scalar(
        sa.select(ContestSnapshot)
        .where(ContestSnapshot.contest_id == contest.id)
        .order_by(ContestSnapshot.is_final.desc(), ContestSnapshot.as_of.desc(), ContestSnapshot.id.desc())
        .limit(1)
    )


def delete_snapshots(where) -> int:
    """Delete the snapshots matching ``where`` (a condition on ContestSnapshot) with their standings
    (derived rows: the ledger is the truth); how many snapshots went."""
    db.session.execute(
        sa.delete(ContestStanding).where(ContestStanding.snapshot_id.in_(sa.select(ContestSnapshot.id).where(where)))
    )
    return int(db.session.execute(sa.delete(ContestSnapshot).where(where)).rowcount or 0)


def write_snapshot(contest: Contest, *, period_key: str, kind: str, as_of: datetime | None = None,
                   through: date | None = None, published: bool = False) -> tuple[ContestSnapshot, bool]:
    """Write the snapshot ``period_key`` of ``contest`` unless it exists; (snapshot, created).

    A refresh (``tick``, ``manual``) that finds the latest snapshot a refresh computed at the
    same :func:`source_marks` writes nothing: the standings would be the same, and a copy would
    make every movement (against the previous snapshot) zero. The latest snapshot's ``as_of``
    moves to now instead (its standings are those of now), and it is returned with False.
    The marks are read before the standings, so a change that lands in between is counted
    again by the next rollup rather than missed.

    Flushes, never commits: the caller commits (and, on an IntegrityError from a concurrent
    writer of the same period, rolls back and reads the winner's snapshot).
    """
    existing = find_snapshot(contest.id, period_key)
    if existing is not None:
        return existing, False
    now = utcnow()
    as_of = to_utc(as_of or now)
    if through is not None:
        as_of = min(as_of, end_of_day(min(through, contest.ends_on)))
    if kind != "final":
        # one snapshot of a contest at a time (the tick, a secretary's click, the nightly close),
        # and none once it is final: a finalize that committed while this one waited has frozen
        # the board (its bonus entries must not show in a later snapshot)
        status = db.session.execute(
            sa.select(Contest.status).where(Contest.id == contest.id).with_for_update()).scalar()
        if status == "final":
            return current_snapshot(contest), False
    marks = source_marks(contest)
    latest = current_snapshot(contest) if kind in REFRESHES else None
    if latest is not None and latest.kind not in REFRESHES:  # a day close, a month, the final one
        latest = None
    if latest is not None and latest.source_marks == marks:
        return _still_current(latest, as_of, marks), False
    snapshot = ContestSnapshot(
        contest_id=contest.id, period_key=period_key, as_of=as_of, kind=kind, source_marks=marks,
        is_final=kind == "final", published=published or kind == "final", created_at=now,
    )
    db.session.add(snapshot)
    db.session.flush()
    if db.session.get_bind().dialect.name == "postgresql":
        # For this transaction: sort the participants in memory, and skip JIT compilation (it
        # costs more than it saves on these statements).
        db.session.execute(sa.text("SELECT set_config('work_mem', :mem, true), set_config('jit', 'off', true)"),
                           {"mem": f"{max(4, setting('CONTEST_ROLLUP_WORK_MEM_MB', 64))}MB"})
    with planned_for_parameters():
        db.session.execute(standings_insert(contest, snapshot, through))
    if latest is not None and _same_standings(snapshot.id, latest.id):
        # the marks moved, but not the board (an entry it does not count, a roster change
        # elsewhere): a copy would turn every arrow into "no change"
        db.session.execute(sa.delete(ContestStanding).where(ContestStanding.snapshot_id == snapshot.id))
        db.session.delete(snapshot)
        db.session.flush()
        return _still_current(latest, as_of, marks), False
    return snapshot, True


def _still_current(latest: ContestSnapshot, as_of: datetime, marks: str) -> ContestSnapshot:
    """``latest`` is the board of ``as_of`` too: its time (and the marks it holds for) move on."""
    if to_utc(latest.as_of) < as_of:
        latest.as_of = as_of
    latest.source_marks = marks
    db.session.flush()
    return latest


def _same_standings(new_id: int, old_id: int) -> bool:
    """Whether two snapshots rank the same participants with the same scores in the same places
    (one statement: the two counts and the count of rows that match)."""
    new, old = aliased(ContestStanding, name="new"), aliased(ContestStanding, name="old")

    def count(snapshot_id):
        return (sa.select(sa.func.count()).select_from(ContestStanding)
                .where(ContestStanding.snapshot_id == snapshot_id).scalar_subquery())

    matching = (sa.select(sa.func.count()).select_from(new)
                .join(old, sa.and_(old.snapshot_id == old_id, old.participant_id == new.participant_id,
                                   old.score == new.score, old.rank == new.rank))
                .where(new.snapshot_id == new_id).scalar_subquery())
    n_new, n_old, n_match = db.session.execute(sa.select(count(new_id), count(old_id), matching)).one()
    return n_new == n_old == n_match


def prune_ticks(before: datetime) -> int:
    """Delete tick and manual snapshots older than ``before``; day, month and final snapshots,
    and the latest snapshot of every contest, stay. Two statements for all contests (snapshots
    are derived data; the ledger is the truth)."""
    later = aliased(ContestSnapshot, name="later")
    prunable = sa.and_(
        ContestSnapshot.kind.in_(("tick", "manual")),
        ContestSnapshot.as_of < to_utc(before),
        sa.exists().where(later.contest_id == ContestSnapshot.contest_id, later.as_of > ContestSnapshot.as_of),
    )
    return delete_snapshots(prunable)
