"""Standings: hand-computed totals and per-capita scores, ties, reruns, previous ranks."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa

from app.contests import rollup, services
from app.contests.models import ContestSnapshot, ContestStanding
from tests.contests.conftest import board, snapshot_count

D = Decimal


def test_branch_totals_rank_with_ties(race, make_contest):
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"])
    assert board(c.id) == {
        race.b11.id: (1, D("18.00"), None),
        race.b12.id: (2, D("10.00"), None),
        race.b13.id: (2, D("10.00"), None),
        race.b14.id: (4, D("9.00"), None),
    }


def test_branch_per_capita_divides_by_active_members(race, make_contest):
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"], scoring="per_capita")
    assert board(c.id) == {
        race.b13.id: (1, D("10.00"), None),
        race.b11.id: (2, D("9.00"), None),
        race.b14.id: (2, D("9.00"), None),
        race.b12.id: (4, D("3.30"), None),  # 10 / 3 active members (the inactive one does not count)
    }


def test_a_member_who_leaves_takes_their_points_out_of_the_branch(race, make_contest):
    """A branch's total and its per-capita divisor count the same people: deactivating a member
    with points lowers the total (it must not raise the per-capita score by shrinking the divisor)."""
    from app.extensions import db

    total = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"])
    per_capita = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"],
                              scoring="per_capita")
    race.m13.active = False  # b13's only member, 10 points
    db.session.commit()
    for c in (total, per_capita):
        services.rollup_now(race.tree.sec_c1, c.id)
    # b13 has nobody left: its points went with the member, and an org with nobody in it does
    # not compete (no per-capita score; in last place it would take the exclusion from a real one)
    assert race.b13.id not in board(total.id) and race.b13.id not in board(per_capita.id)
    assert board(per_capita.id)[race.b11.id][1] == D("9.00")  # the others as before


def test_per_capita_has_one_decimal_and_ranks_on_it(race, make_contest, add_points):
    """Points have at most one decimal: 10 / 3 shows 3.3 and ties with a branch on 3.3 exactly,
    as the board shows them (at hundredths 3.33 would have beaten 3.30)."""
    add_points("3.3", "study", member=race.m14)
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study"], scoring="per_capita")
    assert board(c.id) == {
        race.b13.id: (1, D("7.50"), None),
        race.b11.id: (2, D("5.00"), None),
        race.b12.id: (3, D("3.30"), None),  # (6 + 4) / 3
        race.b14.id: (3, D("3.30"), None),  # 3.3 / 1
    }
    for row in board(c.id).values():
        assert row[1] == row[1].quantize(D("0.1"))


def test_member_contest_ranks_active_members_and_per_capita_equals_total(race, make_contest):
    t = race.tree
    expected = {
        t.m11.id: (1, D("10.00"), None), race.m13.id: (1, D("10.00"), None),
        t.m12.id: (3, D("6.00"), None), t.sec_b11.id: (4, D("5.00"), None),
        t.sec_c1.id: (5, D("0.00"), None), race.m12b.id: (5, D("0.00"), None),
        race.m12c.id: (5, D("0.00"), None), race.m14.id: (5, D("0.00"), None),
    }
    total = make_contest(t.sec_c1, race.c1, "member", categories=["study", "service"])
    per_capita = make_contest(t.sec_c1, race.c1, "member", categories=["study", "service"], scoring="per_capita")
    assert board(total.id) == expected
    assert board(per_capita.id) == expected


def test_counted_categories_include_penalty_when_chosen(race, make_contest):
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "penalty"])
    b = board(c.id)
    assert {k: v[1] for k, v in b.items()} == {
        race.b11.id: D("6.00"),  # 张三 study 10, penalty -4
        race.b12.id: D("10.00"), race.b13.id: D("7.50"), race.b14.id: D("0.00")}
    assert [b[k][0] for k in (race.b12.id, race.b13.id, race.b11.id, race.b14.id)] == [1, 2, 3, 4]


def test_community_contest_sums_the_whole_subtree(race, make_contest, add_points):
    t = race.tree
    add_points(12, "service", member=t.m21)
    add_points(30, "study", org=t.c2)
    c = make_contest(t.admin, t.street, "community", categories=["study", "service"])
    assert board(c.id) == {t.c1.id: (1, D("47.00"), None), t.c2.id: (2, D("42.00"), None)}


def test_rerun_in_the_same_bucket_is_a_no_op_with_an_identical_snapshot(race, make_contest, add_points):
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"])
    # two minutes into the next 10-minute bucket, so "30 s later" is always the same bucket
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    now = start - timedelta(minutes=start.minute % 10) + timedelta(minutes=12)
    add_points(1, "study", member=race.m13)  # something for the bucket's rollup to count
    first = services.rollup_running(now)
    rows = lambda sid: _db_rows(sid)  # noqa: E731
    snap = rollup.find_snapshot(c.id, rollup.bucket_key(now))
    before = rows(snap.id)
    add_points(100, "study", member=race.m14)  # lands after the bucket's snapshot was taken
    again = services.rollup_running(now + timedelta(seconds=30))
    assert "1 new snapshot" in first and "0 new snapshot" in again
    assert snapshot_count(c.id) == 2  # the creation snapshot and this bucket's
    assert rows(snap.id) == before


def test_next_bucket_records_previous_ranks(race, make_contest, add_points):
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"])
    now = datetime.now(timezone.utc) + timedelta(minutes=10)
    services.rollup_running(now)
    add_points(20, "service", member=race.m14)  # b14: 9 -> 29, first place
    services.rollup_running(now + timedelta(minutes=10))
    assert board(c.id) == {
        race.b14.id: (1, D("29.00"), 4),
        race.b11.id: (2, D("18.00"), 1),
        race.b12.id: (3, D("10.00"), 2),
        race.b13.id: (3, D("10.00"), 2),
    }
    # an unchanged ledger writes no copy, so the movement stays on the board
    latest = rollup.current_snapshot(c)
    assert "0 new snapshot" in services.rollup_running(now + timedelta(minutes=20))
    assert rollup.current_snapshot(c).id == latest.id
    assert board(c.id)[race.b14.id] == (1, D("29.00"), 4)


def test_rollup_runs_one_insert_select_for_the_standings(race, make_contest, count_queries, add_points):
    c = make_contest(race.tree.sec_c1, race.c1, "member", categories=["study", "service"])
    now = datetime.now(timezone.utc) + timedelta(minutes=10)
    add_points(1, "study", member=race.m13)
    with count_queries() as q:
        services.rollup_running(now)
    inserts = [s for s in q.statements if s.lstrip().upper().startswith("INSERT INTO CONTEST_STANDINGS")]
    assert len(inserts) == 1 and "RANK() OVER" in inserts[0].upper()
    assert snapshot_count(c.id) == 2


def test_nightly_close_and_monthly_publication_count_only_their_days(race, make_contest, add_points, app):
    from tests.contests.conftest import YEAR
    from datetime import date
    from zoneinfo import ZoneInfo

    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"])
    add_points(50, "study", member=race.m14, day=date(YEAR, 6, 15))
    tz = ZoneInfo("Asia/Shanghai")
    services.close_day(datetime(YEAR, 6, 2, 0, 30, tzinfo=tz))  # closes June 1
    services.publish_month(datetime(YEAR, 7, 1, 1, 0, tzinfo=tz))  # publishes June
    day = rollup.find_snapshot(c.id, f"day:{YEAR}-06-01")
    month = rollup.find_snapshot(c.id, f"month:{YEAR}-06")
    assert day.kind == "day" and not day.published
    assert month.kind == "month" and month.published
    scores = lambda s: {r[0]: r[2] for r in _db_rows(s.id)}  # noqa: E731
    assert scores(day)[race.b14.id] == D("9.00")  # the June 15 entry is after June 1
    assert scores(month)[race.b14.id] == D("59.00")
    assert rollup.local_date(day.as_of) == date(YEAR, 6, 2)  # as of the close of June 1


def _db_rows(snapshot_id: int):
    from app.extensions import db

    return db.session.execute(
        sa.select(ContestStanding.participant_id, ContestStanding.rank, ContestStanding.score,
                  ContestStanding.previous_rank)
        .where(ContestStanding.snapshot_id == snapshot_id).order_by(ContestStanding.participant_id)
    ).all()


def test_prune_keeps_closes_and_the_latest_snapshot(race, make_contest, add_points):
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"])
    now = datetime.now(timezone.utc)
    add_points(1, "study", member=race.m13)
    services.rollup_running(now + timedelta(minutes=10))
    add_points(1, "study", member=race.m13)
    services.rollup_running(now + timedelta(minutes=20))
    from app.extensions import db

    removed = rollup.prune_ticks(now + timedelta(days=1))
    db.session.commit()
    kinds = db.session.scalars(sa.select(ContestSnapshot.kind).where(ContestSnapshot.contest_id == c.id)).all()
    assert removed == 2 and kinds == ["tick"]  # the creation snapshot and the older tick went
    assert len(board(c.id)) == 4


def test_a_branch_made_under_a_branch_is_part_of_it_not_a_second_participant(race, make_contest, make_org,
                                                                           make_user, add_points):
    """A 党小组 made as a branch inside 桂花第一支部: its members' points count in the outer
    branch's score, once, and it is no participant of its own."""
    before = board(make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"]).id)
    group = make_org("第一支部第一党小组", "branch", race.b11)
    member = make_user(group, "member", "小组党员")
    add_points("5", "study", member=member)
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"])
    standings = board(c.id)
    assert group.id not in standings and set(standings) == set(before)
    assert standings[race.b11.id][1] == before[race.b11.id][1] + D("5.00")  # counted once, in the outer branch
    assert rollup.participant_count(c) == len(standings)


def test_an_org_made_during_the_race_with_nobody_in_it_takes_no_place(race, make_contest, make_org, make_user):
    """A new community (or branch) with no members yet is not on the board, so it cannot take
    the last place (and its exclusion) from a participant that really competed."""
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"], scoring="per_capita")
    before = board(c.id)
    empty = make_org("新建支部", "branch", race.c1)
    services.rollup_now(race.tree.sec_c1, c.id)
    assert empty.id not in board(c.id) and set(board(c.id)) == set(before)
    make_user(empty, "member", "新党员")
    services.rollup_now(race.tree.sec_c1, c.id)
    assert board(c.id)[empty.id][1] == D("0.00")  # once it has a member, it competes
