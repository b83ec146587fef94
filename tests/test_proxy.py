"""Behind a reverse proxy the client address comes from X-Forwarded-For, only when configured."""
from __future__ import annotations

from flask import request


def _seen_ip(app):
    @app.route("/_test/ip")
    def ip():
        return request.remote_addr or ""

    return app.test_client().get("/_test/ip", headers={"X-Forwarded-For": "203.0.113.9"},
                                 environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_data(as_text=True)


def test_forwarded_for_ignored_by_default(app_config):
    from app import create_app

    assert _seen_ip(create_app(app_config)) == "127.0.0.1"


def test_forwarded_for_trusted_with_proxy_count(app_config):
    from app import create_app

    assert _seen_ip(create_app({**app_config, "PROXY_COUNT": 1})) == "203.0.113.9"
