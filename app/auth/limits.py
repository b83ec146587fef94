"""Login rate limits, one budget shared by the login page and the token endpoint.

Three limits: per account and address (``LOGIN_RATE_LIMIT``: guessing one member's password from
one place stops quickly), per address over all accounts (``LOGIN_IP_RATE_LIMIT``: trying many
accounts from one place stops too, while a branch whose members log in from one office network,
or a secretary signing several people in on one phone, is not locked out by one person's typos)
and, looser, per account over all addresses (``LOGIN_PHONE_RATE_LIMIT``: guessing one member's
password from many addresses stops too).
"""
from __future__ import annotations

from flask import current_app, request
from flask_limiter.util import get_remote_address

from app.extensions import limiter
from app.text import phone_number


def _account_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _address_limit() -> str:
    return current_app.config["LOGIN_IP_RATE_LIMIT"]


def _phone_limit() -> str:
    return current_app.config["LOGIN_PHONE_RATE_LIMIT"]


def _phone() -> str:
    """The phone number tried, from the form or the JSON body, as ``authenticate`` reads it."""
    phone = request.form.get("phone")
    if phone is None:
        body = request.get_json(silent=True)
        phone = body.get("phone") if isinstance(body, dict) else None
    return phone_number(phone)[:32]  # "138 0000 0003" guesses the same account as 13800000003


def _account_key() -> str:
    return f"{get_remote_address()}|{_phone()}"


def _no_phone() -> bool:
    return not _phone()  # no account to guess for: one shared budget would let anyone use it up


def limit_logins(methods: list[str] | None = None):
    """Decorate a login route with the three limits (only for ``methods`` when given)."""

    def decorator(view):
        # shared: the page and the token endpoint draw on one budget, not one each
        view = limiter.shared_limit(_account_limit, scope="login-account", key_func=_account_key,
                                    methods=methods)(view)
        view = limiter.shared_limit(_phone_limit, scope="login-phone", key_func=_phone, methods=methods,
                                    exempt_when=_no_phone)(view)
        return limiter.shared_limit(_address_limit, scope="login-address", methods=methods)(view)

    return decorator
