"""API: the Vanguard Index, ranks and ledger history (the ledger's read side)."""
from __future__ import annotations

import marshmallow as ma

from app.api import Schema, current_api_user, json_response, make_blueprint, page_args, token_required
from app.points import duty as duty_service
from app.points import index as ix
from app.points.models import CATEGORIES
from app.readonly import read_only

blp = make_blueprint("index_api", __name__, "The Vanguard Index, ranks and history")


class Num(ma.fields.Float):
    """A number as JSON: 5, 2.5 (points have at most one decimal)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return ix.num(value)


# -- arguments -----------------------------------------------------------------------------------

class IndexPeriodArgs(Schema):
    year = ma.fields.Integer(validate=ma.validate.Range(ix.MIN_YEAR, ix.MAX_YEAR),
                             metadata={"description": "default: the current year in Asia/Shanghai"})
    period = ma.fields.String(validate=ma.validate.Length(1, 10),
                              metadata={"description": "2026 (year), 2026-Q3 (quarter) or 2026-11 (month)"})


class IndexEntriesArgs(page_args(), IndexPeriodArgs):
    category = ma.fields.String(validate=ma.validate.OneOf(CATEGORIES))


class IndexRankingArgs(page_args(), IndexPeriodArgs):
    """?limit=&offset= with ?year=&period=."""


# -- responses -----------------------------------------------------------------------------------

class IndexByCategory(Schema):
    study = Num()
    service = Num()
    innovation = Num()
    rating = Num()
    penalty = Num()


class IndexRankOut(Schema):
    branch = ma.fields.Integer(allow_none=True, metadata={"description": "competition rank (1, 2, 2, 4) in the branch"})
    community = ma.fields.Integer(allow_none=True, metadata={"description": "rank in the community (or the root)"})


class IndexPeriodOut(Schema):
    key = ma.fields.String()
    kind = ma.fields.String()
    start = ma.fields.String()
    end = ma.fields.String()
    label = ma.fields.String()


class IndexEntryOut(Schema):
    id = ma.fields.Integer()
    rule_code = ma.fields.String()
    rule_title = ma.fields.String()
    category = ma.fields.String()
    points = Num()
    occurred_on = ma.fields.String(metadata={"description": "YYYY-MM-DD"})
    source = ma.fields.String()
    note = ma.fields.String()
    created_at = ma.fields.String(metadata={"description": "ISO 8601 with the +08:00 offset"})
    reverses_id = ma.fields.Integer(allow_none=True)
    reversed = ma.fields.Boolean()
    reversed_by_id = ma.fields.Integer(allow_none=True)


class IndexEntryList(Schema):
    items = ma.fields.List(ma.fields.Nested(IndexEntryOut))
    total = ma.fields.Integer()


class IndexExplanationLine(Schema):
    category = ma.fields.String()
    label = ma.fields.String()
    raw = Num()
    ceiling = Num(allow_none=True)
    score = Num(allow_none=True)
    weight = Num(allow_none=True)
    contribution = Num(allow_none=True)
    entries = ma.fields.List(ma.fields.Nested(IndexEntryOut))


class IndexExplanation(Schema):
    formula = ma.fields.String()
    categories = ma.fields.List(ma.fields.Nested(IndexExplanationLine))
    index = Num()


class IndexMemberBrief(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    org_id = ma.fields.Integer()


class IndexRankGroup(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    size = ma.fields.Integer()


class IndexRankGroups(Schema):
    branch = ma.fields.Nested(IndexRankGroup, allow_none=True,
                              metadata={"description": "null when the member's own org is not a branch"})
    community = ma.fields.Nested(IndexRankGroup)


class IndexPointsOut(Schema):
    index = Num(metadata={"description": "the Vanguard Index, 0-100, one decimal"})
    total = Num(metadata={"description": "net points of the period"})
    by_category = ma.fields.Nested(IndexByCategory)
    rank = ma.fields.Nested(IndexRankOut)
    period = ma.fields.Nested(IndexPeriodOut)
    member = ma.fields.Nested(IndexMemberBrief)
    rank_groups = ma.fields.Nested(IndexRankGroups)
    explanation = ma.fields.Nested(IndexExplanation)


class IndexOrgScoreOut(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    kind = ma.fields.String()
    by_category = ma.fields.Nested(IndexByCategory)
    total = Num()
    member_count = ma.fields.Integer()
    per_capita = Num(allow_none=True)
    average_index = Num(allow_none=True)


class IndexOrgPointsOut(IndexOrgScoreOut):
    period = ma.fields.Nested(IndexPeriodOut)
    children = ma.fields.List(ma.fields.Nested(IndexOrgScoreOut))
    entries = ma.fields.List(ma.fields.Nested(IndexEntryOut), metadata={"description": "the org's own entries"})


class IndexRankingItem(Schema):
    rank = ma.fields.Integer()
    member = ma.fields.Dict()
    index = Num()
    total = Num()
    by_category = ma.fields.Nested(IndexByCategory)


class IndexRankingOut(Schema):
    period = ma.fields.Nested(IndexPeriodOut)
    items = ma.fields.List(ma.fields.Nested(IndexRankingItem))
    total = ma.fields.Integer()


class IndexDutyFigure(Schema):
    label = ma.fields.String()
    value = ma.fields.Integer()


class IndexDutyMetricOut(Schema):
    key = ma.fields.String()
    label = ma.fields.String()
    numerator = ma.fields.Integer()
    denominator = ma.fields.Integer()
    percent = ma.fields.Float(allow_none=True)
    figures = ma.fields.List(ma.fields.Nested(IndexDutyFigure))


class IndexDutyOut(Schema):
    org = ma.fields.Dict()
    period = ma.fields.Nested(IndexPeriodOut)
    score = ma.fields.Float(allow_none=True)
    metrics = ma.fields.List(ma.fields.Nested(IndexDutyMetricOut))


def _period(args):
    return ix.parse_period(args.get("year"), args.get("period"))


def org_score_json(s: ix.OrgScore) -> dict:
    return {"id": s.org_id, "name": s.name, "kind": s.kind, "by_category": s.by_category,
            "total": s.total, "member_count": s.member_count, "per_capita": s.per_capita,
            "average_index": s.average_index}


# -- routes --------------------------------------------------------------------------------------

@blp.route("/me/points", methods=["GET"])
@read_only(own_path=True)
@token_required()
@blp.arguments(IndexPeriodArgs, location="query")
@blp.response(200, IndexPointsOut)
def my_points(args):
    """The caller's index, category sums and ranks for a period, with the explanation."""
    user = current_api_user()
    return json_response(ix.member_points(user, user.id, _period(args), explain=True).as_json())


@blp.route("/me/entries", methods=["GET"])
@token_required()
@blp.arguments(IndexEntriesArgs, location="query")
@blp.response(200, IndexEntryList)
def my_entries(args):
    """The caller's ledger entries of a period, newest first."""
    user = current_api_user()
    rows, total = ix.member_entries(user, user.id, _period(args), category=args.get("category"),
                                    limit=args["limit"], offset=args["offset"])
    return {"items": [ix.entry_json(e) for e in rows], "total": total}


@blp.route("/members/<int:member_id>/points", methods=["GET"])
@read_only
@token_required("secretary", "admin")
@blp.arguments(IndexPeriodArgs, location="query")
@blp.response(200, IndexPointsOut)
def member_points(args, member_id):
    """A member's index in the caller's scope (same shape as /me/points)."""
    return json_response(ix.member_points(current_api_user(), member_id, _period(args), explain=True).as_json())


@blp.route("/orgs/<int:org_id>/points", methods=["GET"])
@token_required("secretary", "admin")
@blp.arguments(IndexPeriodArgs, location="query")
@blp.response(200, IndexOrgPointsOut)
def org_points(args, org_id):
    """An org's score (its subtree's members and orgs), per capita, average index, children."""
    op = ix.org_points(current_api_user(), org_id, _period(args))
    return {**org_score_json(op.score), "period": op.period.as_dict(),
            "children": [org_score_json(c) for c in op.children],
            "entries": [ix.entry_json(e) for e in op.entries]}


@blp.route("/orgs/<int:org_id>/ranking", methods=["GET"])
@token_required("secretary", "admin")
@blp.arguments(IndexRankingArgs, location="query")
@blp.response(200, IndexRankingOut)
def org_ranking(args, org_id):
    """Members below an org ranked by index (competition ranking), best first."""
    period = _period(args)
    _org, rows, total = ix.org_table(current_api_user(), org_id, period, limit=args["limit"], offset=args["offset"])
    return {
        "period": period.as_dict(),
        "items": [{"rank": r.rank, "member": {"id": r.member_id, "name": r.name, "org_id": r.org_id,
                                               "org_name": r.org_name},
                   "index": r.index, "total": r.total, "by_category": r.by_category} for r in rows],
        "total": total,
    }


@blp.route("/orgs/<int:org_id>/duty", methods=["GET"])
@token_required("secretary", "admin")
@blp.arguments(IndexPeriodArgs, location="query")
@blp.response(200, IndexDutyOut)
def org_duty(args, org_id):
    """The secretary duty index (党建履职指数) of an org subtree for a period."""
    return duty_service.duty_index(current_api_user(), org_id, _period(args)).as_json()
