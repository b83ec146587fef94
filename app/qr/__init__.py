"""QR ratings: targets, tokens, code images and sheets, the public rating page, follow-ups.

Settings (each can be given in the app config or, for the scalar ones, the environment):

=========================  ==========================================================  =================
QR_TAGS                    tags residents can pick on the rating page                  服务热情, ...
QR_COUNTED_PER_DAY         counted ratings per device, subject and (local) day         1
QR_COUNTED_PER_IP          counted ratings per network address, subject and day         10
QR_RATE_LIMIT              per-IP limit on rating posts (page and API together)        30 per minute
QR_COMMENT_MAX             longest comment                                              200
QR_FORM_MAX_AGE            seconds a rating form stays valid                            86400
QR_BURST_WINDOW_MINUTES    burst detection: the window                                  10
QR_BURST_MIN_RATINGS       ... at least this many ratings on one target in the window   10
QR_BURST_MAX_SOURCES       ... coming from at most this many devices or IPs             2
QR_MIN_RATINGS             counted ratings a subject needs in a period to get points    3
QR_RATING_WEIGHT           points = (average stars - 3) x weight                        2
QR_FOLLOWUP_DAYS           days to close a follow-up                                    5
QR_TOKEN_KEY               key deriving the tokens (SECRET_KEY when unset)              -
=========================  ==========================================================  =================
"""
from __future__ import annotations

import json
import os

DEFAULT_TAGS = ["服务热情", "办事高效", "耐心细致", "作风过硬", "群众满意"]

DEFAULTS: dict[str, object] = {
    "QR_TAGS": DEFAULT_TAGS,
    "QR_COUNTED_PER_DAY": 1,
    "QR_COUNTED_PER_IP": 10,
    "QR_RATE_LIMIT": "30 per minute",
    "QR_COMMENT_MAX": 200,
    "QR_FORM_MAX_AGE": 86400,
    "QR_BURST_WINDOW_MINUTES": 10,
    "QR_BURST_MIN_RATINGS": 10,
    "QR_BURST_MAX_SOURCES": 2,
    "QR_MIN_RATINGS": 3,
    "QR_RATING_WEIGHT": "2",
    "QR_FOLLOWUP_DAYS": 5,
    "QR_TOKEN_KEY": None,
}


def _from_env(name: str, default):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    if isinstance(default, list):
        try:
            value = json.loads(raw)
        except ValueError:
            value = [t.strip() for t in raw.split(",")]
        return [str(t).strip() for t in value if str(t).strip()]
    if isinstance(default, int) and not isinstance(default, bool):
        try:
            return int(raw)
        except ValueError:
            return default
    return raw.strip()


def init_config(app) -> None:
    """Fill in the QR settings the app config does not set yet (environment first)."""
    for name, default in DEFAULTS.items():
        if name not in app.config:
            app.config[name] = _from_env(name, default)
