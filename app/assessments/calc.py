"""The party-building coefficient method (党建系数法) as a pure calculation in exact decimals.

No database, no request: plain values in, plain values out, so every published figure can be
checked by hand. The rules, as published for Dinghai district and as this product applies them:

* Units are compared only within their class (``unit_class``): N is the number of units of the
  class, and ranks, the 60% rule and the grade quotas are all per class.
* Party-building rank: competition ranking on the party-building score (the sum of the
  evaluating departments' scores); tied units share the better rank ("1, 2, 2, 4").
* Coefficient = 1 + ((N + 1) / 2 - rank) x step, kept exact (never rounded in the arithmetic).
  11 units at 0.5%: rank 1 = 1.025, rank 6 = 1.000, rank 11 = 0.975; an even count puts the middle
  between two ranks (4 units at 0.5%: 1.0075, 1.0025, 0.9975, 0.9925).
* Final = base x coefficient + bonus - deductions, rounded once at the very end to 2 decimals
  (ROUND_HALF_UP). The bonus includes the bonus of finalized points-race contests of the year.
* Final rank: competition ranking on the (rounded) final score within the class.
* Qualified is false when the unit was publicly criticized, or when its final score is below
  ``unqualified_ratio`` x the class's top final score.
* Award eligible is false on a one-vote veto, on a contest's last-place exclusion, or for a unit
  graded D (不合格): an unqualified unit takes part in no award of the year.
* Qualified needs a positive top score: when the class's best final score is zero or below, the
  60% line is not drawn (a unit cannot be below 60% of itself) and only a criticism disqualifies.
* Grades: unqualified units get D, and only they (不合格 has exactly the two causes above).
  Qualified units are graded in final-rank order among the qualified units of the class: the
  first ``count(A)`` places get A, the next ``count(B)`` get B, every other one C (合格 has no
  quota). ``count(g) = floor(quota(g) x N)``, but at least 1 when the quota is above 0 (so a small
  class can still have one 优秀). A unit under a one-vote veto loses every award "whatever its
  score": it takes no A or B place (the places go to the units after it) and is graded C. Units
  tied on the final score share the better grade, so a tie at a boundary may exceed a quota;
  like ranks, it then uses up the places that follow (A 2 places, B 1 place, finals 95, 90, 90,
  85: A, A, A, then C).
* Indirect link: the grade sets the share of the unit's people who may be graded excellent;
  allowed = floor(share x the unit's active member count).
* Talk (约谈): units graded C or D.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal

GRADES = ("A", "B", "C", "D")
GRADE_LABELS = {"A": "优秀", "B": "良好", "C": "合格", "D": "不合格"}
QUOTA_GRADES = ("A", "B")  # C is every other qualified unit, D the unqualified ones
TALK_GRADES = ("C", "D")
CENT = Decimal("0.01")
ONE = Decimal(1)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Item:
    """One bonus or deduction with its reason."""

    points: Decimal
    reason: str


@dataclass(frozen=True)
class VetoItem:
    """One one-vote veto: the area (安全生产, 环境保护...) and why."""

    reason: str
    item: str = ""

    @property
    def text(self) -> str:
        return f"{self.item}：{self.reason}" if self.item and self.reason else (self.item or self.reason)


@dataclass(frozen=True)
class ContestItem:
    """What a finalized points-race contest gave this unit."""

    contest_id: int
    title: str
    place: int
    bonus: Decimal
    excluded: bool


@dataclass
class UnitInput:
    org_id: int
    name: str
    unit_class: str
    base: Decimal
    party_building: Decimal
    party_building_parts: dict[str, Decimal] | None = None
    bonus: Decimal = Decimal(0)  # entered bonus (the sum of bonus_items when items were given)
    bonus_items: tuple[Item, ...] = ()
    deductions: Decimal = Decimal(0)
    deduction_items: tuple[Item, ...] = ()
    veto: bool = False
    veto_items: tuple[VetoItem, ...] = ()
    criticized: bool = False
    criticized_reason: str = ""
    contests: tuple[ContestItem, ...] = ()
    member_count: int | None = None


@dataclass(frozen=True)
class Rules:
    step: Decimal
    unqualified_ratio: Decimal
    grade_quotas: dict[str, Decimal]
    excellent_shares: dict[str, Decimal]
    class_steps: dict[str, Decimal] = field(default_factory=dict)
    class_order: tuple[str, ...] = ()

    def step_for(self, unit_class: str) -> Decimal:
        return self.class_steps.get(unit_class, self.step)


@dataclass
class UnitResult:
    org_id: int
    name: str
    unit_class: str
    class_size: int
    base: Decimal
    party_building: Decimal
    party_building_parts: dict[str, Decimal] | None
    party_building_rank: int
    step: Decimal
    coefficient: Decimal  # exact
    entered_bonus: Decimal
    bonus_items: list[Item]
    contest_items: list[ContestItem]
    bonus: Decimal  # entered + contests
    deductions: Decimal
    deduction_items: list[Item]
    exact_final: Decimal
    final: Decimal  # rounded to 2 decimals, once
    rank: int
    top_final: Decimal
    threshold: Decimal
    qualified: bool
    unqualified_reasons: list[str]
    grade: str
    award_eligible: bool
    veto: bool
    veto_items: list[VetoItem]
    criticized: bool
    criticized_reason: str
    talk: bool
    excellent_share: Decimal
    member_count: int | None
    excellent_allowed: int | None
    party_building_tied: bool = False
    rank_tied: bool = False
    explanation: str = ""

    @property
    def grade_label(self) -> str:
        return GRADE_LABELS[self.grade]

    @property
    def exclusions(self) -> list[ContestItem]:
        return [c for c in self.contest_items if c.excluded]


# ---------------------------------------------------------------- number formatting

def fmt(value: Decimal) -> str:
    """A decimal without trailing zeros or exponent: 90.00 -> '90', 352.50 -> '352.5'."""
    d = Decimal(value)
    if d == 0:
        return "0"
    text = format(d.normalize(), "f")
    return text


def fmt_coef(value: Decimal) -> str:
    """A coefficient with at least three decimals: 1 -> '1.000', 1.0075 -> '1.0075'."""
    d = Decimal(value).normalize()
    if d.as_tuple().exponent > -3:
        d = d.quantize(Decimal("0.001"))
    return format(d, "f")


def fmt_pct(value: Decimal) -> str:
    """A fraction as a percentage: 0.005 -> '0.5%', 0.6 -> '60%'."""
    return fmt(Decimal(value) * HUNDRED) + "%"


def fmt_final(value: Decimal) -> str:
    return format(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP), "f")


# ---------------------------------------------------------------- the rules

def competition_ranks(values: list[Decimal]) -> list[int]:
    """1 + the number of strictly greater values: ties share the better rank (1, 2, 2, 4)."""
    ordered = sorted(values, reverse=True)
    first_place: dict[Decimal, int] = {}
    for i, v in enumerate(ordered, start=1):
        first_place.setdefault(v, i)
    return [first_place[v] for v in values]


def coefficient(n: int, rank: int, step: Decimal) -> Decimal:
    """1 + ((N + 1) / 2 - rank) x step, exact."""
    return ONE + (Decimal(n + 1) / 2 - rank) * Decimal(step)


def step_problems(results: list[UnitResult]) -> list[str]:
    """Why a class's coefficients make no sense, in Chinese: a step so large for the class's size
    that its last places get a coefficient of zero or below (their base score would count for
    nothing or against them). Empty when every coefficient is above zero."""
    lowest: dict[str, UnitResult] = {}
    for r in results:
        if r.unit_class not in lowest or r.coefficient < lowest[r.unit_class].coefficient:
            lowest[r.unit_class] = r
    problems = []
    for cls, r in lowest.items():
        if r.coefficient <= 0:
            limit = (Decimal(2) / (r.class_size - 1)).quantize(Decimal("0.00001"), rounding=ROUND_DOWN)
            problems.append(f"“{cls}”共 {r.class_size} 个单位，步长 {fmt_pct(r.step)} 使末位系数为 "
                            f"{fmt_coef(r.coefficient)}（须大于 0）：该类的系数步长须小于 {fmt_pct(limit)}。")
    return problems


def round_final(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def quota_counts(n: int, quotas: dict[str, Decimal]) -> dict[str, int | None]:
    """Places per grade in a class of ``n``: floor(quota x n), at least 1 for a quota above 0.

    ``None`` for C: every remaining qualified unit (a C quota stored by an earlier version is not
    a limit: a qualified unit is never graded D).
    """
    counts: dict[str, int | None] = {}
    for grade in QUOTA_GRADES:
        q = quotas.get(grade)
        if q is None:
            counts[grade] = 0
            continue
        c = int((Decimal(q) * n).to_integral_value(rounding=ROUND_FLOOR))
        if Decimal(q) > 0 and n > 0:
            c = max(c, 1)
        counts[grade] = c
    counts["C"] = None
    return counts


def grade_for(qualified_rank: int, counts: dict[str, int | None]) -> str:
    """The grade of the unit holding ``qualified_rank`` among the qualified units of its class."""
    limit = 0
    for grade in QUOTA_GRADES:
        limit += counts.get(grade) or 0
        if qualified_rank <= limit:
            return grade
    return "C"


def floor_int(value: Decimal) -> int:
    return int(Decimal(value).to_integral_value(rounding=ROUND_FLOOR))


def compute(units: list[UnitInput], rules: Rules) -> list[UnitResult]:
    """Results of every unit, ordered by class (``rules.class_order`` first) and final rank."""
    classes: dict[str, list[UnitInput]] = {}
    for u in units:
        classes.setdefault(u.unit_class, []).append(u)
    order = [c for c in rules.class_order if c in classes] + sorted(c for c in classes if c not in rules.class_order)
    results: list[UnitResult] = []
    for name in order:
        results.extend(_compute_class(name, classes[name], rules))
    return results


def _compute_class(unit_class: str, units: list[UnitInput], rules: Rules) -> list[UnitResult]:
    n = len(units)
    step = Decimal(rules.step_for(unit_class))
    pb_ranks = competition_ranks([Decimal(u.party_building) for u in units])
    rows: list[UnitResult] = []
    for u, pb_rank in zip(units, pb_ranks):
        coef = coefficient(n, pb_rank, step)
        contest_bonus = sum((c.bonus for c in u.contests), Decimal(0))
        bonus = Decimal(u.bonus) + contest_bonus
        exact = Decimal(u.base) * coef + bonus - Decimal(u.deductions)
        excluded = any(c.excluded for c in u.contests)
        rows.append(UnitResult(
            org_id=u.org_id, name=u.name, unit_class=unit_class, class_size=n, base=Decimal(u.base),
            party_building=Decimal(u.party_building), party_building_parts=u.party_building_parts,
            party_building_rank=pb_rank, step=step, coefficient=coef, entered_bonus=Decimal(u.bonus),
            bonus_items=list(u.bonus_items), contest_items=list(u.contests), bonus=bonus,
            deductions=Decimal(u.deductions), deduction_items=list(u.deduction_items), exact_final=exact,
            final=round_final(exact), rank=0, top_final=Decimal(0), threshold=Decimal(0), qualified=True,
            unqualified_reasons=[], grade="D", award_eligible=not (u.veto or excluded), veto=u.veto,
            veto_items=list(u.veto_items), criticized=u.criticized, criticized_reason=u.criticized_reason,
            talk=False, excellent_share=Decimal(0), member_count=u.member_count, excellent_allowed=None,
        ))

    final_ranks = competition_ranks([r.final for r in rows])
    top = max((r.final for r in rows), default=Decimal(0))
    threshold = Decimal(rules.unqualified_ratio) * top
    for r, rank in zip(rows, final_ranks):
        r.rank = rank
        r.rank_tied = final_ranks.count(rank) > 1
        r.party_building_tied = pb_ranks.count(r.party_building_rank) > 1
        r.top_final = top
        r.threshold = threshold
        if r.criticized:
            r.unqualified_reasons.append("criticized")
        if top > 0 and r.final < threshold:
            r.unqualified_reasons.append("below_ratio")
        r.qualified = not r.unqualified_reasons

    counts = quota_counts(n, rules.grade_quotas)
    graded = [r for r in rows if r.qualified and not r.veto]
    for r, q_rank in zip(graded, competition_ranks([r.final for r in graded])):
        r.grade = grade_for(q_rank, counts)
    for r in rows:
        if not r.qualified:
            r.grade = "D"
        elif r.veto:
            r.grade = "C"  # no 优秀 or 良好 place, whatever the score
        if r.grade == "D":
            r.award_eligible = False  # a unit graded 不合格 takes part in no award of the year
        r.talk = r.grade in TALK_GRADES
        r.excellent_share = Decimal(rules.excellent_shares.get(r.grade, 0))
        if r.member_count is not None:
            r.excellent_allowed = floor_int(r.excellent_share * r.member_count)
        r.explanation = explain(r, rules, counts)
    rows.sort(key=lambda r: (r.rank, r.party_building_rank, r.name, r.org_id))
    return rows


# ---------------------------------------------------------------- the explanation

def _items_text(items: list[Item]) -> list[str]:
    return [f"{i.reason} {fmt(i.points)}" if i.reason else fmt(i.points) for i in items]


def contest_text(c: ContestItem) -> str:
    return f"积分竞位赛“{c.title}”第{c.place}名"


def bonus_parts(r: UnitResult) -> list[str]:
    """The terms of the bonus: entered items, then each finalized contest's bonus."""
    parts = _items_text(r.bonus_items)
    if not r.bonus_items and r.entered_bonus and r.contest_items:
        parts.append(f"录入加分 {fmt(r.entered_bonus)}")
    return parts + [f"{contest_text(c)} {fmt(c.bonus)}" for c in r.contest_items if c.bonus]


def deduction_parts(r: UnitResult) -> list[str]:
    return _items_text(r.deduction_items)


def bonus_text(r: UnitResult) -> str:
    parts = bonus_parts(r)
    return f"加分 {fmt(r.bonus)}" + (f"（{'；'.join(parts)}）" if parts else "")


def deduction_text(r: UnitResult) -> str:
    parts = deduction_parts(r)
    return f"扣分 {fmt(r.deductions)}" + (f"（{'；'.join(parts)}）" if parts else "")


def explain(r: UnitResult, rules: Rules, counts: dict[str, int | None]) -> str:
    """A Chinese explanation naming every term of the unit's result."""
    n, cls = r.class_size, r.unit_class
    tie_pb = "（并列）" if r.party_building_tied else ""
    pb = f"党建得分 {fmt(r.party_building)}"
    if r.party_building_parts:
        pb += "（" + " + ".join(f"{k} {fmt(v)}" for k, v in r.party_building_parts.items()) + "）"
    s = [
        f"{pb}，在“{cls}”类 {n} 个单位中排第 {r.party_building_rank} 名{tie_pb}，"
        f"系数 = 1 + (({n}+1)/2 - {r.party_building_rank}) × {fmt_pct(r.step)} = {fmt_coef(r.coefficient)}；"
    ]
    bonus = bonus_text(r)
    minus = "- " if bonus.endswith("）") else " - "
    final = f"最终得分 = {fmt(r.base)} × {fmt_coef(r.coefficient)} + {bonus}{minus}{deduction_text(r)} = "
    if r.exact_final != r.final:
        final += f"{fmt(r.exact_final)}，四舍五入保留两位小数为 {fmt_final(r.final)}"
    else:
        final += fmt_final(r.final)
    tie_final = "（并列）" if r.rank_tied else ""
    s.append(f"{final}，在“{cls}”类排第 {r.rank} 名{tie_final}。")

    line = f"合格线 = 本类第一名 {fmt_final(r.top_final)} × {fmt_pct(rules.unqualified_ratio)} = {fmt(r.threshold)}"
    if r.top_final <= 0:
        s.append(f"本类第一名得分 {fmt_final(r.top_final)} 不为正，不按 {fmt_pct(rules.unqualified_ratio)} 划合格线。")
    elif "below_ratio" in r.unqualified_reasons:
        s.append(f"{line}，本单位低于合格线，不合格。")
    else:
        s.append(f"{line}，本单位达到合格线。")
    if r.criticized:
        why = f"（{r.criticized_reason}）" if r.criticized_reason else ""
        s.append(f"被通报批评{why}，不合格。")

    if not r.qualified:
        s.append("等次：D（不合格）。")
    else:
        quota = "、".join(
            f"{GRADE_LABELS[g]} {counts[g]} 名" for g in QUOTA_GRADES if counts.get(g) is not None)
        quota += "，其余合格单位为合格"
        if r.veto:
            s.append(f"一票否决，不占优秀、良好名额（{quota}），等次：{r.grade}（{r.grade_label}）。")
        else:
            s.append(f"按等次名额（{quota}），等次：{r.grade}（{r.grade_label}）。")

    if r.veto:
        why = "；".join(v.text for v in r.veto_items if v.text)
        s.append(f"一票否决{('（' + why + '）') if why else ''}，取消当年评优评先资格。")
    for c in r.exclusions:
        s.append(f"{contest_text(c)}（末位），不得参加当年评优评先。")
    if r.grade == "D" and not r.veto and not r.exclusions:
        s.append("等次为不合格，不得参加当年评优评先。")
    if r.award_eligible:
        s.append("可参加当年评优评先。")

    share = f"等次 {r.grade} 对应可评优秀人员比例 {fmt_pct(r.excellent_share)}"
    if r.member_count is not None:
        share += f"，在册党员 {r.member_count} 人，可评优秀 {r.excellent_allowed} 人"
    s.append(share + "。")
    if r.talk:
        s.append("等次为合格及以下，单位主要负责人须约谈。")
    return "".join(s)


# ---------------------------------------------------------------- snapshot (published results)

_DECIMALS = {"base", "party_building", "step", "coefficient", "entered_bonus", "bonus", "deductions",
             "exact_final", "final", "top_final", "threshold", "excellent_share"}


def to_snapshot(r: UnitResult) -> dict:
    """A JSON-safe dict (decimals as strings) that ``from_snapshot`` turns back into the result."""
    out = {}
    for f in fields(r):
        v = getattr(r, f.name)
        if f.name in _DECIMALS:
            v = str(v)
        elif f.name == "party_building_parts":
            v = {k: str(x) for k, x in v.items()} if v else None
        elif f.name in ("bonus_items", "deduction_items"):
            v = [{"points": str(i.points), "reason": i.reason} for i in v]
        elif f.name == "veto_items":
            v = [{"item": i.item, "reason": i.reason} for i in v]
        elif f.name == "contest_items":
            v = [{"contest_id": c.contest_id, "title": c.title, "place": c.place, "bonus": str(c.bonus),
                  "excluded": c.excluded} for c in v]
        out[f.name] = v
    return out


def from_snapshot(data: dict) -> UnitResult:
    kw = {}
    for f in fields(UnitResult):
        v = data.get(f.name)
        if f.name in _DECIMALS:
            v = Decimal(v)
        elif f.name == "party_building_parts":
            v = {k: Decimal(x) for k, x in v.items()} if v else None
        elif f.name in ("bonus_items", "deduction_items"):
            v = [Item(Decimal(i["points"]), i["reason"]) for i in v or []]
        elif f.name == "veto_items":
            v = [VetoItem(i["reason"], i.get("item", "")) for i in v or []]
        elif f.name == "contest_items":
            v = [ContestItem(c["contest_id"], c["title"], c["place"], Decimal(c["bonus"]), c["excluded"])
                 for c in v or []]
        kw[f.name] = v
    return UnitResult(**kw)
