"""API: rules, claims, awards, entries (the ledger's write side)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

import marshmallow as ma
from flask import request, url_for

from app.api import (JsonBoolean, LocalTime, Schema, current_api_user, error_responses, make_blueprint, page_args,
                     token_required)
from app.errors import Forbidden
from app.points import services
from app.points.ledger import quantize
from app.points.models import CATEGORIES, CLAIM_STATUSES

blp = make_blueprint("points_api", __name__, "Rules, claims, awards and ledger entries")


class Points(ma.fields.Decimal):
    """Points in and out as JSON numbers with at most one decimal (5, 2.5, -10)."""

    default_error_messages = {
        "invalid": "须为数字。",
        "places": "最多保留一位小数。",
        "too_large": "数值过大。",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            raise self.make_error("invalid")
        try:
            number = Decimal(str(value))
        except (InvalidOperation, ValueError):
            raise self.make_error("invalid") from None
        if not number.is_finite():
            raise self.make_error("invalid")
        if abs(number) > services.MAX_CAP:
            raise self.make_error("too_large")
        if number != number.quantize(Decimal("0.1")):
            raise self.make_error("places")
        return quantize(number)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        number = quantize(value)
        return int(number) if number == number.to_integral_value() else float(number)


def Id(**kw):  # noqa: N802 - a field factory
    return ma.fields.Integer(strict=True, **kw)


# -- rules --------------------------------------------------------------------------------------

class RuleValues(Schema):
    category = ma.fields.String(required=True, validate=ma.validate.OneOf(CATEGORIES))
    title = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))
    points = Points(required=True)
    daily_cap = Points(allow_none=True, load_default=None)
    monthly_cap = Points(allow_none=True, load_default=None)
    yearly_cap = Points(allow_none=True, load_default=None)
    needs_approval = JsonBoolean(load_default=True)
    evidence_required = JsonBoolean(load_default=False)


class RuleIn(RuleValues):
    code = ma.fields.String(required=True, validate=ma.validate.Length(1, 40))


class RuleOut(Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    version = ma.fields.Integer()
    category = ma.fields.String()
    category_label = ma.fields.String()
    title = ma.fields.String()
    points = Points()
    daily_cap = Points(allow_none=True)
    monthly_cap = Points(allow_none=True)
    yearly_cap = Points(allow_none=True)
    needs_approval = ma.fields.Boolean()
    evidence_required = ma.fields.Boolean()
    active = ma.fields.Boolean()
    created_at = LocalTime()


class RuleDetail(RuleOut):
    versions = ma.fields.List(ma.fields.Nested(RuleOut), metadata={"description": "newest first"})


class RuleList(Schema):
    items = ma.fields.List(ma.fields.Nested(RuleOut))
    total = ma.fields.Integer()


class RuleArgs(page_args(200, 500)):
    category = ma.fields.String(validate=ma.validate.OneOf(CATEGORIES))


@blp.route("/rules", methods=["POST"])
@token_required("admin")
@blp.arguments(RuleIn)
@blp.response(201, RuleOut)
def create_rule(data):
    """Add a scoring item (admin); 409 ``rule_exists`` when the code is taken."""
    return services.create_rule(current_api_user(), services.RuleInput(**data))


@blp.route("/rules", methods=["GET"])
@token_required()
@blp.arguments(RuleArgs, location="query")
@blp.response(200, RuleList)
def list_rules(args):
    """The active rule catalogue, by category then code."""
    rules = services.active_rules(args.get("category"))
    return {"items": rules[args["offset"]:args["offset"] + args["limit"]], "total": len(rules)}


@blp.route("/rules/<code>", methods=["GET"])
@token_required()
@blp.response(200, RuleDetail)
def get_rule(code):
    """A rule's current version with every version (newest first)."""
    versions = services.rule_versions(code)
    current = next((r for r in versions if r.active), versions[0])
    return {**{k: getattr(current, k) for k in RuleOut._declared_fields}, "versions": versions}


@blp.route("/rules/<code>", methods=["PUT"])
@token_required("admin")
@blp.arguments(RuleValues)
@blp.response(200, RuleOut)
def change_rule(data, code):
    """Change a rule (admin): adds a version; entries keep the points they were granted with."""
    return services.change_rule(current_api_user(), code, services.RuleInput(code=code, **data))


# -- entries ------------------------------------------------------------------------------------

class EntryOut(Schema):
    id = ma.fields.Integer()
    member_id = ma.fields.Integer(allow_none=True)
    org_id = ma.fields.Integer(allow_none=True)
    rule_id = ma.fields.Integer(allow_none=True)
    rule_code = ma.fields.String()
    category = ma.fields.String()
    points = Points()
    occurred_on = ma.fields.Date()
    source = ma.fields.String()
    note = ma.fields.String()
    created_by_id = ma.fields.Integer(allow_none=True)
    created_at = LocalTime()
    reverses_id = ma.fields.Integer(allow_none=True)


class EntryDetail(EntryOut):
    reversed_by_id = ma.fields.Integer(allow_none=True)


class ReasonIn(Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(1, services.REASON_MAX))


@blp.route("/entries/<int:entry_id>", methods=["GET"])
@token_required()
@blp.response(200, EntryDetail)
def get_entry(entry_id):
    """One ledger entry (its member, or a manager in scope)."""
    entry = services.view_entry(current_api_user(), entry_id)
    reversal = services.reversal_of(entry.id)
    return {**{k: getattr(entry, k) for k in EntryOut._declared_fields}, "reversed_by_id": reversal.id if reversal else None}


@blp.route("/entries/<int:entry_id>/reverse", methods=["POST"])
@token_required("secretary", "admin")
@blp.arguments(ReasonIn)
@blp.response(201, EntryOut)
def reverse_entry(data, entry_id):
    """Append the reversing entry (negated points, with the reason); 409 when already reversed."""
    return services.reverse_entry(current_api_user(), entry_id, data["reason"])


# -- claims -------------------------------------------------------------------------------------

class ClaimIn(Schema):
    rule_code = ma.fields.String(required=True, validate=ma.validate.Length(1, 40))
    occurred_on = ma.fields.Date(required=True, metadata={"description": "YYYY-MM-DD, Asia/Shanghai"})
    note = ma.fields.String(load_default="", validate=ma.validate.Length(0, services.NOTE_MAX))


class ClaimOut(Schema):
    id = ma.fields.Integer()
    status = ma.fields.String()
    member_id = ma.fields.Integer()
    member_name = ma.fields.String()
    org_id = ma.fields.Integer()
    org_name = ma.fields.String()
    rule_code = ma.fields.String()
    rule_version = ma.fields.Integer()
    rule_title = ma.fields.String()
    category = ma.fields.String()
    points = Points()
    occurred_on = ma.fields.Date()
    note = ma.fields.String()
    evidence_url = ma.fields.String(allow_none=True, metadata={
        "description": "the photo, with the same bearer token (GET /api/v1/claims/{id}/evidence; ?size=thumb for a small JPEG)"})
    created_at = ma.fields.String()
    reviewer_id = ma.fields.Integer(allow_none=True)
    reviewer_name = ma.fields.String(allow_none=True)
    reviewed_at = ma.fields.String(allow_none=True)
    reject_reason = ma.fields.String(allow_none=True)
    entry_id = ma.fields.Integer(allow_none=True)


class ClaimList(Schema):
    items = ma.fields.List(ma.fields.Nested(ClaimOut))
    total = ma.fields.Integer()


class MyClaimArgs(page_args()):
    status = ma.fields.String(validate=ma.validate.OneOf(CLAIM_STATUSES))


class ClaimArgs(MyClaimArgs):
    mine = ma.fields.Boolean(load_default=False)


def claim_payload(claim, entry_id=None) -> dict:
    return {
        "id": claim.id, "status": claim.status, "member_id": claim.member_id,
        "member_name": claim.member.name, "org_id": claim.member.org_id, "org_name": claim.member.org.name,
        "rule_code": claim.rule.code, "rule_version": claim.rule.version, "rule_title": claim.rule.title,
        "category": claim.rule.category, "points": claim.rule.points, "occurred_on": claim.occurred_on,
        "note": claim.note,
        "evidence_url": url_for("points_api.claim_evidence", claim_id=claim.id) if claim.evidence_path else None,
        "created_at": services.iso_local(claim.created_at),
        "reviewer_id": claim.reviewer_id,
        "reviewer_name": claim.reviewer.name if claim.reviewer else None,
        "reviewed_at": services.iso_local(claim.reviewed_at), "reject_reason": claim.reject_reason,
        "entry_id": entry_id,
    }


def claim_payloads(claims) -> list[dict]:
    entries = services.claim_entry_ids(claims)
    return [claim_payload(c, entries.get(c.id)) for c in claims]


@blp.route("/claims", methods=["POST"])
@token_required()
@blp.arguments(ClaimIn)
@blp.response(201, ClaimOut)
def submit_claim(data):
    """File a claim (申报) for oneself. Photos are uploaded on the claim page only.

    Answers ``status: "pending"``, or ``"approved"`` with ``entry_id`` for a rule that needs no
    approval (granted at once, through the caps). Unknown rule: 404 ``rule_not_found``.
    An ``Idempotency-Key`` header (up to 64 visible ASCII characters) makes a retry safe: the
    same key again answers the claim it made.
    """
    claim = services.submit_claim(current_api_user(), **data,
                                  submission_key=request.headers.get("Idempotency-Key"))
    return claim_payloads([services.get_claim(claim.id)])[0]


@blp.route("/claims", methods=["GET"])
@token_required()
@blp.arguments(ClaimArgs, location="query")
@blp.response(200, ClaimList)
@error_responses(blp, 403)
def list_claims(args):
    """Secretaries and admins: claims they may decide, oldest first (never their own).

    With ``mine=true`` (anyone): the caller's own claims, newest first, as ``/me/claims``. A
    member without it is 403 ``forbidden_role``: the review queue is not theirs.
    """
    user = current_api_user()
    if args["mine"]:
        return _my_claims(user, args)
    if user.role == "member":
        raise Forbidden("审核列表仅限书记和管理员；查看本人的申报请用 /api/v1/me/claims。", code="forbidden_role")
    items, total = services.review_queue(user, status=args.get("status"), limit=args["limit"], offset=args["offset"])
    return {"items": claim_payloads(items), "total": total}


@blp.route("/me/claims", methods=["GET"])
@token_required()
@blp.arguments(MyClaimArgs, location="query")
@blp.response(200, ClaimList)
def my_claims(args):
    """The caller's own claims, newest first (``?status=`` to filter)."""
    return _my_claims(current_api_user(), args)


def _my_claims(user, args) -> dict:
    items, total = services.my_claims(user, status=args.get("status"), limit=args["limit"], offset=args["offset"])
    return {"items": claim_payloads(items), "total": total}


@blp.route("/claims/<int:claim_id>", methods=["GET"])
@token_required()
@blp.response(200, ClaimOut)
def get_claim(claim_id):
    """One claim (its claimant, or a manager in scope)."""
    return claim_payloads([services.view_claim(current_api_user(), claim_id)])[0]


class EvidenceArgs(Schema):
    size = ma.fields.String(load_default=None, validate=ma.validate.OneOf(["thumb"]),
                            metadata={"description": "thumb: a small JPEG for a list"})


@blp.route("/claims/<int:claim_id>/evidence", methods=["GET"])
@error_responses(blp, 401, 403, 404)
@token_required()
@blp.arguments(EvidenceArgs, location="query")
@blp.response(200, description="the photo: image/jpeg or image/png")
def claim_evidence(args, claim_id):
    """A claim's photo, to its claimant and the managers whose scope covers the claimant (as the
    claim itself); 404 ``no_evidence`` for a claim without one."""
    from app.points.evidence import send_photo

    return send_photo(*services.claim_evidence(current_api_user(), claim_id, thumb=args.get("size") == "thumb"))


@blp.route("/claims/<int:claim_id>/approve", methods=["POST"])
@token_required("secretary", "admin")
@blp.response(200, EntryOut)
def approve_claim(claim_id):
    """Approve: 200 with the one ledger entry; 409 ``already_decided``; 403 own claim or scope."""
    return services.approve_claim(current_api_user(), claim_id)


@blp.route("/claims/<int:claim_id>/reject", methods=["POST"])
@token_required("secretary", "admin")
@blp.arguments(ReasonIn)
@blp.response(200, ClaimOut)
def reject_claim(data, claim_id):
    """Reject with a reason the member sees; 409 ``already_decided``."""
    claim = services.reject_claim(current_api_user(), claim_id, data["reason"])
    return claim_payloads([services.get_claim(claim.id)])[0]


# -- awards -------------------------------------------------------------------------------------

class AwardIn(Schema):
    member_id = Id(allow_none=True, load_default=None)
    org_id = Id(allow_none=True, load_default=None)
    rule_code = ma.fields.String(required=True, validate=ma.validate.Length(1, 40))
    note = ma.fields.String(load_default="", validate=ma.validate.Length(0, services.NOTE_MAX))
    points = Points(allow_none=True, load_default=None, metadata={"description": "defaults to the rule's"})
    occurred_on = ma.fields.Date(allow_none=True, load_default=None, metadata={"description": "defaults to today"})

    @ma.validates_schema
    def exactly_one_subject(self, data, **kwargs):
        if (data.get("member_id") is None) == (data.get("org_id") is None):
            raise ma.ValidationError("请选择一名党员或一个组织（member_id 与 org_id 只填一个）。", "member_id")


@blp.route("/awards", methods=["POST"])
@token_required("secretary", "admin")
@blp.arguments(AwardIn)
@blp.response(201, EntryOut)
def create_award(data):
    """A direct award or deduction to a member or an org in scope, through the caps.

    An ``Idempotency-Key`` header (up to 64 visible ASCII characters) makes a retry safe: the
    same key from the same caller again answers the entry it made.
    """
    return services.award(current_api_user(), **data, submission_key=request.headers.get("Idempotency-Key"))

