"""The one rank function: competition ranking in branch and community, on both databases."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from app.points import index as ix
from app.points.ranking import rank_column, rank_participants, ranked_select
from tests.points.index_support import add_entry  # noqa: F401

Y2026 = ix.Period("year", 2026)


def test_rank_participants_is_competition_ranking(db):
    """1, 2, 2, 4 for a plain (participant_id, score) subquery, as the contests will use it."""
    scores = sa.union_all(*[
        sa.select(sa.literal(pid).label("participant_id"), sa.literal(score).label("score"))
        for pid, score in [(1, 50), (2, 70), (3, 50), (4, 10), (5, 70), (6, 0)]
    ]).subquery("scores")
    rows = db.session.execute(rank_participants(scores)).all()
    assert [(r.participant_id, r.score, r.rank) for r in rows] == [
        (2, 70, 1), (5, 70, 1), (1, 50, 3), (3, 50, 3), (4, 10, 5), (6, 0, 6)]


def test_ranked_select_partitions(db):
    scores = sa.union_all(*[
        sa.select(sa.literal(pid).label("participant_id"), sa.literal(group).label("grp"),
                  sa.literal(score).label("score"))
        for pid, group, score in [(1, "a", 5), (2, "a", 5), (3, "a", 1), (4, "b", 9), (5, "b", 1)]
    ]).subquery("scores")
    stmt = ranked_select(scores, ranks={"overall": None, "in_group": "grp"})
    got = {r.participant_id: (r.overall, r.in_group) for r in db.session.execute(stmt)}
    assert got == {1: (2, 1), 2: (2, 1), 3: (4, 3), 4: (1, 1), 5: (4, 2)}
    # rank_column on its own, over a column expression.
    col = rank_column(scores.c.score, scores.c.grp).label("r")
    got = dict(db.session.execute(sa.select(scores.c.participant_id, col)).all())
    assert got == {1: 1, 2: 1, 3: 3, 4: 1, 5: 2}


def test_member_ranks_in_branch_and_community_with_ties(tree, add_entry, make_user):
    # index = study / 4 (30 * study / 120)
    a, c, d = tree.m11, make_user(tree.b11, "member", "钱六"), tree.m12
    b = make_user(tree.b11, "member", "孙七")
    e = make_user(tree.b12, "member", "周八")
    for member, study in ((a, 100), (b, 100), (c, 40), (d, 100), (e, 120)):
        add_entry(member, "study", study, date(2026, 2, 1))
    add_entry(tree.m21, "study", 120)          # another community: does not push anyone down
    add_entry(tree.admin, "study", 120)        # admins are not ranked

    def ranks(member):
        mp = ix.member_points(tree.admin, member.id, Y2026)
        return mp.index, mp.branch_rank, mp.community_rank

    # b11: a 25, b 25, c 10, sec_b11 0 -> 1, 1, 3, 4
    # c1:  e 30, a/b/d 25, c 10, sec_b11/sec_c1 0 -> 1, 2, 2, 2, 5, 6, 6
    assert ranks(a) == (Decimal("25.0"), 1, 2)
    assert ranks(b) == (Decimal("25.0"), 1, 2)
    assert ranks(c) == (Decimal("10.0"), 3, 5)
    assert ranks(tree.sec_b11) == (Decimal("0.0"), 4, 6)
    assert ranks(d) == (Decimal("25.0"), 2, 2)
    assert ranks(e) == (Decimal("30.0"), 1, 1)
    assert ranks(tree.sec_c1) == (Decimal("0.0"), None, 6)  # in the community itself: no 支部 to rank in
    assert ranks(tree.m21) == (Decimal("30.0"), 1, 1)
    mp = ix.member_points(tree.admin, a.id, Y2026)
    assert (mp.branch_size, mp.community_size) == (4, 7)
    admin = ix.member_points(tree.admin, tree.admin.id, Y2026)
    assert admin.index == Decimal("30.0") and admin.branch_rank is None and admin.community_rank is None
    # someone not ranked (a stopped account) is shown against the groups as they are
    from app.extensions import db

    c.active = False
    db.session.commit()
    stopped = ix.member_points(tree.admin, c.id, Y2026)
    assert (stopped.branch_rank, stopped.community_rank) == (None, None)
    assert (stopped.branch_size, stopped.community_size) == (3, 6)  # b11 and c1 without 钱六


def test_ranks_follow_the_period(tree, add_entry):
    add_entry(tree.m11, "study", 40, date(2026, 1, 10))
    add_entry(tree.sec_b11, "study", 10, date(2026, 2, 10))
    jan = ix.member_points(tree.admin, tree.sec_b11.id, ix.Period("month", 2026, 1))
    feb = ix.member_points(tree.admin, tree.sec_b11.id, ix.Period("month", 2026, 2))
    assert (jan.branch_rank, feb.branch_rank) == (2, 1)


def test_community_is_the_nearest_community_or_the_root(make_org, make_user, add_entry):
    root = make_org("独立支部", "branch")              # no community anywhere: the root ranks
    sub = make_org("第一小组", "branch", root)
    x, y = make_user(root, "member", "甲"), make_user(sub, "member", "乙")
    add_entry(y, "study", 4)
    assert ix.member_points(x, x.id, Y2026).community_rank == 2
    assert ix.member_points(x, x.id, Y2026).community.id == root.id
    street = make_org("街道", "street")
    outer = make_org("大社区", "community", street)
    inner = make_org("小社区", "community", outer)
    branch = make_org("小社区支部", "branch", inner)
    p, q = make_user(branch, "member", "丙"), make_user(outer, "member", "丁")
    add_entry(q, "study", 8)
    mp = ix.member_points(p, p.id, Y2026)
    assert mp.community.id == inner.id and (mp.community_rank, mp.community_size) == (1, 1)
    mq = ix.member_points(q, q.id, Y2026)
    assert mq.community.id == outer.id and mq.community_size == 1


def test_org_table_is_sorted_by_rank_and_paged(tree, add_entry, make_user):
    extra = [make_user(tree.b11, "member", f"队员{i}") for i in range(4)]
    for i, m in enumerate(extra):
        add_entry(m, "service", 4 * (i // 2 + 1))   # 1, 1, 2, 2
    org, rows, total = ix.org_table(tree.sec_b11, tree.b11.id, Y2026, limit=3)
    assert total == 6
    assert [(r.rank, str(r.index)) for r in rows] == [(1, "2.0"), (1, "2.0"), (3, "1.0")]
    _org, rest, _ = ix.org_table(tree.sec_b11, tree.b11.id, Y2026, limit=3, offset=3)
    assert [r.rank for r in rest] == [3, 5, 5]
    _org, none, total = ix.org_table(tree.sec_b11, tree.b11.id, Y2026, limit=3, offset=30)
    assert none == [] and total == 6
