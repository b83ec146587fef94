"""The party-building coefficient method as a pure calculation, against hand-computed decimals."""
from __future__ import annotations

from decimal import Decimal as D

from app.assessments.calc import (
    ContestItem,
    Item,
    Rules,
    UnitInput,
    VetoItem,
    coefficient,
    competition_ranks,
    compute,
    quota_counts,
)

SHARES = {"A": D("0.3"), "B": D("0.2"), "C": D("0.15"), "D": D("0")}


def rules(step="0.005", ratio="0.6", quotas=None, **kw) -> Rules:
    return Rules(step=D(step), unqualified_ratio=D(ratio),
                 grade_quotas=quotas if quotas is not None else {"A": D("0.2"), "B": D("0.3")},
                 excellent_shares=SHARES, **kw)


def unit(i, pb, base="90", cls="街道", **kw) -> UnitInput:
    return UnitInput(org_id=i, name=kw.pop("name", f"单位{i}"), unit_class=cls, base=D(base), party_building=D(pb), **kw)


def by_id(results):
    return {r.org_id: r for r in results}


def test_published_figures_11_units_at_half_percent():
    units = [unit(i, 400 - 10 * i) for i in range(1, 12)]  # unit i ranks i-th
    res = by_id(compute(units, rules("0.005")))
    assert [res[i].party_building_rank for i in range(1, 12)] == list(range(1, 12))
    assert res[1].coefficient == D("1.025")
    assert res[6].coefficient == D("1.000")
    assert res[11].coefficient == D("0.975")
    assert [res[i].coefficient for i in range(1, 12)] == [
        D("1.025"), D("1.020"), D("1.015"), D("1.010"), D("1.005"), D("1"),
        D("0.995"), D("0.990"), D("0.985"), D("0.980"), D("0.975")]
    assert res[1].final == D("92.25")  # 90 x 1.025
    assert res[11].final == D("87.75")  # 90 x 0.975


def test_published_figures_29_organs_at_point_two_percent():
    units = [unit(i, 500 - i, cls="二类机关") for i in range(1, 30)]
    res = by_id(compute(units, rules("0.002")))
    assert res[1].coefficient == D("1.028")
    assert res[15].coefficient == D("1.000")
    assert res[29].coefficient == D("0.972")
    assert res[1].class_size == 29


def test_even_count_puts_the_middle_between_two_ranks():
    res = by_id(compute([unit(i, 100 - i) for i in range(1, 5)], rules("0.005")))
    assert [res[i].coefficient for i in range(1, 5)] == [D("1.0075"), D("1.0025"), D("0.9975"), D("0.9925")]
    assert coefficient(4, 2, D("0.005")) == D("1.0025")


def test_ties_share_the_better_rank():
    assert competition_ranks([D(90), D(95), D(95), D(80)]) == [3, 1, 1, 4]
    res = by_id(compute([unit(1, 90), unit(2, 95), unit(3, 95), unit(4, 80)], rules("0.005")))
    assert res[2].party_building_rank == res[3].party_building_rank == 1
    assert res[2].coefficient == res[3].coefficient == D("1.0075")
    assert res[1].party_building_rank == 3 and res[1].coefficient == D("0.9975")
    assert res[4].party_building_rank == 4 and res[4].coefficient == D("0.9925")
    assert "（并列）" in res[2].explanation


def test_bonus_and_deductions_and_one_rounding_at_the_end():
    units = [unit(i, 400 - 10 * i) for i in range(1, 12)]
    units[0] = unit(1, 390, base="80.2", bonus=D(3), bonus_items=(Item(D(2), "区级表彰"), Item(D(1), "红旗项目")),
                    deductions=D("0.5"), deduction_items=(Item(D("0.5"), "信访问题"),))
    res = by_id(compute(units, rules("0.005")))
    r = res[1]
    # 80.2 x 1.025 = 82.205 exactly; + 3 - 0.5 = 84.705 -> 84.71 (half up, once)
    assert r.exact_final == D("84.70500")
    assert r.final == D("84.71")
    assert r.bonus == D(3) and r.deductions == D("0.5")
    assert "加分 3（区级表彰 2；红旗项目 1）" in r.explanation
    assert "扣分 0.5（信访问题 0.5）" in r.explanation
    assert "84.705，四舍五入保留两位小数为 84.71" in r.explanation


def test_half_up_not_bankers_rounding():
    units = [unit(1, 100, base="80.2"), unit(2, 90), unit(3, 80)]
    # N=3, rank 1: 1 + (2 - 1) x 0.005 = 1.005; 80.2 x 1.005 = 80.601 -> 80.60
    assert by_id(compute(units, rules("0.005")))[1].final == D("80.60")
    units = [unit(i, 400 - 10 * i, base="80.2" if i == 1 else "90") for i in range(1, 12)]
    assert by_id(compute(units, rules("0.005")))[1].final == D("82.21")  # 82.205 -> 82.21


def test_veto_keeps_the_score_but_takes_award_eligibility():
    units = [unit(1, 100, veto=True, veto_items=(VetoItem("发生较大事故", "安全生产"),)), unit(2, 90), unit(3, 80)]
    res = by_id(compute(units, rules()))
    assert res[1].final == D("90.45")  # 90 x 1.005
    assert res[1].rank == 1 and res[1].qualified
    assert res[1].award_eligible is False
    assert res[2].award_eligible is True
    assert "一票否决（安全生产：发生较大事故），取消当年评优评先资格" in res[1].explanation


def test_sixty_percent_rule_within_the_class():
    # N=3 at 0.005: coefficients 1.005, 1, 0.995. Top final = 100 x 1.005 = 100.5; 60% = 60.3
    units = [unit(1, 100, base="100"), unit(2, 90, base="60.3"), unit(3, 80, base="60.6")]
    res = by_id(compute(units, rules()))
    assert res[1].final == D("100.50")
    assert res[2].final == D("60.30") and res[2].qualified  # exactly on the line: qualified
    assert res[3].final == D("60.30")  # 60.6 x 0.995 = 60.297 -> 60.30
    units[1] = unit(2, 90, base="60.29")
    res = by_id(compute(units, rules()))
    assert res[2].final == D("60.29") and not res[2].qualified
    assert res[2].grade == "D" and res[2].unqualified_reasons == ["below_ratio"]
    assert "合格线 = 本类第一名 100.50 × 60% = 60.3" in res[2].explanation
    assert "本单位低于合格线，不合格" in res[2].explanation


def test_criticism_makes_unqualified_and_frees_the_quota_place():
    units = [unit(i, 400 - 10 * i) for i in range(1, 11)]
    units[0] = unit(1, 390, criticized=True, criticized_reason="发生重大信访事件被市委通报")
    res = by_id(compute(units, rules()))  # 10 units: A 2, B 3
    assert res[1].rank == 1 and not res[1].qualified and res[1].grade == "D"
    assert res[1].unqualified_reasons == ["criticized"]
    assert [res[i].grade for i in range(2, 11)] == ["A", "A", "B", "B", "B", "C", "C", "C", "C"]
    assert "被通报批评（发生重大信访事件被市委通报），不合格" in res[1].explanation
    assert res[1].talk
    # an unqualified unit takes part in no award of the year; the qualified ones still do
    assert res[1].award_eligible is False
    assert "等次为不合格，不得参加当年评优评先" in res[1].explanation
    assert all(res[i].award_eligible for i in range(2, 11))


def test_a_qualified_unit_is_never_graded_d_whatever_the_quotas():
    """不合格 has two causes only (a criticism, or below the 60% line): a unit past every quota is
    合格, and a C quota stored by an earlier version limits nothing."""
    units = [unit(i, 100 - i) for i in range(1, 11)]
    for quotas in ({"A": D("0.2"), "B": D("0.3")}, {"A": D("0.2"), "B": D("0.3"), "C": D("0.3")}):
        res = by_id(compute(units, rules(quotas=quotas)))
        assert [res[i].grade for i in range(1, 11)] == ["A"] * 2 + ["B"] * 3 + ["C"] * 5
        assert all(res[i].award_eligible for i in range(1, 11))
        assert "其余合格单位为合格），等次：C（合格）" in res[10].explanation
        assert "D" not in {r.grade for r in res.values()}


def test_a_vetoed_unit_takes_no_excellent_place_whatever_its_score():
    units = [unit(i, 100 - i, base=str(100 - i)) for i in range(1, 6)]
    units[0] = unit(1, 99, base="99", veto=True, veto_items=(VetoItem("安全生产", "安全生产事故"),))
    res = by_id(compute(units, rules(quotas={"A": D("0.2"), "B": D("0.2")})))  # 1 place each
    assert res[1].rank == 1 and res[1].qualified
    assert [res[i].grade for i in range(1, 6)] == ["C", "A", "B", "C", "C"]  # the places go on to 2 and 3
    assert res[1].award_eligible is False and res[1].talk
    assert "一票否决，不占优秀、良好名额" in res[1].explanation
    assert "取消当年评优评先资格" in res[1].explanation and "优秀）" not in res[1].explanation


def test_no_60_percent_line_when_the_top_score_is_not_positive():
    units = [unit(1, 100, base="0", deductions=D(5)), unit(2, 90, base="0", deductions=D(8))]
    res = by_id(compute(units, rules()))
    assert res[1].final == D("-5.00") and res[2].final == D("-8.00")
    assert res[1].qualified and res[2].qualified  # the first-placed unit cannot be below 60% of itself
    assert [res[1].grade, res[2].grade] == ["A", "B"]
    assert "不为正，不按 60% 划合格线" in res[1].explanation
    crit = by_id(compute([units[0], unit(2, 90, base="0", criticized=True, criticized_reason="重大事故")], rules()))
    assert crit[2].grade == "D" and crit[2].unqualified_reasons == ["criticized"]


def test_classes_are_kept_apart():
    units = [unit(1, 100, cls="街道"), unit(2, 90, cls="街道"), unit(3, 99, cls="机关"),
             unit(4, 98, cls="机关", base="40"), unit(5, 10, cls="机关")]
    res = by_id(compute(units, rules("0.005", class_steps={"机关": D("0.002")}, class_order=("街道", "机关"))))
    assert res[1].party_building_rank == 1 and res[1].class_size == 2
    assert res[1].coefficient == D("1.0025")  # 1 + (1.5 - 1) x 0.005
    assert res[3].party_building_rank == 1 and res[3].class_size == 3
    assert res[3].coefficient == D("1.002")  # 1 + (2 - 1) x 0.002
    assert res[5].coefficient == D("0.998")
    # the 60% line of 机关 is 60% of 机关's top, not of the overall top
    assert res[4].final == D("40.00") and res[4].threshold == D("0.6") * res[3].final
    assert not res[4].qualified
    order = [r.org_id for r in compute(units, rules(class_order=("街道", "机关")))]
    assert order[:2] == [1, 2]


def test_quotas_floor_with_at_least_one_and_ties_share_the_better_grade():
    assert quota_counts(11, {"A": D("0.2"), "B": D("0.3")}) == {"A": 2, "B": 3, "C": None}
    assert quota_counts(29, {"A": D("0.2"), "B": D("0.3")}) == {"A": 5, "B": 8, "C": None}
    assert quota_counts(3, {"A": D("0.2"), "B": D("0.3")}) == {"A": 1, "B": 1, "C": None}
    assert quota_counts(5, {"A": D("0"), "B": D("0.3")}) == {"A": 0, "B": 1, "C": None}

    units = [unit(i, 400 - 10 * i) for i in range(1, 12)]
    res = by_id(compute(units, rules()))
    assert [res[i].grade for i in range(1, 12)] == ["A"] * 2 + ["B"] * 3 + ["C"] * 6
    assert [res[i].talk for i in range(1, 12)] == [False] * 5 + [True] * 6

    # N=5 at 0.005: coefficients 1.01, 1.005, 1, 0.995, 0.99. Units 2 and 3 tie on 90.45 at the
    # A/B boundary (A has 2 places): both get A, and the tie uses up the next place as ranks do.
    units = [unit(1, 100, base="95"), unit(2, 90, base="90"), unit(3, 80, base="90.45"), unit(4, 70), unit(5, 60)]
    res = by_id(compute(units, rules(quotas={"A": D("0.4"), "B": D("0.4")})))
    assert res[2].final == res[3].final == D("90.45")
    assert res[2].rank == res[3].rank == 2 and res[4].rank == 4
    assert [res[i].grade for i in range(1, 6)] == ["A", "A", "A", "B", "C"]
    res = by_id(compute(units, rules(quotas={"A": D("0.4"), "B": D("0.2")})))
    assert [res[i].grade for i in range(1, 6)] == ["A", "A", "A", "C", "C"]


def test_contest_feed_adds_bonus_and_exclusion_named_in_the_explanation():
    contest = ContestItem(7, "2026年度社区积分竞位赛", 1, D(1), False)
    last = ContestItem(7, "2026年度社区积分竞位赛", 11, D(0), True)
    units = [unit(i, 400 - 10 * i) for i in range(1, 12)]
    units[0] = unit(1, "352.5", bonus=D(2), bonus_items=(Item(D(2), "区级表彰"),), contests=(contest,),
                    party_building_parts={"纪委": D("90"), "组织部": D("88"), "宣传部": D("87.5"), "统战部": D("87")})
    units[0].party_building = D("395")
    units[10] = unit(11, 300, contests=(last,))
    res = by_id(compute(units, rules()))
    r = res[1]
    assert r.bonus == D(3) and r.final == D("95.25")
    assert r.explanation.startswith(
        "党建得分 395（纪委 90 + 组织部 88 + 宣传部 87.5 + 统战部 87），在“街道”类 11 个单位中排第 1 名，"
        "系数 = 1 + ((11+1)/2 - 1) × 0.5% = 1.025；"
        "最终得分 = 90 × 1.025 + 加分 3（区级表彰 2；积分竞位赛“2026年度社区积分竞位赛”第1名 1）- 扣分 0 = 95.25，"
        "在“街道”类排第 1 名。")
    assert r.award_eligible
    assert res[11].award_eligible is False and res[11].qualified
    assert "积分竞位赛“2026年度社区积分竞位赛”第11名（末位），不得参加当年评优评先" in res[11].explanation


def test_indirect_link_counts_floor_of_share_times_members():
    units = [unit(i, 100 - i, member_count=n) for i, n in zip(range(1, 12), [25, 10, 7, 33, 3, 40, 9, 1, 0, 20, 6])]
    res = by_id(compute(units, rules()))
    assert (res[1].grade, res[1].excellent_share, res[1].excellent_allowed) == ("A", D("0.3"), 7)  # 7.5 -> 7
    assert (res[3].grade, res[3].excellent_allowed) == ("B", 1)  # 0.2 x 7 = 1.4
    assert (res[6].grade, res[6].excellent_allowed) == ("C", 6)  # 0.15 x 40 = 6
    assert "在册党员 25 人，可评优秀 7 人" in res[1].explanation


def test_every_explanation_names_every_term():
    units = [unit(i, 400 - 10 * i) for i in range(1, 12)]
    for r in compute(units, rules()):
        for term in ("党建得分", "系数 =", "最终得分 =", "加分", "扣分", "合格线", "等次"):
            assert term in r.explanation, (term, r.explanation)
