"""Member year totals folded from the ledger: sums from them always equal sums over the ledger."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.points.models import CATEGORIES, LedgerEntry
from app.points.totals import MemberYearPoints, checkpoint, fold_member_totals, member_sums, worth_totals
from tests.points.index_support import add_entry, reverse  # noqa: F401 - fixture

TODAY = date(2026, 11, 22)


def ledger_sums(db, start, through, categories, member_ids=None):
    """The truth: sums straight from the ledger."""
    e = LedgerEntry
    stmt = (sa.select(e.member_id, sa.func.sum(e.points))
            .where(e.member_id.is_not(None), e.occurred_on.between(start, through), e.category.in_(categories))
            .group_by(e.member_id))
    if member_ids is not None:
        stmt = stmt.where(e.member_id.in_(member_ids))
    return {m: Decimal(p).quantize(Decimal("0.1")) for m, p in db.session.execute(stmt)}


def sums_of(db, start, through, categories, members=None):
    rows = db.session.execute(member_sums(start, through, categories, members, today=TODAY))
    return {m: Decimal(p).quantize(Decimal("0.1")) for m, p in rows if p is not None and Decimal(p) != 0}


def nonzero(sums):
    return {m: p for m, p in sums.items() if p != 0}


PERIODS = [
    (date(2026, 1, 1), date(2026, 12, 31)),  # the year's race, ticking
    (date(2026, 1, 1), date(2026, 11, 21)),  # its close of yesterday
    (date(2026, 1, 1), date(2026, 10, 31)),  # its monthly publication
    (date(2026, 3, 1), date(2026, 12, 31)),  # a race from March
    (date(2026, 11, 1), date(2026, 11, 30)),  # November only: summed from the entries
    (date(2025, 12, 1), date(2026, 1, 31)),  # across the new year: from the entries
]


@pytest.fixture
def ledger(tree, add_entry):
    """Entries of three members over two years, a reversal, an org entry."""
    t = tree
    spread = [
        (t.m11, "study", "2", date(2025, 12, 20)), (t.m11, "study", "1.5", date(2026, 1, 1)),
        (t.m11, "service", "4", date(2026, 2, 28)), (t.m11, "innovation", "10", date(2026, 3, 1)),
        (t.m11, "penalty", "-5", date(2026, 10, 31)), (t.m11, "study", "0.5", date(2026, 11, 22)),
        (t.m12, "service", "2", date(2026, 6, 1)), (t.m12, "rating", "1.2", date(2026, 11, 1)),
        (t.m21, "study", "3", date(2026, 12, 31)), (t.m21, "service", "7", date(2025, 1, 5)),
    ]
    entries = [add_entry(m, c, p, d) for m, c, p, d in spread]
    reverse(add_entry, entries[3], t.m11)  # the innovation points are taken back
    add_entry(t.b11, "service", "9", date(2026, 5, 5))  # an org's own entry: not a member's
    return entries


def test_fold_adds_each_entry_once(db, tree, ledger, add_entry):
    assert checkpoint() == 0
    assert fold_member_totals() == len(ledger) + 2
    assert fold_member_totals() == 0  # nothing new: nothing added twice
    row = db.session.get(MemberYearPoints, (2026, tree.m11.id))
    assert (row.study, row.service, row.innovation, row.penalty) == (Decimal("2.0"), Decimal("4.0"), 0, Decimal("-5.0"))
    assert db.session.get(MemberYearPoints, (2025, tree.m11.id)).study == Decimal("2.0")
    add_entry(tree.m11, "study", "1", date(2026, 4, 4))
    assert fold_member_totals() == 1
    db.session.expire_all()
    assert db.session.get(MemberYearPoints, (2026, tree.m11.id)).study == Decimal("3.0")
    assert checkpoint() == db.session.scalar(sa.select(sa.func.max(LedgerEntry.id)))


@pytest.mark.parametrize("start,through", PERIODS)
def test_sums_equal_the_ledger_whatever_was_folded(db, tree, ledger, add_entry, start, through):
    cats = list(CATEGORIES)
    assert sums_of(db, start, through, cats) == nonzero(ledger_sums(db, start, through, cats))
    fold_member_totals()
    assert sums_of(db, start, through, cats) == nonzero(ledger_sums(db, start, through, cats))
    # entries after the fold (a late approval dated in the past, one for today) are the tail
    add_entry(tree.m12, "study", "6", date(2026, 2, 2))
    add_entry(tree.m21, "service", "2.5", TODAY)
    for categories in (cats, ["study"], ["service", "penalty"]):
        assert sums_of(db, start, through, categories) == nonzero(ledger_sums(db, start, through, categories))
    members = sa.select(sa.literal(tree.m11.id)).union_all(sa.select(sa.literal(tree.m21.id)))
    assert sums_of(db, start, through, cats, members) == nonzero(
        ledger_sums(db, start, through, cats, [tree.m11.id, tree.m21.id]))


def test_totals_are_used_when_they_pay():
    assert worth_totals(date(2026, 1, 1), date(2026, 12, 31), TODAY)
    assert worth_totals(date(2026, 1, 1), date(2026, 11, 21), TODAY)
    assert worth_totals(date(2026, 3, 1), date(2026, 12, 31), TODAY)
    assert not worth_totals(date(2026, 11, 1), date(2026, 11, 30), TODAY)
    assert not worth_totals(date(2025, 12, 1), date(2026, 1, 31), TODAY)


@pytest.mark.parametrize("kind,scoring", [("member", "total"), ("branch", "per_capita"), ("community", "total")])
def test_rollup_standings_do_not_change_with_the_fold(db, tree, add_entry, kind, scoring):
    from app.contests import services

    today = services.rollup.local_date(services.rollup.utcnow())
    year_start = date(today.year, 1, 1)
    days = max(1, (today - year_start).days)
    for i, (subject, points) in enumerate([(tree.m11, "5"), (tree.m12, "7.5"), (tree.m21, "5"),
                                           (tree.sec_b11, "-1"), (tree.b21, "3"), (tree.c1, "2.5")]):
        add_entry(subject, "study", points, year_start + timedelta(days=i % days))
    contest = services.create_contest(
        tree.admin, title="全年积分赛", participant_type=kind, scope_org_id=tree.street.id, scoring=scoring,
        starts_on=year_start, ends_on=date(today.year, 12, 31), categories=list(CATEGORIES))

    def board():
        snapshot, _ = services.commit_snapshot(contest.id, period_key=services.manual_key(), kind="manual")
        return [(r.participant_id, r.rank, r.score) for r in services.standings(contest, snapshot, limit=None)]

    before = board()
    fold_member_totals()
    assert board() == before
    add_entry(tree.m12, "service", "1", today)  # after the fold: in the tail
    after = board()
    gained = {"member": tree.m12, "branch": tree.b12, "community": tree.c1}[kind].id
    scores = lambda rows: {r[0]: r[2] for r in rows if r[0] != gained}  # noqa: E731 - others' places may move
    assert scores(after) == scores(before)
    mine = next(r for r in after if r[0] == gained)
    assert mine[2] == next(r for r in before if r[0] == gained)[2] + 1  # 李四 is 桂花第二支部's only member
