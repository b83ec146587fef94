"""The orjson JSON provider writes what the standard library would; bare query strings reuse the
defaults a query schema loads, and nothing that varies between calls."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

import marshmallow as ma
import pytest
from flask.json.provider import DefaultJSONProvider

from app.api import JsonParser, Schema
from app.json_provider import JSONProvider


@dataclass
class Point:
    x: int
    label: str


SAMPLE = {
    "名字": "张三", "index": 73.5, "points": Decimal("2.50"), "rank": 3, "none": None, "ok": True,
    "day": date(2026, 12, 3), "at": datetime(2026, 12, 3, 8, 30, tzinfo=timezone.utc),
    7: "int key", "nested": [{"a": [1, 2.25, "<tag>&"]}, Point(1, "点")],
}


@pytest.fixture
def providers(app):
    fast, std = JSONProvider(app), DefaultJSONProvider(app)
    std.ensure_ascii, std.sort_keys = False, False
    return fast, std


def test_same_text_as_the_standard_library(app, providers):
    fast, std = providers
    with app.test_request_context():
        assert fast.response(SAMPLE).get_data() == std.response(SAMPLE).get_data()
        for kwargs in ({}, {"indent": 2}, {"separators": (",", ":")}, {"sort_keys": True}):
            assert fast.dumps(SAMPLE if "sort_keys" not in kwargs else {"b": 1, "a": 2}, **kwargs) == \
                std.dumps(SAMPLE if "sort_keys" not in kwargs else {"b": 1, "a": 2}, **kwargs)
    assert json.loads(fast.response(SAMPLE).get_data())["at"] == "Thu, 03 Dec 2026 08:30:00 GMT"


def test_what_orjson_refuses_falls_back(app, providers):
    fast, std = providers
    huge = {"n": 2**70}
    with app.test_request_context():
        assert fast.response(huge).get_data() == std.response(huge).get_data() == b'{"n":1180591620717411303424}\n'
        app.debug = True
        try:
            assert fast.response({"a": 1}).get_data() == b'{\n  "a": 1\n}\n'
        finally:
            app.debug = False


def test_the_app_answers_with_it(app, client):
    assert isinstance(app.json, JSONProvider)
    r = client.get("/api/v1/ping")
    assert r.status_code == 200 and r.mimetype == "application/json" and r.get_data().endswith(b"\n")


class Paging(Schema):
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(1, 500))
    offset = ma.fields.Integer(load_default=0)


class Stamped(Schema):
    limit = ma.fields.Integer(load_default=50)
    calls = []

    @ma.post_load
    def stamp(self, data, **_kw):
        Stamped.calls.append(1)
        return {**data, "n": len(Stamped.calls)}


def test_a_bare_query_loads_the_defaults_once_and_hands_out_copies(app):
    parser = JsonParser()
    with app.test_request_context("/x"):
        first = parser.parse(Paging, location="query")
        first["limit"] = 1  # a view changing its arguments changes nobody else's
        assert parser.parse(Paging, location="query") == {"limit": 50, "offset": 0}
        assert len(parser._bare_query) == 1
        # a schema whose load depends on the call is loaded every time
        assert parser.parse(Stamped, location="query")["n"] + 1 == parser.parse(Stamped, location="query")["n"]
    with app.test_request_context("/x?limit=7"):
        assert parser.parse(Paging, location="query") == {"limit": 7, "offset": 0}
    with app.test_request_context("/x?limit=0"):
        with pytest.raises(Exception) as err:
            parser.parse(Paging, location="query")
        assert getattr(err.value, "code", None) == 422
