"""The ledger's write side: the rule catalogue, claims and reviews, awards, caps and reversals.

Plain functions taking plain values and an ``actor``; they raise app.errors domain errors. Every
ledger entry is written through ``ledger.append_entry`` inside ``ledger.run_atomic``, after
``ledger.lock_ledger`` so the cap check and the append cannot race another writer.

Decisions worth knowing:
- An unknown (or retired) rule code is 404 ``rule_not_found`` (with a ``rule_code`` field error).
- A rule with ``needs_approval`` False is granted on submit: the claim is stored as approved and
  its entry appended in the same transaction, through the caps; over a cap nothing is stored.
- Caps never grant part of an entry: over a cap the whole entry is refused (409 ``cap_reached``).
- A claim is granted with the points and caps of the rule version it was filed under.
- Nobody decides on their own account: not their own claim, not an award or a reversal on
  themselves. A secretary's claim (or award) is for the next level up: a secretary of the same
  org cannot decide it, an admin's only another admin.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from app.auth.models import User
from app.auth.scope import can_manage_org, can_view_org, is_fellow_secretary, org_scope_clause, require_role
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.orgs.models import Org
from app.points import evidence as evidence_store
from app.points.ledger import append_entry, lock_ledger, quantize, run_atomic
from app.points.models import CATEGORIES, CATEGORY_LABELS, Claim, LedgerEntry, Rule, category_problem
from app.ids import get_by_id
from app.text import visible_text
from app.timeutil import iso_local  # noqa: F401 - re-exported for the API
from app.timeutil import iso_day, local_tz as local_zone, utcnow as utc_now

DEFAULT_CLAIM_WINDOW_DAYS = 60
DEFAULT_AWARD_WINDOW_DAYS = 366
CLAIMABLE_CATEGORIES = ("study", "service", "innovation")
# 群众评议 points are the monthly conversion of residents' QR ratings: no rule grants them by hand
RATING_BY_QR_ONLY = "群众评议积分只来自群众扫码评议的月度折算，不能设为细则，也不能直接加分。"
CODE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{1,39}$")
MAX_POINTS = Decimal("1000")
MAX_CAP = Decimal("100000")
NOTE_MAX = 500
REASON_MAX = 500
CATEGORY_ORDER = {c: i for i, c in enumerate(CATEGORIES)}


# -- time -------------------------------------------------------------------------------------





def local_today() -> date:
    """Today in the deployment's time zone (Asia/Shanghai): the day caps and claim dates use."""
    return utc_now().astimezone(local_zone()).date()


def claim_window_days() -> int:
    return int(current_app.config.get("CLAIM_WINDOW_DAYS", DEFAULT_CLAIM_WINDOW_DAYS))


def award_window_days() -> int:
    return int(current_app.config.get("AWARD_WINDOW_DAYS", DEFAULT_AWARD_WINDOW_DAYS))


def _parse_date(value, field: str, fields: dict) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            return iso_day(text)
        except ValueError:
            pass
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):  # the right shape, a day no calendar has (2026-02-30)
            fields[field] = [f"没有 {text} 这一天，请重新选择日期。"]
        else:
            fields[field] = ["日期格式应为 YYYY-MM-DD。"]
        return None
    fields[field] = ["请选择日期。"]
    return None


def _check_day(day: date, window: int, field: str, fields: dict, *, verb: str = "申报") -> None:
    today = local_today()
    if day > today:
        fields[field] = ["日期不能晚于今天。"]
    elif day < today - timedelta(days=window):
        fields[field] = [f"只能{verb}近 {window} 天内的事项。"]


# -- numbers ----------------------------------------------------------------------------------

def fmt_points(value) -> str:
    """5 -> '5', 2.5 -> '2.5'."""
    text = format(quantize(value), "f")
    return text[:-2] if text.endswith(".0") else text


def parse_points(value, field: str, fields: dict, *, limit: Decimal = MAX_POINTS) -> Decimal | None:
    """A number with at most one decimal (Decimal, int or numeric text); None when absent."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        fields[field] = ["须为数字。"]
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        fields[field] = ["须为数字。"]
        return None
    if not number.is_finite():
        fields[field] = ["须为数字。"]
        return None
    if number > limit:
        fields[field] = [f"不能超过 {fmt_points(limit)}。"]
        return None
    if number < -limit:
        fields[field] = [f"不能低于 -{fmt_points(limit)}。"]
        return None
    if number != number.quantize(Decimal("0.1")):
        fields[field] = ["最多保留一位小数。"]
        return None
    return quantize(number)


# -- the rule catalogue -----------------------------------------------------------------------

@dataclass
class RuleInput:
    code: str | None
    category: str
    title: str
    points: object
    daily_cap: object = None
    monthly_cap: object = None
    yearly_cap: object = None
    needs_approval: bool = True
    evidence_required: bool = False


RULE_VALUE_FIELDS = ("category", "title", "points", "daily_cap", "monthly_cap", "yearly_cap",
                     "needs_approval", "evidence_required")


def clean_rule(data: RuleInput, *, with_code: bool = True) -> dict:
    """Validated rule values, or Invalid with every field error at once."""
    fields: dict[str, list[str]] = {}
    values: dict = {}
    if with_code:
        code = (data.code or "").strip() if isinstance(data.code, str) else ""
        if not CODE_RE.match(code):
            fields["code"] = ["编码须为 2-40 位字母、数字、下划线或短横线，以字母开头。"]
        values["code"] = code
    category = data.category if isinstance(data.category, str) else ""
    if category not in CATEGORIES:
        fields["category"] = [category_problem()]
    elif category == "rating":
        fields["category"] = [RATING_BY_QR_ONLY]
    title = visible_text(data.title)
    if not title or len(title) > 100:
        fields["title"] = ["名称不能为空，且不超过100个字。"]
    points = parse_points(data.points, "points", fields)
    if points is None and "points" not in fields:
        fields["points"] = ["请填写分值。"]
    elif points is not None:
        if points == 0:
            fields["points"] = ["分值不能为 0。"]
        elif category == "penalty" and points > 0:
            fields["points"] = ["扣分项的分值须为负数。"]
        elif category in CATEGORIES and category != "penalty" and points < 0:
            fields["points"] = ["加分项的分值须为正数，扣分请用扣分类别。"]
    caps = {}
    for name in ("daily_cap", "monthly_cap", "yearly_cap"):
        cap = parse_points(getattr(data, name), name, fields, limit=MAX_CAP)
        if cap is not None and cap <= 0:
            fields[name] = ["上限须大于 0（不设上限请留空）。"]
        elif cap is not None and points is not None and cap < abs(points):
            fields[name] = ["上限不能小于单次分值。"]
        caps[name] = cap
    if "monthly_cap" not in fields and caps["daily_cap"] and caps["monthly_cap"] \
            and caps["daily_cap"] > caps["monthly_cap"]:
        fields["monthly_cap"] = ["每月上限不能小于每日上限。"]
    if "yearly_cap" not in fields and caps["yearly_cap"]:
        lower = caps["monthly_cap"] or caps["daily_cap"]
        if lower and lower > caps["yearly_cap"]:
            fields["yearly_cap"] = ["每年上限不能小于每月（每日）上限。"]
    for name in ("needs_approval", "evidence_required"):
        value = getattr(data, name)
        if not isinstance(value, bool):
            fields[name] = ["须为 true 或 false。"]
        values[name] = value
    if fields:
        raise Invalid("积分细则填写有误。", fields=fields)
    values.update(category=category, title=title, points=points, **caps)
    return values


def _category_order():
    return sa.case(CATEGORY_ORDER, value=Rule.category, else_=len(CATEGORIES))


def active_rules(category: str | None = None) -> list[Rule]:
    """The current catalogue, by category then code."""
    stmt = sa.select(Rule).where(Rule.active.is_(True))
    if category:
        stmt = stmt.where(Rule.category == category)
    return list(db.session.scalars(stmt.order_by(_category_order(), Rule.code)))


def catalogue(categories=CATEGORIES) -> list[tuple[str, str, list[Rule]]]:
    """The active catalogue grouped: [(category, label, [rules])], empty groups left out."""
    groups: dict[str, list[Rule]] = {}
    for rule in active_rules():
        if rule.category in categories:
            groups.setdefault(rule.category, []).append(rule)
    return [(c, CATEGORY_LABELS[c], groups[c]) for c in CATEGORIES if c in groups]


def find_active_rule(code) -> Rule:
    rule = None
    if isinstance(code, str) and code.strip():
        rule = db.session.scalar(sa.select(Rule).where(Rule.code == code.strip(), Rule.active.is_(True)))
    if rule is None:
        message = "找不到该积分细则。"
        raise NotFound(message, code="rule_not_found", fields={"rule_code": [message]})
    return rule


def rule_versions(code: str) -> list[Rule]:
    """Every version of a rule code, newest first (404 when the code is unknown)."""
    versions = list(db.session.scalars(
        sa.select(Rule).where(Rule.code == code).order_by(Rule.version.desc())))
    if not versions:
        raise NotFound("找不到该积分细则。", code="rule_not_found")
    return versions


def current_rule(code: str) -> Rule:
    """The active version of ``code``, else its latest (retired) version."""
    versions = rule_versions(code)
    return next((r for r in versions if r.active), versions[0])


def create_rule(actor, data: RuleInput) -> Rule:
    """Add a scoring item (admin). 409 ``rule_exists`` when the code is taken."""
    require_role(actor, "admin")
    values = clean_rule(data)
    conflict = Conflict(f"编码 {values['code']} 已存在，修改请编辑该细则。", code="rule_exists")
    if db.session.scalar(sa.select(Rule.id).where(Rule.code == values["code"]).limit(1)):
        raise conflict
    rule = Rule(version=1, active=True, created_by_id=actor.id, **values)
    db.session.add(rule)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise conflict from None
    return rule


def change_rule(actor, code: str, data: RuleInput) -> Rule:
    """Change a rule by adding a version; the old one is kept (inactive) with its entries.

    A change that alters nothing adds nothing and returns the current version. Changing a
    retired rule brings it back as a new active version.
    """
    require_role(actor, "admin")
    versions = rule_versions(code)
    values = clean_rule(data, with_code=False)
    current = next((r for r in versions if r.active), None)
    if current is not None and all(getattr(current, k) == v for k, v in values.items()):
        return current
    db.session.execute(
        sa.update(Rule).where(Rule.code == code, Rule.active.is_(True)).values(active=False)
        .execution_options(synchronize_session=False))
    rule = Rule(code=code, version=versions[0].version + 1, active=True, created_by_id=actor.id, **values)
    db.session.add(rule)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("该细则刚被他人修改，请刷新后重试。", code="rule_changed") from None
    return rule


def retired_rules() -> list[Rule]:
    """The latest version of each code that has no active version."""
    active_codes = sa.select(Rule.code).where(Rule.active.is_(True))
    latest = (sa.select(Rule.code.label("code"), sa.func.max(Rule.version).label("version"))
              .where(Rule.code.not_in(active_codes)).group_by(Rule.code).subquery())
    return list(db.session.scalars(
        sa.select(Rule).join(latest, sa.and_(Rule.code == latest.c.code, Rule.version == latest.c.version))
        .order_by(Rule.code)))


def retire_rule(actor, code: str) -> Rule:
    """Take a rule out of the catalogue (admin); its entries and versions stay."""
    require_role(actor, "admin")
    rule = current_rule(code)
    if not rule.active:
        raise Conflict("该细则已停用。", code="rule_retired")
    rule.active = False
    db.session.commit()
    return rule


def rule_caps_text(rule: Rule) -> str:
    """'每日上限5分 · 每月上限6分' (empty when there is no cap)."""
    parts = []
    for label, cap in (("每日", rule.daily_cap), ("每月", rule.monthly_cap), ("每年", rule.yearly_cap)):
        if cap is not None:
            parts.append(f"{label}上限{fmt_points(cap)}分")
    return " · ".join(parts)


# -- caps -------------------------------------------------------------------------------------

def _month_bounds(day: date) -> tuple[date, date]:
    start = day.replace(day=1)
    end = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
    return start, end


def cap_usage(code: str, *, member_id: int | None, org_id: int | None, day: date) -> dict[str, Decimal]:
    """Points a subject already has under ``code`` (all versions, reversals included) on the day,
    month and year of ``day``: one query."""
    month_start, month_end = _month_bounds(day)
    year_start, year_end = date(day.year, 1, 1), date(day.year + 1, 1, 1)
    subject = LedgerEntry.member_id == member_id if member_id is not None else LedgerEntry.org_id == org_id
    pts = LedgerEntry.points
    on = LedgerEntry.occurred_on
    row = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((on == day, pts), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((sa.and_(on >= month_start, on < month_end), pts), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(pts), 0),
        ).where(subject, LedgerEntry.rule_code == code, on >= year_start, on < year_end)
    ).one()
    return {"day": quantize(row[0]), "month": quantize(row[1]), "year": quantize(row[2])}


CAP_LABELS = (("day", "daily_cap", "每日", "当日"), ("month", "monthly_cap", "每月", "当月"),
              ("year", "yearly_cap", "每年", "当年"))


def check_caps(rule: Rule, *, member_id: int | None, org_id: int | None, day: date, points) -> None:
    """409 ``cap_reached`` naming the cap when ``points`` more would pass one; nothing partial.

    Caps bound the size of a rule's total in its own direction (a penalty's caps bound the
    deduction). Call after ``lock_ledger()`` so no other writer can slip in between.
    """
    if rule.daily_cap is None and rule.monthly_cap is None and rule.yearly_cap is None:
        return
    points = quantize(points)
    sign = 1 if points > 0 else -1
    used = cap_usage(rule.code, member_id=member_id, org_id=org_id, day=day)
    for period, attr, label, this in CAP_LABELS:
        cap = getattr(rule, attr)
        if cap is None:
            continue
        if sign * (used[period] + points) > cap:
            kind = "扣分上限" if sign < 0 else "上限"
            counted = fmt_points(abs(used[period]))
            if sign * used[period] >= cap:
                message = (f"已达到该项{label}{kind} {fmt_points(cap)} 分（{rule.title}，{day.isoformat()} {this}"
                           f"已计 {counted} 分），本次 {fmt_points(abs(points))} 分未能计入。")
            else:  # room is left, only not for this many points
                message = (f"本次 {fmt_points(abs(points))} 分会超过该项{label}{kind} {fmt_points(cap)} 分（{rule.title}，"
                           f"{day.isoformat()} {this}已计 {counted} 分，还可计 {fmt_points(cap - sign * used[period])} 分），"
                           "未能计入。")
            raise Conflict(message, code="cap_reached")


# -- who decides for whom ---------------------------------------------------------------------

def can_decide_for_member(actor, member: User) -> bool:
    """May ``actor`` review a claim of, award to, or reverse an entry of ``member``?

    Never on oneself; a secretary's or admin's own points are for the next level up.
    """
    if actor.role not in ("secretary", "admin") or member.id == actor.id:
        return False
    if actor.role == "admin":
        return True
    if member.role == "admin":
        return False
    if is_fellow_secretary(actor, member.org_id, member.role):
        return False
    return can_manage_org(actor, member.org)


def require_decide_for_member(actor, member: User, *, own_code: str = "own_account") -> None:
    require_role(actor, "secretary", "admin")
    if member.id == actor.id:
        messages = {"own_claim": "不能审核自己的申报，将由上级组织审核。"}
        raise Forbidden(messages.get(own_code, "不能给自己加分、扣分或冲正。"), code=own_code)
    if not can_manage_org(actor, member.org):
        raise Forbidden("该党员不在您的管理范围内。", code="out_of_scope")
    if not can_decide_for_member(actor, member):
        raise Forbidden("书记本人的积分事项由上级组织办理。", code="next_level_up")


def can_decide_for_org(actor, org: Org) -> bool:
    """Is ``org`` the level below ``actor``: any org for an admin, an org strictly below their
    own for a secretary?"""
    if actor.role == "admin":
        return True
    return actor.role == "secretary" and org.id != actor.org_id and can_manage_org(actor, org)


def require_decide_for_org(actor, org: Org, *, own_message: str = "本组织的积分事项由上级组织办理。") -> None:
    """May ``actor`` award to, deduct from or reverse an entry of ``org`` (or set its year
    targets)? As with a secretary's own points, a secretary's own org is for the next level up
    (it competes in their races); ``own_message`` says so for the matter at hand."""
    require_role(actor, "secretary", "admin")
    if not can_manage_org(actor, org):
        raise Forbidden("该组织不在您的管理范围内。", code="out_of_scope")
    if not can_decide_for_org(actor, org):
        raise Forbidden(own_message, code="next_level_up")


def _decide_clause(actor):
    """SQL twin of ``can_decide_for_member`` on a query joining User and Org."""
    clause = sa.and_(org_scope_clause(actor), User.id != actor.id)
    if actor.role == "secretary":
        clause = sa.and_(clause, User.role != "admin",
                         sa.not_(sa.and_(User.role == "secretary", User.org_id == actor.org_id)))
    return clause


# -- claims -----------------------------------------------------------------------------------

def _grant_claim_entry(claim_id: int, rule: Rule, member_id: int, day: date, note: str, actor_id) -> LedgerEntry:
    lock_ledger()
    check_caps(rule, member_id=member_id, org_id=None, day=day, points=rule.points)
    return append_entry(
        category=rule.category, points=rule.points, occurred_on=day, source="claim",
        source_key=f"claim:{claim_id}", rule_code=rule.code, rule_id=rule.id, member_id=member_id,
        note=note, created_by_id=actor_id,
    )


SUBMISSION_KEY_MAX = 64




def _submission_key(submission_key) -> str | None:
    """One submission's key (a form's one-time key, an API client's Idempotency-Key), checked."""
    key = submission_key.strip() if isinstance(submission_key, str) else None
    if key and (len(key) > SUBMISSION_KEY_MAX or not key.isascii() or not key.isprintable() or " " in key):
        raise Invalid("提交标识无效。", fields={"submission_key": [f"须为不超过{SUBMISSION_KEY_MAX}个字符的可见 ASCII 文本（不含空格）。"]})
    return key or None


class KeyReused(Conflict):
    """The submission key of an earlier submission came with something else: a retry sends the
    same again, so this is another claim or award under a used key (409, nothing recorded)."""

    code = "idempotency_key_reused"

    def __init__(self):
        super().__init__("该提交标识已用于另一份内容不同的提交，本次未记录：新的提交请换一个标识。",
                         code=self.code)


def _same_text(given, stored) -> bool:
    return (given if isinstance(given, str) else "").strip() == (stored or "")


def _same_day(given, stored: date) -> bool:
    if given in (None, ""):
        return True  # left to its default, as the first time
    return (given.isoformat() if isinstance(given, date) else str(given).strip()) == stored.isoformat()


def _same_points(given, stored) -> bool:
    if given in (None, ""):
        return True
    try:
        return Decimal(str(given).strip()) == Decimal(stored)
    except (InvalidOperation, ValueError):
        return False


def _earlier_claim(member_id: int, key: str | None, rule_code, occurred_on, note) -> Claim | None:
    """The claim the member's submission with ``key`` made, if any; KeyReused if it is another claim."""
    if not key:
        return None
    earlier = db.session.scalar(sa.select(Claim).where(Claim.member_id == member_id, Claim.submission_key == key))
    if earlier is not None and not (_same_text(rule_code, earlier.rule.code) and _same_text(note, earlier.note)
                                    and _same_day(occurred_on, earlier.occurred_on)):
        raise KeyReused()
    return earlier


def _earlier_award(actor_id: int, key: str | None, rule_code, member_id, org_id, points, occurred_on,
                   note) -> LedgerEntry | None:
    """The entry the secretary's award with ``key`` made, if any; KeyReused if it is another award."""
    if not key:
        return None
    earlier = db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.source_key == f"award:{actor_id}:{key}"))
    if earlier is not None and not (
            _same_text(rule_code, earlier.rule_code) and earlier.member_id == member_id
            and earlier.org_id == org_id and _same_points(points, earlier.points)
            and _same_day(occurred_on, earlier.occurred_on) and _same_text(note, earlier.note)):
        raise KeyReused()
    return earlier


def submit_claim(actor, *, rule_code, occurred_on, note: str = "", evidence: bytes | None = None,
                 submission_key: str | None = None) -> Claim:
    """A member's claim (申报). Pending for review, or granted at once when the rule needs no approval.

    ``evidence`` is the raw bytes of an uploaded photo (JPEG/PNG up to 5 MB, checked by content).
    ``submission_key`` identifies one submission (the form's one-time key, an API client's
    Idempotency-Key): the same key with the same claim again returns the claim it made; with
    another claim it is 409 (KeyReused).
    """
    key = _submission_key(submission_key)
    if (earlier := _earlier_claim(actor.id, key, rule_code, occurred_on, note)) is not None:
        return earlier
    rule = find_active_rule(rule_code)
    fields: dict[str, list[str]] = {}
    if rule.category not in CLAIMABLE_CATEGORIES:
        fields["rule_code"] = ["该事项由书记直接加扣分，不能申报。"]
    day = _parse_date(occurred_on, "occurred_on", fields)
    if day is not None:
        _check_day(day, claim_window_days(), "occurred_on", fields)
    if note is None:
        note = ""
    if not isinstance(note, str):
        fields["note"] = ["须为文字。"]
        note = ""
    note = note.strip()
    if len(note) > NOTE_MAX:
        fields["note"] = [f"说明不超过{NOTE_MAX}字。"]
    if evidence:
        try:
            evidence_store.check_image(evidence)
        except Invalid as exc:
            fields.update(exc.fields or {})
    elif rule.evidence_required:
        fields["evidence"] = ["该事项须附照片凭证（请在网页申报页面上传）。"]
    if fields:
        raise Invalid("申报内容有误。", fields=fields)

    stored = evidence_store.store(evidence) if evidence else None
    member_id, now = actor.id, utc_now()

    def work() -> Claim:
        claim = Claim(member_id=member_id, rule_id=rule.id, occurred_on=day, note=note,
                      evidence_path=stored.path if stored else None,
                      evidence_mime=stored.mime if stored else None, status="pending",
                      submission_key=key or None)
        if not rule.needs_approval:
            claim.status, claim.reviewed_at = "approved", now
        db.session.add(claim)
        db.session.flush()
        if not rule.needs_approval:
            _grant_claim_entry(claim.id, rule, member_id, day, note, member_id)
        return claim

    try:
        return run_atomic(work)
    except IntegrityError:
        evidence_store.discard(stored)
        if (earlier := _earlier_claim(member_id, key, rule_code, occurred_on, note)) is not None:
            return earlier  # the first tap won the race
        raise
    except Exception:
        evidence_store.discard(stored)
        raise


def get_claim(claim_id: int) -> Claim:
    claim = get_by_id(Claim, claim_id, options=[joinedload(Claim.rule), joinedload(Claim.member)])
    if claim is None:
        raise NotFound("找不到该申报。", code="claim_not_found")
    return claim


def can_view_claim(actor, claim: Claim) -> bool:
    return claim.member_id == actor.id or can_manage_org(actor, claim.member.org)


def view_claim(actor, claim_id: int) -> Claim:
    """A claim its claimant or a manager whose scope covers the claimant may see."""
    claim = get_claim(claim_id)
    if not can_view_claim(actor, claim):
        raise Forbidden("该申报不在您的管理范围内。", code="out_of_scope")
    return claim


def claim_evidence(actor, claim_id: int, thumb: bool = False) -> tuple[str, str]:
    """(absolute path, mime) of a claim's photo for someone allowed to see the claim."""
    claim = view_claim(actor, claim_id)
    if not claim.evidence_path:
        raise NotFound("该申报没有照片凭证。", code="no_evidence")
    path = evidence_store.file_path(claim.evidence_path, thumb=thumb)
    if path is None:
        raise NotFound("照片文件已丢失。", code="no_evidence")
    return path, "image/jpeg" if thumb else (claim.evidence_mime or "application/octet-stream")


def _claims_query():
    return (sa.select(Claim).join(User, Claim.member_id == User.id).join(Org, User.org_id == Org.id)
            .options(joinedload(Claim.rule), joinedload(Claim.member), joinedload(Claim.reviewer)))


def _page(stmt, order, limit: int, offset: int):
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    items = list(db.session.scalars(stmt.order_by(*order).limit(limit).offset(offset)).unique())
    return items, total or 0


def _check_status(status: str | None) -> None:
    if status is not None and status not in ("pending", "approved", "rejected"):
        raise Invalid("状态须为 pending、approved 或 rejected。",
                      fields={"status": ["状态须为 pending、approved 或 rejected。"]})


def review_queue(actor, *, status: str | None = "pending", limit: int = 50, offset: int = 0):
    """Claims ``actor`` may decide (in scope, never their own), oldest first: (items, total)."""
    require_role(actor, "secretary", "admin")
    _check_status(status)
    stmt = _claims_query().where(_decide_clause(actor))
    if status:
        stmt = stmt.where(Claim.status == status)
    return _page(stmt, (Claim.created_at, Claim.id), limit, offset)


def repeated_claims(claims: list[Claim]) -> dict[int, int]:
    """{claim id: id of an earlier claim in ``claims``} for claims that repeat one before them:
    the same member, item, day and description (a form filed again after the phone's Back)."""
    first: dict[tuple, int] = {}
    repeats: dict[int, int] = {}
    for c in claims:
        key = (c.member_id, c.rule_id, c.occurred_on, (c.note or "").strip())
        if key in first:
            repeats[c.id] = first[key]
        else:
            first[key] = c.id
    return repeats


def my_claims(actor, *, status: str | None = None, limit: int = 50, offset: int = 0):
    """``actor``'s own claims, newest first: (items, total)."""
    _check_status(status)
    stmt = _claims_query().where(Claim.member_id == actor.id)
    if status:
        stmt = stmt.where(Claim.status == status)
    return _page(stmt, (Claim.created_at.desc(), Claim.id.desc()), limit, offset)


def claim_entry_ids(claims: list[Claim]) -> dict[int, int]:
    """{claim id: ledger entry id} for approved claims, in one query."""
    keys = {f"claim:{c.id}": c.id for c in claims if c.status == "approved"}
    if not keys:
        return {}
    rows = db.session.execute(
        sa.select(LedgerEntry.source_key, LedgerEntry.id).where(LedgerEntry.source_key.in_(list(keys))))
    return {keys[k]: i for k, i in rows}


def _require_review(actor, claim: Claim) -> None:
    require_decide_for_member(actor, claim.member, own_code="own_claim")


def _already_decided(claim_id: int) -> Conflict:
    return Conflict("该申报已处理过了。", code="already_decided")


def approve_claim(actor, claim_id: int) -> LedgerEntry:
    """Approve a pending claim: exactly one ledger entry, whatever the concurrency.

    The claim flips with a conditional UPDATE (``WHERE status = 'pending'``); only the caller
    whose UPDATE hit the row appends, and the unique ``claim:{id}`` key backs that up.
    """
    claim = get_claim(claim_id)
    _require_review(actor, claim)
    if claim.status != "pending":
        raise _already_decided(claim_id)
    rule, member_id, day, note, actor_id = claim.rule, claim.member_id, claim.occurred_on, claim.note, actor.id
    now = utc_now()

    def work() -> LedgerEntry:
        result = db.session.execute(
            sa.update(Claim).where(Claim.id == claim_id, Claim.status == "pending")
            .values(status="approved", reviewer_id=actor_id, reviewed_at=now)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:
            raise _already_decided(claim_id)
        return _grant_claim_entry(claim_id, rule, member_id, day, note, actor_id)

    try:
        entry = run_atomic(work)
    except IntegrityError as exc:
        if "source_key" in str(exc.orig).lower() or "claim:" in str(exc.orig):
            raise _already_decided(claim_id) from None
        raise
    db.session.expire(claim)
    return entry


def reject_claim(actor, claim_id: int, reason) -> Claim:
    """Return a pending claim with a reason the member will see."""
    claim = get_claim(claim_id)
    _require_review(actor, claim)
    reason = visible_text(reason)
    if not reason or len(reason) > REASON_MAX:
        message = f"请填写退回理由（不超过{REASON_MAX}字）。"
        raise Invalid(message, fields={"reason": [message]})
    if claim.status != "pending":
        raise _already_decided(claim_id)
    result = db.session.execute(
        sa.update(Claim).where(Claim.id == claim_id, Claim.status == "pending")
        .values(status="rejected", reviewer_id=actor.id, reviewed_at=utc_now(), reject_reason=reason)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise _already_decided(claim_id)
    db.session.commit()
    db.session.expire(claim)
    return claim


def pending_count(actor) -> int:
    """How many claims wait for ``actor``'s decision."""
    if actor.role not in ("secretary", "admin"):
        return 0
    return db.session.scalar(
        sa.select(sa.func.count(Claim.id)).join(User, Claim.member_id == User.id)
        .join(Org, User.org_id == Org.id).where(_decide_clause(actor), Claim.status == "pending")) or 0


# -- awards and deductions --------------------------------------------------------------------

def award(actor, *, rule_code, member_id=None, org_id=None, note: str = "", points=None,
          occurred_on=None, submission_key: str | None = None) -> LedgerEntry:
    """A direct award or deduction (加分/扣分) to a member or an org in scope, through the caps.

    ``points`` defaults to the rule's points; an override keeps the rule's sign.
    ``occurred_on`` defaults to today (Asia/Shanghai). ``submission_key`` identifies one
    submission (the form's one-time key, an API client's Idempotency-Key): the same key from the
    same secretary with the same award again answers the entry it made, with another award it is
    409 (KeyReused): a second tap on a slow connection, or Back and submit, would otherwise write
    the points twice into a ledger that only a reversal corrects.
    """
    require_role(actor, "secretary", "admin")
    submission = _submission_key(submission_key)
    actor_id = actor.id
    submitted = (rule_code, member_id, org_id, points, occurred_on, note)
    if (earlier := _earlier_award(actor_id, submission, *submitted)) is not None:
        return earlier
    fields: dict[str, list[str]] = {}
    given = [k for k, v in (("member_id", member_id), ("org_id", org_id)) if v is not None]
    if len(given) != 1:
        message = "请选择一名党员或一个组织（member_id 与 org_id 只填一个）。"
        fields["member_id" if not given or "member_id" in given else "org_id"] = [message]
        raise Invalid(message, fields=fields)
    for name in given:
        value = member_id if name == "member_id" else org_id
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid("提交的内容有误。", fields={name: ["须为整数。"]})
    rule = find_active_rule(rule_code)
    if rule.category == "rating":  # a rule of an earlier version
        raise Invalid(RATING_BY_QR_ONLY, fields={"rule_code": [RATING_BY_QR_ONLY]})
    member = org = None
    if member_id is not None:
        member = get_by_id(User, member_id)
        if member is None:
            raise NotFound("找不到该党员。", code="member_not_found", fields={"member_id": ["找不到该党员。"]})
        require_decide_for_member(actor, member)
        if not member.active:
            fields["member_id"] = ["该账号已停用。"]
    else:
        org = get_by_id(Org, org_id)
        if org is None:
            raise NotFound("找不到该组织。", code="org_not_found", fields={"org_id": ["找不到该组织。"]})
        require_decide_for_org(actor, org)
    value = parse_points(points, "points", fields)
    if value is None and "points" not in fields:
        value = rule.points
    elif value is not None:
        if value == 0:
            fields["points"] = ["分值不能为 0。"]
        elif (value > 0) != (rule.points > 0):
            fields["points"] = ["扣分项须为负数。" if rule.points < 0 else "加分项须为正数。"]
    day = local_today() if occurred_on in (None, "") else _parse_date(occurred_on, "occurred_on", fields)
    if day is not None and "occurred_on" not in fields:
        _check_day(day, award_window_days(), "occurred_on", fields, verb="记入")
    if note is None:
        note = ""
    if not isinstance(note, str):
        fields["note"] = ["须为文字。"]
        note = ""
    note = note.strip()
    if len(note) > NOTE_MAX:
        fields["note"] = [f"说明不超过{NOTE_MAX}字。"]
    if fields:
        raise Invalid("加扣分内容有误。", fields=fields)

    subject_member = member.id if member else None
    subject_org = org.id if org else None
    key = f"award:{actor_id}:{submission}" if submission else f"award:{uuid.uuid4()}"

    def work() -> LedgerEntry:
        lock_ledger()
        # under the ledger's one-writer lock, so a second tap sees the first one's entry (and
        # is answered with it before the caps, which that entry already fills)
        if (earlier := _earlier_award(actor_id, submission, *submitted)) is not None:
            return earlier
        check_caps(rule, member_id=subject_member, org_id=subject_org, day=day, points=value)
        return append_entry(
            category=rule.category, points=value, occurred_on=day, source="award", source_key=key,
            rule_code=rule.code, rule_id=rule.id, member_id=subject_member, org_id=subject_org,
            note=note, created_by_id=actor_id,
        )

    return run_atomic(work)


# -- entries and reversals --------------------------------------------------------------------

def get_entry(entry_id: int) -> LedgerEntry:
    entry = get_by_id(LedgerEntry, entry_id, options=[
        selectinload(LedgerEntry.member), selectinload(LedgerEntry.org), selectinload(LedgerEntry.rule),
        selectinload(LedgerEntry.created_by)])
    if entry is None:
        raise NotFound("找不到该积分记录。", code="entry_not_found")
    return entry


def can_view_entry(actor, entry: LedgerEntry) -> bool:
    if entry.member_id is not None:
        return entry.member_id == actor.id or can_manage_org(actor, entry.member.org)
    return can_view_org(actor, entry.org)


def view_entry(actor, entry_id: int) -> LedgerEntry:
    entry = get_entry(entry_id)
    if not can_view_entry(actor, entry):
        raise Forbidden("该积分记录不在您的管理范围内。", code="out_of_scope")
    return entry


def reversal_of(entry_id: int) -> LedgerEntry | None:
    """The entry that reverses ``entry_id``, if any."""
    return db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.reverses_id == entry_id))


def can_reverse(actor, entry: LedgerEntry) -> bool:
    if actor.role not in ("secretary", "admin") or entry.source == "reversal":
        return False
    if entry.member_id is not None:
        return can_decide_for_member(actor, entry.member)
    return can_manage_org(actor, entry.org)


def _already_reversed() -> Conflict:
    return Conflict("该记录已冲正过了。", code="already_reversed")


def reverse_entry(actor, entry_id: int, reason) -> LedgerEntry:
    """Correct an entry by appending its negation with a reason; an entry is reversed once."""
    entry = get_entry(entry_id)
    if entry.member_id is not None:
        require_decide_for_member(actor, entry.member)
    else:
        require_decide_for_org(actor, entry.org)
    reason = visible_text(reason)
    if not reason or len(reason) > REASON_MAX:
        message = f"请填写冲正理由（不超过{REASON_MAX}字）。"
        raise Invalid(message, fields={"reason": [message]})
    if entry.source == "reversal":
        raise Conflict("冲正记录不能再冲正；如有错误请重新加扣分。", code="cannot_reverse_reversal")
    values = dict(
        category=entry.category, points=-quantize(entry.points), occurred_on=entry.occurred_on,
        source="reversal", source_key=f"reversal:{entry.id}", rule_code=entry.rule_code,
        rule_id=entry.rule_id, member_id=entry.member_id, org_id=entry.org_id, note=reason,
        created_by_id=actor.id, reverses_id=entry.id,
    )

    def work() -> LedgerEntry:
        lock_ledger()
        if db.session.scalar(sa.select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry_id)):
            raise _already_reversed()
        return append_entry(**values)

    try:
        return run_atomic(work)
    except IntegrityError as exc:
        text = str(exc.orig).lower()
        if "reverses_id" in text or "source_key" in text or "reversal:" in text:
            raise _already_reversed() from None
        raise
