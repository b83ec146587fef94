"""Abuse resistance: burst flags, daily IP hashes, and the per-IP limit across gunicorn workers."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import BASE_CONFIG, REQUIRE_SERVICES
from tests.qr.conftest import rate_via_page

ROOT = Path(__file__).resolve().parents[2]
BURST = {"QR_BURST_MIN_RATINGS": 6, "QR_BURST_MAX_SOURCES": 2, "QR_BURST_WINDOW_MINUTES": 10}


@pytest.fixture
def app_config(app_config):
    return {**app_config, **BURST}


def test_burst_from_one_source_flags_the_code_for_its_secretary(app, tree, make_target, api_as, login_as):
    target, token = make_target(tree.sec_b11, "member", tree.m11)
    api = api_as(tree.sec_b11)
    phone = app.test_client()
    for _ in range(5):
        rate_via_page(phone, token, stars=5)
    assert api.get(f"/api/v1/qr/targets/{target.id}/ratings").json["flags"] == []
    # Clearing cookies does not hide the burst: the IP is the same.
    for _ in range(3):
        rate_via_page(app.test_client(), token, stars=5)
    flags = api.get(f"/api/v1/qr/targets/{target.id}/ratings").json["flags"]
    assert len(flags) == 1
    assert flags[0]["kind"] == "burst" and flags[0]["ratings"] >= 6 and flags[0]["sources"] == 1

    sec = login_as(tree.sec_b11)
    assert "疑似刷评" in sec.get("/qr-admin/").get_data(as_text=True)
    assert "疑似刷评" in sec.get(f"/qr-admin/targets/{target.id}").get_data(as_text=True)
    assert api.get("/api/v1/qr/targets?flagged=1").json["total"] == 1
    assert api_as(tree.sec_c2).get("/api/v1/qr/targets?flagged=1").json["total"] == 0

    # The secretary has looked at it.
    r = sec.post(f"/qr-admin/flags/{flags[0]['id']}/clear", follow_redirects=True)
    assert r.status_code == 200 and "已标记为已核实" in r.get_data(as_text=True)
    assert api.get(f"/api/v1/qr/targets/{target.id}/ratings").json["flags"] == []
    assert api.post(f"/api/v1/qr/flags/{flags[0]['id']}/clear").status_code == 409


def test_a_secretary_does_not_clear_the_flag_on_their_own_code(app, tree, make_target, api_as):
    target, token = make_target(tree.sec_b11, "member", tree.sec_b11, "书记胸牌")
    for _ in range(8):
        rate_via_page(app.test_client(), token, stars=5)
    own = api_as(tree.sec_b11)
    [flag] = own.get(f"/api/v1/qr/targets/{target.id}/ratings").json["flags"]
    r = own.post(f"/api/v1/qr/flags/{flag['id']}/clear")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "next_level_up"
    assert len(own.get(f"/api/v1/qr/targets/{target.id}/ratings").json["flags"]) == 1
    assert api_as(tree.sec_c1).post(f"/api/v1/qr/flags/{flag['id']}/clear").status_code == 200


def test_many_residents_from_many_networks_raise_no_flag(app, tree, make_target, api_as):
    target, token = make_target(tree.sec_b11, "member", tree.m11)
    for i in range(10):
        phone = app.test_client()
        phone.environ_base["REMOTE_ADDR"] = f"198.51.100.{i + 1}"
        rate_via_page(phone, token, stars=4)
    body = api_as(tree.sec_b11).get(f"/api/v1/qr/targets/{target.id}/ratings").json
    assert body["count"] == 10 and body["flags"] == []


def counted_of(api, target_id):
    return api.get(f"/api/v1/qr/targets/{target_id}/ratings").json["count"]


def test_one_address_counts_at_most_qr_counted_per_ip_a_day_however_many_devices(app, tree, make_target, api_as):
    """Clearing cookies or asking the API for a new device id gives a new device, not a new
    address: past ``QR_COUNTED_PER_IP`` the ratings are stored, not counted."""
    app.config["QR_COUNTED_PER_IP"] = 3
    target, token = make_target(tree.sec_b11, "member", tree.m11)
    api = api_as(tree.sec_b11)
    for _ in range(2):
        rate_via_page(app.test_client(), token, stars=5)  # a fresh cookie each time
    resident = app.test_client()
    answers = []
    for _ in range(3):
        device = resident.post("/api/v1/ratings/devices").json["device"]
        answers.append(resident.post("/api/v1/ratings", json={"token": token, "stars": 5, "device": device}).json)
    assert [a["counted"] for a in answers] == [True, False, False]
    assert counted_of(api, target.id) == 3
    assert api.get(f"/api/v1/qr/targets/{target.id}/ratings").json["total"] == 5  # every one stored
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    rate_via_page(other, token, stars=4)
    assert counted_of(api, target.id) == 4


def test_a_device_counts_once_a_day_per_subject_whatever_code_it_scans(app, tree, make_target, api_as, make_user):
    """A member with a door-plate code and a badge: one phone's second rating, on the other code,
    is stored, not counted; another member's code still counts."""
    plate, plate_token = make_target(tree.sec_b11, "member", tree.m11, "门牌")
    badge, badge_token = make_target(tree.sec_b11, "member", tree.m11, "胸牌")
    other, other_token = make_target(tree.sec_b11, "member", make_user(tree.b11, "member", "王芳"))
    branch, branch_token = make_target(tree.sec_b11, "org", tree.b11)
    phone = app.test_client()
    device = phone.post("/api/v1/ratings/devices").json["device"]

    def rate(token):
        return phone.post("/api/v1/ratings", json={"token": token, "stars": 5, "device": device}).json["counted"]

    assert [rate(plate_token), rate(badge_token), rate(other_token), rate(branch_token)] == [True, False, True, True]
    api = api_as(tree.sec_b11)
    assert [counted_of(api, t.id) for t in (plate, badge, other, branch)] == [1, 0, 1, 1]


def test_ip_hash_is_salted_per_day_and_per_secret(app):
    from app.qr import tokens

    day1, day2 = date(2026, 11, 1), date(2026, 11, 2)
    assert tokens.ip_hash("203.0.113.5", day1) == tokens.ip_hash("203.0.113.5", day1)
    assert tokens.ip_hash("203.0.113.5", day1) != tokens.ip_hash("203.0.113.5", day2)
    assert tokens.ip_hash("203.0.113.5", day1) != tokens.ip_hash("203.0.113.6", day1)
    before = tokens.ip_hash("203.0.113.5", day1)
    app.config["SECRET_KEY"] = "another-secret"
    assert tokens.ip_hash("203.0.113.5", day1) != before


# --- the per-IP limit with Redis and two gunicorn workers ------------------------------------

def _redis_or_skip():
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means: no Redis here
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but Redis at {url} is unreachable: {exc}")
        pytest.skip(f"Redis at {url} is unreachable ({exc}); set TEST_REDIS_URL to run this test")
    client.flushdb()
    return url, client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare_database(path: Path, secret: str) -> str:
    """A migrated SQLite file with one branch, its secretary, a member and a code; returns the token."""
    from flask_migrate import upgrade

    from app import create_app
    from app.auth.models import User, hash_password
    from app.extensions import db
    from app.orgs.models import Org
    from app.qr import services

    app = create_app({**BASE_CONFIG, "SECRET_KEY": secret, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        org = Org(name="桂花第一支部", kind="branch", depth=0)
        db.session.add(org)
        db.session.flush()
        org.path = f"/{org.id}/"
        secretary = User(name="陈支书", phone="13900000001", role="secretary", org_id=org.id,
                         password_hash=hash_password("password123"))
        member = User(name="张三", phone="13900000002", role="member", org_id=org.id,
                      password_hash=hash_password("password123"))
        db.session.add_all([secretary, member])
        db.session.commit()
        target = services.create_target(secretary, "member", member.id)
        token = services.token_of(target)
        db.session.remove()
        db.engine.dispose()
    return token


def _post_rating(base: str, token: str) -> int:
    body = json.dumps({"token": token, "stars": 5}).encode()
    request = urllib.request.Request(base + "/api/v1/ratings", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Connection": "close"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:  # not listening yet, or a worker still loading the app
        return 0


def _pids(access_log: Path, method: str) -> set[str]:
    """Worker pids that answered ``method`` requests, from the access log ("<pid> METHOD path status")."""
    if not access_log.exists():
        return set()
    return {line.split()[0] for line in access_log.read_text().splitlines() if f" {method} " in line}


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_per_ip_limit_holds_across_two_gunicorn_workers_with_redis(tmp_path):
    redis_url, redis_client = _redis_or_skip()
    secret = "gunicorn-test-secret"
    token = _prepare_database(tmp_path / "live.sqlite3", secret)
    port = _free_port()
    access_log = tmp_path / "access.log"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'live.sqlite3'}",
        "SECRET_KEY": secret,
        "REDIS_URL": redis_url,
        "RATELIMIT_ENABLED": "1",
        "QR_RATE_LIMIT": "5 per minute",
        "UPLOAD_DIR": str(tmp_path / "uploads"),
    }
    gunicorn = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                "--access-logfile", str(access_log), "--access-logformat", "%(p)s %(m)s %(U)s %(s)s",
                "app:create_app()"]
    error_log = tmp_path / "error.log"
    with error_log.open("wb") as errors:
        server = subprocess.Popen(gunicorn, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=errors)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while len(_pids(access_log, "GET")) < 2:  # both workers up (each loads the app itself)
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("gunicorn did not start two workers: " + error_log.read_text(errors="replace")[-2000:])
            with ThreadPoolExecutor(max_workers=4) as pool:
                list(pool.map(lambda _i: _get(f"{base}/r/{token}"), range(4)))
            time.sleep(0.2)

        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(lambda _i: _post_rating(base, token), range(20)))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        redis_client.flushdb()

    assert statuses.count(201) == 5, statuses
    assert statuses.count(429) == 15, statuses
    assert len(_pids(access_log, "POST")) == 2, "both workers should have answered rating posts"
