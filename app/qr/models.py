"""QR targets (member, org or service post), ratings, burst flags and low-rating follow-ups."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.extensions import db
from app.orgs.models import Org, utcnow

SUBJECT_TYPES = ("member", "org", "post")
SUBJECT_LABELS = {"member": "党员", "org": "组织", "post": "服务岗"}
BIG_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


class ServicePost(db.Model):
    """A named place residents are served at (服务岗), e.g. a community service desk."""

    __tablename__ = "service_posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    address: Mapped[str] = mapped_column(sa.String(200), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    org: Mapped[Org] = relationship()


class QrTarget(db.Model):
    """A printed code. The token itself is never stored: only a random nonce (the server
    re-derives the token with its key) and the token's SHA-256 for lookup."""

    __tablename__ = "qr_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(sa.String(10))
    member_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    org_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    post_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_posts.id"), index=True)
    label: Mapped[str] = mapped_column(sa.String(100), default="")
    nonce: Mapped[str] = mapped_column(sa.String(32))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    rotated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    member: Mapped[User | None] = relationship(foreign_keys=[member_id])
    org: Mapped[Org | None] = relationship(foreign_keys=[org_id])
    post: Mapped[ServicePost | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint("subject_type IN ('member', 'org', 'post')", name="subject_type"),
        sa.CheckConstraint(
            "(subject_type = 'member' AND member_id IS NOT NULL AND org_id IS NULL AND post_id IS NULL)"
            " OR (subject_type = 'org' AND org_id IS NOT NULL AND member_id IS NULL AND post_id IS NULL)"
            " OR (subject_type = 'post' AND post_id IS NOT NULL AND member_id IS NULL AND org_id IS NULL)",
            name="one_subject",
        ),
    )

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def subject_id(self) -> int:
        return {"member": self.member_id, "org": self.org_id, "post": self.post_id}[self.subject_type]

    @property
    def subject_label(self) -> str:
        return SUBJECT_LABELS.get(self.subject_type, self.subject_type)

    @property
    def subject_name(self) -> str:
        if self.subject_type == "member":
            return self.member.name
        if self.subject_type == "org":
            return self.org.name
        return self.post.name

    @property
    def scope_org(self) -> Org:
        """The org whose secretaries manage this code: the subject's own org."""
        if self.subject_type == "member":
            return self.member.org
        if self.subject_type == "org":
            return self.org
        return self.post.org

    @property
    def display_name(self) -> str:
        return self.label or self.subject_name


class Rating(db.Model):
    """One resident's rating. Residents stay anonymous: only keyed hashes of the device cookie
    and of the IP (salted per day) are kept. ``count_slot`` is 1..N for the counted ratings of a
    device/target/day and NULL otherwise; the unique key makes over-counting impossible."""

    __tablename__ = "qr_ratings"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    target_id: Mapped[int] = mapped_column(sa.ForeignKey("qr_targets.id"))
    stars: Mapped[int] = mapped_column(sa.SmallInteger)
    tags: Mapped[list] = mapped_column(sa.JSON, default=list)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    counted: Mapped[bool] = mapped_column(default=False)
    count_slot: Mapped[int | None] = mapped_column(sa.SmallInteger)
    device_hash: Mapped[str] = mapped_column(sa.String(64))
    ip_hash: Mapped[str] = mapped_column(sa.String(64))
    day: Mapped[date] = mapped_column(sa.Date)
    channel: Mapped[str] = mapped_column(sa.String(10), default="page")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    target: Mapped[QrTarget] = relationship()

    __table_args__ = (
        sa.CheckConstraint("stars BETWEEN 1 AND 5", name="stars"),
        sa.CheckConstraint("(count_slot IS NULL) = (counted = false)", name="counted_slot"),
        sa.UniqueConstraint("target_id", "device_hash", "day", "count_slot", name="uq_qr_ratings_counted"),
        # covers the burst check (recent ratings, distinct devices and addresses) and the newest-first list
        sa.Index("ix_qr_ratings_target_created", "target_id", "created_at", "device_hash", "ip_hash"),
        sa.Index("ix_qr_ratings_day_counted", "day", "counted", "target_id"),
    )


class QrFlag(db.Model):
    """A warning on a target for its secretary: e.g. a burst of ratings from few sources."""

    __tablename__ = "qr_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(sa.ForeignKey("qr_targets.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20), default="burst")
    ratings: Mapped[int] = mapped_column(default=0)
    sources: Mapped[int] = mapped_column(default=0)
    window_minutes: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    cleared_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    target: Mapped[QrTarget] = relationship()
    cleared_by: Mapped[User | None] = relationship()


class FollowUp(db.Model):
    """差评整改: a low rating with a comment, to be answered by the subject org's secretary."""

    __tablename__ = "qr_followups"

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(BIG_ID, sa.ForeignKey("qr_ratings.id"), unique=True)
    target_id: Mapped[int] = mapped_column(sa.ForeignKey("qr_targets.id"), index=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    due_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(sa.Text, default="")

    rating: Mapped[Rating] = relationship()
    target: Mapped[QrTarget] = relationship()
    org: Mapped[Org] = relationship()
    closed_by: Mapped[User | None] = relationship()

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None
