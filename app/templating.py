"""Template filters and globals shared by every page."""
from __future__ import annotations

import hashlib
import os
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app, g
from flask_babel import get_locale, get_translations
from flask_login import current_user


def local_dt(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored time shown in the deployment's time zone (Asia/Shanghai)."""
    if value is None:
        return ""
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    if value.tzinfo is None:
        from datetime import timezone

        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(tz).strftime(fmt)


def points(value) -> str:
    """Points with at most one decimal: 5 -> '5', 2.5 -> '2.5', -3 -> '-3'."""
    if value is None:
        return "0"
    d = Decimal(value).quantize(Decimal("0.1"))
    text = format(d, "f")
    return text[:-2] if text.endswith(".0") else text


def signed_points(value) -> str:
    text = points(value)
    return text if text.startswith("-") or text == "0" else "+" + text


def iso_date(value: date | None) -> str:
    return value.isoformat() if value else ""


def compile_translations(folder: str) -> list[str]:
    """Compile each catalogue whose ``.mo`` is missing or older than its ``.po``; the compiled
    names. ``make install`` compiles them, but an install by the production steps alone
    (``pip install .``) has only the ``.po`` files, and the English pages would stay Chinese."""
    from pathlib import Path

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    done = []
    for po in sorted(Path(folder).glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        try:
            if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
                continue
            with po.open("rb") as f:
                catalog = read_po(f)
            tmp = mo.with_name(f"{mo.name}.{os.getpid()}.tmp")  # workers starting at once
            with tmp.open("wb") as f:
                write_mo(f, catalog, use_fuzzy=True)
            os.replace(tmp, mo)
            done.append(str(mo))
        except OSError as exc:  # a read-only install: the pages stay in Chinese
            import logging

            logging.getLogger(__name__).warning("cannot compile %s: %s", po, exc)
    return done


def request_translations():
    """The request's translations, looked up once per locale per request.

    Flask-Babel's own template callables look the domain, the locale and the catalog up again for
    every string (half a dozen context lookups and a locale-to-text each); a page shows about
    forty. The locale object is the key, so a locale switched inside the request is honoured.
    """
    state = g._get_current_object()
    babel_state = state.__dict__.get("_flask_babel")  # where Flask-Babel keeps the request's locale
    locale = getattr(babel_state, "babel_locale", None) or get_locale()
    memo = state.__dict__.get("_translations_memo")
    if memo is None or memo[0] is not locale:
        memo = state._translations_memo = (locale, get_translations())
    return memo[1]


STATIC_MAX_AGE = 365 * 24 * 3600
_static_versions: dict[str, tuple[float, str]] = {}


def static_version(static_folder: str, filename: str) -> str | None:
    """A short digest of a static file's content (recomputed when the file changes), or None."""
    path = os.path.join(static_folder, filename)
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return None
    known = _static_versions.get(path)
    if known is None or known[0] != mtime:
        with open(path, "rb") as f:
            known = (mtime, hashlib.sha256(f.read()).hexdigest()[:10])
        _static_versions[path] = known
    return known[1]


def init_static_versions(app) -> None:
    """Static URLs carry their content's digest (``app.css?v=3f2a...``) and are cached for a year
    as immutable: a page on slow 4G costs no revalidation round trips, and a new release's file
    has a new URL."""

    @app.url_defaults
    def _versioned(endpoint, values):
        if endpoint == "static" and "v" not in values and values.get("filename"):
            version = static_version(app.static_folder, values["filename"])
            if version:
                values["v"] = version

    @app.after_request
    def _cache_versioned(response):
        from flask import request

        version = request.args.get("v") if request.endpoint == "static" else None
        if (version and response.status_code == 200 and request.view_args
                and version == static_version(app.static_folder, request.view_args.get("filename", ""))):
            # only the digest of the file served: an old worker answering a new URL during a
            # rolling release, or a made-up digest, must not be kept for a year
            response.cache_control.public = True
            response.cache_control.max_age = STATIC_MAX_AGE
            response.cache_control.immutable = True
            response.cache_control.no_cache = None
        return response


def init_app(app) -> None:
    init_static_versions(app)
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: request_translations().ugettext(s),
        ngettext=lambda s, p, n: request_translations().ungettext(s, p, n),
        pgettext=lambda c, s: request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: request_translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.jinja_env.filters["local_dt"] = local_dt
    app.jinja_env.filters["points"] = points
    app.jinja_env.filters["signed_points"] = signed_points
    app.jinja_env.filters["iso_date"] = iso_date
    app.jinja_env.globals["current_user"] = current_user
    app.jinja_env.globals["nav_items"] = nav_items
    app.jinja_env.globals["get_locale"] = get_locale
    from app.marks import shared_fragment
    from app.orgs.services import can_manage_account

    app.jinja_env.globals["shared_fragment"] = shared_fragment
    app.jinja_env.globals["can_manage_account"] = can_manage_account


NAV_ITEMS: list[tuple[int, object, str, tuple[str, ...]]] = []


def register_nav(order: int, label, endpoint: str, roles: tuple[str, ...]) -> None:
    """Add a link to the top navigation for the given roles (features call this once)."""
    if not any(e == endpoint for _, _, e, _ in NAV_ITEMS):
        NAV_ITEMS.append((order, label, endpoint, roles))
        NAV_ITEMS.sort(key=lambda item: item[0])


def nav_items() -> list[dict]:
    from flask import request, url_for

    user = current_user._get_current_object()
    if not user.is_authenticated:
        return []
    # The links of a role in a language are the same for everybody: built once per app.
    key = (user.role, str(get_locale()), request.script_root)
    links = current_app.extensions.setdefault("nav_links", {}).get(key)
    if links is None:
        links = [(str(label), url_for(endpoint)) for _order, label, endpoint, roles in NAV_ITEMS
                 if user.role in roles]
        current_app.extensions["nav_links"][key] = links
    here = request.script_root + request.path
    return [{"label": label, "url": url, "current": current} for (label, url), current in zip(links, nav_current(here, links))]


def nav_current(here: str, links: list[tuple[str, str]]) -> list[str | None]:
    """Each link's aria-current: "page" for the page itself, "true" for the section a deeper page lies
    in (the link with the longest path above it: /contests/3 is in 竞位赛), else None."""
    section = max((url for _label, url in links if here.startswith(url.rstrip("/") + "/") and url.strip("/")),
                  key=len, default=None)
    exact = any(url == here for _label, url in links)
    return ["page" if url == here else "true" if not exact and url == section else None for _label, url in links]
