"""Ratings become points: one rating entry per subject and month, idempotent, corrected by reversal."""
from __future__ import annotations

import secrets
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.points.ledger import verify_chain
from app.points.models import LedgerEntry
from app.qr import jobs, services

OCT = datetime(2026, 10, 15, 2, 0, tzinfo=timezone.utc)
NOV = datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def rate(app, monkeypatch):
    """``rate(token, stars, when)``: a rating from a new device (so counted) at ``when``."""

    def do(token: str, stars: int, when: datetime = OCT, device: str | None = None):
        monkeypatch.setattr(services, "utcnow", lambda: when)
        return services.submit_rating(token, stars=stars, device_id=device or secrets.token_hex(8),
                                      ip="198.51.100.9")

    return do


def entries(db, **where) -> list[LedgerEntry]:
    q = sa.select(LedgerEntry).order_by(LedgerEntry.id)
    for name, value in where.items():
        q = q.where(getattr(LedgerEntry, name) == value)
    return list(db.session.scalars(q).all())


def rating_total(db, column, value) -> Decimal:
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.points), 0))
                             .where(column == value, LedgerEntry.category == "rating"))


def test_conversion_writes_one_entry_per_subject_and_is_idempotent(db, tree, make_target, rate):
    _t, token = make_target(tree.sec_b11, "member", tree.m11)
    for stars in (5, 5, 4):
        rate(token, stars)
    device = secrets.token_hex(8)
    rate(token, 5, device=device)
    rate(token, 1, device=device)  # the same device again that day: stored, not counted

    summary = jobs.convert_ratings("2026-10")
    assert summary == {"period": "2026-10", "subjects": 1, "created": 1, "reversed": 0, "unchanged": 0,
                       "skipped": 0}
    [entry] = entries(db)
    assert (entry.member_id, entry.org_id, entry.category, entry.source) == (tree.m11.id, None, "rating", "rating")
    assert entry.points == Decimal("3.5")  # counted 5, 5, 4, 5: (4.75 - 3) x 2
    assert entry.occurred_on == date(2026, 10, 31)
    assert "4 条有效评价" in entry.note

    for _ in range(2):
        again = jobs.convert_ratings("2026-10")
        assert (again["created"], again["reversed"], again["unchanged"]) == (0, 0, 1)
    assert len(entries(db)) == 1
    assert verify_chain().ok


def test_a_changed_figure_is_reversed_and_rewritten_never_updated(app, db, tree, make_target, rate):
    _t, token = make_target(tree.sec_b11, "member", tree.m11)
    for stars in (5, 5, 4):
        rate(token, stars)
    jobs.convert_ratings("2026-10")
    [first] = entries(db)
    assert first.points == Decimal("3.3")  # (14 / 3 - 3) x 2 = 3.333...

    rate(token, 1)  # a late rating for October
    summary = jobs.convert_ratings("2026-10")
    assert (summary["created"], summary["reversed"], summary["unchanged"]) == (1, 1, 0)
    original, reversal, replacement = entries(db)
    assert original.id == first.id and original.points == Decimal("3.3")  # untouched
    assert reversal.reverses_id == first.id and reversal.points == Decimal("-3.3")
    assert reversal.source == "reversal" and reversal.source_key == f"reversal:{first.id}"
    assert replacement.points == Decimal("1.5") and replacement.source == "rating"  # (15 / 4 - 3) x 2
    assert rating_total(db, LedgerEntry.member_id, tree.m11.id) == Decimal("1.5")
    assert jobs.convert_ratings("2026-10")["unchanged"] == 1 and len(entries(db)) == 3

    app.config["QR_RATING_WEIGHT"] = "4"  # a new weight changes the figure too
    assert jobs.convert_ratings("2026-10")["reversed"] == 1
    assert rating_total(db, LedgerEntry.member_id, tree.m11.id) == Decimal("3.0")

    app.config["QR_MIN_RATINGS"] = 10  # no longer enough ratings: the entry is reversed, none added
    summary = jobs.convert_ratings("2026-10")
    assert (summary["created"], summary["reversed"]) == (0, 1)
    assert rating_total(db, LedgerEntry.member_id, tree.m11.id) == Decimal("0")
    assert jobs.convert_ratings("2026-10")["skipped"] == 1
    assert verify_chain().ok


def test_orgs_posts_thresholds_and_periods(db, tree, make_target, rate):
    _t, member_token = make_target(tree.sec_c1, "member", tree.m12)
    _t, org_token = make_target(tree.sec_c1, "org", tree.b12)
    post = services.create_post(tree.sec_c1, name="桂花社区党群服务站", org_id=tree.c1.id)
    _t, post_token = make_target(tree.sec_c1, "post", post)
    for stars in (5, 4):
        rate(member_token, stars)        # only two: no entry
    for stars in (1, 1, 2):
        rate(org_token, stars)           # (4 / 3 - 3) x 2 = -3.333 -> -3.3
    for stars in (4, 4, 4):
        rate(post_token, stars)          # 2.0, to the post's org
    for stars in (1, 1, 1):
        rate(post_token, stars, when=NOV)  # November is another period

    summary = jobs.convert_ratings("2026-10")
    assert (summary["created"], summary["skipped"]) == (2, 1)
    assert entries(db, member_id=tree.m12.id) == []
    [org_entry] = entries(db, org_id=tree.b12.id)
    assert org_entry.points == Decimal("-3.3") and org_entry.member_id is None
    [post_entry] = entries(db, org_id=tree.c1.id)
    assert post_entry.points == Decimal("2.0") and "post" in post_entry.source_key

    nov = jobs.convert_ratings("2026-11")
    assert nov["created"] == 1
    assert rating_total(db, LedgerEntry.org_id, tree.c1.id) == Decimal("-2.0")  # 2.0 + (1 - 3) x 2


def test_several_codes_of_one_member_make_one_entry(db, tree, make_target, rate):
    _a, badge = make_target(tree.sec_b11, "member", tree.m11, "胸牌")
    _b, door = make_target(tree.sec_b11, "member", tree.m11, "门牌")
    rate(badge, 5)
    rate(badge, 5)
    rate(door, 2)
    jobs.convert_ratings("2026-10")
    [entry] = entries(db, member_id=tree.m11.id)
    assert entry.points == Decimal("2.0")  # (12 / 3 - 3) x 2


def test_rounding_is_half_up_to_one_decimal():
    weight = Decimal("2")
    assert jobs.rating_points(29, 8, weight) == Decimal("1.3")    # average 3.625: 1.25 -> 1.3
    assert jobs.rating_points(11, 8, weight) == Decimal("-3.3")   # average 1.375: -3.25 -> -3.3
    assert jobs.rating_points(15, 5, weight) == Decimal("0.0")


def test_period_parsing_and_the_default_previous_month(app, monkeypatch):
    assert jobs.parse_period("2026-02") == ("2026-02", date(2026, 2, 1), date(2026, 2, 28))
    assert jobs.parse_period("2026-12") == ("2026-12", date(2026, 12, 1), date(2026, 12, 31))
    monkeypatch.setattr(jobs, "local_day", lambda: date(2026, 1, 7))
    assert jobs.parse_period(None)[0] == "2025-12"
    from app.errors import Invalid

    for bad in ("2026-13", "2026-1", "26-11", "2026/11", "abc", "2026-11-01"):
        with pytest.raises(Invalid):
            jobs.parse_period(bad)


def test_cli_runs_the_conversion(db, runner, tree, make_target, rate):
    _t, token = make_target(tree.sec_b11, "member", tree.m11)
    for stars in (5, 5, 5):
        rate(token, stars)
    result = runner.invoke(args=["qr", "convert", "--period", "2026-10"])
    assert result.exit_code == 0, result.output
    assert "2026-10" in result.output and "新增 1 条" in result.output
    result = runner.invoke(args=["qr", "convert", "--period", "2026-10"])
    assert "新增 0 条" in result.output and "未变 1 条" in result.output
    assert len(entries(db)) == 1
    result = runner.invoke(args=["qr", "convert", "--period", "2026-13"])
    assert result.exit_code != 0 and "YYYY-MM" in result.output


def test_member_sees_the_rating_category_after_conversion(db, tree, make_target, rate, api_as):
    _t, token = make_target(tree.sec_b11, "member", tree.m11)
    for stars in (5, 5, 4):
        rate(token, stars)
    jobs.convert_ratings("2026-10")
    r = api_as(tree.m11).get("/api/v1/me/points?year=2026")
    assert r.status_code == 200, r.json
    assert r.json["by_category"]["rating"] == 3.3


def test_rating_points_read_with_a_title_in_the_member_history(db, tree, make_target, rate, api_as):
    # the conversion writes with no rule row behind it: the member reads what it is, not a code
    _t, token = make_target(tree.sec_b11, "member", tree.m11)
    for stars in (5, 5, 4):
        rate(token, stars)
    jobs.convert_ratings("2026-10")
    items = api_as(tree.m11).get("/api/v1/me/entries?year=2026").get_json()["items"]
    assert [(e["rule_code"], e["rule_title"], e["points"]) for e in items] == [("qr_rating", "群众扫码评议折算", 3.3)]  # (14/3 - 3) x 2
