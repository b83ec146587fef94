"""Authentication and API tokens, free of HTTP."""
from __future__ import annotations

import functools
import secrets
from datetime import datetime

import sqlalchemy as sa

from app.auth.models import ApiToken, LoginSession, User, hash_token, login_session_lifetime
from app.errors import NotFound, Unauthorized
from app.extensions import db
from app.orgs.models import utcnow
from app.text import phone_number


@functools.cache
def _stand_in_hash() -> str:
    """A password hash of the app's own kind, checked when no account has the phone: a wrong
    login then takes as long whether the phone is registered or not (no account discovery)."""
    from app.auth.models import hash_password

    return hash_password(secrets.token_urlsafe(16))


def authenticate(phone: str, password: str) -> User:
    """The active user with this phone and password, or Unauthorized."""
    user = db.session.scalar(sa.select(User).where(User.phone == phone_number(phone)))
    if user is None:
        from werkzeug.security import check_password_hash

        check_password_hash(_stand_in_hash(), password or "")
        raise Unauthorized("手机号或密码错误。", code="invalid_credentials")
    if not user.check_password(password or "") or not user.active:
        raise Unauthorized("手机号或密码错误。", code="invalid_credentials")
    return user


def issue_token(user: User, label: str = "") -> str:
    """Create a bearer token for ``user``; the raw token is returned once and never stored."""
    raw = secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=hash_token(raw), label=label[:100]))
    db.session.commit()
    return raw


# One statement on every API request, built once: the user (with their org, joined) by the hash.
_USER_FOR_TOKEN = (
    sa.select(User).join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == sa.bindparam("token_hash"), ApiToken.revoked_at.is_(None), User.active.is_(True))
)


# The same for a page request: the user by the key of a live login (User.get_id).
_USER_FOR_LOGIN = (
    sa.select(User).join(LoginSession, LoginSession.user_id == User.id)
    .where(LoginSession.key_hash == sa.bindparam("key_hash"), LoginSession.revoked_at.is_(None),
           LoginSession.created_at > sa.bindparam("since", type_=sa.DateTime(timezone=True)),
           User.active.is_(True))
)


@functools.cache
def _with_marks(base: str, own_path: bool) -> sa.Select:
    """The user statement ``base`` with the global change marks, and with ``own_path`` the
    ledger marks of the orgs on the user's own path too, in one statement."""
    from app.marks import global_mark_columns, path_mark_joins

    stmt = {"token": _USER_FOR_TOKEN, "login": _USER_FOR_LOGIN}[base].add_columns(*global_mark_columns())
    return path_mark_joins(stmt, User.org_id) if own_path else stmt


def _user_and_marks(base: str, params: dict, own_path: bool) -> tuple[User | None, dict[str, int | None]]:
    row = db.session.execute(_with_marks(base, own_path), params).first()
    if row is None:
        return None, {}
    from app.marks import read_mark_columns

    return row[0], read_mark_columns(row[1:], own_path)


def user_for_token(raw: str) -> User | None:
    """The active user a bearer token belongs to, if the token is live."""
    if not raw or len(raw) > 200:
        return None
    return db.session.scalar(_USER_FOR_TOKEN, {"token_hash": hash_token(raw)})


def user_and_marks_for_token(raw: str, *, own_path: bool = False) -> tuple[User | None, dict[str, int | None]]:
    """:func:`user_for_token` and the global change marks (``app.marks.GLOBAL_MARKS``), with
    ``own_path`` the ledger marks of the user's own path, read by the same statement; no marks
    when the token is not live."""
    if not raw or len(raw) > 200:
        return None, {}
    return _user_and_marks("token", {"token_hash": hash_token(raw)}, own_path)


def start_login_session(user: User) -> str:
    """A new login of ``user`` (one device): its random key, which ``user.get_id()`` returns
    from now on for ``login_user`` to keep in the cookies. Only the key's SHA-256 is stored."""
    key = secrets.token_urlsafe(32)
    db.session.add(LoginSession(user_id=user.id, key_hash=hash_token(key)))
    db.session.commit()
    user.login_key = key
    return key


def _login_params(key: str) -> dict:
    return {"key_hash": hash_token(key), "since": utcnow() - login_session_lifetime()}


def _valid_key(key: str | None) -> bool:
    return bool(key) and len(key) <= 100  # a cookie of before 0014 ("<id>:<stamp>") just finds no row


def user_for_login(key: str | None) -> User | None:
    """The active user of a live login with this key (one statement), with ``login_key`` set."""
    if not _valid_key(key):
        return None
    user = db.session.scalar(_USER_FOR_LOGIN, _login_params(key))
    if user is not None:
        user.login_key = key
    return user


def user_and_marks_for_login(key: str | None, *, own_path: bool = False) -> tuple[User | None, dict[str, int | None]]:
    """:func:`user_for_login` and the marks, as :func:`user_and_marks_for_token`."""
    if not _valid_key(key):
        return None, {}
    user, marks = _user_and_marks("login", _login_params(key), own_path)
    if user is not None:
        user.login_key = key
    return user, marks


def end_login_session(key: str | None) -> None:
    """Log out: revoke the login with this key (the user's other devices stay logged in)."""
    if _valid_key(key):
        db.session.execute(sa.update(LoginSession)
                           .where(LoginSession.key_hash == hash_token(key), LoginSession.revoked_at.is_(None))
                           .values(revoked_at=utcnow()))
        db.session.commit()


def revoke_login_sessions(user_id: int, *, keep: str | None = None) -> None:
    """Revoke every live login of the user but the one with the key ``keep``, in the caller's
    transaction (a changed password keeps the device it was changed on; a reset, none)."""
    stmt = sa.update(LoginSession).where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
    if keep:
        stmt = stmt.where(LoginSession.key_hash != hash_token(keep))
    db.session.execute(stmt.values(revoked_at=utcnow()))


def other_logins(user: User) -> int:
    """How many live logins the user has on other devices than this one."""
    return int(db.session.scalar(
        sa.select(sa.func.count(LoginSession.id))
        .where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None),
               LoginSession.created_at > utcnow() - login_session_lifetime(),
               LoginSession.key_hash != hash_token(user.login_key or ""))) or 0)


def end_other_logins(user: User) -> int:
    """Log the user out everywhere but on this device (a phone lost or lent); how many ended."""
    ended = other_logins(user)
    revoke_login_sessions(user.id, keep=user.login_key)
    db.session.commit()
    return ended


def prune_login_sessions(now: datetime) -> int:
    """Delete the logins that ended before ``now``: revoked, or older than their lifetime
    (the nightly job). Returns how many."""
    ended = sa.or_(LoginSession.revoked_at < now, LoginSession.created_at <= now - login_session_lifetime())
    return db.session.execute(sa.delete(LoginSession).where(ended)).rowcount


def list_tokens(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
        )
    )


def revoke_token(user: User, token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("找不到该令牌。")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()
    return token


def revoke_all_tokens(user_id: int) -> None:
    """Revoke every live token of the user, in the caller's transaction (a reset password, a
    stopped account)."""
    db.session.execute(sa.update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                       .values(revoked_at=utcnow()))


def revoke_raw_token(raw: str) -> None:
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))
    if token is not None and token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()
