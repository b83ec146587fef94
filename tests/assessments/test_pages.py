"""The admin pages: create, enter scores, read results, publish; phone-safe and admin-only."""
from __future__ import annotations

import re

import pytest


@pytest.fixture
def assessment(tree, db):
    from app.assessments import services

    return services.create_assessment(tree.admin, year=2026, title="社区党组织年度考核", coefficient_step=0.005)


def page(response, status=200) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def test_admin_nav_and_pages_are_admin_only(tree, login_as, assessment):
    admin = login_as(tree.admin)
    html = page(admin.get("/assessments/"))
    assert ">考核<" in html and "社区党组织年度考核" in html
    for user in (tree.sec_c1, tree.m11):
        c = login_as(user)
        assert c.get("/assessments/").status_code == 403
        assert c.get(f"/assessments/{assessment.id}/results").status_code == 403
        assert c.get(f"/assessments/{assessment.id}/export.xlsx").status_code == 403
        assert 'href="/assessments/"' not in page(c.get("/account"))
    from flask import current_app

    r = current_app.test_client().get("/assessments/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_create_assessment_with_the_form(tree, login_as, db):
    from app.assessments.models import Assessment

    c = login_as(tree.admin)
    html = page(c.get("/assessments/new"))
    assert 'name="csrf_token"' in html and "系数步长" in html
    form = {"year": "2026", "title": "机关党建考核", "step": "0.2", "ratio": "60", "quota_a": "20", "quota_b": "30",
            "departments": "纪委、组织部、宣传部、统战部", "unit_classes": "街道 0.5\n二类机关",
            "share_a": "30", "share_b": "20", "share_c": "15", "share_d": "0"}
    r = c.post("/assessments/new", data=form)
    assert r.status_code == 302
    a = db.session.scalar(db.select(Assessment).where(Assessment.title == "机关党建考核"))
    assert str(a.coefficient_step.normalize()) == "0.002"
    assert a.unit_classes == [{"name": "街道", "coefficient_step": "0.005"}, {"name": "二类机关", "coefficient_step": None}]
    html = page(c.get(r.headers["Location"]))
    assert "0.2%" in html and "二类机关" in html

    bad = page(c.post("/assessments/new", data={**form, "title": "另一个", "step": "半个百分点", "year": "26"}))
    assert "系数步长须为数字" in bad and "年度须为四位数字" in bad
    bad = page(c.post("/assessments/new", data={**form, "title": "另一个", "unit_classes": "街道\n二类机关 abc"}))
    assert "“二类机关 abc”：类别名称后只能写本类的系数步长（%），如“二类机关 0.2”。" in bad
    bad = page(c.post("/assessments/new", data={**form, "title": "另一个", "departments": " "}))
    assert "请填写评价部门，用顿号分隔" in bad and "[" not in bad.split("请填写评价部门")[1][:40]
    assert db.session.scalar(db.select(db.func.count(Assessment.id))) == 1


def test_enter_a_unit_on_the_page(tree, login_as, assessment, db):
    from app.assessments.models import AssessmentUnit

    c = login_as(tree.admin)
    html = page(c.get(f"/assessments/{assessment.id}"))
    assert "桂花社区" in html  # offered in the picker
    r = c.get(f"/assessments/{assessment.id}/units/add?org={tree.c1.id}")
    assert r.status_code == 302
    html = page(c.get(r.headers["Location"]))
    for dept in ("纪委", "组织部", "宣传部", "统战部"):
        assert dept in html
    form = {"unit_class": "社区", "base": "90", "dept_0": "90", "dept_1": "88", "dept_2": "87.5", "dept_3": "87",
            "bonus": "区级表彰 2\n红旗项目1分", "deductions": "信访问题：0.5", "veto": "", "criticized_reason": ""}
    r = c.post(f"/assessments/{assessment.id}/units/{tree.c1.id}", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)
    unit = db.session.scalar(db.select(AssessmentUnit))
    assert str(unit.party_building) == "352.50" and str(unit.bonus) == "3.00" and str(unit.deductions) == "0.50"
    assert unit.bonus_items == [{"points": "2", "reason": "区级表彰"}, {"points": "1", "reason": "红旗项目"}]
    assert unit.deduction_items == [{"points": "0.5", "reason": "信访问题"}]
    html = page(c.get(f"/assessments/{assessment.id}/units/{tree.c1.id}"))
    assert "区级表彰 2" in html and 'value="87.5"' in html
    # on a phone the table's last columns lie past the edge: the unit's name opens it too
    detail = page(c.get(f"/assessments/{assessment.id}"))
    assert (f'<td class="unit-name"><a href="/assessments/{assessment.id}/units/{tree.c1.id}">桂花社区</a></td>'
            in detail)

    # bad input: a readable Chinese message, nothing saved
    for bad, message in (({"base": "九十"}, "基础分须为数字"), ({"base": "120"}, "基础分须不小于0且不大于100"),
                         ({"dept_3": ""}, "缺：统战部"), ({"bonus": "区级表彰"}, "请按“事由 分值”填写"),
                         ({"criticized_reason": "x"}, "请同时勾选")):
        html = page(c.post(f"/assessments/{assessment.id}/units/{tree.c1.id}", data={**form, **bad}), 422)
        assert message in html, message
    # a field that does not parse does not hide what is wrong with the others
    html = page(c.post(f"/assessments/{assessment.id}/units/{tree.c1.id}",
                       data={**form, "base": "-1", "dept_0": "很好"}), 422)
    assert "纪委评分须为数字" in html and "基础分须不小于0且不大于100" in html
    html = page(c.post(f"/assessments/{assessment.id}/units/{tree.c1.id}",
                       data={**form, "unit_class": "", "bonus": "区级表彰"}), 422)
    assert "请按“事由 分值”填写" in html and "请填写单位类别" in html
    db.session.expire_all()
    assert str(db.session.scalar(db.select(AssessmentUnit.base))) == "90.00"


def test_results_page_shows_explanations_links_and_talks(tree, login_as, assessment, make_org):
    from app.assessments import services

    orgs = [make_org(f"街道{i}", "street") for i in range(1, 12)]
    for i, org in enumerate(orgs, start=1):
        services.save_unit(tree.admin, assessment.id, org.id,
                           {"base": 90, "party_building": 400 - i, "unit_class": "街道"})
    c = login_as(tree.admin)
    html = page(c.get(f"/assessments/{assessment.id}/results"))
    assert "1.025" in html and "0.975" in html and "1.000" in html
    assert "系数 = 1 + ((11+1)/2 - 1) × 0.5% = 1.025" in html
    assert 'class="table-wrap"' in html and "约谈名单" in html and "间接挂钩" in html
    assert "style=" not in html and "<script>" not in html
    members = page(c.get(f"/assessments/{assessment.id}/units/{orgs[0].id}/members"))
    assert "1.025" in members and "直接挂钩" in members


def test_notice_page_and_pdf(tree, login_as, assessment):
    from app.assessments import services

    services.save_unit(tree.admin, assessment.id, tree.c1.id, {"base": 95, "party_building": 300, "unit_class": "社区"})
    services.save_unit(tree.admin, assessment.id, tree.c2.id,
                       {"base": 50, "party_building": 200, "unit_class": "社区", "veto": ["安全生产事故"]})
    c = login_as(tree.admin)
    html = page(c.get(f"/assessments/{assessment.id}/notice"))
    assert "关于2026年度社区党组织年度考核结果的通报" in html and "草稿" in html
    assert "不合格单位" in html and "荷花社区" in html and "一票否决（安全生产事故）" in html
    pdf = c.get(f"/assessments/{assessment.id}/notice.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert b"/FontFile2" in pdf.data or b"STSong-Light" in pdf.data  # an embedded CJK font, or the standard one


def test_an_unqualified_unit_is_named_with_its_reason_among_the_ineligible(tree, login_as, assessment):
    """Graded 不合格 (below the 60% line), a unit loses award eligibility: the notice says why
    there too, instead of "荷花社区：。"."""
    from app.assessments import services

    services.save_unit(tree.admin, assessment.id, tree.c1.id, {"base": 95, "party_building": 300, "unit_class": "社区"})
    services.save_unit(tree.admin, assessment.id, tree.c2.id, {"base": 40, "party_building": 200, "unit_class": "社区"})
    c = login_as(tree.admin)
    text = page(c.get(f"/assessments/{assessment.id}/notice"))
    ineligible = text.split("取消当年评优评先资格")[1]
    assert re.search(r"荷花社区[^：<]*：考核等次为不合格。", ineligible), ineligible[:400]
    assert "：。" not in text


def test_notice_is_dated_the_local_day_it_was_published(tree, login_as, assessment, db):
    """Published at 02:30 in Beijing (18:30 UTC the day before): the notice carries the local day."""
    from datetime import datetime, timezone

    from app.assessments import services

    services.save_unit(tree.admin, assessment.id, tree.c1.id, {"base": 95, "party_building": 300, "unit_class": "社区"})
    services.publish(tree.admin, assessment.id)
    assessment.published_at = datetime(2026, 12, 31, 18, 30, tzinfo=timezone.utc)
    db.session.commit()
    html = page(login_as(tree.admin).get(f"/assessments/{assessment.id}/notice"))
    assert "2027年1月1日" in html and "2026年12月31日" not in html


def test_publish_and_reopen_on_the_page(tree, login_as, assessment, db):
    from app.assessments import services

    services.save_unit(tree.admin, assessment.id, tree.c1.id, {"base": 95, "party_building": 300, "unit_class": "社区"})
    c = login_as(tree.admin)
    r = c.post(f"/assessments/{assessment.id}/publish")
    assert r.status_code == 302
    html = page(c.get(f"/assessments/{assessment.id}"))
    assert "已发布" in html and "撤回发布" in html
    r = c.post(f"/assessments/{assessment.id}/units/{tree.c1.id}", data={"unit_class": "社区", "base": "10",
                                                                            "party_building_total": "300"})
    assert "已发布" in page(r, 422)
    db.session.expire_all()
    assert services.get_unit(tree.admin, assessment.id, tree.c1.id).base == 95
    c.post(f"/assessments/{assessment.id}/reopen")
    assert "发布结果" in page(c.get(f"/assessments/{assessment.id}"))


def test_pages_have_no_inline_styles_or_scripts(tree, login_as, assessment):
    c = login_as(tree.admin)
    for path in ("/assessments/", "/assessments/new", f"/assessments/{assessment.id}",
                 f"/assessments/{assessment.id}/settings", f"/assessments/{assessment.id}/units/{tree.c1.id}",
                 f"/assessments/{assessment.id}/import", f"/assessments/{assessment.id}/results",
                 f"/assessments/{assessment.id}/notice"):
        html = page(c.get(path))
        assert not re.search(r"\sstyle=", html), path
        assert "<script>" not in html, path


def test_every_post_form_carries_csrf():
    from pathlib import Path

    import app

    for template in (Path(app.__file__).parent / "templates" / "assessments").glob("*.html"):
        for form in re.findall(r"<form[^>]*method=\"post\".*?</form>", template.read_text(), re.S):
            assert "csrf_token" in form, template.name


def test_a_title_that_names_its_year_says_it_once(tree, login_as, db):
    from urllib.parse import unquote

    from app.assessments import services

    named = services.create_assessment(tree.admin, year=2026, title="2026年度社区党建考核", coefficient_step=0.005)
    plain = services.create_assessment(tree.admin, year=2026, title="社区党建考核", coefficient_step=0.005)
    assert (named.display_title, named.full_title) == ("2026年度社区党建考核", "2026年度社区党建考核")
    assert (plain.display_title, plain.full_title) == ("2026 社区党建考核", "2026年度社区党建考核")
    c = login_as(tree.admin)
    for path in (f"/assessments/{named.id}", f"/assessments/{named.id}/results", "/assessments/"):
        assert "2026 2026" not in page(c.get(path)), path
    notice = page(c.get(f"/assessments/{named.id}/notice"))
    assert "关于2026年度社区党建考核结果的通报" in notice and "2026年度2026" not in notice
    assert "关于2026年度社区党建考核结果的通报" in page(c.get(f"/assessments/{plain.id}/notice"))
    pdf = c.get(f"/assessments/{named.id}/notice.pdf")
    assert "2026年度社区党建考核-通报.pdf" in unquote(pdf.headers["Content-Disposition"])


def test_removing_a_unit_from_a_published_assessment_says_why(tree, login_as, assessment, db):
    from app.assessments import services
    from app.assessments.models import AssessmentUnit

    services.save_unit(tree.admin, assessment.id, tree.c1.id, {"base": 95, "party_building": 300, "unit_class": "社区"})
    services.publish(tree.admin, assessment.id)
    r = login_as(tree.admin).post(f"/assessments/{assessment.id}/units/{tree.c1.id}/delete", follow_redirects=True)
    body = r.get_data(as_text=True)
    assert "已发布，不能再修改" in body and "操作与当前状态冲突" not in body
    assert db.session.scalar(db.select(db.func.count(AssessmentUnit.org_id)).where(
        AssessmentUnit.assessment_id == assessment.id)) == 1
