"""API: the org tree and members."""
from __future__ import annotations

import marshmallow as ma

from app.api import Schema, current_api_user, error_responses, make_blueprint, token_required
from app.auth.models import ROLES
from app.orgs import services
from app.orgs.models import ORG_KINDS

blp = make_blueprint("orgs_api", __name__, "The org tree and members")


class OrgIn(Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(ORG_KINDS))
    parent_id = ma.fields.Integer(strict=True, allow_none=True, load_default=None)


class OrgChild(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    kind = ma.fields.String()
    member_count = ma.fields.Integer()


class OrgOut(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    kind = ma.fields.String()
    parent_id = ma.fields.Integer(allow_none=True)
    depth = ma.fields.Integer()
    member_count = ma.fields.Integer(metadata={"description": "active accounts in the whole subtree"})
    children = ma.fields.List(ma.fields.Nested(OrgChild))


class MemberIn(Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 50))
    phone = ma.fields.String(required=True, validate=ma.validate.Regexp(services.PHONE_RE, error="手机号须为11位大陆手机号码。"))
    password = ma.fields.String(required=True, validate=ma.validate.Length(services.MIN_PASSWORD, 200))
    org_id = ma.fields.Integer(required=True, strict=True)
    role = ma.fields.String(load_default="member", validate=ma.validate.OneOf(ROLES))


class MemberOut(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    phone = ma.fields.String()
    role = ma.fields.String()
    org_id = ma.fields.Integer()
    active = ma.fields.Boolean()


def org_payload(org):
    return {
        "id": org.id, "name": org.name, "kind": org.kind, "parent_id": org.parent_id, "depth": org.depth,
        "member_count": services.subtree_member_count(org),
        "children": [
            {"id": c.id, "name": c.name, "kind": c.kind, "member_count": n}
            for c, n in services.children_with_counts(org)
        ],
    }


@blp.route("/orgs", methods=["POST"])
@error_responses(blp, 400, 401, 403)
@token_required("admin")
@blp.arguments(OrgIn)
@blp.response(201, OrgOut)
def create_org(data):
    """Add an org (admin)."""
    org = services.create_org(current_api_user(), **data)
    return org_payload(org)


@blp.route("/orgs/<int:org_id>", methods=["GET"])
@error_responses(blp, 401, 403, 404)
@token_required()
@blp.response(200, OrgOut)
def get_org(org_id):
    """An org in scope with its children and member counts."""
    return org_payload(services.view_org(current_api_user(), org_id))


@blp.route("/members", methods=["POST"])
@error_responses(blp, 400, 401, 403, 409)
@token_required("admin", "secretary")
@blp.arguments(MemberIn)
@blp.response(201, MemberOut)
def create_member(data):
    """Add a member account in the caller's scope; 409 when the phone is taken."""
    return services.create_member(current_api_user(), services.MemberInput(**data))
