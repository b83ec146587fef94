"""Every setting the README's configuration table names is read from the environment."""
from __future__ import annotations

import pytest

from app import create_app
from tests.conftest import BASE_CONFIG


def make(monkeypatch, **env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return create_app(dict(BASE_CONFIG))


def test_claim_window_font_and_index_figures_come_from_the_environment(monkeypatch, tmp_path):
    font = tmp_path / "font.ttf"
    app = make(monkeypatch, CLAIM_WINDOW_DAYS="5", PDF_FONT=str(font),
               INDEX_WEIGHTS='{"study": 25, "service": 45}', INDEX_CEILINGS='{"rating": 24}')
    assert app.config["CLAIM_WINDOW_DAYS"] == 5 and app.config["PDF_FONT"] == str(font)
    assert app.config["INDEX_WEIGHTS"] == {"study": 25, "service": 45, "innovation": 20, "rating": 10}
    assert app.config["INDEX_CEILINGS"]["rating"] == 24 and app.config["INDEX_CEILINGS"]["study"] == 120
    with app.app_context():
        from app.points import services
        from app.points.index import index_config

        assert services.claim_window_days() == 5
        assert index_config().weights["study"] == 25


def test_login_limits_come_from_the_environment(monkeypatch):
    app = make(monkeypatch, LOGIN_RATE_LIMIT="5 per minute", LOGIN_IP_RATE_LIMIT="50 per minute",
               LOGIN_PHONE_RATE_LIMIT="20 per hour")
    assert (app.config["LOGIN_RATE_LIMIT"], app.config["LOGIN_IP_RATE_LIMIT"], app.config["LOGIN_PHONE_RATE_LIMIT"]) == (
        "5 per minute", "50 per minute", "20 per hour")
    monkeypatch.delenv("LOGIN_PHONE_RATE_LIMIT")
    assert create_app(dict(BASE_CONFIG)).config["LOGIN_PHONE_RATE_LIMIT"] == "30 per hour"


@pytest.mark.parametrize("env, words", [
    ({"CLAIM_WINDOW_DAYS": "sixty"}, "CLAIM_WINDOW_DAYS"),
    ({"CLAIM_WINDOW_DAYS": "0"}, "CLAIM_WINDOW_DAYS"),
    ({"INDEX_WEIGHTS": "study=30"}, "INDEX_WEIGHTS"),
    ({"INDEX_WEIGHTS": '{"bravery": 10}'}, "INDEX_WEIGHTS"),
    ({"INDEX_WEIGHTS": '{"study": 40}'}, "sum to 100"),
    ({"INDEX_CEILINGS": '{"study": 0}'}, "INDEX_CEILINGS"),
])
def test_bad_settings_refuse_to_start_saying_which(monkeypatch, env, words):
    with pytest.raises(RuntimeError, match=words):
        make(monkeypatch, **env)
