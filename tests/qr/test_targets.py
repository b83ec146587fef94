"""QR targets: creating codes, scope, rotation, revocation, and what a bad token gets."""
from __future__ import annotations

import secrets

import pytest
import sqlalchemy as sa

from app.qr.models import QrTarget, Rating
from tests.qr.conftest import count_ratings, rate_via_page


def test_secretary_creates_a_code_and_its_url_opens_the_rating_page(app, tree, api_as, client):
    api = api_as(tree.sec_b11)
    r = api.post("/api/v1/qr/targets", json={"subject_type": "member", "subject_id": tree.m11.id, "label": ""})
    assert r.status_code == 201, r.json
    body = r.json
    assert set(body) >= {"id", "token", "url"}
    assert len(body["token"]) >= 22
    assert body["url"] == app.config["PUBLIC_BASE_URL"] + "/r/" + body["token"]

    page = client.get("/r/" + body["token"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "张三" in html and "桂花第一支部" in html

    r = api.get(f"/api/v1/qr/targets/{body['id']}")
    assert r.status_code == 200 and r.json["token"] == body["token"]


def test_public_base_url_is_configurable(app, tree, api_as):
    app.config["PUBLIC_BASE_URL"] = "https://pingyi.example.cn"
    r = api_as(tree.sec_c1).post("/api/v1/qr/targets", json={"subject_type": "org", "subject_id": tree.b12.id})
    assert r.status_code == 201
    assert r.json["url"] == "https://pingyi.example.cn/r/" + r.json["token"]
    assert r.json["png"] == "https://pingyi.example.cn/qr/" + r.json["token"] + ".png"


def test_service_post_gets_a_code(app, tree, api_as, client):
    api = api_as(tree.sec_c1)
    r = api.post("/api/v1/qr/posts", json={"name": "桂花社区党群服务站", "org_id": tree.c1.id, "address": "桂花路12号"})
    assert r.status_code == 201, r.json
    r = api.post("/api/v1/qr/targets", json={"subject_type": "post", "subject_id": r.json["id"]})
    assert r.status_code == 201
    html = client.get("/r/" + r.json["token"]).get_data(as_text=True)
    assert "桂花社区党群服务站" in html and "桂花路12号" in html
    assert api.get("/api/v1/qr/posts").json["total"] == 1
    assert api_as(tree.sec_c2).get("/api/v1/qr/posts").json["total"] == 0


def test_the_same_service_post_twice_is_one_post(tree, api_as, login_as):
    """A second tap or the same post typed again: 409 on the API, a message on the page; the same
    name at another address is another post."""
    api = api_as(tree.sec_c1)
    post = {"name": "便民服务岗", "org_id": tree.c1.id, "address": "社区服务中心一楼"}
    assert api.post("/api/v1/qr/posts", json=post).status_code == 201
    r = api.post("/api/v1/qr/posts", json=post)
    assert r.status_code == 409 and r.json["error"]["code"] == "post_exists"
    page = login_as(tree.sec_c1).post("/qr-admin/posts", data={**post, "org_id": str(tree.c1.id)})
    assert "本组织已有服务岗“便民服务岗”（同一地点），无需重复添加。" in page.get_data(as_text=True)
    assert api.post("/api/v1/qr/posts", json={**post, "address": "二楼"}).status_code == 201
    assert api.get("/api/v1/qr/posts").json["total"] == 2


def test_database_copy_gives_no_working_token(app, tree, make_target, client, db):
    target, token = make_target(tree.sec_b11, "member", tree.m11)
    row = db.session.execute(sa.select(QrTarget.__table__).where(QrTarget.id == target.id)).mappings().one()
    stored = " ".join(str(v) for v in row.values())
    assert token not in stored
    for leaked in (row["nonce"], row["token_hash"], row["token_hash"][:24], row["nonce"][:24]):
        assert client.get(f"/r/{leaked}").status_code == 404
    assert client.get(f"/r/{token}").status_code == 200


@pytest.mark.parametrize("who, status", [("sec_c2", 403), ("m11", 403), ("sec_b11", 201), ("sec_c1", 201), ("admin", 201)])
def test_only_secretaries_in_scope_make_codes(tree, api_as, who, status):
    r = api_as(getattr(tree, who)).post("/api/v1/qr/targets", json={"subject_type": "member", "subject_id": tree.m11.id})
    assert r.status_code == status, r.json
    if status == 403:
        assert r.json["error"]["code"] in ("out_of_scope", "forbidden_role")
    if who == "sec_c2":  # it names what is out of scope: the member
        assert r.json["error"]["message"] == "该党员不在您的管理范围内。"


@pytest.mark.parametrize("payload, status, field", [
    ({"subject_type": "house", "subject_id": 1}, 422, "subject_type"),
    ({"subject_type": "member", "subject_id": "5"}, 422, "subject_id"),
    ({"subject_type": "member"}, 422, "subject_id"),
    ({"subject_type": "member", "subject_id": 999999}, 404, None),
    ({"subject_type": "post", "subject_id": 999999}, 404, None),
    ({"subject_type": "org", "subject_id": 1, "label": "长" * 101}, 422, "label"),
])
def test_bad_target_input_is_refused(tree, api_as, db, payload, status, field):
    r = api_as(tree.admin).post("/api/v1/qr/targets", json=payload)
    assert r.status_code == status, r.json
    if field:
        assert field in r.json["error"]["fields"]
    assert db.session.scalar(sa.select(sa.func.count(QrTarget.id))) == 0


def test_rotation_kills_the_printed_code(tree, make_target, api_as, client):
    target, old = make_target(tree.sec_b11, "member", tree.m11)
    api = api_as(tree.sec_b11)
    r = api.post(f"/api/v1/qr/targets/{target.id}/rotate")
    assert r.status_code == 200
    new = r.json["token"]
    assert new != old and r.json["url"].endswith("/r/" + new)

    assert client.get(f"/r/{old}").status_code == 404
    assert client.get(f"/qr/{old}.png").status_code == 404
    assert api_as(None).post("/api/v1/ratings", json={"token": old, "stars": 5}).status_code == 404
    assert count_ratings() == 0
    assert rate_via_page(client, new, stars=5).status_code == 303
    assert count_ratings() == 1
    # Other secretaries cannot rotate it.
    assert api_as(tree.sec_c2).post(f"/api/v1/qr/targets/{target.id}/rotate").status_code == 403


def test_revoked_code_stops_and_cannot_be_revoked_twice(tree, make_target, api_as, client):
    target, token = make_target(tree.sec_c1, "org", tree.b12)
    api = api_as(tree.sec_c1)
    r = api.post(f"/api/v1/qr/targets/{target.id}/revoke")
    assert r.status_code == 200 and r.json["active"] is False and r.json["token"] is None
    assert api.post(f"/api/v1/qr/targets/{target.id}/revoke").status_code == 409
    assert api.post(f"/api/v1/qr/targets/{target.id}/rotate").status_code == 409
    assert client.get(f"/r/{token}").status_code == 404
    assert api_as(None).post("/api/v1/ratings", json={"token": token, "stars": 4}).status_code == 404
    assert count_ratings() == 0


def test_rotate_and_revoke_from_the_page(tree, make_target, login_as, client):
    target, token = make_target(tree.sec_b11, "member", tree.m11)
    sec = login_as(tree.sec_b11)
    page = sec.get(f"/qr-admin/targets/{target.id}")
    assert page.status_code == 200 and token in page.get_data(as_text=True)

    r = sec.post(f"/qr-admin/targets/{target.id}/rotate", follow_redirects=True)
    assert "旧二维码立即失效" in r.get_data(as_text=True)
    assert client.get(f"/r/{token}").status_code == 404

    r = sec.post(f"/qr-admin/targets/{target.id}/revoke", follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "已停用" in html
    assert login_as(tree.sec_c2).get(f"/qr-admin/targets/{target.id}").status_code == 403


def _bad_tokens(token: str) -> list[str]:
    return [
        secrets.token_urlsafe(18)[:24],            # well-formed, never issued
        token[:-1],                                 # one character short
        token + "A",                                # one character long
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # one character off
        "x" * 3000,                                 # 3,000 characters
        "A" * 3000,
        "../../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e%2f%2e%2e%2f",
        token + "/../" + token,
        token + "%2F",
        "二维码二维码二维码二维码二维码二维码二维码二维",
        "' OR '1'='1",
        "<script>alert(1)</script>",
    ]


def test_forged_and_malformed_tokens_get_the_friendly_404_and_store_nothing(tree, make_target, client, api_as, db):
    _target, token = make_target(tree.sec_b11, "member", tree.m11)
    public = api_as(None)
    for bad in _bad_tokens(token):
        r = client.get(f"/r/{bad}")
        assert r.status_code == 404, bad
        html = r.get_data(as_text=True)
        assert "二维码无效或已停用" in html, bad
        assert "<script>alert(1)</script>" not in html
        r = client.post(f"/r/{bad}", data={"stars": "5", "comment": "好"})
        assert r.status_code == 404, bad
        assert client.get(f"/qr/{bad}.png").status_code == 404, bad
        r = public.post("/api/v1/ratings", json={"token": bad, "stars": 5})
        assert r.status_code == 404, bad
        assert r.json["error"]["code"] == "unknown_code"
    assert count_ratings() == 0
    assert db.session.scalar(sa.select(sa.func.count(Rating.id))) == 0


def test_target_list_is_scoped(tree, make_target, api_as):
    make_target(tree.sec_b11, "member", tree.m11)
    make_target(tree.admin, "member", tree.m21)
    make_target(tree.sec_c1, "org", tree.c1)
    assert api_as(tree.sec_b11).get("/api/v1/qr/targets").json["total"] == 1
    assert api_as(tree.sec_c1).get("/api/v1/qr/targets").json["total"] == 2
    assert api_as(tree.sec_c2).get("/api/v1/qr/targets").json["total"] == 1
    assert api_as(tree.admin).get("/api/v1/qr/targets").json["total"] == 3
    assert api_as(tree.admin).get(f"/api/v1/qr/targets?org_id={tree.b11.id}").json["total"] == 1
    assert api_as(tree.sec_c2).get(f"/api/v1/qr/targets?org_id={tree.b11.id}").status_code == 403
    assert api_as(tree.m11).get("/api/v1/qr/targets").status_code == 403


def test_secretary_makes_a_code_through_the_pages(tree, login_as):
    sec = login_as(tree.sec_b11)
    r = sec.get("/qr-admin/new")
    assert r.status_code == 200 and "桂花第一支部" in r.get_data(as_text=True)
    r = sec.get(f"/qr-admin/new?org={tree.b11.id}")
    assert "党员：张三" in r.get_data(as_text=True)
    r = sec.post(f"/qr-admin/new?org={tree.b11.id}", data={"subject": f"member:{tree.m11.id}", "label": ""})
    assert r.status_code == 302
    page = sec.get(r.headers["Location"])
    assert "张三" in page.get_data(as_text=True) and "/r/" in page.get_data(as_text=True)
    r = sec.post(f"/qr-admin/new?org={tree.b11.id}", data={"subject": ""})
    assert r.status_code == 200 and "请选择评价对象" in r.get_data(as_text=True)
    # a second code for 张三 may be made (another door plate), and the picker says one exists
    html = sec.get(f"/qr-admin/new?org={tree.b11.id}").get_data(as_text=True)
    assert "党员：张三（已有 1 个二维码）" in html and "本组织：桂花第一支部</option>" in html
    assert login_as(tree.sec_c2).get(f"/qr-admin/new?org={tree.b11.id}").status_code == 403


def test_code_of_a_member_who_left_rests(tree, make_target, client, db):
    _target, token = make_target(tree.sec_b11, "member", tree.m11)
    tree.m11.active = False
    db.session.commit()
    r = client.get(f"/r/{token}")
    assert r.status_code == 404 and "二维码无效或已停用" in r.get_data(as_text=True)
    assert client.post(f"/r/{token}", data={"stars": "5"}).status_code == 404
    assert count_ratings() == 0


HUGE = "99999999999999999999"  # beyond any id column: must be "not found", never a server error


def test_huge_ids_are_not_found_never_a_server_error(tree, make_target, api_as, login_as, db):
    target, _token = make_target(tree.sec_b11, "member", tree.m11)
    api = api_as(tree.admin)
    for method, path in [("get", f"/api/v1/qr/targets/{HUGE}"), ("post", f"/api/v1/qr/targets/{HUGE}/rotate"),
                         ("post", f"/api/v1/qr/targets/{HUGE}/revoke"), ("get", f"/api/v1/qr/targets/{HUGE}/ratings"),
                         ("post", f"/api/v1/qr/flags/{HUGE}/clear"),
                         ("post", f"/api/v1/qr/followups/{HUGE}/close")]:
        r = api.post(path, json={"action": "已处理"}) if method == "post" else api.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert set(r.json["error"]) >= {"code", "message"}, path
    for path, payload in [("/api/v1/qr/targets", {"subject_type": "member", "subject_id": int(HUGE)}),
                          ("/api/v1/qr/targets", {"subject_type": "org", "subject_id": int(HUGE)}),
                          ("/api/v1/qr/posts", {"name": "服务站", "org_id": int(HUGE)})]:
        r = api.post(path, json=payload)
        assert r.status_code in (404, 422), (payload, r.status_code)
        assert set(r.json["error"]) >= {"code", "message"}, payload

    sec = login_as(tree.sec_b11)
    for path in [f"/qr-admin/targets/{HUGE}", f"/qr-admin/targets/{HUGE}/sheet.pdf", f"/qr-admin/followups/{HUGE}",
                 f"/qr-admin/sheets/{HUGE}.pdf", f"/qr-admin/?org={HUGE}", f"/qr-admin/new?org={HUGE}"]:
        r = sec.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert "服务器出了点问题" not in r.get_data(as_text=True), path
    r = sec.post("/qr-admin/sheets", data={"org_id": HUGE, "create_missing": "y"})
    assert r.status_code in (200, 404) and "服务器出了点问题" not in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(QrTarget.id))) == 1
    assert api.get(f"/api/v1/qr/targets/{target.id}").json["active"] is True


def test_a_member_shows_their_own_codes_on_the_phone(app, tree, make_target, login_as):
    """DOMAIN: a party member "shows own QR code": 我的二维码 lists the live codes whose subject is
    the member, each image opening the member's rating page, with the month's counted ratings."""
    from tests.qr.conftest import rate_via_page

    member = login_as(tree.m11)
    html = member.get("/qr/mine").get_data(as_text=True)
    assert "您还没有评价二维码" in html and 'href="/qr/mine"' in html  # in the member's navigation
    plate, plate_token = make_target(tree.sec_b11, "member", tree.m11, "门牌")
    old, old_token = make_target(tree.sec_b11, "member", tree.m11, "旧胸牌")
    make_target(tree.sec_c2, "member", tree.m21)  # someone else's
    from app.qr import services

    services.revoke_target(tree.sec_b11, old.id)
    for stars in (4, 4, 5):  # three residents' phones
        rate_via_page(app.test_client(), plate_token, stars=stars)
    html = member.get("/qr/mine").get_data(as_text=True)
    assert html.count('class="qr-code"') == 1 and f"/qr/{plate_token}.svg" in html and old_token not in html
    # the average to two decimals, as the secretary's page shows it (this page alone showed 4.3)
    assert "门牌" in html and "平均 4.33 星 · 有效 3 条" in html
    image = member.get(f"/qr/{plate_token}.svg")
    assert image.status_code == 200 and image.mimetype == "image/svg+xml"
    assert member.get(f"/r/{plate_token}").status_code == 200
    # a secretary has codes too, reached from the account page
    secretary = login_as(tree.sec_b11)
    assert 'href="/qr/mine"' in secretary.get("/account").get_data(as_text=True)
    assert "您还没有评价二维码" in secretary.get("/qr/mine").get_data(as_text=True)
    assert app.test_client().get("/qr/mine").status_code in (302, 401)  # not without logging in
