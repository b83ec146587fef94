"""Opaque code tokens, device cookies, IP hashes and the public form's signed token.

A token is ``base64url(HMAC-SHA256(key, "qr:{target_id}:{nonce}"))`` cut to 24 characters
(144 bits). The database keeps the random nonce and ``sha256(token)`` only, so a copy of the
database gives no working token; the server re-derives the token to draw images and sheets.
Rotating a code is a new nonce (the old token's hash is gone); revoking sets ``revoked_at``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import date

from flask import current_app
from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer

TOKEN_LENGTH = 24
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{%d}" % TOKEN_LENGTH)
DEVICE_COOKIE = "qr_device"
DEVICE_COOKIE_MAX_AGE = 400 * 24 * 3600


def _key() -> bytes:
    key = current_app.config.get("QR_TOKEN_KEY") or current_app.config["SECRET_KEY"]
    return key.encode("utf-8") if isinstance(key, str) else key


def new_nonce() -> str:
    return secrets.token_hex(16)


def derive_token(target_id: int, nonce: str) -> str:
    digest = hmac.new(_key(), f"qr:{target_id}:{nonce}".encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:TOKEN_LENGTH]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def well_formed(token) -> bool:
    """Exactly 24 characters of the URL-safe alphabet; anything else is not worth a lookup."""
    return isinstance(token, str) and TOKEN_RE.fullmatch(token) is not None


def _secret_text() -> str:
    key = current_app.config["SECRET_KEY"]
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else key


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 under the app secret, hex; ``purpose`` separates the uses."""
    return hmac.new(f"{_secret_text()}:{purpose}".encode("utf-8"), value.encode("utf-8"),
                    hashlib.sha256).hexdigest()


def ip_hash(ip: str | None, day: date) -> str:
    """A daily salted hash of the client IP: comparable within a day, never reversible to it."""
    return keyed_hash(f"ip:{day.isoformat()}", ip or "unknown")


def device_hash(device_id: str) -> str:
    return keyed_hash("device", device_id)


# --- the device cookie -------------------------------------------------------------------

def _device_signer() -> Signer:
    return Signer(_secret_text(), salt="qr-device")


def new_device_cookie() -> tuple[str, str]:
    """A fresh random device id and its signed cookie value."""
    device_id = secrets.token_urlsafe(16)
    return device_id, _device_signer().sign(device_id).decode("ascii")


def read_device_cookie(value: str | None) -> str | None:
    """The device id of a validly signed cookie, else None."""
    if not value or len(value) > 200:
        return None
    try:
        device_id = _device_signer().unsign(value).decode("ascii")
    except (BadSignature, UnicodeError):
        return None
    return device_id or None


# --- the public form's token ---------------------------------------------------------------

def _form_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret_text(), salt="qr-rate-form")


def form_token(target_id: int, device_id: str) -> str:
    """A signed, timed token tying one rating form to the device cookie and the target."""
    return _form_serializer().dumps({"t": target_id, "d": device_hash(device_id)[:32]})


def check_form_token(value: str | None, target_id: int, device_id: str | None) -> bool:
    if not value or not device_id or len(value) > 500:
        return False
    max_age = int(current_app.config.get("QR_FORM_MAX_AGE", 86400))
    try:
        data = _form_serializer().loads(value, max_age=max_age)
    except BadSignature:
        return False
    return (isinstance(data, dict) and data.get("t") == target_id
            and hmac.compare_digest(str(data.get("d", "")), device_hash(device_id)[:32]))
