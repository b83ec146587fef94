"""The Vanguard Index: periods, arithmetic against hand-computed values, explanation, org scores."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.errors import Invalid
from app.points import index as ix
from tests.points.index_support import add_entry, reverse  # noqa: F401

Y2026 = ix.Period("year", 2026)


def points_of(actor, member, period=Y2026, explain=False):
    return ix.member_points(actor, member.id, period, explain=explain)


# ---------------------------------------------------------------- periods


def test_periods_are_local_date_ranges(app):
    assert (Y2026.start, Y2026.end, Y2026.key) == (date(2026, 1, 1), date(2026, 12, 31), "2026")
    q3 = ix.parse_period(period="2026-Q3")
    assert (q3.start, q3.end, q3.key, q3.divisor) == (date(2026, 7, 1), date(2026, 9, 30), "2026-Q3", 4)
    nov = ix.parse_period(year="2026", period="2026-11")
    assert (nov.start, nov.end, nov.key, nov.divisor) == (date(2026, 11, 1), date(2026, 11, 30), "2026-11", 12)
    feb = ix.parse_period(period="2028-2")
    assert feb.end == date(2028, 2, 29)
    assert ix.parse_period(year=2025) == ix.Period("year", 2025)
    assert ix.parse_period(today=date(2027, 1, 1)).key == "2027"
    assert nov.shifted(2).key == "2027-01" and q3.shifted(-3).key == "2025-Q4"
    assert nov.of_kind("quarter").key == "2026-Q4"
    # The UTC range of a local year starts at 16:00 UTC on New Year's Eve.
    start, end = Y2026.utc_bounds()
    assert start.isoformat() == "2025-12-31T16:00:00+00:00" and end.isoformat() == "2026-12-31T16:00:00+00:00"


@pytest.mark.parametrize("year, period", [
    ("abc", None), ("1999", None), (2101, None), ("2026.5", None), (True, None),
    (None, "2026-13"), (None, "2026-Q5"), (None, "26-11"), (None, "2026-11-01"), (None, "last"),
    ("2025", "2026-11"),
])
def test_bad_periods_are_refused(app, year, period):
    with pytest.raises(Invalid) as exc:
        ix.parse_period(year=year, period=period)
    assert exc.value.status == 422 and set(exc.value.fields) <= {"year", "period"}


def test_default_period_is_the_current_local_year(app):
    assert ix.parse_period() == ix.Period("year", ix.local_today().year)


# ---------------------------------------------------------------- arithmetic


def test_index_against_hand_computed_values(tree, add_entry):
    """Caps at ceilings, penalty, and several members (default weights 30/40/20/10, ceilings 120/160/60/20)."""
    a, b = tree.m11, tree.m12
    add_entry(a, "study", 30, date(2026, 1, 5))
    add_entry(a, "study", 30, date(2026, 6, 5))
    add_entry(a, "service", 200, date(2026, 3, 1))      # above the 160 ceiling: counts as 160
    add_entry(a, "innovation", 15, date(2026, 4, 1))
    add_entry(a, "rating", "5", date(2026, 5, 1))
    add_entry(a, "penalty", -3, date(2026, 7, 1))
    add_entry(a, "study", 500, date(2025, 12, 31))      # outside the year
    add_entry(a, "study", 500, date(2027, 1, 1))        # outside the year
    # 30*60/120 + 40*160/160 + 20*15/60 + 10*5/20 - 3 = 15 + 40 + 5 + 2.5 - 3
    mp = points_of(tree.admin, a, explain=True)
    assert mp.index == Decimal("59.5")
    assert mp.total == Decimal("277.0")
    assert mp.by_category == {"study": Decimal("60.0"), "service": Decimal("200.0"),
                              "innovation": Decimal("15.0"), "rating": Decimal("5.0"), "penalty": Decimal("-3.0")}
    lines = {line.category: line for line in mp.lines}
    assert (lines["service"].ceiling, lines["service"].score, lines["service"].contribution) == (
        Decimal("160.0"), Decimal("160.0"), Decimal("40.00"))
    assert lines["service"].capped and not lines["study"].capped
    assert lines["rating"].contribution == Decimal("2.50")
    assert lines["penalty"].contribution == Decimal("-3.0")
    assert [e.points for e in lines["study"].entries] == [Decimal("30.0"), Decimal("30.0")]

    add_entry(b, "innovation", 100, date(2026, 2, 1))   # capped at 60 -> 20
    add_entry(b, "rating", 30, date(2026, 2, 1))        # capped at 20 -> 10
    assert points_of(tree.admin, b).index == Decimal("30.0")
    # A member without entries scores 0.
    assert points_of(tree.admin, tree.m21).index == Decimal("0.0")


def test_rounded_once_at_the_end(tree, add_entry):
    # study 1 -> 0.25, service 1 -> 0.25: 0.5 overall (rounding each first would give 0.6).
    add_entry(tree.m11, "study", 1)
    add_entry(tree.m11, "service", 1)
    assert points_of(tree.admin, tree.m11).index == Decimal("0.5")
    # study 1 alone is 0.25 -> 0.3 (half up); 0.1 + 0.2 study points sum exactly to 0.3.
    add_entry(tree.m12, "study", "0.1")
    add_entry(tree.m12, "study", "0.2")
    add_entry(tree.m12, "study", "0.7")
    mp = points_of(tree.admin, tree.m12)
    assert mp.by_category["study"] == Decimal("1.0") and mp.index == Decimal("0.3")
    # 10 * 1/20 + 20 * 0.1/60 = 0.5 + 0.0333 -> 0.5
    add_entry(tree.m21, "rating", 1)
    add_entry(tree.m21, "innovation", "0.1")
    assert points_of(tree.admin, tree.m21).index == Decimal("0.5")


def test_month_quarter_and_year_ceilings(tree, add_entry):
    add_entry(tree.m11, "study", 12, date(2026, 3, 10))
    add_entry(tree.m11, "service", 8, date(2026, 3, 20))
    # Month: study ceiling 10 (capped) -> 30; service ceiling 160/12 -> 40*8/(160/12) = 24.
    march = points_of(tree.admin, tree.m11, ix.Period("month", 2026, 3), explain=True)
    assert march.index == Decimal("54.0")
    lines = {line.category: line for line in march.lines}
    assert lines["study"].ceiling == Decimal("10.0") and lines["study"].score == Decimal("10.0")
    assert lines["service"].ceiling == Decimal("13.3") and lines["service"].contribution == Decimal("24.00")
    # Quarter: ceilings 30 and 40 -> 30*12/30 + 40*8/40 = 12 + 8.
    assert points_of(tree.admin, tree.m11, ix.Period("quarter", 2026, 1)).index == Decimal("20.0")
    # Year: 30*12/120 + 40*8/160 = 3 + 2.
    assert points_of(tree.admin, tree.m11).index == Decimal("5.0")
    # Another month sees nothing.
    assert points_of(tree.admin, tree.m11, ix.Period("month", 2026, 4)).index == Decimal("0.0")


def test_penalty_floors_at_zero_and_reversal_nets_out(tree, add_entry):
    add_entry(tree.m11, "study", 12)                      # 3
    add_entry(tree.m11, "penalty", -10)
    assert points_of(tree.admin, tree.m11).index == Decimal("0.0")

    big = add_entry(tree.m12, "service", 80)              # 20
    add_entry(tree.m12, "study", 24)                      # 6
    assert points_of(tree.admin, tree.m12).index == Decimal("26.0")
    rev = reverse(add_entry, big, tree.m12)
    mp = points_of(tree.admin, tree.m12, explain=True)
    assert mp.index == Decimal("6.0") and mp.by_category["service"] == Decimal("0.0")
    service = next(line for line in mp.lines if line.category == "service")
    marks = {e.id: (e.reversed, e.reverses_id) for e in service.entries}
    assert marks == {big.id: (True, None), rev.id: (False, big.id)}
    # A reversed deduction gives the points back.
    pen = add_entry(tree.m21, "penalty", -2)
    add_entry(tree.m21, "study", 40)                      # 10
    assert points_of(tree.admin, tree.m21).index == Decimal("8.0")
    reverse(add_entry, pen, tree.m21)
    assert points_of(tree.admin, tree.m21).index == Decimal("10.0")


def test_weights_and_ceilings_come_from_config(tree, add_entry, app):
    app.config["INDEX_WEIGHTS"] = {"study": 50, "service": 25, "innovation": 15, "rating": 10}
    app.config["INDEX_CEILINGS"] = {"study": "80", "service": "100", "innovation": "12.5", "rating": 10}
    add_entry(tree.m11, "study", 20)          # 50 * 20/80 = 12.5
    add_entry(tree.m11, "innovation", 5)      # 15 * 5/12.5 = 6
    add_entry(tree.m11, "service", 33)        # 25 * 33/100 = 8.25
    assert points_of(tree.admin, tree.m11).index == Decimal("26.8")  # 26.75 -> 26.8
    app.config["INDEX_WEIGHTS"] = {"study": 50, "service": 25, "innovation": 15, "rating": 5}
    with pytest.raises(RuntimeError):
        points_of(tree.admin, tree.m11)


def test_index_sql_is_one_expression_for_one_and_many(tree, add_entry):
    """The table (many members) and the member page (one) agree, figure for figure."""
    for n, m in enumerate((tree.m11, tree.sec_b11, tree.m12)):
        add_entry(m, "study", 7 + n)
        add_entry(m, "service", "13.5")
        add_entry(m, "penalty", "-0.5")
    _org, rows, total = ix.org_table(tree.admin, tree.c1.id, Y2026)
    assert total == 4  # m11, sec_b11, m12, sec_c1
    people = {u.id: u for u in (tree.m11, tree.sec_b11, tree.m12, tree.sec_c1)}
    for row in rows:
        single = points_of(tree.admin, people[row.member_id])
        assert (single.index, single.total) == (row.index, row.total)
    assert {r.index for r in rows} == {Decimal("4.6"), Decimal("4.9"), Decimal("5.1"), Decimal("0.0")}


# ---------------------------------------------------------------- scope and history


def test_member_points_scope(tree, add_entry):
    from app.errors import Forbidden, NotFound

    assert points_of(tree.m11, tree.m11).member.id == tree.m11.id
    with pytest.raises(Forbidden):
        points_of(tree.m12, tree.m11)
    with pytest.raises(Forbidden):
        points_of(tree.sec_c2, tree.m11)
    assert points_of(tree.sec_c1, tree.m12).index == 0
    with pytest.raises(NotFound):
        ix.member_points(tree.admin, 987654, Y2026)


def test_member_entries_filters_and_order(tree, add_entry):
    first = add_entry(tree.m11, "study", 5, date(2026, 3, 1))
    add_entry(tree.m11, "service", 8, date(2026, 5, 1))
    add_entry(tree.m11, "penalty", -2, date(2026, 4, 1))
    add_entry(tree.m11, "study", 5, date(2025, 5, 1))
    reverse(add_entry, first, tree.m11)
    rows, total = ix.member_entries(tree.m11, tree.m11.id, Y2026)
    assert total == 4
    assert [(r.occurred_on.isoformat(), r.category) for r in rows] == [
        ("2026-05-01", "service"), ("2026-04-01", "penalty"), ("2026-03-01", "study"), ("2026-03-01", "study")]
    assert rows[2].reverses_id == first.id and rows[3].reversed
    rows, total = ix.member_entries(tree.m11, tree.m11.id, Y2026, category="study", limit=1, offset=1)
    assert total == 2 and [r.id for r in rows] == [first.id]
    with pytest.raises(Invalid):
        ix.member_entries(tree.m11, tree.m11.id, Y2026, category="nonsense")


# ---------------------------------------------------------------- org scores


def test_org_totals_and_per_capita(tree, add_entry, make_user):
    extra = make_user(tree.b11, "member", "孙七")
    departed = make_user(tree.b11, "member", "停用者", active=False)
    add_entry(departed, "study", 30)           # left: neither counted nor divided by
    add_entry(tree.m11, "study", 40)           # index 10
    add_entry(extra, "service", 20)            # index 5
    add_entry(tree.m12, "service", "7.5")      # b12
    add_entry(tree.b11, "service", 10)         # the branch's own entry
    add_entry(tree.c1, "innovation", 6)        # the community's own entry
    add_entry(tree.b21, "study", 100)          # another community
    add_entry(tree.b11, "service", 10, date(2025, 6, 1))  # another year
    org = ix.org_points(tree.sec_c1, tree.c1.id, Y2026)
    s = org.score
    # c1: members m11, extra, sec_b11 (b11), m12 (b12), sec_c1 (c1) = 5 active ranked members.
    assert s.member_count == 5
    assert s.by_category["study"] == Decimal("40.0")
    assert s.by_category["service"] == Decimal("37.5")
    assert s.by_category["innovation"] == Decimal("6.0")
    assert s.total == Decimal("83.5")
    assert s.per_capita == Decimal("16.7")                           # 83.5 / 5
    assert s.average_index == Decimal("3.4")                         # (10 + 5 + 0 + 1.9 + 0) / 5 = 3.38
    children = {c.org_id: c for c in org.children}
    assert set(children) == {tree.b11.id, tree.b12.id}
    b11 = children[tree.b11.id]
    assert (b11.total, b11.member_count, b11.per_capita) == (Decimal("70.0"), 3, Decimal("23.3"))
    assert [e.points for e in org.entries] == [Decimal("6.0")]
    b11_page = ix.org_points(tree.sec_b11, tree.b11.id, Y2026)
    assert [e.points for e in b11_page.entries] == [Decimal("10.0")]
