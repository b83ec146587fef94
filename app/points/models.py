"""Rules (versioned), claims, and the append-only, hash-chained ledger."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.extensions import db
from app.orgs.models import Org, utcnow

CATEGORIES = ("study", "service", "innovation", "rating", "penalty")
CATEGORY_LABELS = {
    "study": "理论学习",
    "service": "志愿服务",
    "innovation": "创新贡献",
    "rating": "群众评议",
    "penalty": "扣分",
}


def category_problem() -> str:
    """The field error for a category that is none of CATEGORIES (in the request's language)."""
    from flask_babel import gettext as _

    return _("类别须为理论学习（study）、志愿服务（service）、创新贡献（innovation）、群众评议（rating）或扣分（penalty）。")


CLAIM_STATUSES = ("pending", "approved", "rejected")
ENTRY_SOURCES = ("claim", "award", "rating", "contest", "reversal")
POINTS = sa.Numeric(10, 1)

# Titles of the rule codes the app writes by itself, with no rule row behind them (the monthly
# rating conversion, contest bonuses): code -> lazy title, registered by the feature that writes them.
SYSTEM_RULE_TITLES: dict[str, object] = {}


def register_system_rule(code: str, title) -> None:
    SYSTEM_RULE_TITLES[code] = title


class Rule(db.Model):
    """One version of a scoring item (积分细则). A change adds a version; entries keep theirs."""

    __tablename__ = "rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), index=True)
    version: Mapped[int] = mapped_column(default=1)
    category: Mapped[str] = mapped_column(sa.String(20))
    title: Mapped[str] = mapped_column(sa.String(100))
    points: Mapped[Decimal] = mapped_column(POINTS)
    daily_cap: Mapped[Decimal | None] = mapped_column(POINTS)
    monthly_cap: Mapped[Decimal | None] = mapped_column(POINTS)
    yearly_cap: Mapped[Decimal | None] = mapped_column(POINTS)
    needs_approval: Mapped[bool] = mapped_column(default=True)
    evidence_required: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True, index=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    __table_args__ = (
        sa.UniqueConstraint("code", "version", name="uq_rules_code_version"),
        sa.CheckConstraint(
            "category IN ('study', 'service', 'innovation', 'rating', 'penalty')", name="category"
        ),
    )

    @property
    def category_label(self) -> str:
        return CATEGORY_LABELS.get(self.category, self.category)


class Claim(db.Model):
    """A member's claim (申报) for points under a rule, reviewed by a secretary."""

    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("rules.id"))
    occurred_on: Mapped[date] = mapped_column(sa.Date)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    evidence_path: Mapped[str | None] = mapped_column(sa.String(255))
    evidence_mime: Mapped[str | None] = mapped_column(sa.String(40))
    status: Mapped[str] = mapped_column(sa.String(20), default="pending", index=True)
    reviewer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    reject_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    # the claim form's one-time key (or an API client's Idempotency-Key): a second tap on a
    # slow connection finds the claim the first one made instead of filing it twice
    submission_key: Mapped[str | None] = mapped_column(sa.String(64))

    member: Mapped[User] = relationship(foreign_keys=[member_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])
    rule: Mapped[Rule] = relationship()

    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
        sa.Index("ux_claims_member_submission", "member_id", "submission_key", unique=True),
    )


class LedgerEntry(db.Model):
    """One line of the append-only points ledger.

    The subject is a member (``member_id``) or an org (``org_id``), never both. ``source_key`` is
    unique, so one claim, award, rating period or contest bonus can only ever make one entry;
    ``reverses_id`` is unique, so an entry can be reversed once. ``hash`` chains every entry to
    the one before (``prev_hash`` unique: two writers can never both extend the same link).
    """

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    member_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    org_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orgs.id"))
    rule_id: Mapped[int | None] = mapped_column(sa.ForeignKey("rules.id"))
    rule_code: Mapped[str] = mapped_column(sa.String(40))
    category: Mapped[str] = mapped_column(sa.String(20))
    points: Mapped[Decimal] = mapped_column(POINTS)
    occurred_on: Mapped[date] = mapped_column(sa.Date)
    source: Mapped[str] = mapped_column(sa.String(20))
    source_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    reverses_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ledger_entries.id"), unique=True)
    prev_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)

    member: Mapped[User | None] = relationship(foreign_keys=[member_id])
    org: Mapped[Org | None] = relationship(foreign_keys=[org_id])
    rule: Mapped[Rule | None] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    __table_args__ = (
        sa.CheckConstraint("(member_id IS NULL) <> (org_id IS NULL)", name="one_subject"),
        sa.CheckConstraint(
            "category IN ('study', 'service', 'innovation', 'rating', 'penalty')", name="category"
        ),
        sa.CheckConstraint(
            "source IN ('claim', 'award', 'rating', 'contest', 'reversal')", name="source"
        ),
        # Index-friendly shapes for the member index, caps and rollups.
        sa.Index("ix_ledger_member_day", "member_id", "occurred_on", "category", "points"),
        sa.Index("ix_ledger_member_day_id", "member_id", "occurred_on", "id"),  # a member's entries, newest first
        sa.Index("ix_ledger_org_day", "org_id", "occurred_on", "category", "points"),
        sa.Index("ix_ledger_member_rule_day", "member_id", "rule_code", "occurred_on"),
        sa.Index("ix_ledger_org_rule_day", "org_id", "rule_code", "occurred_on"),
        sa.Index("ix_ledger_day", "occurred_on"),
    )

    @property
    def category_label(self) -> str:
        return CATEGORY_LABELS.get(self.category, self.category)


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change or remove a ledger entry."""


@event.listens_for(LedgerEntry, "before_update")
def _refuse_update(_mapper, _connection, target):
    raise AppendOnlyError(f"ledger entry {target.id} is append-only; reverse it instead")


@event.listens_for(LedgerEntry, "before_delete")
def _refuse_delete(_mapper, _connection, target):
    raise AppendOnlyError(f"ledger entry {target.id} is append-only; reverse it instead")
