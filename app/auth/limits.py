"""Login rate limits, one budget shared by the login page and the token endpoint.

Two limits: per account and address (``LOGIN_RATE_LIMIT``: guessing one member's password from
one place stops quickly) and per address over all accounts (``LOGIN_IP_RATE_LIMIT``: trying many
accounts from one place stops too, while a branch whose members log in from one office network,
or a secretary signing several people in on one phone, is not locked out by one person's typos).
"""
from __future__ import annotations

from flask import current_app, request
from flask_limiter.util import get_remote_address

from app.extensions import limiter


def _account_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _address_limit() -> str:
    return current_app.config["LOGIN_IP_RATE_LIMIT"]


def _account_key() -> str:
    phone = request.form.get("phone")
    if phone is None:
        body = request.get_json(silent=True)
        phone = body.get("phone") if isinstance(body, dict) else None
    return f"{get_remote_address()}|{str(phone or '').strip()[:32]}"


def limit_logins(methods: list[str] | None = None):
    """Decorate a login route with both limits (only for ``methods`` when given)."""

    def decorator(view):
        # shared: the page and the token endpoint draw on one budget, not one each
        view = limiter.shared_limit(_account_limit, scope="login-account", key_func=_account_key,
                                    methods=methods)(view)
        return limiter.shared_limit(_address_limit, scope="login-address", methods=methods)(view)

    return decorator
