"""The public rating page as a resident meets it, and the public rating API."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.qr.models import Rating
from tests.qr.conftest import count_ratings, form_token, rate_via_page

RATE_CSS = Path(__file__).resolve().parents[2] / "app" / "static" / "rate.css"


@pytest.fixture
def settings():
    return {}


@pytest.fixture
def app_config(app_config, settings):
    return {**app_config, **settings}


@pytest.fixture
def code(tree, make_target):
    return make_target(tree.sec_b11, "member", tree.m11)


def counted() -> int:
    from app.extensions import db

    return db.session.scalar(sa.select(sa.func.count(Rating.id)).where(Rating.counted.is_(True)))


def test_page_is_small_has_big_stars_and_no_script(client, code):
    _target, token = code
    r = client.get(f"/r/{token}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    css = client.get("/static/rate.css")
    assert css.status_code == 200
    assert len(r.data) + len(css.data) < 30 * 1024
    assert "<script" not in html and "style=" not in html
    assert "no-store" in r.headers["Cache-Control"]  # the form token is this device's
    assert "/static/app.css" not in html  # the light layout, not the heavy one
    assert [int(v) for v in re.findall(r'name="stars" value="(\d)"', html)] == [5, 4, 3, 2, 1]
    for n in range(1, 6):
        assert f'for="s{n}"' in html
    for tag in ("服务热情", "办事高效", "耐心细致", "作风过硬", "群众满意"):
        assert f'value="{tag}"' in html
    assert 'maxlength="200"' in html
    assert "min-height: 56px" in css.get_data(as_text=True)  # star labels are big touch targets


@pytest.mark.parametrize("settings", [{"QR_TAGS": ["态度好", "效率高"]}], ids=["tags"])
def test_tags_are_configurable(client, code):
    html = client.get(f"/r/{code[1]}").get_data(as_text=True)
    assert 'value="态度好"' in html and 'value="效率高"' in html and "服务热情" not in html
    r = rate_via_page(client, code[1], stars=4, tags=["效率高"])
    assert r.status_code == 303
    r = rate_via_page(client, code[1], stars=4, tags=["服务热情"])
    assert r.status_code == 422 and "请从给出的标签中选择" in r.get_data(as_text=True)


def test_device_cookie_is_signed_httponly_lax(client, code):
    r = client.get(f"/r/{code[1]}")
    cookie = next(c for c in r.headers.getlist("Set-Cookie") if c.startswith("qr_device="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "session=" not in " ".join(r.headers.getlist("Set-Cookie"))  # no session for residents
    # The same device keeps its cookie.
    assert not [c for c in client.get(f"/r/{code[1]}").headers.getlist("Set-Cookie") if c.startswith("qr_device=")]


def test_device_cookie_is_secure_over_https(app, code):
    https = app.test_client()
    r = https.get(f"/r/{code[1]}", base_url="https://pingyi.example.cn")
    cookie = next(c for c in r.headers.getlist("Set-Cookie") if c.startswith("qr_device="))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_rating_through_the_page_thanks_and_is_stored(client, code, db):
    target, token = code
    r = rate_via_page(client, token, stars=4, comment="态度很好，办事快", tags=["服务热情", "办事高效"])
    assert r.status_code == 303
    assert r.headers["Location"].endswith(f"/r/{token}/thanks")
    thanks = client.get(r.headers["Location"])
    assert thanks.status_code == 200 and "感谢您的评价" in thanks.get_data(as_text=True)
    rating = db.session.scalars(sa.select(Rating)).one()
    assert (rating.target_id, rating.stars, rating.tags, rating.comment, rating.counted) == (
        target.id, 4, ["服务热情", "办事高效"], "态度很好，办事快", True)


def test_a_second_rating_after_back_is_told_it_does_not_count(client, code, db):
    target, token = code
    rate_via_page(client, token, stars=4)
    r = rate_via_page(client, token, stars=2, comment="想改个评价")  # Back, a changed mind, submit
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/r/{token}/thanks?again=1")
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "感谢您的评价" in html and "本次评价已留存，但今天不再计分：每部手机每天最多计 1 次，同一网络每天最多计 10 次。" in html
    assert [x.counted for x in db.session.scalars(sa.select(Rating).order_by(Rating.id))] == [True, False]
    first = client.get(f"/r/{token}/thanks").get_data(as_text=True)
    assert "今天不再计分" not in first


def test_raw_ip_and_device_id_are_never_stored(app, code, db):
    phone = app.test_client()
    phone.environ_base["REMOTE_ADDR"] = "203.0.113.77"
    rate_via_page(phone, code[1], stars=5)
    device = phone.get_cookie("qr_device").value.split(".")[0]
    row = db.session.execute(sa.select(Rating.__table__)).mappings().one()
    stored = " ".join(str(v) for v in row.values())
    assert "203.0.113.77" not in stored and device not in stored


@pytest.mark.parametrize("settings", [{"RATELIMIT_ENABLED": True, "QR_RATE_LIMIT": "100 per minute"}], ids=["limit"])
def test_25_rapid_ratings_from_one_phone_count_once(client, code, db):
    token = code[1]
    html = client.get(f"/r/{token}").get_data(as_text=True)
    ft = form_token(html)
    for i in range(25):
        r = client.post(f"/r/{token}", data={"ft": ft, "stars": str(5 - i % 5), "comment": f"第{i}次"})
        assert r.status_code == 303
    assert count_ratings() == 25  # duplicates are kept ...
    assert counted() == 1          # ... but only one counts
    first = db.session.scalars(sa.select(Rating).order_by(Rating.id)).first()
    assert first.counted and first.stars == 5


@pytest.mark.parametrize("settings", [{"RATELIMIT_ENABLED": True, "QR_RATE_LIMIT": "5 per minute"}], ids=["limit5"])
def test_rate_limit_stops_a_flood_and_counts_once(client, code, api_as):
    token = code[1]
    ft = form_token(client.get(f"/r/{token}").get_data(as_text=True))
    statuses = [client.post(f"/r/{token}", data={"ft": ft, "stars": "5"}).status_code for _ in range(25)]
    assert statuses.count(303) == 5 and statuses.count(429) == 20
    assert count_ratings() == 5 and counted() == 1
    # The page and the API share one per-IP budget.
    r = api_as(None).post("/api/v1/ratings", json={"token": token, "stars": 5})
    assert r.status_code == 429 and r.json["error"]["code"] == "rate_limited"
    assert client.get(f"/r/{token}").status_code == 200  # looking is never limited


@pytest.mark.parametrize("settings", [{"QR_COUNTED_PER_DAY": 2}], ids=["two-a-day"])
def test_counted_per_day_is_configurable_and_per_device(app, client, code):
    for _ in range(4):
        rate_via_page(client, code[1], stars=5)
    assert counted() == 2
    other_phone = app.test_client()
    rate_via_page(other_phone, code[1], stars=3)
    assert counted() == 3 and count_ratings() == 5


@pytest.mark.parametrize("settings", [{"WTF_CSRF_ENABLED": True}], ids=["csrf"])
def test_public_form_works_with_csrf_on_but_cross_site_posts_fail(app, client, code):
    token = code[1]
    # A cross-site form post: the browser sends no (SameSite=Lax) cookie and the attacker has no form token.
    r = client.post(f"/r/{token}", data={"stars": "1", "comment": "刷差评"})
    assert r.status_code == 400 and "页面已过期" in r.get_data(as_text=True)
    # A form token lifted from another device does not fit this device's cookie.
    stranger = app.test_client()
    ft_of_stranger = form_token(stranger.get(f"/r/{token}").get_data(as_text=True))
    client.get(f"/r/{token}")
    assert client.post(f"/r/{token}", data={"ft": ft_of_stranger, "stars": "1"}).status_code == 400
    # A forged cookie is worthless.
    forged = app.test_client()
    forged.set_cookie("qr_device", "abc.def")
    assert forged.post(f"/r/{token}", data={"ft": ft_of_stranger, "stars": "1"}).status_code == 400
    assert count_ratings() == 0
    # The real visitor, with no session CSRF token at all, succeeds.
    assert rate_via_page(client, token, stars=5).status_code == 303
    assert count_ratings() == 1


def test_form_token_of_another_code_does_not_work(tree, make_target, client, code):
    _other, other_token = make_target(tree.sec_c1, "org", tree.c1)
    ft_other = form_token(client.get(f"/r/{other_token}").get_data(as_text=True))
    assert client.post(f"/r/{code[1]}", data={"ft": ft_other, "stars": "5"}).status_code == 400
    assert count_ratings() == 0


@pytest.mark.parametrize("data, message", [
    ({}, "请选择 1 到 5 颗星"),
    ({"stars": "6"}, "请选择 1 到 5 颗星"),
    ({"stars": "0"}, "请选择 1 到 5 颗星"),
    ({"stars": "五"}, "请选择 1 到 5 颗星"),
    ({"stars": "²"}, "请选择 1 到 5 颗星"),  # str.isdigit() says yes, int() says no
    ({"stars": "①"}, "请选择 1 到 5 颗星"),
    ({"stars": "5", "comment": "很" * 201}, "最多 200 个字"),
    ({"stars": "5", "tags": ["乱写的标签"]}, "请从给出的标签中选择"),
])
def test_bad_input_reads_in_chinese_keeps_the_text_and_stores_nothing(client, code, data, message):
    token = code[1]
    ft = form_token(client.get(f"/r/{token}").get_data(as_text=True))
    r = client.post(f"/r/{token}", data={"ft": ft, **data})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert message in html
    assert html.count(message) == 1  # at its field
    assert 'role="alert"' not in html or "标签有误" not in html and "留言最多" not in html  # not again in a banner
    if data.get("comment"):
        assert data["comment"] in html
    assert count_ratings() == 0


def test_comment_of_exactly_200_characters_is_fine(client, code, db):
    assert rate_via_page(client, code[1], stars=2, comment="慢" * 200).status_code == 303
    assert db.session.scalars(sa.select(Rating)).one().comment == "慢" * 200


def test_public_rating_api(client, code, api_as, db):
    public = api_as(None)
    token = code[1]
    r = public.post("/api/v1/ratings", json={"token": token, "stars": 5, "comment": "好", "tags": ["服务热情"]})
    assert r.status_code == 201 and r.json == {"counted": True}
    r = public.post("/api/v1/ratings", json={"token": token, "stars": 4})
    assert r.status_code == 201 and r.json == {"counted": False}  # same client (IP) the same day
    for payload, field in [({"token": token, "stars": 6}, "stars"), ({"token": token, "stars": "5"}, "stars"),
                           ({"token": token}, "stars"), ({"stars": 5}, "token"),
                           ({"token": token, "stars": 5, "tags": ["x"]}, "tags"),
                           ({"token": token, "stars": 5, "comment": "长" * 201}, "comment")]:
        r = public.post("/api/v1/ratings", json=payload)
        assert r.status_code == 422, payload
        assert field in r.json["error"]["fields"], payload
    r = public.client.post("/api/v1/ratings", data="{not json", content_type="application/json")
    assert r.status_code == 400
    assert count_ratings() == 2


def test_secretary_sees_ratings_average_and_counted_flag(tree, client, code, api_as):
    target, token = code
    for stars in (5, 4):
        phone = client.application.test_client()
        rate_via_page(phone, token, stars=stars, comment="很好")
    rate_via_page(phone, token, stars=1)  # the second phone's duplicate
    r = api_as(tree.sec_b11).get(f"/api/v1/qr/targets/{target.id}/ratings")
    assert r.status_code == 200
    body = r.json
    assert body["total"] == 3 and body["count"] == 2 and body["average"] == 4.5 and body["flags"] == []
    assert [i["counted"] for i in body["items"]] == [False, True, True]
    assert set(body["items"][0]) >= {"id", "stars", "tags", "comment", "counted", "created_at"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", body["items"][0]["created_at"])
    assert api_as(tree.sec_c2).get(f"/api/v1/qr/targets/{target.id}/ratings").status_code == 403
    assert api_as(tree.m11).get(f"/api/v1/qr/targets/{target.id}/ratings").status_code == 403
    assert api_as(None).get(f"/api/v1/qr/targets/{target.id}/ratings").status_code == 401
    assert api_as(tree.admin).get("/api/v1/qr/targets/999999/ratings").status_code == 404
    page = api_as(tree.sec_c1).get(f"/api/v1/qr/targets/{target.id}/ratings?limit=1&offset=1").json
    assert len(page["items"]) == 1 and page["total"] == 3


def test_script_comment_is_escaped_on_every_page_that_shows_it(tree, client, code, login_as):
    target, token = code
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    assert rate_via_page(client, token, stars=1, comment=evil).status_code == 303
    sec = login_as(tree.sec_b11)
    followup_id = 1
    pages = [f"/qr-admin/targets/{target.id}", "/qr-admin/followups", f"/qr-admin/followups/{followup_id}"]
    for path in pages:
        r = sec.get(path)
        assert r.status_code == 200, path
        html = r.get_data(as_text=True)
        assert "&lt;script&gt;alert(" in html, path
        assert "<script>alert(" not in html and "<img src=x" not in html, path
    # Closing it with markup in the action text is escaped too.
    r = sec.post(f"/qr-admin/followups/{followup_id}", data={"action": "<b>已整改</b><script>x()</script>"},
                 follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "&lt;b&gt;已整改&lt;/b&gt;" in html and "<script>x()" not in html
    # Residents never see comments: not on the rating page, not on the thank-you page.
    for path in (f"/r/{token}", f"/r/{token}/thanks"):
        assert "alert(" not in client.get(path).get_data(as_text=True)


def test_thanks_page_of_a_bad_token_is_404(client):
    r = client.get("/r/" + "A" * 24 + "/thanks")
    assert r.status_code == 404 and "二维码无效或已停用" in r.get_data(as_text=True)


def test_rating_page_in_english(client, code):
    with client.session_transaction() as s:
        s["lang"] = "en"
    assert client.get(f"/r/{code[1]}").status_code == 200


def rate_at_once(app, token, threads: int = 8, *, new_devices: bool = False) -> None:
    """``threads`` simultaneous submissions from one device (or each from a new one, all from one
    address), released together; ``token`` may be a list, one per thread."""
    import threading

    from app.qr import services, tokens

    device, _cookie = tokens.new_device_cookie()
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []
    codes = list(token) if isinstance(token, (list, tuple)) else [token] * threads

    def rate(i):
        with app.app_context():
            try:
                mine = tokens.new_device_cookie()[0] if new_devices else device
                barrier.wait(timeout=10)
                services.submit_rating(codes[i], stars=5, device_id=mine, ip="198.51.100.1")
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                from app.extensions import db

                db.session.remove()

    workers = [threading.Thread(target=rate, args=(i,)) for i in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=60)
    assert errors == []


def test_concurrent_posts_from_one_device_count_once(app, code):
    """Eight simultaneous submissions of the same device: the unique key keeps one counted."""
    rate_at_once(app, code[1])
    assert count_ratings() == 8 and counted() == 1


@pytest.mark.parametrize("settings", [{"QR_COUNTED_PER_DAY": 3}], ids=["three"])
def test_concurrent_posts_take_each_counted_slot_once(app, db, code):
    """Three counted a day: of eight simultaneous posts, three count, in slots 1, 2 and 3, and
    the ones that lost a slot to another request are still stored, uncounted."""
    rate_at_once(app, code[1])
    slots = db.session.execute(sa.select(Rating.count_slot, Rating.counted)).all()
    assert len(slots) == 8 and counted() == 3
    assert sorted(s for s, c in slots if c) == [1, 2, 3]
    assert all(s is None for s, c in slots if not c)


@pytest.mark.parametrize("settings", [{"QR_COUNTED_PER_IP": 3}], ids=["ip3"])
def test_concurrent_posts_from_one_address_count_up_to_its_cap(app, code):
    """Eight new devices behind one address at the same moment: three count, on both databases."""
    rate_at_once(app, code[1], new_devices=True)
    assert count_ratings() == 8 and counted() == 3


def test_one_device_on_two_codes_of_a_subject_at_once_counts_once(app, tree, code):
    """The door plate and the badge of one member, rated by one phone at the same moment."""
    from app.qr import services

    badge = services.create_target(tree.sec_b11, "member", code[0].member_id, "胸牌")
    rate_at_once(app, [code[1], services.token_of(badge)] * 4)
    assert count_ratings() == 8 and counted() == 1


def test_a_rating_is_three_statements(app, code, count_statements):
    """The code, one INSERT that takes the next counted slot, the burst check: no savepoint, no
    count before the insert, whatever the ratings already stored. On PostgreSQL one more: the
    subject's advisory lock, so concurrent ratings of one subject take turns."""
    from app.extensions import db

    client = app.test_client()
    device = client.post("/api/v1/ratings/devices").get_json()["device"]
    expected = 4 if db.engine.dialect.name == "postgresql" else 3
    for stars in (5, 4, 3):
        with count_statements() as log:
            r = client.post("/api/v1/ratings", json={"token": code[1], "stars": stars, "device": device})
        assert r.status_code == 201, r.get_json()
        assert log.count == expected, log.statements
    assert counted() == 1 and count_ratings() == 3  # one counted a day by default


@pytest.mark.parametrize("settings", [{"RATELIMIT_ENABLED": True, "QR_RATE_LIMIT": "2 per minute"}], ids=["limit2"])
def test_a_resident_past_the_limit_stays_on_the_light_page_with_their_words(client, code):
    token = code[1]
    for _ in range(2):
        assert rate_via_page(client, token, stars=5).status_code == 303
    ft = form_token(client.get(f"/r/{token}").get_data(as_text=True))
    r = client.post(f"/r/{token}", data={"ft": ft, "stars": "2", "comment": "排队太久了", "tags": ["办事高效"]})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    html = r.get_data(as_text=True)
    assert "提交太频繁" in html and "排队太久了" in html  # what they wrote is still there
    assert 'value="2" required checked' in html
    assert "/static/rate.css" in html and "/static/app.css" not in html  # not the login-bound error page
    assert count_ratings() == 2
    # A bad token past the limit still gets the friendly "unknown code" page.
    r = client.post("/r/" + "A" * 24, data={"ft": ft, "stars": "5"})
    assert r.status_code == 404 and "二维码无效或已停用" in r.get_data(as_text=True)
    assert count_ratings() == 2


def test_phone_clients_without_cookies_count_once_per_phone(code, api_as):
    # two mini-program phones behind one carrier address each count; each phone still only once a day
    public = api_as(None)
    token = code[1]
    first, second = (public.post("/api/v1/ratings/devices").get_json()["device"] for _ in range(2))
    assert first != second
    answers = [public.post("/api/v1/ratings", json={"token": token, "stars": s, "device": d}).get_json()
               for s, d in [(5, first), (4, second), (3, first)]]
    assert answers == [{"counted": True}, {"counted": True}, {"counted": False}]
    # a made-up device id is no device: the address stands in, once a day
    forged = [public.post("/api/v1/ratings", json={"token": token, "stars": 5, "device": f"x.{n}"}).get_json()
              for n in range(2)]
    assert forged == [{"counted": True}, {"counted": False}]
    r = public.post("/api/v1/ratings", json={"token": token, "stars": 5, "device": "x" * 201})
    assert r.status_code == 422 and "device" in r.get_json()["error"]["fields"]
    assert count_ratings() == 5
