"""Time in one place: instants are stored in UTC, days are counted in the deployment's zone."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_TIMEZONE = "Asia/Shanghai"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def local_tz() -> ZoneInfo:
    """The zone days are counted in (Asia/Shanghai unless TIMEZONE says otherwise)."""
    name = current_app.config.get("TIMEZONE", DEFAULT_TIMEZONE) if has_app_context() else DEFAULT_TIMEZONE
    return ZoneInfo(name)


def to_utc(value: datetime) -> datetime:
    """An aware UTC instant; naive values (as SQLite returns them) are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def local_date(value: datetime) -> date:
    """The local day an instant falls on."""
    return to_utc(value).astimezone(local_tz()).date()


def iso_local(value: datetime | None) -> str | None:
    """A stored instant as ISO 8601 with the local offset, e.g. 2026-11-02T09:30:00+08:00."""
    return None if value is None else to_utc(value).astimezone(local_tz()).isoformat(timespec="seconds")


def local_today() -> date:
    return local_date(utcnow())


def iso_day(text: str) -> date:
    """A day written YYYY-MM-DD, and only so: ``date.fromisoformat`` also reads "20261206" and
    "2026-W49-6", which nobody types for a date (ValueError for anything else)."""
    if not (isinstance(text, str) and len(text) == 10 and text[4] == "-" and text[7] == "-"
            and text[:4].isdigit() and text[5:7].isdigit() and text[8:].isdigit() and text.isascii()):
        raise ValueError(f"not a YYYY-MM-DD day: {text!r}")
    return date.fromisoformat(text)
