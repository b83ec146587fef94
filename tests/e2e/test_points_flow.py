"""Done when (points): a demo member claims on a phone, the branch secretary approves on a phone, and
the member sees the index and rank move with the entry in its explanation. A second claim is
rejected with a reason, and the member reads that reason."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
import sqlalchemy as sa

from app.demo import DEMO_PASSWORD, FIXED_BRANCH_SECRETARY, FIXED_MEMBER
from app.points.models import CATEGORY_LABELS
from tests.e2e.conftest import PHONE, login, phone_check

pytestmark = pytest.mark.e2e

SCORED = ("study", "service", "innovation", "rating")


def _claimable_rules(live_server) -> tuple[dict, dict, str]:
    """Two study/service rules that need approval, no photo, and (the first) still under every cap
    today for the demo member; and today's date in Asia/Shanghai."""
    from app.auth.models import User
    from app.extensions import db
    from app.points import services

    with live_server.app.app_context():
        member = db.session.scalar(sa.select(User).where(User.phone == FIXED_MEMBER[1]))
        today = services.local_today()
        fits, other = [], []
        for rule in services.active_rules():
            if rule.category not in ("study", "service") or not rule.needs_approval or rule.evidence_required:
                continue
            used = services.cap_usage(rule.code, member_id=member.id, org_id=None, day=today)
            caps = {"day": rule.daily_cap, "month": rule.monthly_cap, "year": rule.yearly_cap}
            info = {"code": rule.code, "title": rule.title, "category": rule.category,
                    "points": Decimal(rule.points)}
            if all(cap is None or used[k] + rule.points <= cap for k, cap in caps.items()):
                fits.append(info)
            else:
                other.append(info)
        db.session.remove()
    assert fits, "no claimable rule is under its caps today for the demo member"
    rejected = next((r for r in fits + other if r["code"] != fits[0]["code"]), fits[0])
    return fits[0], rejected, today.isoformat()


def _small_png(path) -> str:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 240), (255, 250, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((16, 16, 304, 224), outline=(200, 16, 46), width=6)
    draw.ellipse((120, 80, 200, 160), fill=(212, 160, 23))
    image.save(path, "PNG")
    return str(path)


def _my_index(page) -> tuple[Decimal, Decimal, int]:
    """(index, total points, branch rank) as shown on /index/me."""
    index = Decimal(page.inner_text("#index-value").strip())
    total = Decimal(page.inner_text(".index-hero strong").strip())
    rank = int(page.inner_text("#rank-branch .rank-number").strip())
    return index, total, rank


def _explain_table(page) -> tuple[dict[str, dict[str, Decimal]], Decimal]:
    """Per category the raw sum, ceiling and weight read off the explanation table; and the index."""
    by_label = {v: k for k, v in CATEGORY_LABELS.items()}
    lines = {}
    for row in page.locator("table.explain-table tbody tr:not(.sum)").all():
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        category = by_label[cells[0]]
        lines[category] = {"raw": Decimal(cells[1]),
                           "ceiling": None if cells[2] == "—" else Decimal(cells[2]),
                           "weight": None if cells[4] == "—" else Decimal(cells[4])}
    shown = Decimal(page.inner_text("table.explain-table tr.sum strong").strip())
    return lines, shown


def _index_by_hand(lines: dict[str, dict[str, Decimal]]) -> Decimal:
    """Σ weight × min(max(raw, 0), ceiling) ÷ ceiling + min(penalty, 0), not below 0, one decimal."""
    value = sum((lines[c]["weight"] * min(max(lines[c]["raw"], Decimal(0)), lines[c]["ceiling"])
                 / lines[c]["ceiling"] for c in SCORED), Decimal(0))
    value += min(lines["penalty"]["raw"], Decimal(0))
    return max(value, Decimal(0)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _claim_item(page, note: str):
    return page.locator("li.claim", has_text=note)


def test_member_claims_secretary_approves_and_rejects_on_phones(live_server, browser, page, console_errors,
                                                                  tmp_path):
    approved_rule, rejected_rule, today = _claimable_rules(live_server)
    note_ok = f"今天完成：{approved_rule['title']}，有签到记录（手机端测试）"
    note_bad = f"今天完成：{rejected_rule['title']}（手机端测试，待退回）"
    reason = "未见活动记录，请补充签到表后重新申报。"
    url = live_server.url

    # -- the member reads their index and rank -------------------------------------------------
    login(page, url, FIXED_MEMBER[1], DEMO_PASSWORD)
    page.goto(f"{url}/index/me")
    index_before, total_before, rank_before = _my_index(page)
    assert "第" in page.inner_text("#rank-branch") and "名" in page.inner_text("#rank-branch")
    phone_check(page, tmp_path, "01-index-before")
    page.goto(f"{url}/index/me/explain")
    lines_before, shown = _explain_table(page)
    assert shown == index_before
    assert _index_by_hand(lines_before) == index_before  # the page's figures add up by hand
    phone_check(page, tmp_path, "02-explain-before")

    # -- two claims on the claim form, one with a photo ----------------------------------------
    page.goto(f"{url}/points/claims/new")
    phone_check(page, tmp_path, "03-claim-form")
    assert page.input_value("#occurred_on") == today
    page.select_option("#rule_code", approved_rule["code"])
    page.fill("#occurred_on", today)
    page.fill("#note", note_ok)
    page.set_input_files("#evidence", _small_png(tmp_path / "evidence.png"))
    with page.expect_navigation():
        page.tap("main form button[type=submit]")
    assert page.url == f"{url}/points/claims"
    assert "申报已提交，请等待书记审核。" in page.inner_text(".flash-success")
    mine = _claim_item(page, note_ok)
    assert approved_rule["title"] in mine.inner_text()
    assert mine.locator(".badge").inner_text() == "待审核"
    assert mine.locator("a", has_text="查看照片").is_visible()

    page.goto(f"{url}/points/claims/new")
    page.select_option("#rule_code", rejected_rule["code"])
    page.fill("#note", note_bad)
    with page.expect_navigation():
        page.tap("main form button[type=submit]")
    assert _claim_item(page, note_bad).locator(".badge").inner_text() == "待审核"
    phone_check(page, tmp_path, "04-my-claims-pending")

    # -- the branch secretary, on another phone, approves one and rejects the other -------------
    secretary = browser.new_context(**PHONE)
    try:
        sp = secretary.new_page()
        sp.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
        login(sp, url, FIXED_BRANCH_SECRETARY[1], DEMO_PASSWORD)
        sp.goto(f"{url}/points/review")
        card = sp.locator("section.review-item", has_text=note_ok)
        assert FIXED_MEMBER[2] in card.inner_text()
        assert approved_rule["title"] in card.inner_text()
        thumb = card.locator("img.thumb")
        thumb.scroll_into_view_if_needed()
        sp.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
        phone_check(sp, tmp_path, "05-review-queue")
        with sp.expect_navigation():
            card.locator("button", has_text="通过").tap()
        flash = sp.inner_text(".flash-success")
        assert f"已通过：{FIXED_MEMBER[2]} · {approved_rule['title']}" in flash
        assert sp.locator("section.review-item", has_text=note_ok).count() == 0

        card = sp.locator("section.review-item", has_text=note_bad)
        card.locator("input[name=reason]").fill(reason)
        with sp.expect_navigation():
            card.locator("button", has_text="退回").tap()
        assert f"已退回 {FIXED_MEMBER[2]} 的申报。" in sp.inner_text(".flash-success")
        assert sp.locator("section.review-item", has_text=note_bad).count() == 0
        phone_check(sp, tmp_path, "06-review-after")
    finally:
        secretary.close()

    # -- the member sees the result ------------------------------------------------------------
    page.goto(f"{url}/points/claims")
    assert _claim_item(page, note_ok).locator(".badge").inner_text() == "已通过"
    assert _claim_item(page, note_ok).locator("a", has_text="查看积分记录").is_visible()
    rejected = _claim_item(page, note_bad)
    assert rejected.locator(".badge").inner_text() == "已退回"
    assert f"退回理由：{reason}（{FIXED_BRANCH_SECRETARY[2]}）" in rejected.inner_text()
    phone_check(page, tmp_path, "07-my-claims-decided")

    page.goto(f"{url}/index/me")
    index_after, total_after, rank_after = _my_index(page)
    assert total_after == total_before + approved_rule["points"]  # the rejected claim adds nothing
    expected = {c: dict(v) for c, v in lines_before.items()}
    expected[approved_rule["category"]]["raw"] += approved_rule["points"]
    assert index_after == _index_by_hand(expected)
    assert index_after > index_before
    assert rank_after <= rank_before  # more points never cost a place
    phone_check(page, tmp_path, "08-index-after")

    page.goto(f"{url}/index/me/explain")
    lines_after, shown = _explain_table(page)
    assert shown == index_after
    assert lines_after[approved_rule["category"]]["raw"] == expected[approved_rule["category"]]["raw"]
    section = page.locator(f"#cat-{approved_rule['category']}")
    entry = section.locator("li.entry", has_text=note_ok)
    assert entry.count() == 1
    assert approved_rule["title"] in entry.inner_text()
    assert f"+{approved_rule['points'].normalize():f}" in entry.locator(".pts").inner_text()
    assert today in entry.inner_text()
    assert page.locator("li.entry", has_text=note_bad).count() == 0
    phone_check(page, tmp_path, "09-explain-after")
    assert console_errors == []


def test_a_camera_photo_is_shrunk_on_the_phone_before_it_is_sent(live_server, page, tmp_path):
    """A 12 MP photo of about 8 MB leaves the phone as a JPEG of at most 2048 px and well under
    2 MB (slow 4G), and the claim is filed with it."""
    import os

    from PIL import Image

    from app.extensions import db
    from app.points.models import Claim

    rule, _other, today = _claimable_rules(live_server)
    path = tmp_path / "IMG_20261204_101500.jpg"
    Image.frombytes("RGB", (3000, 4000), os.urandom(3000 * 4000 * 3)).save(path, "JPEG", quality=90)
    assert path.stat().st_size > 5 * 1024 * 1024
    sent = []
    page.on("request", lambda r: sent.append(len(r.post_data_buffer or b""))
            if r.method == "POST" and r.url.endswith("/points/claims/new") else None)
    login(page, live_server.url, FIXED_MEMBER[1], DEMO_PASSWORD)
    page.goto(f"{live_server.url}/points/claims/new")
    page.select_option("#rule_code", rule["code"])
    page.fill("#occurred_on", today)
    note = "手机拍的大照片（自动压缩测试）"
    page.fill("#note", note)
    page.set_input_files("#evidence", str(path))
    with page.expect_navigation():
        page.tap("main form button[type=submit]")  # at once: the form waits for the smaller copy
    assert page.url == f"{live_server.url}/points/claims", page.inner_text("main")
    assert len(sent) == 1 and sent[0] < 2 * 1024 * 1024, sent
    with live_server.app.app_context():
        claim = db.session.scalar(sa.select(Claim).where(Claim.note == note))
        with Image.open(os.path.join(live_server.app.config["UPLOAD_DIR"], claim.evidence_path)) as stored:
            assert max(stored.size) == 2048
        db.session.remove()


def test_a_photo_too_large_to_send_is_refused_on_the_phone_and_a_sent_one_gets_the_form_back(
        live_server, page, tmp_path):
    """A 17 MB file the phone cannot shrink (not a picture it can decode) is refused before the
    long upload, in Chinese; sent anyway (no script), the server's answer reaches the phone: the
    claim form with its message, not "this site can't be reached"."""
    import os

    rule, _other, today = _claimable_rules(live_server)
    path = tmp_path / "IMG_broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(17 * 1024 * 1024))
    login(page, live_server.url, FIXED_MEMBER[1], DEMO_PASSWORD)
    page.goto(f"{live_server.url}/points/claims/new")
    page.set_input_files("#evidence", str(path))
    notice = page.locator("#evidence-too-large")
    notice.wait_for(state="visible", timeout=15000)
    assert "超过 15 MB，无法上传" in notice.inner_text()
    assert page.eval_on_selector("#evidence", "e => e.files.length") == 0
    # without the script's check: the whole upload is read and answered with the form
    page.eval_on_selector("#evidence", "e => e.replaceWith(e.cloneNode())")
    page.select_option("#rule_code", rule["code"])
    page.fill("#occurred_on", today)
    page.set_input_files("#evidence", str(path))
    with page.expect_navigation():
        page.tap("main form button[type=submit]")
    assert page.url.startswith(f"{live_server.url}/points/claims/new")
    assert "照片不能超过 15 MB" in page.inner_text("main")
