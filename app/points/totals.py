"""Year totals per member, folded from the append-only ledger, so rollups need not rescan it.

``member_year_points`` holds, per (year, member), the sum of the member's entries of that year
per category, over every entry up to a checkpoint id (``ledger_checkpoints``). Because the
ledger is append-only (corrections are new, reversing entries), folding is exact and
incremental: ``fold_member_totals()`` adds the entries after the checkpoint and moves the
checkpoint, in one transaction. The scheduler folds before each rollup; the bulk loader folds
at the end of a load.

A reader never depends on how recent the fold is: ``member_sums()`` adds the entries after the
checkpoint (the "tail", read by primary key) to the totals, and subtracts the entries of the
year that lie outside the period asked for, all in one statement, so it always equals the sum
over the ledger itself.

Fold invariant: ledger appends are serialized (``app.points.ledger.lock_ledger``) and take their
ids inside that lock, so every entry with an id up to the largest visible id is committed.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.functions import FunctionElement

from app.extensions import db
from app.points.models import CATEGORIES, LedgerEntry

MEMBER_TOTALS = "member_year_points"
FOLD_LOCK_KEY = 7_340_002  # pg_advisory_xact_lock key serializing folds
TOTAL = sa.Numeric(14, 1)


class MemberYearPoints(db.Model):
    """One member's points of one year per category, over the entries up to the checkpoint."""

    __tablename__ = "member_year_points"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    member_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    study: Mapped[Decimal] = mapped_column(TOTAL, default=0)
    service: Mapped[Decimal] = mapped_column(TOTAL, default=0)
    innovation: Mapped[Decimal] = mapped_column(TOTAL, default=0)
    rating: Mapped[Decimal] = mapped_column(TOTAL, default=0)
    penalty: Mapped[Decimal] = mapped_column(TOTAL, default=0)


class LedgerCheckpoint(db.Model):
    """How far a derived table has folded the ledger: the last entry id it includes."""

    __tablename__ = "ledger_checkpoints"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    entry_id: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class _unindexed(FunctionElement):
    """A date column that must not pick an index: ``+column`` on SQLite (whose planner would
    otherwise walk the date index for the tail instead of the id range), the column elsewhere."""

    inherit_cache = True
    type = sa.Date()


@compiles(_unindexed)
def _unindexed_default(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@compiles(_unindexed, "sqlite")
def _unindexed_sqlite(element, compiler, **kw):
    return "+" + compiler.process(element.clauses, **kw)


def _insert(connection):
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _year_of(column) -> sa.ColumnElement:
    return sa.cast(sa.extract("year", column), sa.Integer)


def checkpoint(name: str = MEMBER_TOTALS) -> int:
    return int(db.session.scalar(sa.select(LedgerCheckpoint.entry_id).where(LedgerCheckpoint.name == name)) or 0)


def fold_member_totals() -> int:
    """Add the entries after the checkpoint to the year totals and move it; commits.

    Returns how many entries were folded. Safe to run from several processes: folds are
    serialized (an advisory lock on PostgreSQL, the write lock on SQLite).
    """
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": FOLD_LOCK_KEY})
    elif not conn.connection.dbapi_connection.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    start = checkpoint()
    top = int(db.session.scalar(sa.select(sa.func.max(LedgerEntry.id))) or 0)
    if top <= start:
        db.session.rollback()
        return 0
    e = LedgerEntry
    year = _year_of(e.occurred_on)
    per_category = [
        sa.func.coalesce(sa.func.sum(sa.case((e.category == c, e.points), else_=0)), 0).label(c)
        for c in CATEGORIES
    ]
    folded = (
        sa.select(year.label("year"), e.member_id.label("member_id"), *per_category)
        .where(e.id > start, e.id <= top, e.member_id.is_not(None))
        .group_by(year, e.member_id)
    )
    insert = _insert(conn)
    table = MemberYearPoints.__table__
    stmt = insert(table).from_select(["year", "member_id", *CATEGORIES], folded)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.year, table.c.member_id],
        set_={c: table.c[c] + stmt.excluded[c] for c in CATEGORIES},
    )
    db.session.execute(stmt)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(e).where(e.id > start, e.id <= top)) or 0
    mark = insert(LedgerCheckpoint.__table__).values(name=MEMBER_TOTALS, entry_id=top)
    db.session.execute(mark.on_conflict_do_update(index_elements=["name"], set_={"entry_id": top}))
    db.session.commit()
    return int(count)


def _day_span(first: date, last: date) -> int:
    return max(0, (last - first).days + 1)


def worth_totals(starts_on: date, through: date, today: date) -> bool:
    """True when reading the year totals beats summing the period's entries.

    The totals hold whole years; the entries of the year outside the period are subtracted. That
    pays while those days (up to today: there are no later entries) are fewer than the period's.
    """
    if starts_on.year != through.year or through < starts_on:
        return False
    last = min(today, date(through.year, 12, 31))
    inside = _day_span(starts_on, min(through, last))
    outside = _day_span(date(starts_on.year, 1, 1), starts_on - timedelta(days=1)) + _day_span(
        through + timedelta(days=1), last)
    return outside < inside


def member_sums(starts_on: date, through: date, categories: list[str], members=None, *,
                today: date) -> sa.Select:
    """``(member_id, points)``: each member's sum of the entries of ``categories`` with
    ``occurred_on`` between ``starts_on`` and ``through``, from the year totals when they pay.

    ``members`` (a select of user ids) limits the members summed; None sums them all.
    """
    e = LedgerEntry
    plain = sa.select(e.member_id.label("member_id"), sa.func.sum(e.points).label("points")).where(
        e.member_id.is_not(None), e.occurred_on.between(starts_on, through), e.category.in_(categories))
    if members is not None:
        plain = plain.where(e.member_id.in_(members))
    if not worth_totals(starts_on, through, today):
        return plain.group_by(e.member_id)

    year = starts_on.year
    t = MemberYearPoints
    cut = (sa.select(LedgerCheckpoint.entry_id).where(LedgerCheckpoint.name == MEMBER_TOTALS)
           .scalar_subquery())
    cut = sa.func.coalesce(cut, 0)
    parts = [
        sa.select(t.member_id.label("member_id"),
                  sum((t.__table__.c[c] for c in categories[1:]), t.__table__.c[categories[0]]).label("points"))
        .where(t.year == year),
        # the tail: entries not folded yet, read by id
        sa.select(e.member_id, e.points).where(
            e.id > cut, e.member_id.is_not(None), _unindexed(e.occurred_on).between(starts_on, through),
            e.category.in_(categories)),
    ]
    outside = []
    if starts_on > date(year, 1, 1):
        outside.append(e.occurred_on.between(date(year, 1, 1), starts_on - timedelta(days=1)))
    if through < date(year, 12, 31):
        outside.append(e.occurred_on.between(through + timedelta(days=1), date(year, 12, 31)))
    if outside:  # folded entries of the year outside the period come off again
        parts.append(sa.select(e.member_id, -e.points).where(
            e.id <= cut, e.member_id.is_not(None), sa.or_(*outside), e.category.in_(categories)))
    if members is not None:
        parts[0] = parts[0].where(t.member_id.in_(members))
        parts[1:] = [p.where(e.member_id.in_(members)) for p in parts[1:]]
    rows = sa.union_all(*parts).subquery("parts")
    return sa.select(rows.c.member_id, sa.func.sum(rows.c.points).label("points")).group_by(rows.c.member_id)
