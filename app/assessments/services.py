"""Annual assessments: settings, unit scores, results and their uses, free of HTTP.

The calculation itself is the pure function ``compute`` (app/assessments/calc.py, re-exported
here); this module validates input, loads what the calculation needs in a few queries (units,
the finalized contests of the year, member counts) and stores what the admin enters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, joinedload

from app.assessments.calc import (  # noqa: F401 - the pure calculation, re-exported
    GRADE_LABELS,
    GRADES,
    ContestItem,
    Item,
    Rules,
    UnitInput,
    UnitResult,
    VetoItem,
    coefficient,
    competition_ranks,
    compute,
    from_snapshot,
    quota_counts,
    round_final,
    step_problems,
    to_snapshot,
)
from app.assessments.models import Assessment, AssessmentUnit
from app.auth.models import User
from app.auth.scope import require_role
from app.contests.models import Contest, ContestOutcome
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.ids import get_by_id
from app.text import visible_text
from app.orgs.models import Org, utcnow
from app.orm import planned_for_parameters

DEFAULT_DEPARTMENTS = ("纪委", "组织部", "宣传部", "统战部")
DEFAULT_QUOTAS = {"A": "0.2", "B": "0.3"}
DEFAULT_EXCELLENT_SHARES = {"A": "0.3", "B": "0.2", "C": "0.15", "D": "0"}
DEFAULT_RATIO = "0.6"
MAX_DEPARTMENT_SCORE = Decimal(100)
MAX_BONUS = Decimal(100)
MAX_ITEMS = 30
REASON_MAX = 200
SCORE_PLACES = 2


# ---------------------------------------------------------------- validation helpers

class FieldErrors(dict):
    """field -> list of Chinese messages."""

    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)

    def raise_if_any(self, message: str = "提交的内容有误。") -> None:
        if self:
            raise Invalid(message, fields=dict(self))


def to_decimal(value) -> Decimal | None:
    """A JSON number (int, float) or a Decimal as an exact Decimal; None for anything else.

    Strings and booleans are not numbers here: the API takes numbers, the pages parse text first.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    return None


def parse_decimal_text(text: str) -> Decimal | None:
    """A number typed on a page ('90', '88.5', '0.5', '１２'); None when it is not one."""
    text = (text or "").strip().translate(FULLWIDTH).replace(",", "")
    if not text:
        return None
    try:
        d = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


FULLWIDTH = str.maketrans("０１２３４５６７８９．－＋", "0123456789.-+")


def _places(d: Decimal) -> int:
    exponent = d.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def check_number(errors: FieldErrors, field: str, value, label: str, *, lo: Decimal, hi: Decimal,
                 places: int = SCORE_PLACES, lo_open: bool = False) -> Decimal | None:
    """``value`` as a Decimal within [lo, hi] (or (lo, hi]) with at most ``places`` decimals."""
    d = to_decimal(value)
    if d is None:
        errors.add(field, f"{label}须为数字。")
        return None
    if d < lo or d > hi or (lo_open and d == lo):
        low = f"大于{_fmt(lo)}" if lo_open else f"不小于{_fmt(lo)}"
        errors.add(field, f"{label}须{low}且不大于{_fmt(hi)}。")
        return None
    if _places(d) > places:
        errors.add(field, f"{label}最多保留{places}位小数。")
        return None
    return d


def _fmt(d: Decimal) -> str:
    return format(Decimal(d).normalize(), "f") if d else "0"


def _text(value, errors: FieldErrors, field: str, label: str, *, max_len: int, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(field, f"{label}须为文字。")
        return ""
    value = visible_text(value)
    if required and not value:
        errors.add(field, f"请填写{label}。")
    elif len(value) > max_len:
        errors.add(field, f"{label}不超过{max_len}个字。")
    return value


# ---------------------------------------------------------------- assessment settings

def _clean_settings(data: dict, errors: FieldErrors) -> dict:
    """Validated settings from ``data`` (only the keys present); Decimals stored as strings."""
    out: dict = {}
    if "year" in data:
        year = data["year"]
        if isinstance(year, bool) or not isinstance(year, int):
            errors.add("year", "年度须为整数。")
        elif not 2000 <= year <= 2100:
            errors.add("year", "年度须在2000至2100之间。")
        else:
            out["year"] = year
    if "title" in data:
        title = _text(data["title"], errors, "title", "考核名称", max_len=100, required=True)
        if title:
            out["title"] = title
    if "coefficient_step" in data:
        step = check_number(errors, "coefficient_step", data["coefficient_step"], "系数步长",
                            lo=Decimal(0), hi=Decimal("0.1"), places=5, lo_open=True)
        if step is not None:
            out["coefficient_step"] = step
    if "unqualified_ratio" in data:
        ratio = check_number(errors, "unqualified_ratio", data["unqualified_ratio"], "不合格线比例",
                             lo=Decimal(0), hi=Decimal(1), places=4, lo_open=True)
        if ratio is not None:
            out["unqualified_ratio"] = ratio
    if "grade_quotas" in data:
        out["grade_quotas"] = _clean_quotas(data["grade_quotas"], errors)
    if "departments" in data:
        out["departments"] = _clean_departments(data["departments"], errors)
    if "unit_classes" in data:
        out["unit_classes"] = _clean_classes(data["unit_classes"], errors)
    if "excellent_shares" in data:
        out["excellent_shares"] = _clean_shares(data["excellent_shares"], errors)
    return out


def _clean_quotas(value, errors: FieldErrors) -> dict:
    if not isinstance(value, dict):
        errors.add("grade_quotas", "等次名额须为对象，如 {\"A\": 0.2, \"B\": 0.3}。")
        return {}
    out = {}
    for key, share in value.items():
        if key == "D":
            errors.add("grade_quotas", "D（不合格）由合格线和通报批评决定，不设名额。")
            continue
        if key == "C":
            continue  # 合格 is every other qualified unit: a C share limits nothing, and is not kept
        if key not in ("A", "B"):
            errors.add("grade_quotas", f"未知等次“{key}”：只能为 A、B。")
            continue
        d = check_number(errors, "grade_quotas", share, f"等次 {key} 的名额比例", lo=Decimal(0), hi=Decimal(1),
                         places=4)
        if d is not None:
            out[key] = str(d)
    if sum((Decimal(v) for v in out.values()), Decimal(0)) > 1:
        errors.add("grade_quotas", "各等次名额比例之和不能超过 1（100%）。")
    return {k: out[k] for k in ("A", "B") if k in out}


def _clean_shares(value, errors: FieldErrors) -> dict:
    if not isinstance(value, dict):
        errors.add("excellent_shares", "优秀比例须为对象，如 {\"A\": 0.3, \"B\": 0.2, \"C\": 0.15, \"D\": 0}。")
        return dict(DEFAULT_EXCELLENT_SHARES)
    out = dict(DEFAULT_EXCELLENT_SHARES)
    for key, share in value.items():
        if key not in GRADES:
            errors.add("excellent_shares", f"未知等次“{key}”：只能为 A、B、C、D。")
            continue
        d = check_number(errors, "excellent_shares", share, f"等次 {key} 的优秀比例", lo=Decimal(0),
                         hi=Decimal(1), places=4)
        if d is not None:
            out[key] = str(d)
    return out


def _clean_departments(value, errors: FieldErrors) -> list[str]:
    if not isinstance(value, list) or not value:
        errors.add("departments", "评价部门须为非空的名称列表，如 [\"纪委\", \"组织部\"]。")
        return list(DEFAULT_DEPARTMENTS)
    out: list[str] = []
    for name in value:
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 20:
            errors.add("departments", "评价部门名称须为1至20个字。")
            continue
        if name.strip() in out:
            errors.add("departments", f"评价部门“{name.strip()}”重复。")
            continue
        out.append(name.strip())
    if len(out) > 10:
        errors.add("departments", "评价部门最多10个。")
    return out


def _clean_classes(value, errors: FieldErrors) -> list[dict]:
    """Class names, each with its own coefficient step or None (the assessment's step)."""
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add("unit_classes", "单位类别须为列表，如 [\"街道\", {\"name\": \"机关\", \"coefficient_step\": 0.002}]。")
        return []
    out: list[dict] = []
    for entry in value:
        step = None
        if isinstance(entry, dict):
            name = entry.get("name")
            if entry.get("coefficient_step") is not None:
                step = check_number(errors, "unit_classes", entry["coefficient_step"], "类别系数步长",
                                    lo=Decimal(0), hi=Decimal("0.1"), places=5, lo_open=True)
        else:
            name = entry
        name = visible_text(name)
        if not name or len(name) > 50:
            errors.add("unit_classes", "类别名称须为1至50个字。")
            continue
        if any(c["name"] == name for c in out):
            errors.add("unit_classes", f"类别“{name}”重复。")
            continue
        out.append({"name": name, "coefficient_step": str(step) if step is not None else None})
    if len(out) > 20:
        errors.add("unit_classes", "单位类别最多20个。")
    return out


def _require_admin(actor) -> None:
    require_role(actor, "admin")


def get_assessment(actor, assessment_id: int) -> Assessment:
    _require_admin(actor)
    a = get_by_id(Assessment, assessment_id)
    if a is None:
        raise NotFound("找不到该考核。", code="assessment_not_found")
    return a


def _require_draft(a: Assessment) -> None:
    if a.is_published:
        raise Conflict("该考核结果已发布，不能再修改；如需更正，请先撤回发布。", code="assessment_published")


def create_assessment(actor, *, year, title, coefficient_step, unqualified_ratio=None, grade_quotas=None,
                      departments=None, unit_classes=None, excellent_shares=None) -> Assessment:
    """A new draft assessment; defaults: ratio 0.6, quotas A 20% B 30%, the four departments."""
    _require_admin(actor)
    errors = FieldErrors()
    data = {"year": year, "title": title, "coefficient_step": coefficient_step,
            "unqualified_ratio": Decimal(DEFAULT_RATIO) if unqualified_ratio is None else unqualified_ratio,
            "grade_quotas": {k: Decimal(v) for k, v in DEFAULT_QUOTAS.items()} if grade_quotas is None
            else grade_quotas,
            "departments": list(DEFAULT_DEPARTMENTS) if departments is None else departments,
            "unit_classes": unit_classes or [],
            "excellent_shares": excellent_shares or {}}
    clean = _clean_settings(data, errors)
    errors.raise_if_any()
    _check_unique_title(clean["year"], clean["title"])
    a = Assessment(**clean, created_by_id=getattr(actor, "id", None), status="draft")
    db.session.add(a)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("同一年度已有同名考核。", code="assessment_exists")
    return a


def _check_unique_title(year: int, title: str, exclude_id: int | None = None) -> None:
    stmt = sa.select(Assessment.id).where(Assessment.year == year, Assessment.title == title)
    if exclude_id is not None:
        stmt = stmt.where(Assessment.id != exclude_id)
    if db.session.scalar(stmt) is not None:
        raise Conflict("同一年度已有同名考核。", code="assessment_exists")


def update_assessment(actor, assessment_id: int, **changes) -> Assessment:
    """Change the settings of a draft assessment (only the keys given)."""
    a = get_assessment(actor, assessment_id)
    _require_draft(a)
    errors = FieldErrors()
    clean = _clean_settings(changes, errors)
    units = list(a.units)
    if "departments" in clean and not errors:
        stale = sorted({k for u in units for k in (u.party_building_parts or {}) if k not in clean["departments"]})
        if stale:
            errors.add("departments", "已有单位录入了这些部门的得分，不能删除：" + "、".join(stale) + "。")
    if clean.get("unit_classes") and not errors:
        names = {c["name"] for c in clean["unit_classes"]}
        stale = sorted({u.unit_class for u in units if u.unit_class not in names})
        if stale:
            errors.add("unit_classes", "已有单位属于这些类别，不能删除：" + "、".join(stale) + "。")
    errors.raise_if_any()
    if "year" in clean or "title" in clean:
        _check_unique_title(clean.get("year", a.year), clean.get("title", a.title), exclude_id=a.id)
    for key, value in clean.items():
        setattr(a, key, value)
    a.updated_at = utcnow()
    db.session.commit()
    return a


def list_assessments(actor, *, limit: int = 50, offset: int = 0) -> tuple[list[tuple[Assessment, int]], int]:
    """Assessments, newest year first, each with its number of entered units."""
    _require_admin(actor)
    counts = (sa.select(AssessmentUnit.assessment_id, sa.func.count(AssessmentUnit.id).label("n"))
              .group_by(AssessmentUnit.assessment_id).subquery())
    total = db.session.scalar(sa.select(sa.func.count(Assessment.id)))
    rows = db.session.execute(
        sa.select(Assessment, sa.func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.assessment_id == Assessment.id)
        .order_by(Assessment.year.desc(), Assessment.id.desc()).limit(limit).offset(offset)
    ).all()
    return [(a, int(n)) for a, n in rows], total or 0


def publish(actor, assessment_id: int) -> Assessment:
    """Freeze the results (通报): unit scores are locked and later contests no longer change them."""
    a = get_assessment(actor, assessment_id)
    _require_draft(a)
    results = compute_results(a)
    if not results:
        raise Conflict("还没有录入任何单位，不能发布。", code="assessment_empty")
    if problems := step_problems(results):
        raise Conflict("系数步长过大，不能发布：" + "".join(problems), code="coefficient_not_positive")
    a.results_snapshot = [to_snapshot(r) for r in results]
    a.status = "published"
    a.published_at = utcnow()
    a.published_by_id = getattr(actor, "id", None)
    db.session.commit()
    return a


def reopen(actor, assessment_id: int) -> Assessment:
    """Withdraw publication so that scores can be corrected; results are live again."""
    a = get_assessment(actor, assessment_id)
    if not a.is_published:
        raise Conflict("该考核尚未发布。", code="assessment_not_published")
    a.status = "draft"
    a.results_snapshot = None
    a.published_at = None
    a.published_by_id = None
    a.updated_at = utcnow()
    db.session.commit()
    return a


# ---------------------------------------------------------------- unit scores

@dataclass
class UnitData:
    """A unit's validated scores, ready to store."""

    unit_class: str
    base: Decimal
    party_building: Decimal
    party_building_parts: dict[str, str] | None
    bonus: Decimal
    bonus_items: list[dict]
    deductions: Decimal
    deduction_items: list[dict]
    veto: bool
    veto_items: list[dict]
    criticized: bool
    criticized_reason: str


def _clean_items(value, errors: FieldErrors, field: str, label: str) -> tuple[Decimal | None, list[dict]]:
    """A number, or a list of {"points", "reason"} summed; None (missing) is 0."""
    if value is None:
        return Decimal(0), []
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            errors.add(field, f"{label}最多{MAX_ITEMS}项。")
            return None, []
        items, total, ok = [], Decimal(0), True
        for i, entry in enumerate(value, start=1):
            if not isinstance(entry, dict):
                errors.add(field, f"第{i}项{label}须为 {{\"points\": 分值, \"reason\": \"事由\"}}。")
                ok = False
                continue
            sub = FieldErrors()
            points = check_number(sub, field, entry.get("points"), f"第{i}项{label}分值", lo=Decimal(0),
                                  hi=MAX_BONUS, lo_open=True)
            reason = _text(entry.get("reason"), sub, field, f"第{i}项{label}事由", max_len=REASON_MAX,
                           required=True)
            for message in sub.get(field, []):
                errors.add(field, message)
            if sub:
                ok = False
                continue
            items.append({"points": str(points), "reason": reason})
            total += points
        if ok and total > MAX_BONUS:
            errors.add(field, f"{label}合计不能超过{_fmt(MAX_BONUS)}分。")
            ok = False
        return (total if ok else None), items
    total = check_number(errors, field, value, label, lo=Decimal(0), hi=MAX_BONUS)
    return total, []


def _clean_party_building(value, departments: list[str], errors: FieldErrors):
    """A sum, or {department: score} summed over exactly the assessment's departments."""
    if isinstance(value, dict):
        parts: dict[str, str] = {}
        unknown = [k for k in value if k not in departments]
        if unknown:
            errors.add("party_building", "未知的评价部门：" + "、".join(map(str, unknown)) + "；本考核的评价部门为："
                       + "、".join(departments) + "。")
        missing = [d for d in departments if d not in value]
        if missing:
            errors.add("party_building", "缺少评价部门的得分：" + "、".join(missing) + "。")
        total, ok = Decimal(0), not unknown and not missing
        for dept in departments:
            if dept not in value:
                continue
            d = check_number(errors, "party_building", value[dept], f"{dept}评分", lo=Decimal(0),
                             hi=MAX_DEPARTMENT_SCORE)
            if d is None:
                ok = False
                continue
            parts[dept] = str(d)
            total += d
        return (total, parts) if ok else (None, None)
    hi = MAX_DEPARTMENT_SCORE * max(1, len(departments))
    d = check_number(errors, "party_building", value, "党建得分", lo=Decimal(0), hi=hi)
    return d, None


def _clean_veto(value, reason, errors: FieldErrors) -> tuple[bool, list[dict]]:
    """``true``/``false``, or a list of veto items (a reason, or {"item", "reason"})."""
    if value is None:
        value = False
    if isinstance(value, bool):
        # every veto is recorded with why (DOMAIN: who and why): no reason, no veto
        extra = _text(reason, errors, "veto_reason", "一票否决事由", max_len=REASON_MAX, required=value)
        if extra and not value:
            errors.add("veto_reason", "未勾选一票否决，不应填写一票否决事由。")
        return value, ([{"item": "", "reason": extra}] if value and extra else [])
    if not isinstance(value, list):
        errors.add("veto", "一票否决须为 true/false，或否决事项列表。")
        return False, []
    if len(value) > MAX_ITEMS:
        errors.add("veto", f"一票否决事项最多{MAX_ITEMS}项。")
        return False, []
    items = []
    for i, entry in enumerate(value, start=1):
        if isinstance(entry, str):
            entry = {"reason": entry}
        if not isinstance(entry, dict):
            errors.add("veto", f"第{i}项一票否决须为事由文字，或 {{\"item\": \"事项\", \"reason\": \"事由\"}}。")
            continue
        item = _text(entry.get("item"), errors, "veto", f"第{i}项一票否决事项", max_len=50, required=False)
        why = _text(entry.get("reason"), errors, "veto", f"第{i}项一票否决事由", max_len=REASON_MAX,
                    required=not item)
        if item or why:
            items.append({"item": item, "reason": why})
    return bool(items), items


def validate_unit(assessment: Assessment, data: dict) -> tuple[UnitData | None, FieldErrors]:
    """Check one unit's scores (the API's body, or a page / import row in the same shape)."""
    errors = FieldErrors()
    for key in ("base", "party_building", "unit_class"):
        if data.get(key) is None:
            errors.add(key, {"base": "请填写基础分。", "party_building": "请填写党建得分。",
                             "unit_class": "请填写单位类别。"}[key])
    base = check_number(errors, "base", data["base"], "基础分", lo=Decimal(0), hi=Decimal(100)) \
        if data.get("base") is not None else None
    pb, parts = (_clean_party_building(data["party_building"], assessment.departments or [], errors)
                 if data.get("party_building") is not None else (None, None))
    unit_class = ""
    if data.get("unit_class") is not None:
        unit_class = _text(data["unit_class"], errors, "unit_class", "单位类别", max_len=50, required=True)
        names = assessment.class_names
        if unit_class and names and unit_class not in names:
            errors.add("unit_class", f"类别“{unit_class}”不在本考核的类别中（" + "、".join(names) + "）。")
    bonus, bonus_items = _clean_items(data.get("bonus"), errors, "bonus", "加分")
    deductions, deduction_items = _clean_items(data.get("deductions"), errors, "deductions", "扣分")
    veto, veto_items = _clean_veto(data.get("veto"), data.get("veto_reason"), errors)
    criticized = data.get("criticized")
    if criticized is None:
        criticized = False
    if not isinstance(criticized, bool):
        errors.add("criticized", "通报批评须为 true 或 false。")
    reason = _text(data.get("criticized_reason"), errors, "criticized_reason", "通报批评事由",
                   max_len=REASON_MAX, required=criticized is True)
    if errors:
        return None, errors
    return UnitData(unit_class=unit_class, base=base, party_building=pb, party_building_parts=parts,
                    bonus=bonus, bonus_items=bonus_items, deductions=deductions, deduction_items=deduction_items,
                    veto=veto, veto_items=veto_items, criticized=criticized,
                    criticized_reason=reason if criticized else ""), errors


def _store(a: Assessment, org: Org, data: UnitData, actor) -> AssessmentUnit:
    unit = db.session.scalar(sa.select(AssessmentUnit).where(
        AssessmentUnit.assessment_id == a.id, AssessmentUnit.org_id == org.id))
    if unit is None:
        unit = AssessmentUnit(assessment_id=a.id, org_id=org.id)
        db.session.add(unit)
    for key, value in vars(data).items():
        setattr(unit, key, value)
    unit.updated_by_id = getattr(actor, "id", None)
    unit.updated_at = utcnow()
    return unit


def save_unit(actor, assessment_id: int, org_id, data: dict) -> AssessmentUnit:
    """Enter or replace one unit's scores. 404 for an unknown org, 422 on bad input (nothing changes)."""
    a = get_assessment(actor, assessment_id)
    _require_draft(a)
    org = get_by_id(Org, org_id)
    if org is None:
        raise NotFound("找不到该单位（组织）。", code="org_not_found")
    clean, errors = validate_unit(a, data)
    errors.raise_if_any()
    unit = _store(a, org, clean, actor)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("该单位刚被他人录入，请刷新后重试。", code="unit_conflict")
    return unit


def save_units(actor, assessment: Assessment, rows: list[tuple[Org, UnitData]]) -> list[AssessmentUnit]:
    """Store many validated units in one transaction (the import)."""
    _require_admin(actor)
    _require_draft(assessment)
    units = [_store(assessment, org, data, actor) for org, data in rows]
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("导入时数据被他人修改，未导入任何单位，请重新导入。", code="unit_conflict")
    return units


def get_unit(actor, assessment_id: int, org_id: int) -> AssessmentUnit:
    a = get_assessment(actor, assessment_id)
    unit = db.session.scalar(sa.select(AssessmentUnit).where(
        AssessmentUnit.assessment_id == a.id, AssessmentUnit.org_id == org_id))
    if unit is None:
        raise NotFound("该单位还没有录入本考核的得分。", code="unit_not_found")
    return unit


def list_units(actor, assessment_id: int) -> list[AssessmentUnit]:
    a = get_assessment(actor, assessment_id)
    return list(db.session.scalars(
        sa.select(AssessmentUnit).options(joinedload(AssessmentUnit.org))
        .where(AssessmentUnit.assessment_id == a.id)
        .order_by(AssessmentUnit.unit_class, AssessmentUnit.id)))


def delete_unit(actor, assessment_id: int, org_id: int) -> None:
    """Take a unit out of a draft assessment."""
    unit = get_unit(actor, assessment_id, org_id)
    _require_draft(unit.assessment)
    db.session.delete(unit)
    db.session.commit()


def assessable_orgs(actor) -> list[Org]:
    """Every org that may be assessed, as a tree."""
    _require_admin(actor)
    return list(db.session.scalars(sa.select(Org).order_by(Org.path)))


# ---------------------------------------------------------------- results

def rules_of(a: Assessment) -> Rules:
    return Rules(
        step=Decimal(a.coefficient_step),
        unqualified_ratio=Decimal(a.unqualified_ratio),
        grade_quotas={k: Decimal(v) for k, v in (a.grade_quotas or {}).items()},
        excellent_shares={k: Decimal(v) for k, v in {**DEFAULT_EXCELLENT_SHARES, **(a.excellent_shares or {})}.items()},
        class_steps={c["name"]: Decimal(c["coefficient_step"]) for c in a.unit_classes or []
                     if c.get("coefficient_step") is not None},
        class_order=tuple(a.class_names),
    )


def contest_items(year: int, org_ids: list[int]) -> dict[int, list[ContestItem]]:
    """What finalized contests of ``year`` gave each org (running contests are ignored)."""
    if not org_ids:
        return {}
    rows = db.session.execute(
        sa.select(ContestOutcome.org_id, Contest.id, Contest.title, ContestOutcome.place,
                  ContestOutcome.bonus, ContestOutcome.award_ineligible)
        .join(Contest, Contest.id == ContestOutcome.contest_id)
        .where(Contest.status == "final", ContestOutcome.year == year, ContestOutcome.org_id.in_(org_ids))
        .order_by(Contest.ends_on, Contest.id)
    ).all()
    out: dict[int, list[ContestItem]] = {}
    for org_id, cid, title, place, bonus, excluded in rows:
        if not bonus and not excluded:
            continue
        out.setdefault(org_id, []).append(ContestItem(cid, title, place, Decimal(bonus or 0), bool(excluded)))
    return out


def member_counts(org_ids: list[int]) -> dict[int, int]:
    """Active members and secretaries in each org's subtree (the people :func:`unit_members`
    lists; admin accounts are not staff of the unit), in one query."""
    if not org_ids:
        return {}
    unit_org, below = aliased(Org), aliased(Org)
    rows = db.session.execute(
        sa.select(unit_org.id, sa.func.count(User.id))
        .select_from(unit_org)
        .outerjoin(below, below.path.startswith(unit_org.path))
        .outerjoin(User, sa.and_(User.org_id == below.id, User.active.is_(True),
                                 User.role.in_(("member", "secretary"))))
        .where(unit_org.id.in_(org_ids))
        .group_by(unit_org.id)
    ).all()
    return {org_id: int(n) for org_id, n in rows}


def unit_input(u: AssessmentUnit, contests: list[ContestItem], members: int | None) -> UnitInput:
    return UnitInput(
        org_id=u.org_id, name=u.org.name, unit_class=u.unit_class, base=Decimal(u.base),
        party_building=Decimal(u.party_building),
        party_building_parts={k: Decimal(v) for k, v in u.party_building_parts.items()}
        if u.party_building_parts else None,
        bonus=Decimal(u.bonus), bonus_items=tuple(Item(Decimal(i["points"]), i["reason"]) for i in u.bonus_items or []),
        deductions=Decimal(u.deductions),
        deduction_items=tuple(Item(Decimal(i["points"]), i["reason"]) for i in u.deduction_items or []),
        veto=u.veto, veto_items=tuple(VetoItem(i.get("reason", ""), i.get("item", "")) for i in u.veto_items or []),
        criticized=u.criticized, criticized_reason=u.criticized_reason or "",
        contests=tuple(contests), member_count=members,
    )


def compute_results(a: Assessment) -> list[UnitResult]:
    """Live results of ``a`` from its units, the year's finalized contests and member counts."""
    units = list(db.session.scalars(
        sa.select(AssessmentUnit).options(joinedload(AssessmentUnit.org))
        .where(AssessmentUnit.assessment_id == a.id).order_by(AssessmentUnit.id)))
    org_ids = [u.org_id for u in units]
    contests = contest_items(a.year, org_ids)
    counts = member_counts(org_ids)
    return compute([unit_input(u, contests.get(u.org_id, []), counts.get(u.org_id)) for u in units], rules_of(a))


def results(actor, assessment_id: int) -> tuple[Assessment, list[UnitResult]]:
    """The results: frozen once published, computed live while a draft."""
    a = get_assessment(actor, assessment_id)
    if a.is_published and a.results_snapshot is not None:
        return a, [from_snapshot(d) for d in a.results_snapshot]
    return a, compute_results(a)


# ---------------------------------------------------------------- direct link

@dataclass
class MemberPerformance:
    member_id: int
    name: str
    org_name: str
    index: Decimal | None
    coefficient: Decimal
    performance: Decimal | None  # index x coefficient, rounded once to 2 decimals


def _index_module():
    """The Vanguard Index functions of the points feature, when present."""
    try:
        from app.points.index import Period, member_scores, tenths
    except ImportError:
        return None
    return Period, member_scores, tenths


def unit_members(a: Assessment, result: UnitResult) -> tuple[list[MemberPerformance], bool]:
    """Members of one unit's subtree with their index of the year x the unit's coefficient.

    One query. The second value says whether the member index was available at all.
    """
    org = db.session.get(Org, result.org_id)
    if org is None:
        return [], False
    index = _index_module()
    if index is None:
        users = db.session.execute(
            sa.select(User.id, User.name, Org.name).join(Org, User.org_id == Org.id)
            .where(Org.path.startswith(org.path, autoescape=True), User.active.is_(True),
                   User.role.in_(("member", "secretary")))
            .order_by(Org.path, User.name, User.id)).all()
        return [MemberPerformance(uid, name, org_name, None, result.coefficient, None)
                for uid, name, org_name in users], False
    period_cls, member_scores, tenths = index
    scored = member_scores(period_cls("year", a.year), within=org)
    with planned_for_parameters():
        rows = db.session.execute(
            sa.select(scored.c.member_id, scored.c.name, scored.c.org_name, scored.c.index10)
            .order_by(scored.c.index10.desc(), scored.c.name, scored.c.member_id)).all()
    out = []
    for member_id, name, org_name, index10 in rows:
        value = tenths(index10)
        out.append(MemberPerformance(member_id, name, org_name, value, result.coefficient,
                                     round_final(value * result.coefficient)))
    return out, True


def direct_link(actor, assessment_id: int, org_id: int):
    """(assessment, the unit's result, its members' performance, index available?)."""
    a, rows = results(actor, assessment_id)
    result = next((r for r in rows if r.org_id == org_id), None)
    if result is None:
        raise NotFound("该单位不在本考核中。", code="unit_not_found")
    members, available = unit_members(a, result)
    return a, result, members, available
