"""API: contests, leaderboards, rollup and finalize."""
from __future__ import annotations

import marshmallow as ma

from app.api import JsonBoolean, Schema, current_api_user, error_responses, json_response, make_blueprint, page_args, token_required
from app.contests import services
from app.errors import Invalid
from app.points.api import Points
from app.readonly import read_only

blp = make_blueprint("contests_api", __name__, "Points race contests and leaderboards")


class ContestTopBonus(Schema):
    places = ma.fields.Integer(strict=True, load_default=0, metadata={"description": "top places that get the bonus"})
    points = Points(load_default=0, metadata={"description": "bonus points, a JSON number with at most one decimal"})


class ContestIn(Schema):
    title = ma.fields.String(required=True)
    participant_type = ma.fields.String(required=True, metadata={"enum": ["member", "branch", "community"]})
    scope_org_id = ma.fields.Integer(strict=True, required=True)
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(required=True)
    categories = ma.fields.List(ma.fields.String(), required=True, metadata={
        "description": "subset of study, service, innovation, rating, penalty"})
    scoring = ma.fields.String(load_default="total", metadata={"enum": ["total", "per_capita"]})
    top_bonus = ma.fields.Nested(ContestTopBonus, load_default=None, allow_none=True)
    exclude_last = JsonBoolean(load_default=False)


class ContestOrgRef(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()


class ContestTopBonusOut(Schema):
    places = ma.fields.Integer()
    points = ma.fields.Float()


class ContestOut(Schema):
    id = ma.fields.Integer()
    title = ma.fields.String()
    participant_type = ma.fields.String()
    scope_org_id = ma.fields.Integer()
    scope_org = ma.fields.Nested(ContestOrgRef)
    starts_on = ma.fields.String()
    ends_on = ma.fields.String()
    categories = ma.fields.List(ma.fields.String())
    scoring = ma.fields.String()
    top_bonus = ma.fields.Nested(ContestTopBonusOut)
    exclude_last = ma.fields.Boolean()
    status = ma.fields.String(metadata={"enum": ["running", "final"]})
    phase = ma.fields.String(metadata={
        "enum": ["upcoming", "running", "ended", "final"],
        "description": "where it stands today (Asia/Shanghai): not started yet, running, past its last day "
                       "and waiting to be finalized, or final; status stays running until finalized"})
    year = ma.fields.Integer()
    finalized_at = ma.fields.String(allow_none=True)


class ContestList(Schema):
    items = ma.fields.List(ma.fields.Nested(ContestOut))
    total = ma.fields.Integer()


class ContestListArgs(page_args()):
    status = ma.fields.String(load_default=None, metadata={"enum": ["running", "final"]})


class ContestParticipant(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()


class ContestStandingOut(Schema):
    rank = ma.fields.Integer()
    participant = ma.fields.Nested(ContestParticipant)
    score = ma.fields.Float()
    previous_rank = ma.fields.Integer(allow_none=True)


class ContestLeaderboardOut(Schema):
    contest_id = ma.fields.Integer()
    status = ma.fields.String()
    final = ma.fields.Boolean(metadata={"description": "true once finalized: the standings are frozen"})
    as_of = ma.fields.String(allow_none=True, metadata={"description": "ISO 8601 with offset; null before the first rollup"})
    standings = ma.fields.List(ma.fields.Nested(ContestStandingOut))
    total = ma.fields.Integer()
    limit = ma.fields.Integer()
    offset = ma.fields.Integer()


class ContestSnapshotOut(Schema):
    id = ma.fields.Integer()
    period_key = ma.fields.String()
    kind = ma.fields.String()
    as_of = ma.fields.String()
    final = ma.fields.Boolean()


class ContestRollupOut(Schema):
    snapshot = ma.fields.Nested(ContestSnapshotOut)
    created = ma.fields.Boolean(metadata={"description": "false when this period's snapshot already existed"})


class ContestOutcomeOut(Schema):
    org_id = ma.fields.Integer()
    name = ma.fields.String()
    place = ma.fields.Integer()
    bonus = ma.fields.Float()
    award_ineligible = ma.fields.Boolean()


class ContestAwardOut(Schema):
    member_id = ma.fields.Integer()
    name = ma.fields.String()
    place = ma.fields.Integer()
    points = ma.fields.Float()


class ContestDetail(ContestOut):
    can_manage = ma.fields.Boolean()
    outcomes = ma.fields.List(ma.fields.Nested(ContestOutcomeOut), metadata={
        "description": "branch/community contests, once final: place, bonus, award ineligibility per org"})
    awards = ma.fields.List(ma.fields.Nested(ContestAwardOut), metadata={
        "description": "member contests, once final: the members given the top bonus"})


def snapshot_json(snapshot) -> dict:
    return {"id": snapshot.id, "period_key": snapshot.period_key, "kind": snapshot.kind,
            "as_of": services.iso(snapshot.as_of), "final": snapshot.is_final}


def detail_json(actor, contest) -> dict:
    data = services.contest_json(contest)
    data["can_manage"] = services.can_manage(actor, contest)
    data["outcomes"] = [
        {"org_id": o.org_id, "name": o.org.name, "place": o.place, "bonus": o.bonus,
         "award_ineligible": o.award_ineligible}
        for o in services.outcomes(contest)
    ] if contest.status == "final" and contest.participant_type != "member" else []
    data["awards"] = [
        {"member_id": r.participant_id, "name": r.name, "place": r.rank, "points": contest.top_points}
        for r in services.awarded_members(contest)
    ] if contest.status == "final" and contest.participant_type == "member" else []
    return data


@blp.route("/contests", methods=["POST"])
@token_required("admin", "secretary")
@blp.arguments(ContestIn)
@blp.response(201, ContestOut)
def create_contest(data):
    """Create a contest among members, branches or communities inside the caller's scope."""
    bonus = data.pop("top_bonus", None) or {}
    try:
        contest = services.create_contest(
            current_api_user(), top_places=bonus.get("places", 0), top_points=bonus.get("points", 0), **data)
    except Invalid as exc:
        raise _request_names(exc)
    return services.contest_json(contest)


def _request_names(exc: Invalid) -> Invalid:
    """Field errors under the names of the request: ``top_bonus.places`` and ``.points``, as the
    schema reports them, rather than the service's ``top_places`` and ``top_points``."""
    fields = dict(exc.fields or {})
    nested = {key: fields.pop(f"top_{key}") for key in ("places", "points") if f"top_{key}" in fields}
    if nested:
        fields["top_bonus"] = nested
    exc.fields = fields or None
    return exc


@blp.route("/contests", methods=["GET"])
@token_required()
@blp.arguments(ContestListArgs, location="query")
@blp.response(200, ContestList)
def list_contests(args):
    """Contests the caller may view: those of their scope and those they take part in."""
    items, total = services.list_contests(current_api_user(), status=args["status"], limit=args["limit"],
                                          offset=args["offset"])
    return {"items": [services.contest_json(c) for c in items], "total": total}


@blp.route("/contests/<int:contest_id>", methods=["GET"])
@token_required()
@blp.response(200, ContestDetail)
def get_contest(contest_id):
    """One contest; once final, its outcomes (org contests) or awards (member contests)."""
    actor = current_api_user()
    return detail_json(actor, services.view_contest(actor, contest_id))


@blp.route("/contests/<int:contest_id>/leaderboard", methods=["GET"])
@read_only
@token_required()
@blp.arguments(page_args(default_limit=50, max_limit=500), location="query")
@blp.response(200, ContestLeaderboardOut)
def leaderboard(args, contest_id):
    """The current standings (the frozen final ones once finalized), best first."""
    board = services.leaderboard(current_api_user(), contest_id, limit=args["limit"], offset=args["offset"])
    return json_response({
        "contest_id": board.contest.id,
        "status": board.contest.status,
        "final": bool(board.snapshot and board.snapshot.is_final),
        "as_of": services.iso(board.snapshot.as_of) if board.snapshot else None,
        "standings": [
            {"rank": r.rank, "participant": {"id": r.participant_id, "name": r.name}, "score": float(r.score),
             "previous_rank": r.previous_rank}
            for r in board.rows
        ],
        "total": board.total,
        "limit": args["limit"],
        "offset": args["offset"],
    })


@blp.route("/contests/<int:contest_id>/rollup", methods=["POST"])
@error_responses(blp, 401, 403, 404, 409)
@token_required("admin", "secretary")
@blp.response(200, ContestRollupOut)
def rollup(contest_id):
    """Roll the contest up now (the scheduler also does it every few minutes); 409 once final."""
    snapshot, created = services.rollup_now(current_api_user(), contest_id)
    return {"snapshot": snapshot_json(snapshot), "created": created}


@blp.route("/contests/<int:contest_id>/finalize", methods=["POST"])
@error_responses(blp, 401, 403, 404, 409)
@token_required("admin", "secretary")
@blp.response(200, ContestDetail)
def finalize(contest_id):
    """Freeze the standings; record the top bonus and last-place exclusion; 409 if already final."""
    actor = current_api_user()
    return detail_json(actor, services.finalize(actor, contest_id))
