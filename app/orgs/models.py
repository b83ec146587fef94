"""The organization tree: street -> community -> branch, any depth."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.timeutil import utcnow  # noqa: F401 - re-exported for the models

ORG_KINDS = ("street", "community", "branch")
ORG_KIND_LABELS = {"street": "街道", "community": "社区", "branch": "支部"}




class Org(db.Model):
    """A node of the tree. ``path`` is the materialized path of ids, e.g. ``/1/4/9/``."""

    __tablename__ = "orgs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(20))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    path: Mapped[str] = mapped_column(sa.String(255), default="", index=True)
    depth: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    parent: Mapped[Org | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Org]] = relationship(back_populates="parent", order_by="Org.id")

    __table_args__ = (
        sa.CheckConstraint("kind IN ('street', 'community', 'branch')", name="kind"),
    )

    @property
    def kind_label(self) -> str:
        return ORG_KIND_LABELS.get(self.kind, self.kind)

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to this org, itself included."""
        return [int(p) for p in self.path.strip("/").split("/") if p]

    def contains(self, other: Org) -> bool:
        """True when ``other`` is this org or lies below it."""
        return other.path.startswith(self.path)

    def __repr__(self) -> str:
        return f"<Org {self.id} {self.name}>"
