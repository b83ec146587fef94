"""Accounts and API tokens."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.orgs.models import Org, utcnow

ROLES = ("member", "secretary", "admin")
ROLE_LABELS = {"member": "党员", "secretary": "书记", "admin": "管理员"}


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    phone: Mapped[str] = mapped_column(sa.String(20), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(20), default="member", index=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    # "unnested": joined from an outer join (a claim's member...) it stays a flat LEFT JOIN; a nested
    # "(users JOIN orgs)" makes SQLite materialize every user with their org first.
    org: Mapped[Org] = relationship(lazy="joined", innerjoin="unnested")

    __table_args__ = (
        sa.CheckConstraint("role IN ('member', 'secretary', 'admin')", name="role"),
    )

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    # The key of the login this instance was loaded by or logged in with (not a column):
    # app.auth.services.start_login_session and the session lookups set it.
    login_key = None  # str: unannotated, so the ORM maps nothing

    def get_id(self) -> str:  # Flask-Login: what the session and the remember cookie hold
        """The key of this login (a :class:`LoginSession`): logging out, a changed password or
        a stopped account revokes the row, and the cookies holding the key log nobody in."""
        if not self.login_key:
            raise RuntimeError("log in through app.auth.services.start_login_session")
        return self.login_key

    def __eq__(self, other):  # UserMixin compares get_id(), which only a logged-in user has
        return self.id == other.id if isinstance(other, User) else NotImplemented

    __hash__ = UserMixin.__hash__

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_secretary(self) -> bool:
        return self.role == "secretary"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.name}>"


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ApiToken(db.Model):
    """A bearer token for the API. Only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    label: Mapped[str] = mapped_column(sa.String(100), default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    user: Mapped[User] = relationship()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


def login_session_lifetime() -> timedelta:
    """How long a login lasts at most, however it is used: as long as a remember cookie
    (``REMEMBER_COOKIE_DURATION``, Flask-Login's 365 days by default)."""
    duration = current_app.config.get("REMEMBER_COOKIE_DURATION", timedelta(days=365))
    return duration if isinstance(duration, timedelta) else timedelta(seconds=int(duration))


class LoginSession(db.Model):
    """One login on one device. The session and remember cookies hold a random key
    (``User.get_id``); only its SHA-256 is stored. Logging out revokes this row alone; a
    changed password revokes the user's other ones, a reset password or a stopped account all."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
