"""gunicorn.conf.py: gthread workers with the threads that suit the database."""
from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from app.config import web_threads

CONF = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"


@pytest.mark.parametrize(("url", "threads"), [
    ("sqlite:////srv/vanguard.sqlite3", 1),
    ("postgresql://vanguard@db/vanguard", 2),
    ("postgres://vanguard@db/vanguard", 2),
    ("postgresql+psycopg://vanguard@db/vanguard", 2),
    (None, 1),  # no DATABASE_URL: the SQLite file under instance/
])
def test_threads_follow_the_database(url, threads):
    assert web_threads(url) == threads


def test_config_file_reads_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://vanguard@db/vanguard")
    monkeypatch.delenv("GUNICORN_THREADS", raising=False)
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    conf = runpy.run_path(str(CONF))
    assert (conf["workers"], conf["worker_class"], conf["threads"], conf["wsgi_app"]) == (3, "gthread", 2, "wsgi:app")
    monkeypatch.setenv("GUNICORN_THREADS", "4")
    monkeypatch.setenv("DATABASE_URL", "sqlite:////srv/vanguard.sqlite3")
    assert runpy.run_path(str(CONF))["threads"] == 4
    monkeypatch.delenv("GUNICORN_THREADS")
    assert runpy.run_path(str(CONF))["threads"] == 1
