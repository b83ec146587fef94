"""QR fixtures: codes for the standard tree, and a phone-like client that rates through the page."""
from __future__ import annotations

import re

import pytest


@pytest.fixture
def make_target(app):
    """``make_target(actor, subject_type, subject)`` -> (target, token)."""
    from app.qr import services

    def make(actor, subject_type: str, subject, label: str = ""):
        target = services.create_target(actor, subject_type, subject.id, label)
        return target, services.token_of(target)

    return make


FORM_TOKEN_RE = re.compile(r'name="ft" value="([^"]+)"')


def form_token(html: str) -> str:
    match = FORM_TOKEN_RE.search(html)
    assert match, "the rating page has no form token"
    return match.group(1)


def rate_via_page(client, token: str, stars=5, comment: str = "", tags=(), follow=False):
    """Open the page (device cookie + form token), then post the form like a phone does."""
    page = client.get(f"/r/{token}")
    assert page.status_code == 200, page.status_code
    data = {"ft": form_token(page.get_data(as_text=True)), "stars": str(stars), "comment": comment,
            "tags": list(tags)}
    return client.post(f"/r/{token}", data=data, follow_redirects=follow)


def count_ratings() -> int:
    import sqlalchemy as sa

    from app.extensions import db
    from app.qr.models import Rating

    return db.session.scalar(sa.select(sa.func.count(Rating.id)))
