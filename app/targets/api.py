"""API: an org's progress table or scorecard, and setting an org's year targets."""
from __future__ import annotations

import marshmallow as ma

from app.api import LocalTime, Schema, current_api_user, error_responses, json_response, make_blueprint, token_required
from app.auth.api import OrgBrief  # id, name, kind, as the caller's org in GET /me
from app.points import index as ix
from app.points.index_api import Num
from app.targets import services
from app.targets.models import TARGET_CATEGORIES

blp = make_blueprint("targets_api", __name__, "Year targets (年度目标书), progress table and scorecard")


class TargetsArgs(Schema):
    year = ma.fields.Integer(validate=ma.validate.Range(ix.MIN_YEAR, ix.MAX_YEAR),
                             metadata={"description": "default: the current year in Asia/Shanghai; not a year to come"})
    month = ma.fields.Integer(validate=ma.validate.Range(1, 12),
                              metadata={"description": "counts January 1 to the month's last day; default: the "
                                                       "current month this year, 12 for a past year"})


def _target_field(label: str):
    return ma.fields.Raw(allow_none=True, load_default=None, metadata={
        "description": f"{label}: per-capita points target, above 0, at most 10000, one decimal; null or "
                       "missing: no target"})


class TargetsIn(Schema):
    study = _target_field("理论学习")
    service = _target_field("志愿服务")
    innovation = _target_field("创新贡献")
    note = ma.fields.Raw(allow_none=True, load_default=None,
                         metadata={"description": "why the targets are set or changed (up to 200 characters)"})


class TargetCellOut(Schema):
    target = Num(allow_none=True)
    actual = Num(allow_none=True, metadata={"description": "per capita, January 1 to the month's end; null "
                                                           "without active members"})
    completion = Num(allow_none=True, metadata={"description": "actual / target in %, one decimal, rounded down"})
    status = ma.fields.String(metadata={"description": "done, on_track, behind, no_target, no_members; "
                                                       "a scorecard: met, not_met"})
    status_label = ma.fields.String()


class TargetCategoriesOut(Schema):
    study = ma.fields.Nested(TargetCellOut)
    service = ma.fields.Nested(TargetCellOut)
    innovation = ma.fields.Nested(TargetCellOut)


class TargetSetBy(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()


class TargetRowOut(Schema):
    org = ma.fields.Nested(OrgBrief)
    member_count = ma.fields.Integer()
    has_targets = ma.fields.Boolean()
    targets_met = ma.fields.Integer()
    targets_set = ma.fields.Integer()
    categories = ma.fields.Nested(TargetCategoriesOut)
    version = ma.fields.Integer(allow_none=True)
    set_by = ma.fields.Nested(TargetSetBy, allow_none=True)
    set_at = ma.fields.String(allow_none=True)
    note = ma.fields.String(allow_none=True)


class TargetPeriodOut(Schema):
    year = ma.fields.Integer()
    month = ma.fields.Integer()
    start = ma.fields.String()
    end = ma.fields.String()
    label = ma.fields.String()


class TargetProgressOut(Schema):
    org = ma.fields.Nested(OrgBrief)
    kind = ma.fields.String(metadata={"description": "progress, or scorecard (December of a finished year)"})
    title = ma.fields.String()
    period = ma.fields.Nested(TargetPeriodOut)
    time_progress = Num(metadata={"description": "month / 12 in %, one decimal"})
    categories = ma.fields.List(ma.fields.String(), metadata={"description": "the categories some org targets"})
    summary = ma.fields.Nested(TargetRowOut, metadata={"description": "the org itself"})
    rows = ma.fields.List(ma.fields.Nested(TargetRowOut), metadata={"description": "the orgs directly below"})


class TargetBookOut(Schema):
    org_id = ma.fields.Integer()
    year = ma.fields.Integer()
    version = ma.fields.Integer(allow_none=True)
    targets = ma.fields.Dict(keys=ma.fields.String(), values=Num(allow_none=True))
    note = ma.fields.String()
    set_by = ma.fields.Nested(TargetSetBy, allow_none=True)
    set_at = LocalTime(allow_none=True)
    changed = ma.fields.Boolean(metadata={"description": "false: the same targets were in force, nothing stored"})


@blp.route("/orgs/<int:org_id>/targets", methods=["GET"])
@error_responses(blp, 401, 403, 404)
@token_required()
@blp.arguments(TargetsArgs, location="query")
@blp.response(200, TargetProgressOut)
def org_targets(args, org_id):
    """The progress table (进度表) of an org and the orgs directly below it; December of a finished
    year is the scorecard (成绩单). Secretaries and admins read it for their subtree, every member
    for the orgs on their own path (the progress is shown publicly, org by org)."""
    year, month = services.parse_year_month(args.get("year"), args.get("month"))
    return json_response(services.progress(current_api_user(), org_id, year, month).as_json())


@blp.route("/orgs/<int:org_id>/targets/<int:year>", methods=["PUT"])
@error_responses(blp, 400, 401, 403, 404, 409)
@token_required("secretary", "admin")
@blp.arguments(TargetsIn)
@blp.response(200, TargetBookOut)
def put_org_targets(data, org_id, year):
    """Set an org's targets for this or next year: all three (a missing one is no target).

    The level above only: an admin, or a secretary for an org below their own (403
    ``next_level_up`` for their own org); a finished year is 409 ``year_closed``.
    """
    result = services.set_targets(current_api_user(), org_id, year,
                                  {c: data.get(c) for c in TARGET_CATEGORIES}, data.get("note"))
    book = result.book
    return {
        "org_id": org_id, "year": year, "version": book.version if book else None,
        "targets": {c: (book.value(c) if book else None) for c in TARGET_CATEGORIES},
        "note": book.note if book else "",
        "set_by": {"id": book.set_by.id, "name": book.set_by.name} if book and book.set_by else None,
        "set_at": book.set_at if book else None, "changed": result.changed,
    }
