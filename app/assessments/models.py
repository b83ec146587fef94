"""An annual assessment (党建系数法) and the scores entered for each assessed unit.

Decimals that live inside JSON columns (quotas, shares, department scores, items) are stored as
strings so that they come back exactly as entered.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.assessments.calc import QUOTA_GRADES
from app.extensions import db
from app.orgs.models import Org, utcnow

STATUSES = ("draft", "published")
STATUS_LABELS = {"draft": "录入中", "published": "已发布"}
SCORE = sa.Numeric(10, 2)


class Assessment(db.Model):
    """One year's assessment of a set of units, compared class by class."""

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    coefficient_step: Mapped[Decimal] = mapped_column(sa.Numeric(8, 5))
    unqualified_ratio: Mapped[Decimal] = mapped_column(sa.Numeric(6, 4))
    grade_quotas: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # {"A": "0.2", "B": "0.3"}
    departments: Mapped[list] = mapped_column(sa.JSON, default=list)  # ["纪委", "组织部", ...]
    unit_classes: Mapped[list] = mapped_column(sa.JSON, default=list)  # [{"name", "coefficient_step"}]
    excellent_shares: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # {"A": "0.3", ...}
    status: Mapped[str] = mapped_column(sa.String(20), default="draft")
    results_snapshot: Mapped[list | None] = mapped_column(sa.JSON)  # frozen results once published
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    published_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    units: Mapped[list[AssessmentUnit]] = relationship(
        back_populates="assessment", cascade="all, delete-orphan", order_by="AssessmentUnit.id")

    __table_args__ = (
        sa.CheckConstraint("status IN ('draft', 'published')", name="status"),
        sa.UniqueConstraint("year", "title", name="uq_assessments_year_title"),
    )

    @property
    def names_year(self) -> bool:
        return str(self.year) in self.title

    @property
    def display_title(self) -> str:
        """The pages' heading: "2026 社区考核", or the title alone when it names the year already."""
        return self.title if self.names_year else f"{self.year} {self.title}"

    @property
    def full_title(self) -> str:
        """The documents' title (notice, file names): "2026年度社区考核", the year said once."""
        return self.title if self.names_year else f"{self.year}年度{self.title}"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def is_published(self) -> bool:
        return self.status == "published"

    @property
    def quotas(self) -> dict:
        """The grade quotas that limit anything: A and B (a C share stored by an earlier version
        limits nothing, calc.quota_counts, and is not shown)."""
        return {g: q for g, q in (self.grade_quotas or {}).items() if g in QUOTA_GRADES}

    @property
    def class_names(self) -> list[str]:
        return [c["name"] for c in self.unit_classes or []]

    def step_for(self, unit_class: str) -> Decimal:
        """The coefficient step of ``unit_class`` (its own, or the assessment's)."""
        for c in self.unit_classes or []:
            if c["name"] == unit_class and c.get("coefficient_step") is not None:
                return Decimal(c["coefficient_step"])
        return Decimal(self.coefficient_step)


class AssessmentUnit(db.Model):
    """The scores of one org in one assessment; bonus and deductions keep their items."""

    __tablename__ = "assessment_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(sa.ForeignKey("assessments.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    unit_class: Mapped[str] = mapped_column(sa.String(50))
    base: Mapped[Decimal] = mapped_column(SCORE)
    party_building: Mapped[Decimal] = mapped_column(SCORE)
    party_building_parts: Mapped[dict | None] = mapped_column(sa.JSON)  # {"纪委": "88.5", ...} or None
    bonus: Mapped[Decimal] = mapped_column(SCORE, default=Decimal("0"))
    bonus_items: Mapped[list] = mapped_column(sa.JSON, default=list)  # [{"points": "2", "reason": "..."}]
    deductions: Mapped[Decimal] = mapped_column(SCORE, default=Decimal("0"))
    deduction_items: Mapped[list] = mapped_column(sa.JSON, default=list)
    veto: Mapped[bool] = mapped_column(default=False)
    veto_items: Mapped[list] = mapped_column(sa.JSON, default=list)  # [{"item": "安全生产", "reason": "..."}]
    criticized: Mapped[bool] = mapped_column(default=False)
    criticized_reason: Mapped[str] = mapped_column(sa.String(200), default="")
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    assessment: Mapped[Assessment] = relationship(back_populates="units")
    org: Mapped[Org] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("assessment_id", "org_id", name="uq_assessment_units_org"),
        sa.CheckConstraint("base >= 0 AND base <= 100", name="base_range"),
        sa.CheckConstraint("party_building >= 0", name="party_building_range"),
        sa.CheckConstraint("bonus >= 0 AND deductions >= 0", name="bonus_deductions_range"),
    )
