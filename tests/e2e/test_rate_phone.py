"""A resident on a 360 px phone: opens the rating page, taps five stars, submits, is thanked."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import has_horizontal_scroll, small_touch_targets

pytestmark = pytest.mark.e2e


@pytest.fixture
def rating_code(live_server):
    """A fresh code for a demo member, and a way to read back that code's ratings."""
    from app.auth.models import User
    from app.auth.scope import SYSTEM
    from app.extensions import db
    from app.qr import services
    from app.qr.models import Rating

    with live_server.app.app_context():
        member = db.session.scalars(sa.select(User).where(User.role == "member").order_by(User.id)).first()
        target = services.create_target(SYSTEM, "member", member.id)
        token, target_id, name = services.token_of(target), target.id, member.name
        db.session.remove()

    def ratings() -> list[tuple[int, bool, list, str]]:
        with live_server.app.app_context():
            rows = db.session.execute(sa.select(Rating.stars, Rating.counted, Rating.tags, Rating.comment)
                                      .where(Rating.target_id == target_id).order_by(Rating.id)).all()
            db.session.remove()
            return [tuple(r) for r in rows]

    return token, name, ratings


def test_resident_rates_five_stars_on_a_phone(live_server, page, console_errors, tmp_path, rating_code):
    token, name, ratings = rating_code
    page.goto(f"{live_server.url}/r/{token}")

    assert page.evaluate("window.innerWidth") == 360
    assert name in page.inner_text("h1")
    assert not has_horizontal_scroll(page), "the rating page scrolls sideways at 360 px"
    assert small_touch_targets(page) == []
    star = page.locator("label[for=s5]").bounding_box()
    assert star["width"] >= 44 and star["height"] >= 44
    page.screenshot(path=str(tmp_path / "rate.png"), full_page=True)

    page.tap("label[for=s5]")
    assert page.is_checked("#s5")
    page.tap("text=服务热情")
    page.fill("#comment", "社区服务很周到，点赞！")
    page.screenshot(path=str(tmp_path / "rate-filled.png"), full_page=True)
    with page.expect_navigation():
        page.tap("button.go")

    assert page.url == f"{live_server.url}/r/{token}/thanks"
    assert "感谢您的评价" in page.inner_text("body")
    assert not has_horizontal_scroll(page)
    page.screenshot(path=str(tmp_path / "thanks.png"), full_page=True)
    assert ratings() == [(5, True, ["服务热情"], "社区服务很周到，点赞！")]
    assert console_errors == []


def test_a_stale_code_on_a_phone_gets_the_friendly_page(live_server, page, console_errors):
    page.goto(f"{live_server.url}/r/{'A' * 24}")
    assert "二维码无效或已停用" in page.inner_text("body")
    assert not has_horizontal_scroll(page)
    assert [e for e in console_errors if "404" not in e] == []  # the page itself answers 404, on purpose


def test_secretary_follows_up_a_low_rating_on_a_phone(live_server, browser, page, console_errors, tmp_path):
    """Done when: a resident complains, the branch secretary sees it and closes the follow-up."""
    from app.auth.models import User
    from app.auth.scope import SYSTEM
    from app.demo import DEMO_PASSWORD, FIXED_BRANCH_SECRETARY, FIXED_MEMBER
    from app.extensions import db
    from app.qr import services
    from tests.e2e.conftest import PHONE, login

    with live_server.app.app_context():
        member = db.session.scalar(sa.select(User).where(User.phone == FIXED_MEMBER[1]))
        target = services.create_target(SYSTEM, "member", member.id, "党员先锋岗")
        token, target_id = services.token_of(target), target.id
        db.session.remove()

    resident = browser.new_context(**PHONE)
    try:
        rp = resident.new_page()
        rp.goto(f"{live_server.url}/r/{token}")
        rp.tap("label[for=s1]")
        rp.fill("#comment", "<b>窗口</b>中午没人，等了一个小时")
        with rp.expect_navigation():
            rp.tap("button.go")
        assert "感谢您的评价" in rp.inner_text("body")
    finally:
        resident.close()

    login(page, live_server.url, FIXED_BRANCH_SECRETARY[1], DEMO_PASSWORD)
    page.goto(f"{live_server.url}/qr-admin/")
    assert "条差评待整改" in page.inner_text("main")
    for path in ("/qr-admin/", f"/qr-admin/targets/{target_id}", "/qr-admin/followups", "/qr-admin/sheets",
                 "/qr-admin/posts"):
        page.goto(live_server.url + path)
        assert not has_horizontal_scroll(page), path
        assert small_touch_targets(page) == [], path
    page.goto(f"{live_server.url}/qr-admin/targets/{target_id}")
    assert "<b>窗口</b>中午没人" in page.inner_text("main")  # shown as text, never as markup
    page.screenshot(path=str(tmp_path / "target.png"), full_page=True)

    page.goto(f"{live_server.url}/qr-admin/followups")
    page.screenshot(path=str(tmp_path / "followups.png"), full_page=True)
    with page.expect_navigation():
        page.click("ul.followups a.button")
    assert not has_horizontal_scroll(page) and small_touch_targets(page) == []
    page.fill("#action", "已调整午间值班，专人负责窗口，并电话回访群众。")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "整改已办结" in page.inner_text("main")
    assert "已调整午间值班" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "followup-closed.png"), full_page=True)
    assert console_errors == []
