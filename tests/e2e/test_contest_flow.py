"""Done when (contests): a community secretary creates the year's points race on a phone, members'
points flow into it without anyone pressing a button (the scheduler's rollup job), the hall screen
shows the board, and finalizing hands the top two and the last place to the annual assessment."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.demo import DEMO_PASSWORD, FIXED_COMMUNITY_SECRETARY
from app.points.models import CATEGORIES
from tests.e2e.conftest import has_horizontal_scroll, login, phone_check

pytestmark = pytest.mark.e2e

TOP_PLACES, TOP_POINTS = 2, Decimal(3)


def _board(page) -> list[dict]:
    """The rows of the first board table on the page: rank, name, score, movement text."""
    rows = []
    for tr in page.locator("table.board").first.locator("tbody tr").all():
        cells = [c.strip() for c in tr.locator("td").all_inner_texts()]
        rows.append({"rank": int(cells[0]), "name": cells[1].split("\n")[0].strip(),
                     "score": Decimal(cells[2]), "move": cells[3]})
    return rows


def _competition_ranks(scores: dict[str, Decimal]) -> dict[str, int]:
    """1 + the number of strictly higher scores (ties share a place: 1, 2, 2, 4)."""
    return {name: 1 + sum(1 for other in scores.values() if other > s) for name, s in scores.items()}


def _claim_and_approve(live_server, branch_name: str) -> Decimal:
    """A member of ``branch_name`` files a claim and the community secretary approves it, through the
    same service functions the pages call (no board refresh by anyone). Returns the points granted."""
    from app.auth.models import User
    from app.extensions import db
    from app.orgs.models import Org
    from app.points import services

    with live_server.app.app_context():
        branch = db.session.scalar(sa.select(Org).where(Org.name == branch_name))
        secretary = db.session.scalar(sa.select(User).where(User.phone == FIXED_COMMUNITY_SECRETARY[1]))
        members = db.session.scalars(sa.select(User).where(User.org_id == branch.id, User.role == "member",
                                                           User.active.is_(True)).order_by(User.id)).all()
        today = services.local_today()
        for member in members:
            for rule in sorted(services.active_rules(), key=lambda r: -r.points):
                if rule.category not in ("study", "service") or rule.evidence_required or not rule.needs_approval:
                    continue
                used = services.cap_usage(rule.code, member_id=member.id, org_id=None, day=today)
                caps = {"day": rule.daily_cap, "month": rule.monthly_cap, "year": rule.yearly_cap}
                if all(cap is None or used[k] + rule.points <= cap for k, cap in caps.items()):
                    claim = services.submit_claim(member, rule_code=rule.code, occurred_on=today.isoformat(),
                                                  note=f"{rule.title}（有活动签到记录）")
                    entry = services.approve_claim(secretary, claim.id)
                    points = Decimal(entry.points)
                    db.session.remove()
                    return points
        db.session.remove()
    raise AssertionError(f"no member of {branch_name} can claim anything today")


def _run_rollup_job(live_server) -> str:
    """What the scheduler process does every few minutes: the rollup job, run once in-process."""
    from app.extensions import db
    from app.scheduler import run_job

    with live_server.app.app_context():
        result = run_job("rollup")
        db.session.remove()
    assert result.outcome == "done", str(result)
    return str(result)


def test_secretary_runs_a_branch_points_race_on_a_phone(live_server, page, console_errors, tmp_path):
    from app.points.services import local_today

    url = live_server.url
    with live_server.app.app_context():
        year = local_today().year
    title = f"{year}年度桂花社区支部积分竞位赛（手机发起）"

    # -- create the race on the phone form -----------------------------------------------------
    login(page, url, FIXED_COMMUNITY_SECRETARY[1], DEMO_PASSWORD)
    page.goto(f"{url}/contests/")
    with page.expect_navigation():
        page.click("a[href$='/contests/new']")
    phone_check(page, tmp_path, "01-new-contest")
    assert "桂花社区党委" in page.locator("#scope_org_id option:checked").inner_text()
    assert [page.is_checked(f"#categories-{i}") for i in range(len(CATEGORIES))] == [True] * len(CATEGORIES)
    page.fill("#title", title)
    page.select_option("#participant_type", "branch")
    page.fill("#starts_on", date(year, 1, 1).isoformat())
    page.fill("#ends_on", date(year, 12, 31).isoformat())
    page.select_option("#scoring", "total")
    page.fill("#top_places", str(TOP_PLACES))
    page.fill("#top_points", str(TOP_POINTS))
    page.check("#exclude_last")
    with page.expect_navigation():
        page.tap("main form button[type=submit]")
    assert f"已创建竞赛：{title}" in page.inner_text(".flash-success")
    assert page.inner_text("main h1") == title
    contest_url = page.url

    # -- the board (top 10) as created ---------------------------------------------------------
    assert "前十名" in page.inner_text("main")
    before = _board(page)
    assert len(before) == 4  # the four branches of 桂花社区
    assert {r["name"] for r in before} == {"桂花社区第一党支部", "桂花社区第二党支部", "桂花社区离退休党支部",
                                           "桂花社区物业党支部"}
    assert {r["name"]: r["rank"] for r in before} == _competition_ranks({r["name"]: r["score"] for r in before})
    phone_check(page, tmp_path, "02-board-created")

    # -- a member's approved claim flows in through the scheduled rollup ------------------------
    ordered = sorted(before, key=lambda r: (r["rank"], r["name"]))
    target = ordered[2]["name"]  # the third place, so that it can climb
    points = _claim_and_approve(live_server, target)
    page.reload()
    assert _board(page) == before  # nobody has refreshed the board yet
    _run_rollup_job(live_server)
    page.reload()
    after = _board(page)
    expected_scores = {r["name"]: r["score"] + (points if r["name"] == target else 0) for r in before}
    assert {r["name"]: r["score"] for r in after} == expected_scores
    expected_ranks = _competition_ranks(expected_scores)
    assert {r["name"]: r["rank"] for r in after} == expected_ranks
    old_rank = {r["name"]: r["rank"] for r in before}
    moved = old_rank[target] - expected_ranks[target]
    target_row = next(r for r in after if r["name"] == target)
    assert target_row["move"] == (f"↑{moved}" if moved > 0 else "—")
    assert "数据更新于" in page.inner_text("main")
    phone_check(page, tmp_path, "03-board-after-rollup")

    # -- the hall screen -----------------------------------------------------------------------
    with page.expect_navigation():
        page.click("a:has-text('大屏展示')")
    refresh = page.locator("meta[http-equiv=refresh]").get_attribute("content")
    seconds, _, target_url = refresh.partition(";url=")
    assert int(seconds) >= 5 and "/hall" in target_url
    hall_rows = page.locator("table.hall-board tbody tr").all_inner_texts()
    assert len(hall_rows) == 4 and target in "".join(hall_rows)
    assert title in page.inner_text("h1")
    page.screenshot(path=str(tmp_path / "04-hall.png"), full_page=True)
    assert not has_horizontal_scroll(page), "the hall screen scrolls sideways at 360 px"

    # -- the secretary may also refresh by hand: nothing new since the last rollup, so the board
    #    says it is up to date, with the same standings and nothing counted twice ---------------
    page.goto(contest_url)
    with page.expect_navigation():
        page.tap("button:has-text('立即刷新榜单')")
    assert "榜单已是最新" in page.inner_text(".flash-success")
    assert {(r["name"], r["rank"], r["score"]) for r in _board(page)} == {
        (n, expected_ranks[n], s) for n, s in expected_scores.items()}

    # -- finalize on the phone -----------------------------------------------------------------
    with page.expect_navigation():
        page.click("a.button:has-text('定稿')")
    assert "确认定稿" in page.inner_text("main h1")
    phone_check(page, tmp_path, "05-finalize-confirm")
    with page.expect_navigation():
        page.tap("main form button[type=submit]")
    assert "已定稿：最终排名已冻结，结果已计入年度考核。" in page.inner_text(".flash-success")
    final = _board(page)
    final_scores = {r["name"]: r["score"] for r in final}
    assert final_scores == expected_scores  # no points arrived between the rollup and the finalize
    final_ranks = {r["name"]: r["rank"] for r in final}
    winners = sorted(n for n, rank in final_ranks.items() if rank <= TOP_PLACES)
    last = [n for n, rank in final_ranks.items() if rank == max(final_ranks.values())]
    assert len(winners) >= TOP_PLACES and len(last) == 1  # a tie for the last prize place wins both
    outcome = page.locator("section.card", has_text="定稿结果（计入年度考核）").inner_text()
    for name in winners:
        assert name in outcome
    assert "考核加3分" in outcome and "末位，不得参加当年评优评先" in outcome and last[0] in outcome
    assert page.locator("button:has-text('立即刷新榜单')").count() == 0  # frozen
    phone_check(page, tmp_path, "06-final-board")

    # -- the printed results notice --------------------------------------------------------------
    with page.expect_navigation():
        page.click("a:has-text('排名通报')")
    notice = page.inner_text("article.notice")
    rows = {}
    for tr in page.locator("table.notice-table tbody tr").all():
        cells = [c.strip() for c in tr.locator("td").all_inner_texts()]
        rows[cells[1]] = (int(cells[0]), Decimal(cells[2]), cells[3])
    assert {n: r[0] for n, r in rows.items()} == final_ranks
    for name in winners:
        assert rows[name][2] == "考核加3分"
    assert rows[last[0]][2] == "不得参加当年评优评先"
    assert f"获得前2名的{'、'.join(n for n, _r in sorted(rows.items(), key=lambda kv: kv[1][0]) if n in winners)}" in notice
    assert f"，各加3分，计入{year}年度考核附加分。" in notice
    assert f"{last[0]}位列末位，不得参加{year}年度评优评先。" in notice
    phone_check(page, tmp_path, "07-notice")

    # -- what the annual assessment of the year reads -------------------------------------------
    from app.assessments.services import contest_items
    from app.extensions import db
    from app.orgs.models import Org

    with live_server.app.app_context():
        ids = dict(db.session.execute(sa.select(Org.name, Org.id).where(Org.name.in_(list(final_ranks)))).all())
        fed = contest_items(year, list(ids.values()))
        db.session.remove()
    mine = {org_id: [i for i in items if i.title == title] for org_id, items in fed.items()}
    assert {n: [(i.place, i.bonus, i.excluded) for i in mine.get(ids[n], [])] for n in final_ranks} == {
        n: ([(final_ranks[n], TOP_POINTS, False)] if n in winners else
            [(final_ranks[n], Decimal(0), True)] if n in last else [])
        for n in final_ranks
    }
    assert console_errors == []
