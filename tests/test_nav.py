"""The top navigation marks the page, or the section a deeper page lies in, with aria-current."""
from app.templating import nav_current

LINKS = [("我的积分", "/index/me"), ("排行", "/index/table"), ("党员", "/orgs/members"), ("组织", "/orgs/"),
         ("竞位赛", "/contests/"), ("首页", "/")]


def marks(here: str) -> dict[str, str]:
    return {label: cur for (label, _url), cur in zip(LINKS, nav_current(here, LINKS)) if cur}


def test_the_page_itself_is_the_page():
    assert marks("/index/me") == {"我的积分": "page"}
    assert marks("/contests/") == {"竞位赛": "page"}
    assert marks("/") == {"首页": "page"}


def test_a_deeper_page_marks_its_section_by_whole_path_segments():
    assert marks("/contests/3/standings") == {"竞位赛": "true"}
    assert marks("/orgs/members/12/edit") == {"党员": "true"}  # the longest section, not /orgs/
    assert marks("/orgs/5") == {"组织": "true"}
    assert marks("/index/me/entries") == {"我的积分": "true"}
    assert marks("/index/members/7") == {}  # /index/members is not under /index/me
    assert marks("/account") == {}  # the home link is a section of nothing


def test_a_secretary_page_renders_the_marks(tree, login_as):
    import re

    c = login_as(tree.sec_c1)
    review = c.get("/points/review").get_data(as_text=True)
    assert re.search(r'<a href="/points/review" aria-current="page">', review)
    edit = c.get(f"/orgs/members/{tree.m11.id}/edit")
    assert edit.status_code == 200
    nav = edit.get_data(as_text=True).split('<nav class="nav"', 1)[1].split("</nav>", 1)[0]
    assert re.findall(r'aria-current="(\w+)"', nav) == ["true"]
    assert '<a href="/orgs/members" aria-current="true">' in nav
    assert re.search(r'src="/static/nav\.js\?v=[0-9a-f]{10}" defer', edit.get_data(as_text=True))
