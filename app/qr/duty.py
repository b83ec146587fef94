"""The QR follow-up duty in the secretary duty index (党建履职指数): low ratings closed on time."""
from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _

from app.orgs.models import Org
from app.points.duty import DutyMetric, duty_metric
from app.qr.services import followup_stats


@duty_metric("followups", order=30)
def followups_closed(org: Org, period, now: datetime) -> DutyMetric:
    """Follow-ups opened in the period under ``org``, closed by their deadline."""
    s = followup_stats(org, period.start, period.end, now=now)
    return DutyMetric(
        key="followups",
        label=_("差评整改按期办结率"),
        numerator=s["closed_on_time"],
        denominator=s["due"],
        figures=[
            (_("本期差评整改"), s["opened"]),
            (_("按期办结"), s["closed_on_time"]),
            (_("超期办结"), s["closed_late"]),
            (_("超期未办"), s["overdue_open"]),
            (_("未到期待办"), s["waiting"]),
        ],
        note=_("未到办结期限的整改事项不计入。"),
    )
