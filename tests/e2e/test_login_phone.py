"""Each demo role logs in on a 360 px phone and lands on its start page without sideways scrolling."""
from __future__ import annotations

import pytest

from app.auth.views import START_PAGES
from app.demo import (DEMO_PASSWORD, FIXED_ADMIN, FIXED_BRANCH_SECRETARY, FIXED_COMMUNITY_SECRETARY,
                      FIXED_MEMBER)
from tests.e2e.conftest import has_horizontal_scroll, login, small_touch_targets

pytestmark = pytest.mark.e2e

ROLES = {
    "admin": (FIXED_ADMIN, "admin"),
    "community_secretary": (FIXED_COMMUNITY_SECRETARY, "secretary"),
    "branch_secretary": (FIXED_BRANCH_SECRETARY, "secretary"),
    "member": (FIXED_MEMBER, "member"),
}


@pytest.mark.parametrize("who", list(ROLES))
def test_demo_login_on_a_phone(live_server, page, console_errors, tmp_path, who):
    (_label, phone, name), role = ROLES[who]
    assert (phone, DEMO_PASSWORD) in [(p, pw) for _, p, pw in live_server.logins]

    login(page, live_server.url, phone, DEMO_PASSWORD)

    assert page.url == live_server.url + live_server.path_for(START_PAGES[role])
    assert page.evaluate("window.innerWidth") == 360
    assert not has_horizontal_scroll(page), "the start page scrolls sideways at 360 px"
    assert small_touch_targets(page) == []
    assert name in page.inner_text("body")
    assert page.locator("footer button[type=submit]").is_visible()  # the way out is there
    page.screenshot(path=str(tmp_path / f"start-{who}.png"), full_page=True)
    assert console_errors == []


def test_wrong_password_on_a_phone(live_server, page, console_errors, tmp_path):
    login(page, live_server.url, FIXED_MEMBER[1], "not-the-password")

    assert page.url.endswith("/login")
    assert "手机号或密码错误" in page.inner_text(".flash-error")
    assert not has_horizontal_scroll(page)
    assert small_touch_targets(page) == []
    page.screenshot(path=str(tmp_path / "login-error.png"), full_page=True)
    assert console_errors == []
