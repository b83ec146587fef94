"""The top navigation on a 360 px phone: one row that scrolls sideways, with the current page's link
brought into view; on a wide screen every link shows without scrolling."""
from __future__ import annotations

import pytest

from app.demo import DEMO_PASSWORD, FIXED_COMMUNITY_SECRETARY
from tests.e2e.conftest import has_horizontal_scroll, login, small_touch_targets

pytestmark = pytest.mark.e2e

NAV_JS = """
() => {
  const nav = document.querySelector('.nav');
  const links = [...nav.querySelectorAll('a')].map(a => {
    const r = a.getBoundingClientRect();
    return {text: a.innerText.trim(), top: Math.round(r.top), left: r.left, right: r.right, current: a.getAttribute('aria-current')};
  });
  return {header: document.querySelector('.topbar').getBoundingClientRect().height,
          scrolls: nav.scrollWidth > nav.clientWidth, links};
}
"""


def test_phone_nav_is_one_row_and_shows_the_current_link(live_server, page, console_errors, tmp_path):
    login(page, live_server.url, FIXED_COMMUNITY_SECRETARY[1], DEMO_PASSWORD)
    for path, label in (("/qr-admin/", "扫码评议"), ("/account", "我的账号"), ("/points/review", "审核")):
        page.goto(live_server.url + path)
        nav = page.evaluate(NAV_JS)
        page.screenshot(path=str(tmp_path / f"nav{path.replace('/', '_')}.png"))
        assert len({link["top"] for link in nav["links"]}) == 1, nav["links"]  # one row
        assert nav["header"] < 70, nav["header"]
        assert nav["scrolls"], "a secretary's links do not fit 360 px: the row should scroll"
        current = [link for link in nav["links"] if link["current"]]
        assert [link["text"] for link in current] == [label]
        assert current[0]["left"] >= 0 and current[0]["right"] <= 360, current  # scrolled into view
        assert not has_horizontal_scroll(page)
        assert small_touch_targets(page) == []
    # a deeper page marks its section
    page.goto(live_server.url + "/contests/")
    page.click("main a[href^='/contests/']:not([href$='/new'])")
    nav = page.evaluate(NAV_JS)
    assert [(link["text"], link["current"]) for link in nav["links"] if link["current"]] == [("竞位赛", "true")]
    assert console_errors == []


def test_wide_screen_nav_shows_every_link(live_server, browser, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    try:
        page = context.new_page()
        login(page, live_server.url, FIXED_COMMUNITY_SECRETARY[1], DEMO_PASSWORD)
        page.goto(live_server.url + "/qr-admin/")
        nav = page.evaluate(NAV_JS)
        page.screenshot(path=str(tmp_path / "nav-wide.png"))
        assert not nav["scrolls"]
        assert all(0 <= link["left"] and link["right"] <= 1280 for link in nav["links"]), nav["links"]
    finally:
        context.close()
