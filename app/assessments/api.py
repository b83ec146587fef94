"""API: annual assessments, unit scores and results."""
from __future__ import annotations

import marshmallow as ma

from app.api import LocalTime, Schema, current_api_user, error_responses, make_blueprint, page_args, token_required
from app.assessments import services
from app.assessments.calc import GRADE_LABELS

blp = make_blueprint("assessments_api", __name__, "Annual assessments with the party-building coefficient")

REQUIRED = {"required": "必填。"}


class Number(ma.fields.Field):
    """A Decimal sent as a JSON number (the exact value, not a string)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else float(value)


def _raw(description: str, **kw):
    return ma.fields.Raw(allow_none=True, metadata={"description": description}, **kw)


class AssessmentIn(Schema):
    year = ma.fields.Integer(required=True, strict=True,
                             error_messages={**REQUIRED, "null": "请填写年度。", "invalid": "年度须为整数。"})
    title = ma.fields.Raw(required=True, error_messages={**REQUIRED, "null": "请填写考核名称。"},
                          metadata={"description": "考核名称"})
    coefficient_step = _raw("每一名次的系数差, e.g. 0.005 (0.5%)", required=True, error_messages=REQUIRED)
    unqualified_ratio = _raw("不合格线: share of the class's top final score, default 0.6")
    grade_quotas = _raw('share of a class per grade, default {"A": 0.2, "B": 0.3}; C (合格) is every other '
                        "qualified unit (a C share is accepted and not kept); D is the unqualified units "
                        "(a D share is refused)")
    departments = _raw('evaluating departments, default ["纪委", "组织部", "宣传部", "统战部"]')
    unit_classes = _raw('classes compared separately: ["街道", {"name": "机关", "coefficient_step": 0.002}]')
    excellent_shares = _raw('indirect link: grade -> share of staff who may be graded excellent, '
                            'default {"A": 0.3, "B": 0.2, "C": 0.15, "D": 0}')


class AssessmentPatch(AssessmentIn):
    """Any subset of the settings."""

    class Meta(Schema.Meta):
        pass


class AssessmentUnitClassOut(Schema):
    name = ma.fields.String()
    coefficient_step = Number(allow_none=True)


class AssessmentOut(Schema):
    id = ma.fields.Integer()
    year = ma.fields.Integer()
    title = ma.fields.String()
    coefficient_step = Number()
    unqualified_ratio = Number()
    grade_quotas = ma.fields.Dict(keys=ma.fields.String(), values=Number())
    departments = ma.fields.List(ma.fields.String())
    unit_classes = ma.fields.List(ma.fields.Nested(AssessmentUnitClassOut))
    excellent_shares = ma.fields.Dict(keys=ma.fields.String(), values=Number())
    status = ma.fields.String(metadata={"description": "draft or published"})
    unit_count = ma.fields.Integer()
    created_at = LocalTime()
    published_at = LocalTime(allow_none=True)


class AssessmentList(Schema):
    items = ma.fields.List(ma.fields.Nested(AssessmentOut))
    total = ma.fields.Integer()


class AssessmentUnitIn(Schema):
    base = _raw("基础分 0-100")
    party_building = _raw('党建得分: a sum, or per department {"纪委": 90, "组织部": 88, ...}')
    bonus = _raw('加分: a number, or items [{"points": 2, "reason": "区级表彰"}]')
    deductions = _raw('扣分: a number, or items [{"points": 1, "reason": "..."}]')
    veto = _raw('一票否决: true/false, or items ["事由"] / [{"item": "安全生产", "reason": "..."}]')
    veto_reason = _raw("一票否决事由 when veto is true")
    criticized = _raw("通报批评 true/false")
    criticized_reason = _raw("通报批评事由")
    unit_class = _raw("单位类别; units are compared only within their class")


class AssessmentItemOut(Schema):
    points = Number()
    reason = ma.fields.String()


class AssessmentVetoOut(Schema):
    item = ma.fields.String()
    reason = ma.fields.String()


class AssessmentUnitOut(Schema):
    org_id = ma.fields.Integer()
    name = ma.fields.String()
    unit_class = ma.fields.String()
    base = Number()
    party_building = Number()
    party_building_parts = ma.fields.Dict(keys=ma.fields.String(), values=Number(), allow_none=True)
    bonus = Number()
    bonus_items = ma.fields.List(ma.fields.Nested(AssessmentItemOut))
    deductions = Number()
    deduction_items = ma.fields.List(ma.fields.Nested(AssessmentItemOut))
    veto = ma.fields.Boolean()
    veto_items = ma.fields.List(ma.fields.Nested(AssessmentVetoOut))
    criticized = ma.fields.Boolean()
    criticized_reason = ma.fields.String()
    updated_at = LocalTime()


class AssessmentUnitList(Schema):
    items = ma.fields.List(ma.fields.Nested(AssessmentUnitOut))
    total = ma.fields.Integer()


class AssessmentContestOut(Schema):
    contest_id = ma.fields.Integer()
    title = ma.fields.String()
    place = ma.fields.Integer()
    bonus = Number()
    award_ineligible = ma.fields.Boolean()


class AssessmentResultOut(Schema):
    org_id = ma.fields.Integer()
    name = ma.fields.String()
    unit_class = ma.fields.String()
    class_size = ma.fields.Integer(metadata={"description": "N, the number of units in the class"})
    base = Number()
    party_building = Number()
    party_building_parts = ma.fields.Dict(keys=ma.fields.String(), values=Number(), allow_none=True)
    party_building_rank = ma.fields.Integer()
    coefficient_step = Number()
    coefficient = Number(metadata={"description": "exact: 1 + ((N + 1) / 2 - rank) x step"})
    bonus = Number(metadata={"description": "entered bonus plus finalized contests' bonus"})
    bonus_items = ma.fields.List(ma.fields.Nested(AssessmentItemOut))
    contest_items = ma.fields.List(ma.fields.Nested(AssessmentContestOut))
    deductions = Number()
    deduction_items = ma.fields.List(ma.fields.Nested(AssessmentItemOut))
    final = Number(metadata={"description": "base x coefficient + bonus - deductions, rounded once (2 decimals)"})
    rank = ma.fields.Integer()
    grade = ma.fields.String()
    grade_label = ma.fields.String()
    qualified = ma.fields.Boolean()
    unqualified_reasons = ma.fields.List(ma.fields.String(), metadata={"description": "criticized, below_ratio"})
    award_eligible = ma.fields.Boolean()
    veto = ma.fields.Boolean()
    veto_items = ma.fields.List(ma.fields.Nested(AssessmentVetoOut))
    criticized = ma.fields.Boolean()
    criticized_reason = ma.fields.String()
    talk = ma.fields.Boolean(metadata={"description": "graded C or D: the unit's head is called in (约谈)"})
    excellent_share = Number()
    member_count = ma.fields.Integer(allow_none=True)
    excellent_allowed = ma.fields.Integer(allow_none=True)
    explanation = ma.fields.String()


class AssessmentResultList(Schema):
    items = ma.fields.List(ma.fields.Nested(AssessmentResultOut))
    total = ma.fields.Integer()
    status = ma.fields.String()


UnitPageArgs = page_args(default_limit=500, max_limit=1000)


class AssessmentResultArgs(UnitPageArgs):
    unit_class = ma.fields.String(load_default=None)


class AssessmentMemberOut(Schema):
    member_id = ma.fields.Integer()
    name = ma.fields.String()
    org_name = ma.fields.String()
    index = Number(allow_none=True, metadata={"description": "the member's Vanguard Index of the year"})
    coefficient = Number()
    performance = Number(allow_none=True, metadata={"description": "index x coefficient, 2 decimals"})


class AssessmentMemberList(Schema):
    items = ma.fields.List(ma.fields.Nested(AssessmentMemberOut))
    total = ma.fields.Integer()
    index_available = ma.fields.Boolean()


def assessment_payload(a, unit_count: int | None = None) -> dict:
    return {
        "id": a.id, "year": a.year, "title": a.title, "coefficient_step": a.coefficient_step,
        "unqualified_ratio": a.unqualified_ratio,
        "grade_quotas": a.quotas,
        "departments": a.departments,
        "unit_classes": a.unit_classes,
        "excellent_shares": {**services.DEFAULT_EXCELLENT_SHARES, **(a.excellent_shares or {})},
        "status": a.status, "unit_count": len(a.units) if unit_count is None else unit_count,
        "created_at": a.created_at, "published_at": a.published_at,
    }


def unit_payload(u) -> dict:
    return {
        "org_id": u.org_id, "name": u.org.name, "unit_class": u.unit_class, "base": u.base,
        "party_building": u.party_building, "party_building_parts": u.party_building_parts,
        "bonus": u.bonus, "bonus_items": u.bonus_items, "deductions": u.deductions,
        "deduction_items": u.deduction_items, "veto": u.veto, "veto_items": u.veto_items,
        "criticized": u.criticized, "criticized_reason": u.criticized_reason, "updated_at": u.updated_at,
    }


def result_payload(r) -> dict:
    return {
        "org_id": r.org_id, "name": r.name, "unit_class": r.unit_class, "class_size": r.class_size,
        "base": r.base, "party_building": r.party_building, "party_building_parts": r.party_building_parts,
        "party_building_rank": r.party_building_rank, "coefficient_step": r.step, "coefficient": r.coefficient,
        "bonus": r.bonus, "bonus_items": [vars(i) for i in r.bonus_items],
        "contest_items": [{"contest_id": c.contest_id, "title": c.title, "place": c.place, "bonus": c.bonus,
                           "award_ineligible": c.excluded} for c in r.contest_items],
        "deductions": r.deductions, "deduction_items": [vars(i) for i in r.deduction_items],
        "final": r.final, "rank": r.rank, "grade": r.grade, "grade_label": GRADE_LABELS[r.grade],
        "qualified": r.qualified, "unqualified_reasons": r.unqualified_reasons,
        "award_eligible": r.award_eligible, "veto": r.veto,
        "veto_items": [{"item": v.item, "reason": v.reason} for v in r.veto_items],
        "criticized": r.criticized, "criticized_reason": r.criticized_reason, "talk": r.talk,
        "excellent_share": r.excellent_share, "member_count": r.member_count,
        "excellent_allowed": r.excellent_allowed, "explanation": r.explanation,
    }


@blp.route("/assessments", methods=["POST"])
@token_required("admin")
@blp.arguments(AssessmentIn)
@blp.response(201, AssessmentOut)
def create_assessment(data):
    """Create a draft assessment (admin)."""
    a = services.create_assessment(current_api_user(), **data)
    return assessment_payload(a, 0)


@blp.route("/assessments", methods=["GET"])
@token_required("admin")
@blp.arguments(page_args(), location="query")
@blp.response(200, AssessmentList)
def list_assessments(args):
    """Assessments, newest year first (admin)."""
    rows, total = services.list_assessments(current_api_user(), limit=args["limit"], offset=args["offset"])
    return {"items": [assessment_payload(a, n) for a, n in rows], "total": total}


@blp.route("/assessments/<int:assessment_id>", methods=["GET"])
@token_required("admin")
@blp.response(200, AssessmentOut)
def get_assessment(assessment_id):
    """One assessment's settings (admin)."""
    return assessment_payload(services.get_assessment(current_api_user(), assessment_id))


@blp.route("/assessments/<int:assessment_id>", methods=["PATCH"])
@token_required("admin")
@blp.arguments(AssessmentPatch(partial=True))
@blp.response(200, AssessmentOut)
def update_assessment(data, assessment_id):
    """Change settings of a draft assessment; 409 once published."""
    return assessment_payload(services.update_assessment(current_api_user(), assessment_id, **data))


@blp.route("/assessments/<int:assessment_id>/publish", methods=["POST"])
@error_responses(blp, 401, 403, 404, 409)
@token_required("admin")
@blp.response(200, AssessmentOut)
def publish(assessment_id):
    """Publish (通报): the results are frozen and unit scores locked; 409 if already published."""
    return assessment_payload(services.publish(current_api_user(), assessment_id))


@blp.route("/assessments/<int:assessment_id>/reopen", methods=["POST"])
@token_required("admin")
@blp.response(200, AssessmentOut)
def reopen(assessment_id):
    """Withdraw publication so scores can be corrected."""
    return assessment_payload(services.reopen(current_api_user(), assessment_id))


@blp.route("/assessments/<int:assessment_id>/units", methods=["GET"])
@token_required("admin")
@blp.arguments(UnitPageArgs, location="query")
@blp.response(200, AssessmentUnitList)
def list_units(args, assessment_id):
    """The entered units with their scores and items (``?limit=&offset=``)."""
    units = services.list_units(current_api_user(), assessment_id)
    return {"items": [unit_payload(u) for u in _page(units, args)], "total": len(units)}


def _page(rows: list, args) -> list:
    return rows[args["offset"]:args["offset"] + args["limit"]]


@blp.route("/assessments/<int:assessment_id>/units/<int:org_id>", methods=["PUT"])
@token_required("admin")
@blp.arguments(AssessmentUnitIn)
@blp.response(200, AssessmentUnitOut)
def put_unit(data, assessment_id, org_id):
    """Enter or replace one unit's scores; 404 for an unknown org, 422 on bad input (nothing changes)."""
    return unit_payload(services.save_unit(current_api_user(), assessment_id, org_id, data))


@blp.route("/assessments/<int:assessment_id>/units/<int:org_id>", methods=["GET"])
@token_required("admin")
@blp.response(200, AssessmentUnitOut)
def get_unit(assessment_id, org_id):
    """One unit's entered scores."""
    return unit_payload(services.get_unit(current_api_user(), assessment_id, org_id))


@blp.route("/assessments/<int:assessment_id>/units/<int:org_id>", methods=["DELETE"])
@token_required("admin")
@blp.response(204)
def delete_unit(assessment_id, org_id):
    """Take a unit out of a draft assessment."""
    services.delete_unit(current_api_user(), assessment_id, org_id)
    return None


@blp.route("/assessments/<int:assessment_id>/results", methods=["GET"])
@token_required("admin")
@blp.arguments(AssessmentResultArgs, location="query")
@blp.response(200, AssessmentResultList)
def results(args, assessment_id):
    """Every unit's coefficient, final score, rank, grade and a Chinese explanation."""
    a, rows = services.results(current_api_user(), assessment_id)
    if args["unit_class"]:
        rows = [r for r in rows if r.unit_class == args["unit_class"]]
    return {"items": [result_payload(r) for r in _page(rows, args)], "total": len(rows), "status": a.status}


@blp.route("/assessments/<int:assessment_id>/units/<int:org_id>/members", methods=["GET"])
@token_required("admin")
@blp.arguments(page_args(default_limit=500, max_limit=5000), location="query")
@blp.response(200, AssessmentMemberList)
def direct_link(args, assessment_id, org_id):
    """The direct link: each member's index x the unit's coefficient (``?limit=&offset=``)."""
    _a, result, rows, available = services.direct_link(current_api_user(), assessment_id, org_id)
    return {
        "items": [{"member_id": p.member_id, "name": p.name, "org_name": p.org_name, "index": p.index,
                   "coefficient": p.coefficient, "performance": p.performance} for p in _page(rows, args)],
        "total": len(rows), "index_available": available,
    }
