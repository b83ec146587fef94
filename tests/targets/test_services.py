"""Year targets, the progress table and the scorecard: figures a secretary would redo by hand."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.errors import Conflict, Forbidden, Invalid
from app.extensions import db
from app.targets import services
from app.targets.models import YearTarget

D = Decimal


def cells(table, org, category):
    row = table.own if table.own.org_id == org.id else next(r for r in table.rows if r.org_id == org.id)
    c = row.cells[category]
    return c.target, c.actual, c.completion, c.status


def test_progress_of_june_by_hand(targets_2025):
    t = targets_2025
    table = services.progress(t.admin, t.c1.id, 2025, 6)
    assert not table.scorecard and table.time_progress == D("50.0")
    assert [r.name for r in table.rows] == ["桂花第一支部", "桂花第二支部"]
    assert cells(table, t.b11, "study") == (D("10"), D("3.3"), D("33.0"), "behind")
    assert cells(table, t.b12, "service") == (D("10"), D("6"), D("60.0"), "on_track")
    assert cells(table, t.b12, "study") == (D("2"), D("2"), D("100.0"), "done")
    assert cells(table, t.b12, "innovation") == (None, D("0"), None, "no_target")
    # the community itself: 8.6 over 4 people is 2.15, shown (and compared) as 2.2
    assert cells(table, t.c1, "study") == (D("5"), D("2.2"), D("44.0"), "behind")
    assert table.own.member_count == 4 and [r.member_count for r in table.rows] == [2, 1]
    assert table.categories == ["study", "service"]  # nobody targets innovation


def test_an_entry_on_the_first_of_the_next_month_counts_in_that_month_only(targets_2025):
    t = targets_2025
    june = services.progress(t.admin, t.c1.id, 2025, 6)
    july = services.progress(t.admin, t.c1.id, 2025, 7)
    assert cells(june, t.b11, "study")[1] == D("3.3")
    # 5 + 1.6 + 4 = 10.6 over 2: 5.3 of 10 is 53.0%, below 7/12 = 58.3%
    assert cells(july, t.b11, "study") == (D("10"), D("5.3"), D("53.0"), "behind")
    assert july.time_progress == D("58.3")
    assert cells(services.progress(t.admin, t.c1.id, 2025, 2), t.b11, "study")[1] == D("0")


def test_stopped_members_take_their_points_and_their_head_along(targets_2025, make_user, add_entry):
    t = targets_2025
    assert cells(services.progress(t.admin, t.c1.id, 2025, 6), t.b11, "study")[1] == D("3.3")
    t.stopped.active = True  # were the stopped member counted: 106.6 over 3
    db.session.commit()
    assert cells(services.progress(t.admin, t.c1.id, 2025, 6), t.b11, "study")[1] == D("35.5")


def test_orgs_without_targets_and_without_members(targets_2025):
    t = targets_2025
    table = services.progress(t.sec_c2, t.c2.id, 2025, 6)
    b21 = next(r for r in table.rows if r.org_id == t.b21.id)
    b22 = next(r for r in table.rows if r.org_id == t.b22.id)
    assert not b21.has_targets and {c.status for c in b21.cells.values()} == {"no_target"}
    assert str(b21.cells["study"].status_label) == "未设目标"
    assert b22.member_count == 0 and cells(table, t.b22, "study") == (D("3"), None, None, "no_members")


def test_on_track_is_compared_exactly_and_100_percent_means_met(ledger, today_is, add_entry):
    t = ledger
    today_is(date(2025, 3, 1))
    services.set_targets(t.admin, t.b21.id, 2025, {"study": 6, "service": "200"})
    add_entry(t.m21, "study", "1", date(2025, 1, 5))
    add_entry(t.m21, "service", "199.9", date(2025, 1, 5))
    today_is(date(2026, 1, 10))
    table = services.progress(t.admin, t.c2.id, 2025, 2)
    # 1 of 6 is exactly 2/12: on track, though 16.6% (rounded down) is shown next to 16.7%
    assert cells(table, t.b21, "study") == (D("6"), D("1"), D("16.6"), "on_track") and table.time_progress == D("16.7")
    # 199.9 of 200 is 99.95%: shown 99.9, not met
    assert cells(table, t.b21, "service")[2:] == (D("99.9"), "on_track")
    card = services.progress(t.admin, t.c2.id, 2025, 12)
    assert card.scorecard and cells(card, t.b21, "service")[3] == "not_met"


def test_scorecard_of_a_finished_year(targets_2025):
    t = targets_2025
    card = services.progress(t.sec_c1, t.c1.id, 2025, 12)
    assert card.scorecard and card.title == "2025年度成绩单" and card.time_progress == D("100.0")
    b11 = next(r for r in card.rows if r.org_id == t.b11.id)
    b12 = next(r for r in card.rows if r.org_id == t.b12.id)
    assert cells(card, t.b11, "study") == (D("10"), D("5.3"), D("53.0"), "not_met")
    assert (b11.met, b11.targeted) == (0, 1) and (b12.met, b12.targeted) == (1, 2)  # service 6 of 10
    assert str(b12.cells["study"].status_label) == "完成" and str(b11.cells["study"].status_label) == "未完成"
    # December of the current year is still a progress table
    assert not services.progress(t.admin, t.c1.id, 2026, 12, today=date(2026, 12, 7)).scorecard


def test_year_and_month_defaults_and_refusals():
    today = date(2026, 7, 15)
    assert services.parse_year_month(today=today) == (2026, 7)
    assert services.parse_year_month(2025, None, today=today) == (2025, 12)
    assert services.parse_year_month("2026", "3", today=today) == (2026, 3)
    with pytest.raises(Invalid) as exc:
        services.parse_year_month(2027, None, today=today)
    assert "2027 年还没有到" in exc.value.message and "year" in exc.value.fields
    with pytest.raises(Invalid) as exc:
        services.parse_year_month(2026, 8, today=today)
    assert "8 月还没有到" in exc.value.message and "month" in exc.value.fields
    for bad in ("13", "0", "x", "1.5"):
        with pytest.raises(Invalid):
            services.parse_year_month(2025, bad, today=today)


def test_who_sets_whose_targets(ledger, today_is):
    t = ledger
    today_is(date(2026, 2, 1))
    with pytest.raises(Forbidden) as exc:
        services.set_targets(t.sec_c1, t.c1.id, 2026, {"study": 5})
    assert exc.value.code == "next_level_up" and "上级组织" in exc.value.message
    with pytest.raises(Forbidden) as exc:
        services.set_targets(t.sec_b11, t.b11.id, 2026, {"study": 5})
    assert exc.value.code == "next_level_up"
    for org in (t.c2, t.b21, t.street):
        with pytest.raises(Forbidden) as exc:
            services.set_targets(t.sec_c1, org.id, 2026, {"study": 5})
        assert exc.value.code == "out_of_scope"
    with pytest.raises(Forbidden) as exc:
        services.set_targets(t.m11, t.b11.id, 2026, {"study": 5})
    assert exc.value.code == "forbidden_role"
    with pytest.raises(Forbidden):
        services.progress(t.sec_c1, t.c2.id, 2026, 1)
    assert db.session.query(YearTarget).count() == 0
    assert services.set_targets(t.sec_c1, t.b11.id, 2026, {"study": 5}).changed
    assert services.set_targets(t.admin, t.street.id, 2026, {"service": 8}).changed
    assert services.set_targets(t.admin, t.c1.id, 2027, {"service": 8}).changed  # next year


@pytest.mark.parametrize("values", [
    {"study": 0}, {"study": -1}, {"study": "10000.1"}, {"study": "1.25"}, {"study": "abc"}, {"study": True},
    {"study": 5, "service": "0"}, {"innovation": float("nan")},
])
def test_bad_values_are_refused_and_leave_the_targets_unchanged(ledger, today_is, values):
    t = ledger
    today_is(date(2026, 2, 1))
    services.set_targets(t.admin, t.b11.id, 2026, {"study": "12.5", "service": 3})
    with pytest.raises(Invalid) as exc:
        services.set_targets(t.admin, t.b11.id, 2026, values)
    assert exc.value.fields and set(exc.value.fields) <= {"study", "service", "innovation"}
    db.session.rollback()
    book = services.current_targets([t.b11.id], 2026)[t.b11.id]
    assert (book.version, book.values) == (1, {"study": D("12.5"), "service": D(3), "innovation": None})


def test_edge_values_and_full_width_digits(ledger, today_is):
    t = ledger
    today_is(date(2026, 2, 1))
    services.set_targets(t.admin, t.b11.id, 2026, {"study": "10000", "service": "0.1", "innovation": "１２．５"})
    assert services.current_targets([t.b11.id], 2026)[t.b11.id].values == {
        "study": D(10000), "service": D("0.1"), "innovation": D("12.5")}


def test_every_change_is_a_version_and_the_same_targets_write_nothing(ledger, today_is):
    t = ledger
    today_is(date(2026, 2, 1))
    first = services.set_targets(t.sec_c1, t.b11.id, 2026, {"study": 10}, "年初目标书")
    again = services.set_targets(t.admin, t.b11.id, 2026, {"study": "10.0"})
    assert first.changed and not again.changed and again.book.id == first.book.id
    second = services.set_targets(t.admin, t.b11.id, 2026, {"study": 12, "service": 4}, "  上级要求提高  ")
    history = services.target_history(t.b11.id, 2026)
    assert [(h.version, h.study, h.service, h.note, h.set_by.name) for h in history] == [
        (2, D(12), D(4), "上级要求提高", "王管理"), (1, D(10), None, "年初目标书", "李书记")]
    assert second.book.id == history[0].id
    withdrawn = services.set_targets(t.admin, t.b11.id, 2026, {})
    assert withdrawn.changed and withdrawn.book.version == 3 and not any(withdrawn.book.values.values())
    with pytest.raises(Invalid):
        services.set_targets(t.admin, t.b11.id, 2026, {"study": 1}, "长" * 201)


def test_a_finished_year_is_closed_and_only_this_and_next_year_are_set(ledger, today_is):
    t = ledger
    today_is(date(2026, 2, 1))
    with pytest.raises(Conflict) as exc:
        services.set_targets(t.admin, t.b11.id, 2025, {"study": 1})
    assert exc.value.code == "year_closed"
    with pytest.raises(Invalid) as exc:
        services.set_targets(t.admin, t.b11.id, 2028, {"study": 1})
    assert "year" in exc.value.fields
