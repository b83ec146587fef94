"""Contest pages: the phone board (top 10 + around me), hall display, create form, notice, export."""
from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from app.contests import services
from tests.contests.conftest import YEAR


@pytest.fixture
def big_race(race, make_user, add_points, make_contest):
    """16 members in 桂花社区; 吴九 (race.m14, 第四支部) has no counted points and is outside the top 10."""
    race.new = []
    for i in range(8):
        m = make_user(race.b14 if i == 7 else race.b13, "member", f"新党员{i}")
        add_points(i + 1, "service", member=m)
        race.new.append(m)
    race.contest = make_contest(race.tree.sec_c1, race.c1, "member", categories=["study", "service"])
    return race


def _rows(html: str) -> list[str]:
    return re.findall(r"<tr class=\"([^\"]*)\"", html)


def test_member_sees_top_10_and_the_places_around_them(big_race, login_as):
    r = big_race
    html = login_as(r.m14).get(f"/contests/{r.contest.id}").get_data(as_text=True)
    assert "前十名" in html and "我附近的名次" in html and "我的名次" in html
    top, around = html.split("我附近的名次", 1)
    assert top.count('<td class="num rank">') == 10
    assert 'class="mine' in around and "吴九" in around and "吴九" not in top
    assert "my-branch" in top  # 新党员7 (8 points, 3rd) is in 吴九's branch (第四支部)
    assert "共16个参赛对象" in html
    assert ' style="' not in html and "<script>" not in html


def test_arrows_show_movement_since_the_last_rollup(big_race, login_as, add_points):
    r = big_race
    add_points(30, "study", member=r.m14)  # from last to first
    services.rollup_now(r.tree.sec_c1, r.contest.id)
    html = login_as(r.m14).get(f"/contests/{r.contest.id}").get_data(as_text=True)
    mine = html.split("</nav>", 1)[1].split('aria-current="true"', 1)[1].split("</tr>", 1)[0]
    assert "吴九" in mine and "move up" in mine and "↑12" in mine  # 13th -> 1st
    assert "move down" in html and "我附近的名次" not in html


def test_branch_board_marks_my_branch(race, make_contest, login_as):
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"])
    html = login_as(race.tree.m11).get(f"/contests/{c.id}").get_data(as_text=True)
    mine = html.split("</nav>", 1)[1].split('aria-current="true"', 1)[1].split("</tr>", 1)[0]
    assert "桂花第一支部" in mine and "本单位" in mine
    assert "桂花第一支部的名次" in html


def test_trend_chart_is_a_server_rendered_svg(big_race, login_as):
    r = big_race
    tz = ZoneInfo("Asia/Shanghai")
    today = datetime.now(tz)
    for days in (3, 2, 1):
        services.close_day(today - timedelta(days=days - 1))
    html = login_as(r.m14).get(f"/contests/{r.contest.id}").get_data(as_text=True)
    svg, key = html.split('<svg class="trend"', 1)[1].split("</svg>", 1)
    assert "<polyline" in svg and "trend-line me" in svg
    assert "吴九（我）" in key.split("</ul>", 1)[0]


def test_hall_display_refreshes_itself_and_pages(big_race, login_as):
    r = big_race
    c = login_as(r.tree.sec_c1)
    first = c.get(f"/contests/{r.contest.id}/hall").get_data(as_text=True)
    assert f'http-equiv="refresh" content="30;url=/contests/{r.contest.id}/hall?page=2"' in first
    assert 'class="topbar"' not in first and first.count('<td class="num rank">') == 15
    second = c.get(f"/contests/{r.contest.id}/hall?page=2").get_data(as_text=True)
    assert f"url=/contests/{r.contest.id}/hall?page=1" in second and second.count('<td class="num rank">') == 1
    assert c.get(f"/contests/{r.contest.id}/hall?page=9").status_code == 302


def test_full_standings_list_everyone_with_me_marked(big_race, login_as):
    r = big_race
    html = login_as(r.m14).get(f"/contests/{r.contest.id}/standings").get_data(as_text=True)
    assert html.count('<td class="num rank">') == 16 and "共16个参赛对象" in html
    mine = html.split("</nav>", 1)[1].split('aria-current="true"', 1)[1].split("</tr>", 1)[0]
    # twelve members have counted points; 吴九 and the three others without share 13th place
    assert "吴九" in mine and '<td class="num rank">13</td>' in mine
    assert html.count('<td class="num rank">13</td>') == 4
    ranks = [int(x) for x in re.findall(r'<td class="num rank">(\d+)</td>', html)]
    assert ranks == sorted(ranks) and ranks[:2] == [1, 1]  # 张三 and 周八 share first place


def test_a_standings_page_past_the_end_goes_to_the_last_page(big_race, login_as):
    c = login_as(big_race.m14)
    r = c.get(f"/contests/{big_race.contest.id}/standings?page=999")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/contests/{big_race.contest.id}/standings")
    assert c.get(f"/contests/{big_race.contest.id}/standings?page=1").status_code == 200


def test_pages_are_403_outside_the_scope(big_race, login_as):
    c = login_as(big_race.tree.sec_c2)
    for path in ("", "/hall", "/notice", "/export.xlsx", "/standings"):
        r = c.get(f"/contests/{big_race.contest.id}{path}")
        assert r.status_code == 403 and "不在您的范围内" in r.get_data(as_text=True)


def test_secretary_creates_a_contest_on_the_page(race, login_as):
    c = login_as(race.tree.sec_c1)
    form = c.get("/contests/new").get_data(as_text=True)
    assert 'name="categories"' in form and 'name="csrf_token"' in form
    assert '<option selected value="branch">' in form  # a community's branches race by default
    # a branch secretary's only race is among the branch's members: that is the one offered
    branch = login_as(race.tree.sec_b11).get("/contests/new").get_data(as_text=True)
    select = branch.split('name="participant_type"')[1].split("</select>")[0]
    assert 'value="member"' in select and 'value="branch"' not in select and 'value="community"' not in select
    data = {"title": f"{YEAR}年度支部积分竞位赛", "participant_type": "branch", "scope_org_id": str(race.c1.id),
            "starts_on": f"{YEAR}-01-01", "ends_on": f"{YEAR}-12-31", "categories": ["study", "service"],
            "scoring": "per_capita", "top_places": "2", "top_points": "3", "exclude_last": "y"}
    r = c.post("/contests/new", data=data)
    assert r.status_code == 302 and "/contests/" in r.headers["Location"]
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "桂花第三支部" in page and "10.0" in page and "人均分" in page


def test_bad_input_on_the_page_gets_readable_chinese(race, login_as):
    c = login_as(race.tree.sec_c1)
    data = {"title": "竞赛", "participant_type": "branch", "scope_org_id": str(race.c1.id),
            "starts_on": f"{YEAR}-06-01", "ends_on": f"{YEAR}-05-01", "scoring": "total",
            "top_places": "2", "top_points": "3"}
    r = c.post("/contests/new", data=data)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "结束日期不能早于开始日期" in html and "请至少选择一个计分类别" in html
    r = c.post("/contests/new", data={**data, "ends_on": "不是日期", "scope_org_id": "abc"})
    assert r.status_code == 200 and "field-error" in r.get_data(as_text=True)
    html = c.post("/contests/new", data={**data, "top_places": "2.5"}).get_data(as_text=True)
    assert "加分名次须在 0 到 50 之间" not in html and 'id="top_places"' in html  # one message: not a whole number


def test_finalize_page_confirms_then_freezes(race, make_contest, login_as):
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"], top_places=2,
                     top_points=2, exclude_last=True)
    s = login_as(race.tree.sec_c1)
    confirm = s.get(f"/contests/{c.id}/finalize").get_data(as_text=True)
    assert "确认定稿" in confirm and "末位（获得前几名加分的除外）不得参加" in confirm
    r = s.post(f"/contests/{c.id}/finalize")
    assert r.status_code == 302
    page = s.get(r.headers["Location"]).get_data(as_text=True)
    assert "已定稿" in page and "考核加2分" in page and "末位，不得参加当年评优评先" in page
    # a second tap lands on the final board, told it is final, not on an error
    again = s.post(f"/contests/{c.id}/finalize", follow_redirects=True).get_data(as_text=True)
    assert "该竞赛已定稿，最终排名见下。" in again and "flash-info" in again and "不能重复定稿" not in again


def test_notice_for_a_published_month_and_the_final(race, make_contest, login_as):
    tz = ZoneInfo("Asia/Shanghai")
    c = make_contest(race.tree.sec_c1, race.c1, "branch", categories=["study", "service"], top_places=1,
                     top_points=2, exclude_last=True)
    services.publish_month(datetime(YEAR, 7, 1, 1, 0, tzinfo=tz))
    m = login_as(race.tree.m11)
    monthly = m.get(f"/contests/{c.id}/notice").get_data(as_text=True)
    assert f"{YEAR}年6月排名情况的通报" in monthly and "桂花第四支部" in monthly
    services.finalize(race.tree.sec_c1, c.id)
    final = m.get(f"/contests/{c.id}/notice").get_data(as_text=True)
    assert "最终排名情况的通报" in final and "桂花第一支部，各加2分" in final
    assert "桂花第四支部位列末位" in final and f"{YEAR}年6月" in final  # the month stays listed


def test_export_is_an_excel_file_of_the_whole_board(big_race, login_as):
    r = big_race
    resp = login_as(r.tree.sec_c1).get(f"/contests/{r.contest.id}/export.xlsx")
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    ws = openpyxl.load_workbook(io.BytesIO(resp.data)).active
    rows = [[c for c in row] for row in ws.iter_rows(values_only=True)]
    header = next(i for i, row in enumerate(rows) if row[0] == "名次")
    assert rows[header][:4] == ["名次", "党员", "所属组织", "得分"]
    data = rows[header + 1:]
    assert len(data) == 16
    assert data[0][0] == 1 and data[0][3] == 10.0
    assert {row[1] for row in data if row[0] == 1} == {"张三", "周八"}


def test_export_keeps_a_formula_like_name_as_text(big_race, login_as, db):
    """A member named =2+3 is the text "=2+3" in the export, not a formula (no formula injection)."""
    import zipfile

    big_race.tree.m11.name = "=2+3"
    db.session.commit()
    resp = login_as(big_race.tree.sec_c1).get(f"/contests/{big_race.contest.id}/export.xlsx")
    with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
        assert not any("<f>" in z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))
    values = {c for row in openpyxl.load_workbook(io.BytesIO(resp.data)).active.iter_rows(values_only=True) for c in row}
    assert "=2+3" in values


def test_list_page_shows_my_contests(big_race, login_as):
    html = login_as(big_race.tree.m11).get("/contests/").get_data(as_text=True)
    assert big_race.contest.title in html and "发起竞赛" not in html
    other = login_as(big_race.tree.sec_c2).get("/contests/").get_data(as_text=True)
    assert big_race.contest.title not in other and "发起竞赛" in other


def test_the_badge_follows_the_calendar_and_an_early_finalize_is_warned(race, make_contest, login_as, monkeypatch):
    """未开始 before the first day, 进行中 through the last, 已结束，待定稿 after it until finalized;
    finalizing before the last day says what is given up."""
    from app.contests import rollup

    monkeypatch.setattr(rollup, "utcnow", lambda: datetime(YEAR, 7, 1, 4, 0, tzinfo=timezone.utc))
    running = make_contest(race.tree.sec_c1, race.c1, "branch", title="全年竞赛")
    ended = make_contest(race.tree.sec_c1, race.c1, "branch", title="上半年竞赛", ends_on=date(YEAR, 6, 30))
    upcoming = make_contest(race.tree.sec_c1, race.c1, "branch", title="下半年竞赛", starts_on=date(YEAR, 7, 2))
    s = login_as(race.tree.sec_c1)
    for contest, badge in ((running, "进行中"), (ended, "已结束，待定稿"), (upcoming, "未开始")):
        page = s.get(f"/contests/{contest.id}").get_data(as_text=True)
        assert f">{badge}</span>" in page, contest.title
    listing = s.get("/contests/").get_data(as_text=True)
    assert listing.count(">已结束，待定稿</span>") == 1 and listing.count(">未开始</span>") == 1

    early = s.get(f"/contests/{running.id}/finalize").get_data(as_text=True)
    assert f"竞赛尚未结束（{YEAR}-12-31结束）：现在定稿，将按目前的积分生成最终排名" in early
    assert "竞赛尚未结束" not in s.get(f"/contests/{ended.id}/finalize").get_data(as_text=True)
    services.finalize(race.tree.sec_c1, ended.id)
    assert ">已定稿</span>" in s.get(f"/contests/{ended.id}").get_data(as_text=True)
