"""Ratings become points: the monthly conversion into ``rating`` ledger entries.

For a period (a month of local days) every subject (member, org, service post) with at least
``QR_MIN_RATINGS`` counted ratings gets ONE entry::

    points = (average stars - 3) x QR_RATING_WEIGHT      rounded half up to one decimal

A member's entry goes to the member, an org's to the org, a service post's to the post's org.
The entry's ``source_key`` is ``qr-rating:{period}:{subject_type}:{subject_id}:v{n}``. Running
the conversion again changes nothing while the figure stands; when it changed (late ratings, a
new weight) the live entry is reversed and a new version appended, never updated.
"""
from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from app.errors import Invalid
from app.extensions import db
from app.points.ledger import append_entry, lock_ledger, quantize, run_atomic
from app.points.models import LedgerEntry, register_system_rule
from app.qr.models import QrTarget, Rating, ServicePost
from app.qr.services import local_day

PERIOD_RE = re.compile(r"(\d{4})-(\d{2})")
RULE_CODE = "qr_rating"
register_system_rule(RULE_CODE, _l("群众扫码评议折算"))
KEY_RE = re.compile(r"qr-rating:(\d{4}-\d{2}):(member|org|post):(\d+):v(\d+)")
TENTH = Decimal("0.1")


def parse_period(period: str | None = None) -> tuple[str, date, date]:
    """'2026-11' -> ('2026-11', first day, last day); None -> the previous local month."""
    if period is None or period == "":
        first_this_month = local_day().replace(day=1)
        start = (first_this_month - timedelta(days=1)).replace(day=1)
    else:
        match = PERIOD_RE.fullmatch(str(period).strip())
        year, month = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
        if not (2000 <= year <= 2100 and 1 <= month <= 12):
            raise Invalid("期间须为 YYYY-MM 格式的月份，例如 2026-11。", fields={"period": ["格式为 YYYY-MM。"]})
        start = date(year, month, 1)
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return start.strftime("%Y-%m"), start, end


def rating_points(star_sum: int, count: int, weight: Decimal) -> Decimal:
    average = Decimal(star_sum) / Decimal(count)
    return ((average - 3) * weight).quantize(TENTH, rounding=ROUND_HALF_UP)


def _figures(start: date, end: date) -> dict[tuple[str, int], tuple[int, int, int | None, int | None]]:
    """Per subject: (count, star sum, ledger member_id, ledger org_id), aggregated in SQL."""
    subject_id = sa.func.coalesce(QrTarget.member_id, QrTarget.org_id, QrTarget.post_id)
    rows = db.session.execute(
        sa.select(QrTarget.subject_type, subject_id, sa.func.count(Rating.id), sa.func.sum(Rating.stars),
                  sa.func.max(ServicePost.org_id))
        .join(QrTarget, QrTarget.id == Rating.target_id)
        .outerjoin(ServicePost, ServicePost.id == QrTarget.post_id)
        .where(Rating.counted.is_(True), Rating.day >= start, Rating.day <= end)
        .group_by(QrTarget.subject_type, subject_id)
    ).all()
    out = {}
    for subject_type, sid, n, star_sum, post_org in rows:
        member_id = sid if subject_type == "member" else None
        org_id = sid if subject_type == "org" else post_org if subject_type == "post" else None
        out[(subject_type, int(sid))] = (int(n), int(star_sum or 0), member_id, org_id)
    return out


def _period_entries(key: str) -> tuple[dict, dict]:
    """The live (unreversed) entry and the highest version per subject for the period."""
    reversed_ids = sa.select(LedgerEntry.reverses_id).where(LedgerEntry.reverses_id.is_not(None))
    entries = db.session.scalars(
        sa.select(LedgerEntry).where(LedgerEntry.source == "rating",
                                     LedgerEntry.source_key.startswith(f"qr-rating:{key}:", autoescape=True))
    ).all()
    live_ids = set(db.session.scalars(
        sa.select(LedgerEntry.id).where(LedgerEntry.id.in_([e.id for e in entries]),
                                        LedgerEntry.id.not_in(reversed_ids))
    ).all()) if entries else set()
    live: dict[tuple[str, int], LedgerEntry] = {}
    versions: dict[tuple[str, int], int] = {}
    for entry in entries:
        match = KEY_RE.fullmatch(entry.source_key)
        if not match:
            continue
        subject = (match.group(2), int(match.group(3)))
        versions[subject] = max(versions.get(subject, 0), int(match.group(4)))
        if entry.id in live_ids:
            live[subject] = entry
    return live, versions


def _reverse(entry: LedgerEntry, note: str) -> LedgerEntry:
    return append_entry(
        category=entry.category, points=-quantize(entry.points), occurred_on=entry.occurred_on,
        source="reversal", source_key=f"reversal:{entry.id}", rule_code=entry.rule_code,
        rule_id=entry.rule_id, member_id=entry.member_id, org_id=entry.org_id, note=note,
        reverses_id=entry.id,
    )


def convert_ratings(period: str | None = None) -> dict:
    """Write the period's rating entries; idempotent. Returns a summary of what it did."""
    key, start, end = parse_period(period)
    minimum = int(current_app.config["QR_MIN_RATINGS"])
    weight = Decimal(str(current_app.config["QR_RATING_WEIGHT"]))

    def work() -> dict:
        lock_ledger()
        figures = _figures(start, end)
        live, versions = _period_entries(key)
        summary = {"period": key, "subjects": 0, "created": 0, "reversed": 0, "unchanged": 0, "skipped": 0}
        for subject in sorted(set(figures) | set(live)):
            n, star_sum, member_id, org_id = figures.get(subject, (0, 0, None, None))
            points = rating_points(star_sum, n, weight) if n >= minimum else None
            current = live.get(subject)
            if points is None and current is None:
                summary["skipped"] += 1
                continue
            summary["subjects"] += 1
            if (current is not None and points is not None and quantize(current.points) == points
                    and current.member_id == member_id and current.org_id == org_id):
                summary["unchanged"] += 1
                continue
            if current is not None:
                _reverse(current, f"群众评议 {key} 重新折算：原 {quantize(current.points)} 分作废")
                summary["reversed"] += 1
            if points is not None:
                average = (Decimal(star_sum) / Decimal(n)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
                append_entry(
                    category="rating", points=points, occurred_on=end, source="rating",
                    source_key=f"qr-rating:{key}:{subject[0]}:{subject[1]}:v{versions.get(subject, 0) + 1}",
                    rule_code=RULE_CODE, member_id=member_id, org_id=org_id,
                    note=f"群众评议 {key}：{n} 条有效评价，平均 {average} 星",
                )
                summary["created"] += 1
        return summary

    return run_atomic(work)
