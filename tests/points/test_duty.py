"""The secretary duty index: claims reviewed within 3 days, members active in the period."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from app.errors import Forbidden
from app.points import duty
from app.points.index import Period
from tests.points.index_support import add_entry, make_rule, reverse  # noqa: F401

UTC = timezone.utc
NOV = Period("month", 2026, 11)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def claim(db, make_rule):
    from app.points.models import Claim

    rule = make_rule("S09", "study", "参加支部学习")

    def make(member, created: datetime, reviewed_after: timedelta | None = None, status: str | None = None):
        c = Claim(member_id=member.id, rule_id=rule.id, occurred_on=created.date(), note="",
                  created_at=created,
                  status=status or ("approved" if reviewed_after is not None else "pending"),
                  reviewed_at=created + reviewed_after if reviewed_after is not None else None)
        db.session.add(c)
        db.session.commit()
        return c

    return make


def metric(result, key):
    return next(m for m in result.metrics if m.key == key)


def test_claims_reviewed_on_time(tree, claim):
    day = timedelta(days=1)
    claim(tree.m11, datetime(2026, 11, 2, 9, tzinfo=UTC), day)                         # on time
    claim(tree.m12, datetime(2026, 11, 3, 9, tzinfo=UTC), 3 * day)                     # exactly 3 days: on time
    claim(tree.m11, datetime(2026, 11, 4, 9, tzinfo=UTC), 3 * day + timedelta(minutes=1), "rejected")  # late
    claim(tree.m11, datetime(2026, 11, 10, 9, tzinfo=UTC))                             # pending 10 days: late
    claim(tree.m12, datetime(2026, 11, 19, 9, tzinfo=UTC))                             # pending 1 day: not yet due
    # 01:00 on 1 November in Shanghai is still 31 October in UTC: it belongs to November.
    claim(tree.m11, datetime(2026, 10, 31, 17, tzinfo=UTC), 2 * day)                   # on time
    claim(tree.m11, datetime(2026, 10, 31, 15, tzinfo=UTC), 9 * day)                   # October (local): left out
    claim(tree.m21, datetime(2026, 11, 5, 9, tzinfo=UTC), 9 * day)                     # other community: left out
    result = duty.duty_index(tree.sec_c1, None, NOV, now=NOW)
    assert result.org.id == tree.c1.id
    m = metric(result, "claims_on_time")
    assert (m.numerator, m.denominator, m.percent) == (3, 5, Decimal("60.0"))
    assert dict(m.figures) == {"本期申报": 6, "按时审核": 3, "超时审核": 1, "超时未审": 1, "待审未超时": 1}
    # The other community's secretary sees one late review.
    other = metric(duty.duty_index(tree.sec_c2, None, NOV, now=NOW), "claims_on_time")
    assert (other.numerator, other.denominator) == (0, 1)


def test_members_active_and_the_score(tree, claim, add_entry):
    add_entry(tree.m11, "study", 2, date(2026, 11, 3))
    add_entry(tree.sec_b11, "service", 4, date(2026, 11, 30))
    wrong = add_entry(tree.m12, "study", 2, date(2026, 10, 3))
    reverse(add_entry, wrong, tree.m12)                       # a reversal alone is no activity...
    add_entry(tree.m12, "study", 1, date(2026, 12, 1))        # ...nor is an entry of another month
    add_entry(tree.sec_c1, "study", 1, date(2026, 11, 1))
    claim(tree.m11, datetime(2026, 11, 2, 9, tzinfo=UTC), timedelta(hours=5))
    result = duty.duty_index(tree.sec_c1, tree.c1.id, NOV, now=NOW)
    m = metric(result, "members_active")
    # c1: m11, sec_b11, sec_c1 active; m12 not.
    assert (m.numerator, m.denominator, m.percent) == (3, 4, Decimal("75.0"))
    assert [name for _id, name in m.people] == ["李四"]
    assert result.score == Decimal("87.5")                    # (100 + 75) / 2
    branch = duty.duty_index(tree.sec_b11, None, NOV, now=NOW)
    assert metric(branch, "members_active").percent == Decimal("100.0")
    empty = duty.duty_index(tree.sec_c2, None, NOV, now=NOW)
    assert metric(empty, "claims_on_time").percent is None
    assert empty.score == Decimal("0.0")                      # 0 of 2 members active; no claims to judge


def test_scope(tree):
    with pytest.raises(Forbidden):
        duty.duty_index(tree.sec_c2, tree.c1.id, NOV)
    with pytest.raises(Forbidden):
        duty.duty_index(tree.m11, None, NOV)
    assert duty.duty_index(tree.admin, tree.b21.id, NOV).org.id == tree.b21.id


def test_metrics_are_extensible(tree, monkeypatch):
    monkeypatch.setattr(duty, "DUTY_METRICS", list(duty.DUTY_METRICS))

    @duty.duty_metric("sample_duty", order=99)
    def sample(org, period, now):
        return duty.DutyMetric("sample_duty", "示例履职项", 1, 2, [("应办", 2), ("已办", 1)])

    result = duty.duty_index(tree.sec_c1, None, NOV, now=NOW)
    keys = [m.key for m in result.metrics]
    assert keys[:2] == ["claims_on_time", "members_active"] and keys[-1] == "sample_duty"
    assert metric(result, "sample_duty").percent == Decimal("50.0")
    # Registering a key twice keeps the first.
    duty.duty_metric("sample_duty")(lambda org, period, now: None)
    assert len(duty.duty_index(tree.sec_c1, None, NOV, now=NOW).metrics) == len(keys)


def test_duty_api(tree, api_as, add_entry):
    add_entry(tree.m21, "study", 1, date(2026, 11, 3))
    body = api_as(tree.sec_c2).get(f"/api/v1/orgs/{tree.c2.id}/duty?period=2026-11").get_json()
    assert body["org"]["id"] == tree.c2.id and body["period"]["key"] == "2026-11"
    active = next(m for m in body["metrics"] if m["key"] == "members_active")
    assert (active["numerator"], active["denominator"], active["percent"]) == (1, 2, 50.0)
    assert api_as(tree.sec_c1).get(f"/api/v1/orgs/{tree.c2.id}/duty").status_code == 403
