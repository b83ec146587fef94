"""A database connection dropped under the app (a restart) fails one request with 503, not 500.

The pool does not pre-ping (a round trip on every request); SQLAlchemy invalidates the pool when a
connection turns out dead, so the retry reconnects.
"""
import pytest
import sqlalchemy as sa


def _drop_app_connections(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        killed = conn.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        ).scalar_one()
    engine.dispose()
    return killed


def test_lost_connection_answers_503_and_the_retry_reconnects(app, db, tree, api_as, login_as, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server connection to lose")
    api = api_as(tree.m11)
    page = login_as(tree.m11)
    member_id = tree.m11.id
    assert api.get("/api/v1/me/points").status_code == 200
    db.session.remove()
    assert _drop_app_connections(database_url) >= 1

    r = api.get("/api/v1/me/points")
    assert r.status_code == 503
    assert r.get_json() == {"error": {"code": "unavailable", "message": "数据库连接中断，请稍后重试。"}}
    assert r.headers["Retry-After"] == "1"

    again = api.get("/api/v1/me/points")
    assert again.status_code == 200
    assert again.get_json()["member"]["id"] == member_id

    db.session.remove()
    _drop_app_connections(database_url)
    r = page.get("/index/me")
    assert r.status_code == 503
    assert "数据库连接中断" in r.get_data(as_text=True)
    assert page.get("/index/me").status_code == 200
