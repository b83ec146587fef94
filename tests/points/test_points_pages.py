"""Phone pages: claim with a photo, review with one tap, reject with a reason, award, reverse."""
from __future__ import annotations

import io
import os
import re
from datetime import date

import pytest
import sqlalchemy as sa
from PIL import Image

from app.points.models import Claim, LedgerEntry
from tests.points.test_claims import add_rule, count, freeze_today


def photo(kind: str = "PNG", size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 16, 46)).save(out, kind)
    return out.getvalue()


@pytest.fixture
def rules(tree, monkeypatch):
    freeze_today(monkeypatch, date(2026, 6, 10))
    return {
        "shyk": add_rule(tree.admin, "shyk", "study", 2, title="参加“三会一课”"),
        "vol": add_rule(tree.admin, "vol", "service", 2, title="志愿服务（每小时）", daily_cap=8),
        "award": add_rule(tree.admin, "award", "innovation", 15, title="获区级以上表彰", evidence_required=True),
        "absent": add_rule(tree.admin, "absent", "penalty", -5, title="无故缺席组织生活"),
    }


def claim_form(code="shyk", on="2026-06-09", note="参加支部党员大会", evidence=None, filename="photo.jpg"):
    data = {"rule_code": code, "occurred_on": on, "note": note}
    if evidence is not None:
        data["evidence"] = (io.BytesIO(evidence), filename)
    return data


def test_claim_form_shows_the_catalogue_grouped(tree, rules, login_as):
    html = login_as(tree.m11).get("/points/claims/new").get_data(as_text=True)
    assert '<optgroup label="理论学习">' in html and '<optgroup label="志愿服务">' in html
    assert "志愿服务（每小时）（2分，每日上限8分）" in html
    assert "无故缺席组织生活" not in html.split("查看积分细则")[0]  # deductions are not claimed
    assert 'enctype="multipart/form-data"' in html and 'value="2026-06-10"' in html


def test_member_claims_with_a_photo_and_secretary_approves_with_one_tap(tree, rules, login_as, app, db):
    member = login_as(tree.m11)
    r = member.post("/points/claims/new", data=claim_form(code="award", note="获评区级优秀共产党员",
                                                          evidence=photo("JPEG"), filename="证书.png"),
                    content_type="multipart/form-data")
    assert r.status_code == 302 and r.headers["Location"].endswith("/points/claims")
    claim = db.session.scalar(sa.select(Claim))
    assert claim.status == "pending" and claim.evidence_mime == "image/jpeg"
    stored = os.path.join(app.config["UPLOAD_DIR"], claim.evidence_path)
    assert os.path.isfile(stored) and not claim.evidence_path.startswith("static")
    assert "证书" not in claim.evidence_path and app.static_folder not in os.path.abspath(stored)
    assert "待审核" in member.get("/points/claims").get_data(as_text=True)

    sec = login_as(tree.sec_b11)
    queue = sec.get("/points/review").get_data(as_text=True)
    assert "张三" in queue and "获区级以上表彰" in queue and "获评区级优秀共产党员" in queue
    assert f"/points/claims/{claim.id}/evidence?size=thumb" in queue
    thumb = sec.get(f"/points/claims/{claim.id}/evidence?size=thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"

    r = sec.post(f"/points/claims/{claim.id}/approve")  # one tap: one POST, no confirmation step
    assert r.status_code == 302
    assert "已通过" in sec.get("/points/review").get_data(as_text=True)
    entry = db.session.scalar(sa.select(LedgerEntry))
    assert entry.member_id == tree.m11.id and entry.points == 15
    assert "已通过" in member.get("/points/claims").get_data(as_text=True)

    again = sec.post(f"/points/claims/{claim.id}/approve", follow_redirects=True)
    assert again.status_code == 200 and "该申报已处理过了" in again.get_data(as_text=True)
    assert count(db, LedgerEntry) == 1


def test_evidence_is_shown_only_in_scope(tree, rules, login_as, db):
    login_as(tree.m11).post("/points/claims/new", data=claim_form(evidence=photo()), content_type="multipart/form-data")
    claim = db.session.scalar(sa.select(Claim))
    url = f"/points/claims/{claim.id}/evidence"
    ok = login_as(tree.m11).get(url)
    assert ok.status_code == 200 and ok.mimetype == "image/png"
    assert ok.data.startswith(b"\x89PNG")
    assert login_as(tree.sec_c1).get(url).status_code == 200
    assert login_as(tree.sec_c2).get(url).status_code == 403
    assert login_as(tree.m12).get(url).status_code == 403
    assert login_as(tree.m12).post(f"/points/claims/{claim.id}/approve").status_code == 302
    assert db.session.get(Claim, claim.id).status == "pending"


def test_a_phone_client_opens_the_photo_with_its_token(tree, rules, login_as, api_as, db):
    """The API's evidence_url answers to the bearer token (a page URL sent the app to /login)."""
    login_as(tree.m11).post("/points/claims/new", data=claim_form(evidence=photo()), content_type="multipart/form-data")
    claim = db.session.scalar(sa.select(Claim))
    sec = api_as(tree.sec_c1)
    url = sec.get(f"/api/v1/claims/{claim.id}").get_json()["evidence_url"]
    assert url == f"/api/v1/claims/{claim.id}/evidence"
    r = sec.get(url)
    assert r.status_code == 200 and r.mimetype == "image/png" and r.data.startswith(b"\x89PNG")
    thumb = sec.get(url, query_string={"size": "thumb"})
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert api_as(tree.m11).get(url).status_code == 200
    for who in (tree.sec_c2, tree.m12):
        r = api_as(who).get(url)
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "out_of_scope"
    assert api_as(None).get(url).status_code == 401
    assert sec.get(url, query_string={"size": "huge"}).status_code == 422


@pytest.mark.parametrize("payload, filename", [
    (b"this is not a photo, just text", "photo.jpg"),
    (b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10, "photo.jpg"),
    (b"GIF89a" + b"\x00" * 64, "photo.png"),
])
def test_fake_images_are_refused_and_nothing_is_stored(tree, rules, login_as, db, app, payload, filename):
    r = login_as(tree.m11).post("/points/claims/new", data=claim_form(evidence=payload, filename=filename),
                                content_type="multipart/form-data")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "JPEG 或 PNG" in html or "已损坏" in html
    assert count(db, Claim) == 0
    folder = os.path.join(app.config["UPLOAD_DIR"], "claims")
    assert not os.path.isdir(folder) or os.listdir(folder) == []


def test_a_camera_sized_photo_is_taken_and_shrunk_and_an_oversized_one_refused(tree, rules, login_as, db, app):
    """An 8 MB photo, as a phone camera writes it, passes (the app's 6 MB request limit would
    have refused it); it is stored at most 2560 px. Past 15 MB: refused, on the form."""
    noise = Image.frombytes("RGB", (3000, 4000), os.urandom(3000 * 4000 * 3))  # compresses like a photo: badly
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=95)
    camera = out.getvalue()
    assert 7 * 1024 * 1024 < len(camera) < 15 * 1024 * 1024
    page = login_as(tree.m11)
    r = page.post("/points/claims/new", data=claim_form(evidence=camera), content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    claim = db.session.scalar(sa.select(Claim))
    with Image.open(os.path.join(app.config["UPLOAD_DIR"], claim.evidence_path)) as stored:
        assert max(stored.size) == 2560
    big = photo() + b"\x00" * (15 * 1024 * 1024)  # a valid PNG padded past 15 MB
    r = page.post("/points/claims/new", data=claim_form(evidence=big), content_type="multipart/form-data")
    assert r.status_code == 422 and "不能超过 15 MB" in r.get_data(as_text=True)
    huge = b"\x00" * (17 * 1024 * 1024)  # past the request limit
    r = page.post("/points/claims/new", data=claim_form(evidence=huge), content_type="multipart/form-data",
                  follow_redirects=True)
    assert r.status_code == 200 and "不能超过 15 MB" in r.get_data(as_text=True)
    assert count(db, Claim) == 1
    # every other request keeps the app's limit: a 7 MB API body is 413
    api = app.test_client().post("/api/v1/ratings", data=b"{" + b" " * (7 * 1024 * 1024) + b"}",
                                 content_type="application/json")
    assert api.status_code == 413


def test_back_after_filing_refetches_and_a_repeat_is_marked_for_the_secretary(tree, rules, login_as, db):
    """The claim form is never restored from the phone's history (no-store: Back refills it with
    a fresh one-time key); a claim filed twice anyway is marked in the queue, and each decision
    sends the secretary to the next card, not the top."""
    member = login_as(tree.m11)
    form = member.get("/points/claims/new")
    assert form.headers["Cache-Control"] == "no-store" and 'autocomplete="off"' in form.get_data(as_text=True)
    for _ in range(2):
        assert member.post("/points/claims/new", data=claim_form(note="参加支部党员大会")).status_code == 302
    member.post("/points/claims/new", data=claim_form(note="另一次党员大会"))
    first, second, third = db.session.scalars(sa.select(Claim).order_by(Claim.id)).all()
    sec = login_as(tree.sec_b11)
    queue = sec.get("/points/review").get_data(as_text=True)
    assert queue.count("可能重复申报") == 1
    assert queue.index(f'id="claim-{second.id}"') < queue.index("可能重复申报") < queue.index(f'id="claim-{third.id}"')
    r = sec.post(f"/points/claims/{first.id}/approve", data={"next_claim": str(second.id)})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/points/review#claim-{second.id}")
    r = sec.post(f"/points/claims/{second.id}/reject", data={"reason": "重复申报", "next_claim": "javascript:x"})
    assert r.headers["Location"].endswith("/points/review")  # only an id makes an anchor
    assert "可能重复申报" not in sec.get("/points/review").get_data(as_text=True)


def test_claim_form_errors_are_readable(tree, rules, login_as, db):
    page = login_as(tree.m11)
    r = page.post("/points/claims/new", data=claim_form(on="2026-06-11"))
    assert r.status_code == 422 and "日期不能晚于今天" in r.get_data(as_text=True)
    r = page.post("/points/claims/new", data=claim_form(on="2026-01-01"))
    assert r.status_code == 422 and "60 天" in r.get_data(as_text=True)
    r = page.post("/points/claims/new", data=claim_form(code="nope"))
    assert r.status_code == 422 and r.get_data(as_text=True).count("找不到该积分细则") == 1
    r = page.post("/points/claims/new", data=claim_form(code=""))
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and html.count("请选择申报事项。") == 1 and "找不到该积分细则" not in html
    assert "参加支部党员大会" in html  # what was typed stays
    r = page.post("/points/claims/new", data=claim_form(code="award"))
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "该事项须附照片凭证，请选择照片后再提交。" in html and "网页申报页面" not in html
    r = page.post("/points/claims/new", data=claim_form(on="昨天"))
    assert r.status_code == 422 and "YYYY-MM-DD" in r.get_data(as_text=True)
    assert count(db, Claim) == 0
    add_rule(tree.admin, "xxqg", "study", 1, title="学习强国每日积分", daily_cap=1, needs_approval=False)
    r = page.post("/points/claims/new", data=claim_form(code="xxqg"), follow_redirects=True)
    assert "申报成功，积分已计入" in r.get_data(as_text=True)
    r = page.post("/points/claims/new", data=claim_form(code="xxqg"), follow_redirects=True)
    assert r.status_code == 200 and "每日上限 1 分" in r.get_data(as_text=True)
    assert (count(db, Claim), count(db, LedgerEntry)) == (1, 1)


def test_reject_reason_is_shown_to_the_member(tree, rules, login_as, db):
    member = login_as(tree.m11)
    member.post("/points/claims/new", data=claim_form(code="vol", note="社区环境整治"))
    claim = db.session.scalar(sa.select(Claim))
    sec = login_as(tree.sec_c1)
    r = sec.post(f"/points/claims/{claim.id}/reject", data={"reason": ""}, follow_redirects=True)
    assert "请填写退回理由" in r.get_data(as_text=True)
    assert db.session.get(Claim, claim.id).status == "pending"
    r = sec.post(f"/points/claims/{claim.id}/reject", data={"reason": "活动签到表上没有您的名字，请核实。"})
    assert r.status_code == 302
    html = member.get("/points/claims").get_data(as_text=True)
    assert "已退回" in html and "活动签到表上没有您的名字，请核实。" in html
    assert count(db, LedgerEntry) == 0


def test_own_claim_is_not_in_own_queue(tree, rules, login_as, db):
    login_as(tree.sec_b11).post("/points/claims/new", data=claim_form(note="书记本人参加党课"))
    claim = db.session.scalar(sa.select(Claim))
    assert "书记本人参加党课" not in login_as(tree.sec_b11).get("/points/review").get_data(as_text=True)
    r = login_as(tree.sec_b11).post(f"/points/claims/{claim.id}/approve", follow_redirects=True)
    assert "不能审核自己的申报" in r.get_data(as_text=True)
    assert "书记本人参加党课" in login_as(tree.sec_c1).get("/points/review").get_data(as_text=True)


def test_a_second_tap_or_back_and_submit_on_the_award_form_records_once(tree, rules, login_as, db):
    """On a slow connection the secretary taps 确认记入 twice, or goes Back and submits again: the
    form's one-time key makes it one entry, and both answers lead to that entry."""
    sec = login_as(tree.sec_b11)
    form = sec.get(f"/points/awards/new?member_id={tree.m11.id}").get_data(as_text=True)
    key = re.search(r'name="submission" type="hidden" value="([^"]+)"', form) or \
        re.search(r'id="submission" name="submission" type="hidden" value="([^"]+)"', form)
    assert key, form
    data = {"member_id": tree.m11.id, "rule_code": "absent", "note": "缺席党员大会", "submission": key.group(1)}
    first, second = sec.post("/points/awards", data=data), sec.post("/points/awards", data=data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert count(db, LedgerEntry) == 1
    page = sec.get(second.headers["Location"]).get_data(as_text=True)
    assert "缺席党员大会" in page
    # Back, a changed note, sent again: that form was recorded; the page says so with a new key
    changed = sec.post("/points/awards", data={**data, "note": "另一次缺席"})
    assert changed.status_code == 409 and count(db, LedgerEntry) == 1
    html = changed.get_data(as_text=True)
    assert "这张表单已经记入过一次" in html and key.group(1) not in html and "另一次缺席" in html
    # a fresh form is a new award
    fresh = sec.get(f"/points/awards/new?member_id={tree.m11.id}").get_data(as_text=True)
    assert key.group(1) not in fresh
    del data["submission"]
    assert sec.post("/points/awards", data=data).status_code == 302
    assert count(db, LedgerEntry) == 2


def test_award_page_then_reverse_on_the_entry_page(tree, rules, login_as, db):
    sec = login_as(tree.sec_b11)
    found = sec.get("/points/awards/new?q=张").get_data(as_text=True)
    assert "张三" in found and f"member_id={tree.m11.id}" in found
    form = sec.get(f"/points/awards/new?member_id={tree.m11.id}").get_data(as_text=True)
    assert "无故缺席组织生活" in form
    r = sec.post("/points/awards", data={"member_id": tree.m11.id, "rule_code": "absent", "note": "缺席党员大会"})
    assert r.status_code == 302
    entry = db.session.scalar(sa.select(LedgerEntry))
    assert entry.points == -5 and r.headers["Location"].endswith(f"/points/entries/{entry.id}")

    page = sec.get(f"/points/entries/{entry.id}").get_data(as_text=True)
    assert "缺席党员大会" in page and "冲正理由" in page
    r = sec.post(f"/points/entries/{entry.id}/reverse", data={"reason": "已提前请假"})
    assert r.status_code == 302
    rows = db.session.scalars(sa.select(LedgerEntry).order_by(LedgerEntry.id)).all()
    assert [e.points for e in rows] == [-5, 5] and rows[1].reverses_id == entry.id
    page = sec.get(f"/points/entries/{entry.id}").get_data(as_text=True)
    assert "本条已被冲正" in page and "冲正理由" not in page
    again = sec.post(f"/points/entries/{entry.id}/reverse", data={"reason": "再来"}, follow_redirects=True)
    # a second tap shows the reversal that stands, not an error
    assert "该记录已冲正，冲正记录如下。" in again.get_data(as_text=True)
    assert again.request.path == f"/points/entries/{rows[1].id}"
    assert count(db, LedgerEntry) == 2
    # the member sees the entry, without the reversal form
    member_view = login_as(tree.m11).get(f"/points/entries/{entry.id}")
    assert member_view.status_code == 200 and "冲正理由" not in member_view.get_data(as_text=True)


def test_award_page_errors_and_scope(tree, rules, login_as, db):
    sec = login_as(tree.sec_c2)
    r = sec.get(f"/points/awards/new?member_id={tree.m11.id}", follow_redirects=True)
    assert "不在您的管理范围内" in r.get_data(as_text=True)
    r = sec.post("/points/awards", data={"member_id": tree.m11.id, "rule_code": "absent"}, follow_redirects=True)
    assert "不在您的管理范围内" in r.get_data(as_text=True)
    r = login_as(tree.sec_c1).post("/points/awards", data={"member_id": tree.m11.id, "rule_code": "absent", "points": "3"})
    assert r.status_code == 422 and "扣分项须为负数" in r.get_data(as_text=True)
    r = login_as(tree.sec_c1).post("/points/awards", data={"member_id": tree.m11.id, "rule_code": "absent",
                                                           "points": "-99999"})
    assert r.status_code == 422 and "不能低于 -1000。" in r.get_data(as_text=True)
    r = login_as(tree.sec_c1).post("/points/awards", data={"member_id": tree.m11.id, "rule_code": "absent",
                                                           "occurred_on": "1900-01-01"})
    assert r.status_code == 422 and "只能记入近 366 天内的事项。" in r.get_data(as_text=True)
    r = login_as(tree.sec_c1).post("/points/awards", data={"member_id": tree.m11.id, "rule_code": "absent",
                                                           "occurred_on": "2026-02-30"})
    assert r.status_code == 422 and "没有 2026-02-30 这一天，请重新选择日期。" in r.get_data(as_text=True)
    r = login_as(tree.sec_c1).post("/points/awards", data={"member_id": tree.m11.id, "rule_code": "", "note": "补记"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and html.count("请选择加扣分事项。") == 1 and "补记" in html
    assert login_as(tree.m11).get("/points/awards/new").status_code == 403
    e = login_as(tree.sec_c1).post("/points/awards", data={"org_id": tree.b11.id, "rule_code": "vol", "note": "支部活动"})
    assert e.status_code == 302
    entry = db.session.scalar(sa.select(LedgerEntry))
    assert entry.org_id == tree.b11.id
    assert login_as(tree.sec_c2).get(f"/points/entries/{entry.id}").status_code == 403
    r = login_as(tree.sec_c2).post(f"/points/entries/{entry.id}/reverse", data={"reason": "x"}, follow_redirects=True)
    assert "不在您的管理范围内" in r.get_data(as_text=True)
    assert count(db, LedgerEntry) == 1


def test_nav_by_role(tree, rules, login_as):
    def nav(user):
        html = login_as(user).get("/points/rules").get_data(as_text=True)
        return re.findall(r'<nav class="nav".*?</nav>', html, re.S)[0]

    member = nav(tree.m11)
    assert "申报" in member and "审核" not in member and "加扣分" not in member
    secretary = nav(tree.sec_b11)
    assert "审核" in secretary and "加扣分" in secretary
    assert "积分细则" in nav(tree.admin)


def test_pages_have_no_inline_styles_or_scripts(tree, rules, login_as, db):
    login_as(tree.m11).post("/points/claims/new", data=claim_form(evidence=photo()), content_type="multipart/form-data")
    for user, path in [(tree.m11, "/points/claims/new"), (tree.m11, "/points/claims"),
                       (tree.sec_b11, "/points/review"), (tree.sec_b11, "/points/awards/new?q=张"),
                       (tree.sec_b11, f"/points/awards/new?member_id={tree.m11.id}"),
                       (tree.admin, "/points/rules"), (tree.admin, "/points/rules/new"),
                       (tree.admin, "/points/rules/shyk/edit")]:
        html = login_as(user).get(path).get_data(as_text=True)
        assert " style=" not in html and "<script>" not in html and "onclick" not in html, path


def test_stored_photo_drops_the_phones_metadata(tree, rules, login_as, db):
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0)}  # a GPS position
    out = io.BytesIO()
    Image.new("RGB", (80, 60), (10, 120, 200)).save(out, "JPEG", exif=exif.tobytes())
    member = login_as(tree.m11)
    member.post("/points/claims/new", data=claim_form(evidence=out.getvalue()), content_type="multipart/form-data")
    claim = db.session.scalar(sa.select(Claim))
    served = member.get(f"/points/claims/{claim.id}/evidence")
    with Image.open(io.BytesIO(served.data)) as image:
        assert image.format == "JPEG" and dict(image.getexif()) == {}


def test_a_photo_of_huge_dimensions_is_called_too_large(tree, rules, login_as, db):
    """A tiny PNG that says 20000 x 20000 pixels: Pillow will not open it; the member reads that
    it is too large, not that it is broken."""
    import struct
    import zlib

    png = bytearray(photo())
    assert png[12:16] == b"IHDR"
    png[16:24] = struct.pack(">II", 20000, 20000)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    r = login_as(tree.m11).post("/points/claims/new", data=claim_form(evidence=bytes(png)),
                                content_type="multipart/form-data")
    assert r.status_code == 422 and "照片尺寸过大" in r.get_data(as_text=True)
    assert count(db, Claim) == 0


def test_a_second_tap_on_the_claim_form_files_nothing(tree, rules, login_as, db):
    """The form carries a one-time key: the same form posted twice (a double tap on slow 4G, or
    the back button) makes one claim and stores one photo; a freshly opened form makes another."""
    import re

    page = login_as(tree.m11)
    key = re.search(r'name="submission"[^>]*value="([^"]+)"', page.get("/points/claims/new").get_data(as_text=True))
    assert key and len(key.group(1)) >= 16
    for _ in range(2):
        r = page.post("/points/claims/new", data={**claim_form(evidence=photo()), "submission": key.group(1)},
                      content_type="multipart/form-data")
        assert r.status_code == 302
    assert count(db, Claim) == 1
    other = re.search(r'name="submission"[^>]*value="([^"]+)"', page.get("/points/claims/new").get_data(as_text=True))
    assert other.group(1) != key.group(1)
    page.post("/points/claims/new", data={**claim_form(), "submission": other.group(1)})
    assert count(db, Claim) == 2
    # Back to the first form, a changed note, sent again: it was filed; the page says so and
    # hands out a new key, with which it files
    r = page.post("/points/claims/new", data={**claim_form(note="另一次党员大会"), "submission": key.group(1)})
    html = r.get_data(as_text=True)
    assert "这张申报表已经提交过了" in html and "另一次党员大会" in html and key.group(1) not in html
    assert count(db, Claim) == 2
    fresh = re.search(r'name="submission"[^>]*value="([^"]+)"', html).group(1)
    r = page.post("/points/claims/new", data={**claim_form(note="另一次党员大会"), "submission": fresh})
    assert r.status_code == 302 and count(db, Claim) == 3


def test_a_decision_on_a_later_page_of_the_queue_comes_back_to_that_page(tree, rules, login_as, make_user):
    """21 pending claims: the second page holds the 21st; approving or rejecting there returns to
    the page (or to the last page once the page is empty), not to the first page."""
    from app.points import services

    ids = [services.submit_claim(make_user(tree.b11, "member", f"排队{i:02d}"), rule_code="shyk",
                                 occurred_on=date(2026, 6, 9), note=f"第{i}个").id for i in range(22)]
    sec = login_as(tree.sec_c1)
    second = sec.get("/points/review?offset=20").get_data(as_text=True)
    assert f'action="/points/claims/{ids[20]}/approve?offset=20"' in second
    r = sec.post(f"/points/claims/{ids[20]}/approve?offset=20")
    assert r.status_code == 302 and r.headers["Location"].endswith("/points/review?offset=20")
    r = sec.post(f"/points/claims/{ids[21]}/reject?offset=20", data={"reason": "照片不清楚"})
    assert r.headers["Location"].endswith("/points/review?offset=20")
    # the second page is empty now: it leads to the last page there is
    r = sec.get("/points/review?offset=20")
    assert r.status_code == 302 and r.headers["Location"].endswith("/points/review")
    page = sec.get("/points/review?offset=999999", follow_redirects=True).get_data(as_text=True)
    assert "排队00" in page and "没有待审核的申报" not in page
