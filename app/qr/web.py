"""Request-side helpers shared by the rating page and the rating API: device cookie, client IP,
the per-IP rate limit."""
from __future__ import annotations

from flask import after_this_request, current_app, g, request

from app.qr import tokens


def rate_limit() -> str:
    """Per-IP limit on rating posts; the page and the API share one budget (scope qr-rating)."""
    return current_app.config["QR_RATE_LIMIT"]


def client_ip() -> str | None:
    """The address Flask-Limiter keys on too (put ProxyFix in front when behind a proxy)."""
    return request.remote_addr


def cookie_device() -> str | None:
    """The device id of a validly signed device cookie on this request, else None."""
    return tokens.read_device_cookie(request.cookies.get(tokens.DEVICE_COOKIE))


def ensure_device() -> str:
    """The request's device id; a new random one, set as a signed cookie, when there is none."""
    device = cookie_device() or g.get("qr_new_device")
    if device:
        return device
    device, value = tokens.new_device_cookie()
    g.qr_new_device = device

    @after_this_request
    def _set_cookie(response):
        response.set_cookie(tokens.DEVICE_COOKIE, value, max_age=tokens.DEVICE_COOKIE_MAX_AGE, path="/",
                            httponly=True, samesite="Lax", secure=request.is_secure)
        return response

    return device


def api_device(supplied: str | None = None) -> str:
    """The device of an API rating: the signed device id the client sent (``device``, from
    ``POST /api/v1/ratings/devices``, for clients that keep no cookies, such as mini-programs),
    else a valid device cookie, else the day's IP hash, so such a client counts once per target
    and day. A forged or stale ``device`` counts as none."""
    device = tokens.read_device_cookie(supplied) or cookie_device()
    if device:
        return device
    from app.qr.services import local_day

    return "ip:" + tokens.ip_hash(client_ip(), local_day())
