"""gunicorn settings: `gunicorn wsgi:app` run in this folder reads them (flags still override).

Workers: ``WEB_CONCURRENCY`` (gunicorn's own variable), else two per core. Each worker runs
``gthread`` with keep-alive and the threads that suit the database (``app.config.web_threads``:
1 on SQLite, 2 on PostgreSQL; ``GUNICORN_THREADS`` overrides).
"""
import multiprocessing
import os

from app.config import web_threads

wsgi_app = "wsgi:app"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * multiprocessing.cpu_count())
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS") or web_threads(os.environ.get("DATABASE_URL")))
keepalive = 5
timeout = 60
