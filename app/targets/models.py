"""Year targets of an org: per-capita points per category, set by the level above.

A target book is never edited: every change is a new row (``version`` 1, 2, ...) naming who set
it, when and why, and the row with the highest version of an (org, year) is the one in force. A
row whose three targets are all empty withdraws the targets.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.extensions import db
from app.orgs.models import Org, utcnow

TARGET_CATEGORIES = ("study", "service", "innovation")
TARGET = sa.Numeric(10, 1)


class YearTarget(db.Model):
    """One version of an org's target book for a year."""

    __tablename__ = "year_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"))
    year: Mapped[int] = mapped_column()
    version: Mapped[int] = mapped_column()
    study: Mapped[Decimal | None] = mapped_column(TARGET)
    service: Mapped[Decimal | None] = mapped_column(TARGET)
    innovation: Mapped[Decimal | None] = mapped_column(TARGET)
    note: Mapped[str] = mapped_column(sa.String(200), default="")
    set_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    org: Mapped[Org] = relationship()
    set_by: Mapped[User | None] = relationship()

    __table_args__ = (
        # one row per version: two people saving at once cannot both make version n + 1
        sa.UniqueConstraint("org_id", "year", "version", name="uq_year_targets_org_year_version"),
        sa.CheckConstraint("study IS NULL OR (study > 0 AND study <= 10000)", name="study"),
        sa.CheckConstraint("service IS NULL OR (service > 0 AND service <= 10000)", name="service"),
        sa.CheckConstraint("innovation IS NULL OR (innovation > 0 AND innovation <= 10000)", name="innovation"),
    )

    def value(self, category: str) -> Decimal | None:
        return getattr(self, category)

    @property
    def values(self) -> dict[str, Decimal | None]:
        return {c: getattr(self, c) for c in TARGET_CATEGORIES}
