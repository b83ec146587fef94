"""The foundation's five API calls against the contract of API.md."""
from __future__ import annotations

import pytest

from tests.conftest import PASSWORD


def error_of(response):
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    return body["error"]


def test_token_issue_and_me(tree, client, api_as):
    r = client.post("/api/v1/auth/token", json={"phone": tree.m11.phone, "password": PASSWORD})
    assert r.status_code == 200
    body = r.get_json()
    assert body["user"] == {"id": tree.m11.id, "name": "张三", "role": "member", "org_id": tree.b11.id}
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    data = me.get_json()
    assert data["name"] == "张三"
    assert [o["name"] for o in data["org_path"]] == ["东湖街道", "桂花社区", "桂花第一支部"]
    assert "\\u" not in me.get_data(as_text=True)


def test_bad_credentials_are_401(tree, client):
    r = client.post("/api/v1/auth/token", json={"phone": tree.m11.phone, "password": "wrong-password"})
    assert r.status_code == 401
    assert error_of(r)["code"] == "invalid_credentials"


def test_revoked_token_stops_working(tree, api_as):
    api = api_as(tree.m11)
    assert api.get("/api/v1/me").status_code == 200
    assert api.delete("/api/v1/auth/token").status_code == 204
    r = api.get("/api/v1/me")
    assert r.status_code == 401
    assert error_of(r)["code"] == "invalid_token"


def test_missing_and_forged_token(app, api_as, client):
    assert error_of(client.get("/api/v1/me"))["code"] == "invalid_token"
    r = client.get("/api/v1/me", headers={"Authorization": "Bearer forged"})
    assert r.status_code == 401


def test_token_stored_hashed(tree, app, db):
    from app.auth.models import ApiToken
    from app.auth.services import issue_token

    raw = issue_token(tree.m11, "x")
    stored = db.session.scalars(db.select(ApiToken.token_hash)).all()
    assert raw not in stored and len(stored[0]) == 64


def test_create_org_admin_only(tree, api_as):
    r = api_as(tree.admin).post("/api/v1/orgs", json={"name": "新村社区", "kind": "community", "parent_id": tree.street.id})
    assert r.status_code == 201
    body = r.get_json()
    assert body["id"] and body["name"] == "新村社区" and body["parent_id"] == tree.street.id
    r = api_as(tree.sec_c1).post("/api/v1/orgs", json={"name": "x", "kind": "branch", "parent_id": tree.c1.id})
    assert r.status_code == 403
    assert error_of(r)["code"] == "forbidden_role"


def test_create_org_validation(tree, api_as, db):
    from app.orgs.models import Org

    before = db.session.scalar(db.select(db.func.count(Org.id)))
    api = api_as(tree.admin)
    r = api.post("/api/v1/orgs", json={"name": "", "kind": "village", "parent_id": "1"})
    assert r.status_code == 422
    fields = error_of(r)["fields"]
    assert {"name", "kind", "parent_id"} <= set(fields)
    r = api.post("/api/v1/orgs", json={"name": "孤儿支部", "kind": "branch", "parent_id": 99999})
    assert r.status_code == 422 and "parent_id" in error_of(r)["fields"]
    assert db.session.scalar(db.select(db.func.count(Org.id))) == before


def test_an_org_is_never_above_its_parent_in_the_tree(tree, api_as, db):
    """street -> community -> branch: a street under a branch or a community under a branch is
    refused (422 on kind); a level may repeat (streets under a district's street root)."""
    from app.orgs.models import Org

    api = api_as(tree.admin)
    before = db.session.scalar(db.select(db.func.count(Org.id)))
    for kind, parent, message in (("street", tree.b11, "支部下不能设街道。"), ("community", tree.b11, "支部下不能设社区。"),
                                  ("street", tree.c1, "社区下不能设街道。")):
        r = api.post("/api/v1/orgs", json={"name": "错位组织", "kind": kind, "parent_id": parent.id})
        assert r.status_code == 422 and error_of(r)["fields"]["kind"] == [message]
    assert db.session.scalar(db.select(db.func.count(Org.id))) == before
    for kind, parent in (("street", tree.street), ("community", tree.c1), ("branch", tree.b11)):
        r = api.post("/api/v1/orgs", json={"name": f"同级{kind}", "kind": kind, "parent_id": parent.id})
        assert r.status_code == 201, r.get_json()


def test_get_org_with_children_and_counts(tree, api_as):
    r = api_as(tree.sec_c1).get(f"/api/v1/orgs/{tree.c1.id}")
    assert r.status_code == 200
    body = r.get_json()
    assert body["member_count"] == 4  # sec_c1, sec_b11, m11, m12
    assert [(c["name"], c["member_count"]) for c in body["children"]] == [("桂花第一支部", 2), ("桂花第二支部", 1)]


def test_get_org_scope(tree, api_as):
    assert api_as(tree.sec_c1).get(f"/api/v1/orgs/{tree.c2.id}").status_code == 403
    assert api_as(tree.sec_b11).get(f"/api/v1/orgs/{tree.b12.id}").status_code == 403
    assert api_as(tree.admin).get(f"/api/v1/orgs/{tree.b22.id}").status_code == 200
    # a member sees the orgs on their own path, nothing beside it
    assert api_as(tree.m11).get(f"/api/v1/orgs/{tree.b11.id}").status_code == 200
    assert api_as(tree.m11).get(f"/api/v1/orgs/{tree.b12.id}").status_code == 403
    r = api_as(tree.admin).get("/api/v1/orgs/424242")
    assert r.status_code == 404 and error_of(r)["code"] == "org_not_found"


def test_create_member(tree, api_as, client):
    api = api_as(tree.sec_c1)
    payload = {"name": "孙七", "phone": "13712345678", "password": "secret-123", "org_id": tree.b12.id, "role": "member"}
    r = api.post("/api/v1/members", json=payload)
    assert r.status_code == 201
    assert r.get_json()["name"] == "孙七"
    again = api.post("/api/v1/members", json=payload)
    assert again.status_code == 409 and error_of(again)["code"] == "phone_taken"
    login = client.post("/api/v1/auth/token", json={"phone": "13712345678", "password": "secret-123"})
    assert login.status_code == 200


def test_create_member_scope_and_roles(tree, api_as):
    payload = {"name": "周八", "phone": "13712345679", "password": "secret-123", "org_id": tree.b21.id}
    assert api_as(tree.sec_c1).post("/api/v1/members", json=payload).status_code == 403
    assert api_as(tree.m11).post("/api/v1/members", json={**payload, "org_id": tree.b11.id}).status_code == 403
    r = api_as(tree.sec_c1).post("/api/v1/members", json={**payload, "org_id": tree.b11.id, "role": "admin"})
    assert r.status_code == 403
    assert api_as(tree.sec_c2).post("/api/v1/members", json=payload).status_code == 201


def test_create_member_validation_changes_nothing(tree, api_as, db):
    from app.auth.models import User

    before = db.session.scalar(db.select(db.func.count(User.id)))
    api = api_as(tree.admin)
    r = api.post("/api/v1/members", json={"name": "", "phone": "12345", "password": "short", "org_id": "x", "role": "boss"})
    assert r.status_code == 422
    assert {"name", "phone", "password", "org_id", "role"} <= set(error_of(r)["fields"])
    r = api.post("/api/v1/members", json={"name": "吴九", "phone": "13712340000", "password": "secret-123", "org_id": 98765})
    assert r.status_code == 422 and "org_id" in error_of(r)["fields"]
    assert db.session.scalar(db.select(db.func.count(User.id))) == before


def test_malformed_json_and_wrong_shapes(tree, api_as):
    api = api_as(tree.admin)
    r = api.post("/api/v1/orgs", data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and error_of(r)["code"] == "malformed_json"
    r = api.post("/api/v1/orgs", json=[1, 2, 3])
    assert r.status_code == 422
    error_of(r)
    r = api.post("/api/v1/orgs", data="name=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and error_of(r)["code"] == "unsupported_media_type"
    r = api.post("/api/v1/orgs", data='{"name": "x"}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "application/json" in error_of(r)["message"]
    r = api.post("/api/v1/orgs")  # no body at all: the required fields are missing
    assert r.status_code == 422


def test_404_and_405_use_error_shape(tree, api_as):
    api = api_as(tree.admin)
    r = api.get("/api/v1/no-such-thing")
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"
    r = api.delete("/api/v1/orgs/1")
    assert r.status_code == 405 and error_of(r)["code"] == "method_not_allowed"


def test_openapi_lists_the_calls(app, client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    spec = r.get_json()
    paths = spec["paths"]
    assert "post" in paths["/api/v1/auth/token"]
    assert "get" in paths["/api/v1/me"]
    assert "post" in paths["/api/v1/orgs"]
    assert "get" in paths["/api/v1/orgs/{org_id}"]
    assert "post" in paths["/api/v1/members"]
    schema = spec["paths"]["/api/v1/members"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "$ref" in schema
    assert "bearerAuth" in spec["components"]["securitySchemes"]
    documented = {(path, method): set(paths[path][method]["responses"]) for path, method in [
        ("/api/v1/auth/token", "post"), ("/api/v1/me", "get"), ("/api/v1/orgs", "post"),
        ("/api/v1/orgs/{org_id}", "get"), ("/api/v1/members", "post")]}
    assert documented == {
        ("/api/v1/auth/token", "post"): {"200", "400", "401", "422", "429", "default"},
        ("/api/v1/me", "get"): {"200", "401", "default"},
        ("/api/v1/orgs", "post"): {"201", "400", "401", "403", "422", "default"},
        ("/api/v1/orgs/{org_id}", "get"): {"200", "401", "403", "404", "default"},
        ("/api/v1/members", "post"): {"201", "400", "401", "403", "409", "422", "default"},
    }
    error = paths["/api/v1/members"]["post"]["responses"]["409"]["content"]["application/json"]["schema"]
    assert spec["components"]["schemas"][error["$ref"].split("/")[-1]]["properties"]["error"]


def test_token_endpoint_rate_limited(tree, app_config):
    from app import create_app

    limited = create_app({**app_config, "RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute"})
    c = limited.test_client()
    codes = [c.post("/api/v1/auth/token", json={"phone": tree.m11.phone, "password": "bad"}).status_code for _ in range(5)]
    assert codes[:3] == [401, 401, 401]
    assert codes[3] == 429
    assert c.post("/api/v1/auth/token", json={"phone": tree.m11.phone, "password": "y"}).get_json()["error"]["code"] == "rate_limited"


def test_the_login_page_and_the_token_endpoint_share_one_budget(tree, app_config):
    """Guessing on the page, then on the API, does not get a second allowance."""
    from app import create_app

    limited = create_app({**app_config, "RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute",
                          "WTF_CSRF_ENABLED": False})
    c = limited.test_client()
    page = [c.post("/login", data={"phone": tree.m11.phone, "password": "bad"}).status_code for _ in range(2)]
    assert 429 not in page
    api = [c.post("/api/v1/auth/token", json={"phone": tree.m11.phone, "password": "bad"}).status_code
           for _ in range(2)]
    assert api == [401, 429]


def test_a_wrong_login_checks_a_password_hash_whether_or_not_the_phone_has_an_account(tree, monkeypatch):
    """The same work (one password hash check) for an unknown phone: its answer takes as long."""
    import werkzeug.security

    from app.auth import services
    from app.errors import Unauthorized

    checked = []
    real = werkzeug.security.check_password_hash
    monkeypatch.setattr(werkzeug.security, "check_password_hash", lambda h, p: checked.append(h) or real(h, p))
    monkeypatch.setattr("app.auth.models.check_password_hash", werkzeug.security.check_password_hash)
    for phone in (tree.m11.phone, "13999999999"):
        with pytest.raises(Unauthorized):
            services.authenticate(phone, "wrong-password")
    assert len(checked) == 2


def test_token_limits_hold_per_account_and_per_address(tree, app_config):
    # one member's typos do not lock the others out of the same office network; many accounts
    # tried from one address stop at the address limit
    from app import create_app

    limited = create_app({**app_config, "RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "2 per minute",
                          "LOGIN_IP_RATE_LIMIT": "5 per minute"})
    c = limited.test_client()
    guess = [c.post("/api/v1/auth/token", json={"phone": tree.m11.phone, "password": "bad"}).status_code
             for _ in range(3)]
    assert guess == [401, 401, 429]
    r = c.post("/api/v1/auth/token", json={"phone": tree.m12.phone, "password": PASSWORD})
    assert r.status_code == 200 and r.get_json()["user"]["id"] == tree.m12.id
    others = [c.post("/api/v1/auth/token", json={"phone": f"1390000{n:04d}", "password": "bad"}).status_code
              for n in range(3)]
    assert others == [401, 401, 429]  # 5 logins let through from this address in the minute, whoever for


def test_token_guesses_for_one_phone_stop_across_addresses(tree, app_config):
    """A guesser spreading over many addresses, each under the per-address limits, is stopped
    by the looser per-phone limit; other phone numbers are not."""
    from app import create_app

    limited = create_app({**app_config, "RATELIMIT_ENABLED": True, "LOGIN_PHONE_RATE_LIMIT": "3 per hour"})

    def from_address(n):
        c = limited.test_client()
        c.environ_base["REMOTE_ADDR"] = f"10.0.0.{n}"
        return c

    guess = [from_address(n).post("/api/v1/auth/token", json={"phone": tree.m11.phone, "password": "bad"})
             for n in range(4)]
    assert [r.status_code for r in guess] == [401, 401, 401, 429]
    assert guess[-1].get_json()["error"]["code"] == "rate_limited"
    # the right password from a fresh address is refused too, for this phone only
    r = from_address(9).post("/api/v1/auth/token", json={"phone": f" {tree.m11.phone} ", "password": PASSWORD})
    assert r.status_code == 429
    r = from_address(9).post("/api/v1/auth/token", json={"phone": tree.m12.phone, "password": PASSWORD})
    assert r.status_code == 200


def _counts(db):
    from app.auth.models import User
    from app.orgs.models import Org

    return db.session.scalar(db.select(db.func.count(Org.id))), db.session.scalar(db.select(db.func.count(User.id)))


def test_ids_beyond_any_column_are_not_found_or_invalid(tree, api_as, db):
    """Numbers no id column holds answer 404 in a path and 422 in a body, on both databases."""
    api = api_as(tree.admin)
    before = _counts(db)
    for path in ("/api/v1/orgs/99999999999999999999999", f"/api/v1/orgs/{2**31}"):
        r = api.get(path)
        assert r.status_code == 404 and error_of(r)["code"] == "org_not_found"  # as for any id nobody has
    r = api.post("/api/v1/orgs", json={"name": "远方支部", "kind": "branch", "parent_id": 10**23})
    assert r.status_code == 422 and "parent_id" in error_of(r)["fields"]
    r = api.post("/api/v1/members", json={"name": "吴十", "phone": "13712340001", "password": "secret-123",
                                          "org_id": -(10**23)})
    assert r.status_code == 422 and "org_id" in error_of(r)["fields"]
    assert _counts(db) == before


def test_json_nested_too_deeply_is_malformed(tree, api_as):
    r = api_as(tree.admin).post("/api/v1/orgs", data="[" * 100_000 + "]" * 100_000,
                                headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and error_of(r)["code"] == "malformed_json"


@pytest.mark.parametrize("path", ["/api/v1/orgs", "/api/v1/members", "/api/v1/claims", "/api/v1/awards",
                                  "/api/v1/contests", "/api/v1/assessments", "/api/v1/auth/token",
                                  "/api/v1/ratings"])
@pytest.mark.parametrize("body", [
    '{"name": "\\ud800x", "phone": "\\ud800", "note": "\\udfff", "title": "a\\ud83d"}',  # lone surrogates
    '{"name": "x", "parent_id": 1' + "0" * 5000 + '}',  # an integer past Python's 4,300-digit limit
    '{"\\ud800": 1}',  # in a key
])
def test_json_that_is_not_text_is_malformed(tree, api_as, db, path, body):
    """Valid JSON syntax that no column can store or hash: 400 malformed_json, never a 500."""
    before = _counts(db)
    r = api_as(tree.admin).post(path, data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and error_of(r)["code"] == "malformed_json", r.get_data(as_text=True)
    assert _counts(db) == before


def test_a_paired_surrogate_escape_is_an_emoji(tree, api_as):
    r = api_as(tree.admin).post("/api/v1/orgs", data='{"name": "\\ud83d\\ude00支部", "kind": "branch", "parent_id": %d}'
                                % tree.c1.id, headers={"Content-Type": "application/json"})
    assert r.status_code == 201 and r.get_json()["name"] == "\U0001f600支部"


@pytest.mark.parametrize("invisible", ["\u202e", "\u200b", "\u2066", "\ufeff", "\u200f"])
def test_invisible_characters_in_names_are_refused(tree, api_as, db, invisible):
    """A text-direction override prints "桂花\u202e部支一第" backwards on QR sheets and boards, a
    zero-width space makes two names look the same: 422 for orgs and people, nothing stored."""
    api = api_as(tree.admin)
    before = _counts(db)
    r = api.post("/api/v1/orgs", json={"name": f"桂花{invisible}第五支部", "kind": "branch", "parent_id": tree.c1.id})
    assert r.status_code == 422 and "不可见字符" in error_of(r)["fields"]["name"][0]
    r = api.post("/api/v1/members", json={"phone": "13712340003", "password": "secret-123", "org_id": tree.b11.id,
                                          "name": f"孙{invisible}七"})
    assert r.status_code == 422 and "不可见字符" in error_of(r)["fields"]["name"][0]
    assert _counts(db) == before
    # the usual punctuation of a name is fine
    assert api.post("/api/v1/orgs", json={"name": "桂花·第五支部（新）", "kind": "branch",
                                          "parent_id": tree.c1.id}).status_code == 201


def test_nul_and_control_characters_in_names_are_refused(tree, api_as, db):
    """PostgreSQL cannot store a NUL, and a name with a line break garbles every list: 422, nothing stored."""
    api = api_as(tree.admin)
    before = _counts(db)
    r = api.post("/api/v1/orgs", json={"name": "坏\u0000名", "kind": "branch", "parent_id": tree.c1.id})
    assert r.status_code == 422 and "name" in error_of(r)["fields"]
    r = api.post("/api/v1/orgs", json={"name": "坏\n名", "kind": "branch", "parent_id": tree.c1.id})
    assert r.status_code == 422 and "控制字符" in error_of(r)["fields"]["name"][0]
    member = {"phone": "13712340002", "password": "secret-123", "org_id": tree.b11.id}
    for name in ("孙\u0000七", "孙\t七"):
        r = api.post("/api/v1/members", json={**member, "name": name})
        assert r.status_code == 422 and "name" in error_of(r)["fields"]
    r = api.post("/api/v1/members", json={**member, "name": "孙七", "password": "secret\u0000123"})
    assert r.status_code == 422 and "password" in error_of(r)["fields"]
    r = api.post("/api/v1/auth/token", json={"phone": "1380000\u00000000", "password": PASSWORD})
    assert r.status_code == 422 and "phone" in error_of(r)["fields"]
    assert _counts(db) == before


def test_wrong_json_types_are_field_errors(tree, api_as, db):
    api = api_as(tree.admin)
    before = _counts(db)
    r = api.post("/api/v1/orgs", json={"name": ["x"], "kind": {}, "parent_id": True})
    assert r.status_code == 422 and {"name", "kind", "parent_id"} <= set(error_of(r)["fields"])
    r = api.post("/api/v1/members", json={"name": None, "phone": 13712340003, "password": 12345678,
                                          "org_id": 1.5, "role": None})
    assert r.status_code == 422 and {"name", "phone", "password", "org_id", "role"} <= set(error_of(r)["fields"])
    r = api.post("/api/v1/auth/token", json={"phone": tree.m11.phone})
    assert r.status_code == 422 and "password" in error_of(r)["fields"]
    r = api.post("/api/v1/orgs", json={"name": "长" * 10_000, "kind": "branch", "parent_id": tree.c1.id})
    assert r.status_code == 422 and "name" in error_of(r)["fields"]
    assert _counts(db) == before


def test_field_errors_read_in_chinese(app, tree, api_as):
    # a phone client shows error.fields to the person typing: the same language as every page
    api = api_as(tree.admin)
    r = api.post("/api/v1/orgs", json={"name": "新支部", "kind": "planet", "parent_id": "一"})
    assert r.status_code == 422
    fields = r.get_json()["error"]["fields"]
    assert fields["kind"] == ["须为以下之一：street, community, branch。"]
    assert fields["parent_id"] == ["须为整数。"]
    r = api.post("/api/v1/orgs", json={"kind": "branch", "parent_id": tree.c1.id})
    assert r.get_json()["error"]["fields"] == {"name": ["必填。"]}
    r = api.post("/api/v1/orgs", json=["不是对象"])
    assert r.status_code == 422
    assert r.get_json()["error"]["fields"] == {"_schema": ["请求体须为 JSON 对象。"]}
    r = api.get("/api/v1/rules?limit=0")
    assert r.status_code == 422
    assert "须不小于 1" in r.get_json()["error"]["fields"]["limit"][0]


def test_two_orgs_of_one_parent_never_share_a_name(tree, api_as, db):
    """Imports name an org by its path; two 桂花第一支部 under 桂花社区 could never be told apart."""
    from app.orgs.models import Org

    api = api_as(tree.admin)
    before = db.session.scalar(db.select(db.func.count(Org.id)))
    r = api.post("/api/v1/orgs", json={"name": "桂花第一支部", "kind": "branch", "parent_id": tree.c1.id})
    assert r.status_code == 422 and "已有名为“桂花第一支部”的组织" in error_of(r)["fields"]["name"][0]
    assert db.session.scalar(db.select(db.func.count(Org.id))) == before
    r = api.post("/api/v1/orgs", json={"name": "桂花第一支部", "kind": "branch", "parent_id": tree.c2.id})
    assert r.status_code == 201  # the same name under another parent is fine
