"""Helpers for the index, ranking, page and export tests: entries, rules and a query counter."""
from __future__ import annotations

import contextlib
import itertools
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event

_keys = itertools.count(1)


@pytest.fixture
def make_rule(db):
    from app.points.models import Rule

    def make(code: str = "S01", category: str = "study", title: str = "学习强国每日答题", points="1"):
        rule = Rule(code=code, category=category, title=title, points=Decimal(str(points)),
                    needs_approval=False)
        db.session.add(rule)
        db.session.commit()
        return rule

    return make


@pytest.fixture
def add_entry(db):
    """``add_entry(member, "study", 5, date(2026, 3, 1))`` appends one ledger entry and commits."""
    from app.points.ledger import append_entry

    def add(subject, category: str = "study", points="5", on: date = date(2026, 3, 1), *,
            rule=None, note: str = "", reverses=None, source: str | None = None, created_by=None):
        from app.orgs.models import Org

        is_org = isinstance(subject, Org)
        entry = append_entry(
            category=category, points=Decimal(str(points)), occurred_on=on,
            source=source or ("reversal" if reverses is not None else "award"),
            source_key=f"test-{next(_keys)}",
            rule_code=rule.code if rule else f"T-{category}",
            rule_id=rule.id if rule else None,
            member_id=None if is_org else subject.id,
            org_id=subject.id if is_org else None,
            note=note, created_by_id=created_by.id if created_by else None,
            reverses_id=reverses.id if reverses is not None else None,
        )
        db.session.commit()
        return entry

    return add


def reverse(add_entry, entry, subject, note: str = "录入错误"):
    """A reversing entry for ``entry`` (same date, opposite points)."""
    return add_entry(subject, entry.category, -entry.points, entry.occurred_on, reverses=entry, note=note)


@pytest.fixture
def count_queries(db):
    """``with count_queries() as n: ...`` then ``n[0]``: SQL statements run inside the block."""

    @contextlib.contextmanager
    def counting():
        seen = [0]

        def before(conn, cursor, statement, parameters, context, executemany):
            seen[0] += 1

        engine = db.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting


class PageClient:
    """A logged-in page client whose every request loads its own user.

    The test app context outlives requests, and Flask-Login caches the user on ``g``; dropping
    it before each request keeps two clients in one test from seeing each other's user.
    """

    def __init__(self, client):
        self.client = client

    def get(self, path, **kw):
        from flask import g

        g.pop("_login_user", None)
        return self.client.get(path, **kw)


@pytest.fixture
def page_as(login_as):
    """``page_as(user)`` -> a PageClient logged in as ``user``."""
    from flask import g

    def make(user) -> PageClient:
        g.pop("_login_user", None)
        client = login_as(user)
        g.pop("_login_user", None)
        return PageClient(client)

    return make
