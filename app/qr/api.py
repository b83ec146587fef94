"""API: QR targets, service posts, public ratings and follow-ups."""
from __future__ import annotations

import marshmallow as ma
from flask import current_app, url_for

from app.api import Schema, current_api_user, make_blueprint, page_args, token_required
from app.extensions import limiter
from app.ids import MAX_ID
from app.qr import services, tokens, web
from app.qr.models import SUBJECT_TYPES

blp = make_blueprint("qr_api", __name__, "QR targets and public ratings")

MANAGERS = ("secretary", "admin")


class QrTargetIn(Schema):
    subject_type = ma.fields.String(required=True, validate=ma.validate.OneOf(SUBJECT_TYPES))
    subject_id = ma.fields.Integer(required=True, strict=True)
    label = ma.fields.String(load_default="", validate=ma.validate.Length(0, 100))


class QrTargetOut(Schema):
    id = ma.fields.Integer()
    subject_type = ma.fields.String()
    subject_id = ma.fields.Integer()
    label = ma.fields.String()
    name = ma.fields.String(metadata={"description": "the label, or the subject's name"})
    org_id = ma.fields.Integer(metadata={"description": "the org managing the code"})
    active = ma.fields.Boolean()
    token = ma.fields.String(allow_none=True, metadata={"description": "null once revoked"})
    url = ma.fields.String(allow_none=True, metadata={"description": "PUBLIC_BASE_URL + /r/ + token"})
    png = ma.fields.String(allow_none=True)
    svg = ma.fields.String(allow_none=True)
    created_at = ma.fields.String()
    revoked_at = ma.fields.String(allow_none=True)


class QrTargetListOut(Schema):
    items = ma.fields.List(ma.fields.Nested(QrTargetOut))
    total = ma.fields.Integer()


class QrTargetListArgs(page_args()):
    org_id = ma.fields.Integer(load_default=None, validate=ma.validate.Range(1, MAX_ID))
    flagged = ma.fields.Boolean(load_default=False)


class QrRatingIn(Schema):
    token = ma.fields.String(required=True)
    stars = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(1, 5))
    comment = ma.fields.String(load_default="", allow_none=True)
    tags = ma.fields.List(ma.fields.String(), load_default=list, allow_none=True)
    device = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=200), metadata={
        "description": "the signed device id from POST /ratings/devices, for clients without cookies; "
                       "without it (or a device cookie) the client's address stands for the device"})


class QrDeviceOut(Schema):
    device = ma.fields.String(metadata={"description": "keep it on the phone and send it with each rating"})


class QrRatingCreated(Schema):
    counted = ma.fields.Boolean(metadata={"description": "false for a device's further ratings of the day"})


class QrRatingOut(Schema):
    id = ma.fields.Integer()
    stars = ma.fields.Integer()
    tags = ma.fields.List(ma.fields.String())
    comment = ma.fields.String()
    counted = ma.fields.Boolean()
    created_at = ma.fields.Function(lambda r: services.iso_local(r.created_at))


class QrFlagOut(Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    ratings = ma.fields.Integer(metadata={"description": "ratings in the window"})
    sources = ma.fields.Integer(metadata={"description": "distinct devices or IPs they came from"})
    window_minutes = ma.fields.Integer()
    created_at = ma.fields.Function(lambda f: services.iso_local(f.created_at))


class QrRatingsOut(Schema):
    items = ma.fields.List(ma.fields.Nested(QrRatingOut))
    total = ma.fields.Integer()
    average = ma.fields.Float(allow_none=True, metadata={"description": "average stars of counted ratings"})
    count = ma.fields.Integer(metadata={"description": "counted ratings"})
    flags = ma.fields.List(ma.fields.Nested(QrFlagOut), metadata={"description": "open warnings"})


class QrPostIn(Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))
    org_id = ma.fields.Integer(required=True, strict=True)
    address = ma.fields.String(load_default="", validate=ma.validate.Length(0, 200))
    description = ma.fields.String(load_default="", validate=ma.validate.Length(0, 1000))


class QrPostOut(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    org_id = ma.fields.Integer()
    address = ma.fields.String()
    description = ma.fields.String()


class QrPostListOut(Schema):
    items = ma.fields.List(ma.fields.Nested(QrPostOut))
    total = ma.fields.Integer()


class QrFollowUpArgs(page_args()):
    status = ma.fields.String(load_default="open", validate=ma.validate.OneOf(services.FOLLOWUP_STATUSES))


class QrFollowUpOut(Schema):
    id = ma.fields.Integer()
    target_id = ma.fields.Integer()
    target_name = ma.fields.Function(lambda f: f.target.display_name)
    org_id = ma.fields.Integer()
    stars = ma.fields.Function(lambda f: f.rating.stars)
    comment = ma.fields.Function(lambda f: f.rating.comment)
    opened_at = ma.fields.Function(lambda f: services.iso_local(f.opened_at))
    due_at = ma.fields.Function(lambda f: services.iso_local(f.due_at))
    overdue = ma.fields.Function(lambda f: services.is_overdue(f))
    closed_at = ma.fields.Function(lambda f: services.iso_local(f.closed_at))
    closed_by = ma.fields.Function(lambda f: f.closed_by.name if f.closed_by else None)
    action = ma.fields.String()


class QrFollowUpListOut(Schema):
    items = ma.fields.List(ma.fields.Nested(QrFollowUpOut))
    total = ma.fields.Integer()


class QrCloseIn(Schema):
    action = ma.fields.String(required=True, validate=ma.validate.Length(1, 1000))


def public_url(path: str) -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path


def target_payload(target) -> dict:
    live = target.revoked_at is None
    token = services.token_of(target) if live else None
    return {
        "id": target.id, "subject_type": target.subject_type, "subject_id": target.subject_id,
        "label": target.label, "name": target.display_name, "org_id": target.scope_org.id, "active": live,
        "token": token, "url": services.url_of(target) if live else None,
        "png": public_url(url_for("qr.code_png", token=token)) if live else None,
        "svg": public_url(url_for("qr.code_svg", token=token)) if live else None,
        "created_at": services.iso_local(target.created_at), "revoked_at": services.iso_local(target.revoked_at),
    }


@blp.route("/qr/targets", methods=["POST"])
@token_required(*MANAGERS)
@blp.arguments(QrTargetIn)
@blp.response(201, QrTargetOut)
def create_target(data):
    """A code for a member, an org or a service post in scope."""
    target = services.create_target(current_api_user(), data["subject_type"], data["subject_id"], data["label"])
    return target_payload(target)


@blp.route("/qr/targets", methods=["GET"])
@token_required(*MANAGERS)
@blp.arguments(QrTargetListArgs, location="query")
@blp.response(200, QrTargetListOut)
def list_targets(args):
    """Codes in scope, newest first (``org_id``: under one org; ``flagged``: with open warnings)."""
    rows, total = services.list_targets(current_api_user(), org_id=args["org_id"], flagged=args["flagged"],
                                        limit=args["limit"], offset=args["offset"])
    return {"items": [target_payload(r.target) for r in rows], "total": total}


@blp.route("/qr/targets/<int:target_id>", methods=["GET"])
@token_required(*MANAGERS)
@blp.response(200, QrTargetOut)
def get_target(target_id):
    """One code in scope, with its current token and URL."""
    return target_payload(services.manage_target(current_api_user(), target_id))


@blp.route("/qr/targets/<int:target_id>/rotate", methods=["POST"])
@token_required(*MANAGERS)
@blp.response(200, QrTargetOut)
def rotate_target(target_id):
    """A new token; the old (printed) one stops working."""
    return target_payload(services.rotate_target(current_api_user(), target_id))


@blp.route("/qr/targets/<int:target_id>/revoke", methods=["POST"])
@token_required(*MANAGERS)
@blp.response(200, QrTargetOut)
def revoke_target(target_id):
    """Stop the code for good."""
    return target_payload(services.revoke_target(current_api_user(), target_id))


@blp.route("/qr/targets/<int:target_id>/ratings", methods=["GET"])
@token_required(*MANAGERS)
@blp.arguments(page_args(), location="query")
@blp.response(200, QrRatingsOut)
def target_ratings(args, target_id):
    """Ratings of a code in scope, newest first, with the counted average and open warnings."""
    return services.target_ratings(current_api_user(), target_id, limit=args["limit"], offset=args["offset"])


@blp.route("/qr/flags/<int:flag_id>/clear", methods=["POST"])
@token_required(*MANAGERS)
@blp.response(200, QrFlagOut)
def clear_flag(flag_id):
    """Mark a warning as looked at."""
    return services.clear_flag(current_api_user(), flag_id)


@blp.route("/qr/posts", methods=["POST"])
@token_required(*MANAGERS)
@blp.arguments(QrPostIn)
@blp.response(201, QrPostOut)
def create_post(data):
    """A service post (服务岗) of an org in scope."""
    return services.create_post(current_api_user(), **data)


@blp.route("/qr/posts", methods=["GET"])
@token_required(*MANAGERS)
@blp.arguments(page_args(), location="query")
@blp.response(200, QrPostListOut)
def list_posts(args):
    """Service posts in scope."""
    posts, total = services.list_posts(current_api_user(), limit=args["limit"], offset=args["offset"])
    return {"items": posts, "total": total}


@blp.route("/qr/followups", methods=["GET"])
@token_required(*MANAGERS)
@blp.arguments(QrFollowUpArgs, location="query")
@blp.response(200, QrFollowUpListOut)
def list_followups(args):
    """Low-rating follow-ups (差评整改) in scope; ``status``: open, overdue, closed or all."""
    items, total = services.list_followups(current_api_user(), status=args["status"], limit=args["limit"],
                                           offset=args["offset"])
    return {"items": items, "total": total}


@blp.route("/qr/followups/<int:followup_id>/close", methods=["POST"])
@token_required(*MANAGERS)
@blp.arguments(QrCloseIn)
@blp.response(200, QrFollowUpOut)
def close_followup(data, followup_id):
    """Close a follow-up with what was done; 409 when already closed."""
    return services.close_followup(current_api_user(), followup_id, data["action"])


@blp.route("/ratings", methods=["POST"])
@blp.doc(security=[])
@limiter.shared_limit(web.rate_limit, scope="qr-rating")
@blp.arguments(QrRatingIn)
@blp.response(201, QrRatingCreated)
def create_rating(data):
    """A resident's rating (public). Unknown, rotated or revoked tokens: 404, nothing stored.
    Limited per IP (``QR_RATE_LIMIT``, shared with the rating page)."""
    rating = services.submit_rating(data["token"], stars=data["stars"], tags=data.get("tags") or [],
                                    comment=data.get("comment"), device_id=web.api_device(data.get("device")),
                                    ip=web.client_ip(), channel="api")
    return {"counted": rating.counted}


@blp.route("/ratings/devices", methods=["POST"])
@blp.doc(security=[])
@limiter.shared_limit(web.rate_limit, scope="qr-rating")
@blp.response(201, QrDeviceOut)
def create_device():
    """A signed device id for a phone client that keeps no cookies (a mini-program): ask once,
    store it, send it as ``device`` with every rating, so each phone counts once per code and day
    (the same rule as the rating page's device cookie). Limited with the ratings, per IP."""
    return {"device": tokens.new_device_cookie()[1]}
