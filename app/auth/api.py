"""API: tokens and the caller's profile."""
from __future__ import annotations

import marshmallow as ma

from app.api import (Schema, bearer_token, current_api_user, error_responses, make_blueprint,
                     token_required)
from app.auth import services
from app.auth.limits import limit_logins
from app.orgs.services import org_chain

blp = make_blueprint("auth_api", __name__, "Tokens and the caller's profile")


class TokenIn(Schema):
    phone = ma.fields.String(required=True, validate=ma.validate.Length(1, 20))
    password = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    label = ma.fields.String(load_default="", validate=ma.validate.Length(0, 100))


class UserBrief(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    role = ma.fields.String()
    org_id = ma.fields.Integer()


class TokenOut(Schema):
    token = ma.fields.String()
    user = ma.fields.Nested(UserBrief)


class OrgBrief(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    kind = ma.fields.String()


class MeOut(UserBrief):
    phone = ma.fields.String()
    org = ma.fields.Nested(OrgBrief)
    org_path = ma.fields.List(ma.fields.Nested(OrgBrief), metadata={"description": "root first"})


@blp.route("/auth/token", methods=["POST"])
@error_responses(blp, 400, 401, 429)
@blp.doc(security=[])
@limit_logins()
@blp.arguments(TokenIn)
@blp.response(200, TokenOut)
def create_token(data):
    """Exchange phone and password for a bearer token (rate-limited)."""
    user = services.authenticate(data["phone"], data["password"])
    token = services.issue_token(user, data.get("label") or "API")
    return {"token": token, "user": user}


@blp.route("/auth/token", methods=["DELETE"])
@error_responses(blp, 401)
@token_required()
@blp.response(204)
def revoke_token():
    """Revoke the token this request was made with."""
    services.revoke_raw_token(bearer_token())
    return None


@blp.route("/me", methods=["GET"])
@error_responses(blp, 401)
@token_required()
@blp.response(200, MeOut)
def me():
    """The caller's profile with the org path from the root down."""
    user = current_api_user()
    return {**{c: getattr(user, c) for c in ("id", "name", "role", "org_id", "phone")},
            "org": user.org, "org_path": org_chain(user.org)}
