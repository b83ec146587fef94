"""Code images and printable sheets: what a real QR reader gets out of them."""
from __future__ import annotations

import io
import shutil
import subprocess
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from PIL import Image

from app.qr import services
from app.qr.models import QrTarget
from tests.qr.conftest import rate_via_page

zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp (a real QR reader) is needed for these tests")


def decode(image: Image.Image) -> list[str]:
    return sorted(r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode)


def render_pdf(pdf: bytes, tmp_path, dpi: int = 150) -> list[Image.Image]:
    """Rasterize a PDF as a printer would (poppler's pdftoppm)."""
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    source = tmp_path / "sheet.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), str(source), str(tmp_path / "page")], check=True)
    return [Image.open(p).convert("L") for p in sorted(tmp_path.glob("page-*.png"))]


def pdf_text(pdf: bytes, tmp_path) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    source = tmp_path / "text.pdf"
    source.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(source), "-"], check=True, capture_output=True).stdout.decode()


def test_png_decodes_to_the_rating_url(app, tree, make_target, client):
    app.config["PUBLIC_BASE_URL"] = "https://pingyi.example.cn"
    target, token = make_target(tree.sec_b11, "member", tree.m11)
    r = client.get(f"/qr/{token}.png")
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert decode(Image.open(io.BytesIO(r.data))) == [f"https://pingyi.example.cn/r/{token}"]
    assert services.url_of(target) == f"https://pingyi.example.cn/r/{token}"


def test_svg_is_a_scalable_image_of_the_code(tree, make_target, client):
    _target, token = make_target(tree.sec_b11, "member", tree.m11)
    r = client.get(f"/qr/{token}.svg")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    root = ET.fromstring(r.data)
    assert root.tag.endswith("svg") and root.find(".//{http://www.w3.org/2000/svg}path") is not None


def test_rotated_code_image_shows_the_new_url(tree, make_target, client, api_as):
    target, old = make_target(tree.sec_b11, "member", tree.m11)
    new = api_as(tree.sec_b11).post(f"/api/v1/qr/targets/{target.id}/rotate").json["token"]
    assert client.get(f"/qr/{old}.png").status_code == 404
    decoded = decode(Image.open(io.BytesIO(client.get(f"/qr/{new}.png").data)))
    assert decoded == [services.url_of(target)] and decoded[0].endswith(new)


def test_single_sheet_prints_one_big_readable_code(tree, make_target, login_as, tmp_path):
    target, token = make_target(tree.sec_b11, "member", tree.m11)
    r = login_as(tree.sec_b11).get(f"/qr-admin/targets/{target.id}/sheet.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    [page] = render_pdf(r.data, tmp_path, dpi=100)
    assert page.size[0] < page.size[1]  # A4 portrait
    assert decode(page) == [services.url_of(target)]
    text = pdf_text(r.data, tmp_path)
    assert "扫码评价" in text and "张三" in text and "桂花第一支部" in text
    assert login_as(tree.sec_c2).get(f"/qr-admin/targets/{target.id}/sheet.pdf").status_code == 403


def test_branch_sheet_makes_missing_codes_and_every_code_scans(db, tree, make_user, make_target, login_as, tmp_path):
    for i in range(6):
        make_user(tree.b11, name=f"党员{i}")
    existing, _token = make_target(tree.sec_b11, "member", tree.m11)
    make_target(tree.sec_b11, "org", tree.b11)
    sec = login_as(tree.sec_b11)

    r = sec.get("/qr-admin/sheets")
    assert r.status_code == 200 and "生成打印页" in r.get_data(as_text=True)
    r = sec.post("/qr-admin/sheets", data={"org_id": str(tree.b11.id), "create_missing": "y"})
    assert r.status_code == 302
    page = sec.get(r.headers["Location"]).get_data(as_text=True)
    assert "已为 7 名党员生成二维码" in page  # six new members and the secretary
    assert f"/qr-admin/sheets/{tree.b11.id}.pdf" in page

    # Posting again makes no more codes.
    sec.post("/qr-admin/sheets", data={"org_id": str(tree.b11.id), "create_missing": "y"})
    targets = db.session.scalars(sa.select(QrTarget)).all()
    assert len(targets) == 9
    assert len([t for t in targets if t.member_id == tree.m11.id]) == 1 and existing in targets

    r = sec.get(f"/qr-admin/sheets/{tree.b11.id}.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    pages = render_pdf(r.data, tmp_path)
    assert len(pages) == 2  # six per page
    found = sorted(url for p in pages for url in decode(p))
    assert found == sorted(services.url_of(t) for t in targets)
    text = pdf_text(r.data, tmp_path)
    assert text.count("扫码评价") >= 9 and "党员5" in text and "张三" in text

    # Out of scope: neither the sheet nor making codes.
    other = login_as(tree.sec_c2)
    assert other.get(f"/qr-admin/sheets/{tree.b11.id}.pdf").status_code == 403
    r = other.post("/qr-admin/sheets", data={"org_id": str(tree.b11.id), "create_missing": "y"})
    assert r.status_code == 200 and "不在您的管理范围内" in r.get_data(as_text=True)


def test_revoked_codes_are_not_printed(tree, make_target, login_as, api_as, tmp_path):
    keep, _ = make_target(tree.sec_b11, "member", tree.m11)
    gone, _ = make_target(tree.sec_b11, "org", tree.b11)
    api_as(tree.sec_b11).post(f"/api/v1/qr/targets/{gone.id}/revoke")
    sec = login_as(tree.sec_b11)
    pdf = sec.get(f"/qr-admin/sheets/{tree.b11.id}.pdf").data
    assert [u for p in render_pdf(pdf, tmp_path, dpi=100) for u in decode(p)] == [services.url_of(keep)]
    assert sec.get(f"/qr-admin/targets/{gone.id}/sheet.pdf").status_code == 409


def test_done_when_a_printed_code_is_scanned_rated_followed_up_and_becomes_points(
        app, db, tree, login_as, api_as, runner, tmp_path):
    """The issue's "done when": a secretary prints a sheet, a phone scans a code from it and rates,
    the secretary sees the rating and its follow-up, the conversion shows in the member's points."""
    app.config["PUBLIC_BASE_URL"] = "https://pingyi.example.cn"
    sec = login_as(tree.sec_b11)
    r = sec.post("/qr-admin/sheets", data={"org_id": str(tree.b11.id), "create_missing": "y"})
    assert r.status_code == 302
    pdf = sec.get(f"/qr-admin/sheets/{tree.b11.id}.pdf")
    assert pdf.status_code == 200
    scanned = [url for page in render_pdf(pdf.data, tmp_path) for url in decode(page)]
    [target] = db.session.scalars(sa.select(QrTarget).where(QrTarget.member_id == tree.m11.id)).all()
    [url] = [u for u in scanned if u == services.url_of(target)]  # the code printed under 张三
    assert url.startswith("https://pingyi.example.cn/r/")

    scanned_token = urlsplit(url).path.removeprefix("/r/")
    for i, (stars, comment) in enumerate([(1, "楼道灯坏了一个月没人修"), (5, ""), (5, "很热心")]):
        phone = app.test_client()
        phone.environ_base["REMOTE_ADDR"] = f"198.51.100.{i + 1}"
        assert rate_via_page(phone, scanned_token, stars=stars, comment=comment).status_code == 303

    html = sec.get(f"/qr-admin/targets/{target.id}").get_data(as_text=True)
    assert "楼道灯坏了一个月没人修" in html and "很热心" in html
    body = api_as(tree.sec_b11).get(f"/api/v1/qr/targets/{target.id}/ratings").json
    assert (body["count"], body["average"]) == (3, 3.67)
    followups = sec.get("/qr-admin/followups").get_data(as_text=True)
    assert "楼道灯坏了一个月没人修" in followups and "待整改" in followups
    [item] = api_as(tree.sec_b11).get("/api/v1/qr/followups").json["items"]
    r = sec.post(f"/qr-admin/followups/{item['id']}", data={"action": "已联系物业当天换灯，并回访居民。"})
    assert r.status_code == 302
    assert api_as(tree.sec_b11).get("/api/v1/qr/followups?status=closed").json["total"] == 1

    result = runner.invoke(args=["qr", "convert", "--period", services.local_day().strftime("%Y-%m")])
    assert result.exit_code == 0 and "新增 1 条" in result.output, result.output
    points = api_as(tree.m11).get(f"/api/v1/me/points?year={services.local_day().year}").json
    assert points["by_category"]["rating"] == 1.3  # (11 / 3 - 3) x 2


def test_a_sheet_out_of_scope_is_never_called_ready(tree, login_as):
    """Without "make missing codes" the form called any org's sheet ready, whose PDF then was 403."""
    sec = login_as(tree.sec_c1)
    for data in ({"org_id": str(tree.street.id)}, {"org_id": str(tree.b21.id)}):
        r = sec.post("/qr-admin/sheets", data=data)
        body = r.get_data(as_text=True)
        assert r.status_code == 200 and "不在您的管理范围内" in body and ".pdf" not in body
    body = sec.get(f"/qr-admin/sheets?org={tree.b21.id}&ready=1").get_data(as_text=True)
    assert f"/qr-admin/sheets/{tree.b21.id}.pdf" not in body
    r = sec.post("/qr-admin/sheets", data={"org_id": str(tree.b11.id)})
    assert r.status_code == 302 and f"/qr-admin/sheets/{tree.b11.id}.pdf" in sec.get(r.headers["Location"]).get_data(as_text=True)


def test_pdf_links_tell_wechat_users_where_the_pdf_opens(tree, make_target, login_as):
    """WeChat's in-app browser on Android shows no PDF in the page: next to a PDF link it says to
    open the page in the browser; other browsers see no such line."""
    target, _token = make_target(tree.sec_b11, "member", tree.m11)
    page = login_as(tree.sec_b11)
    wechat = {"User-Agent": "Mozilla/5.0 (Linux; Android 12) AppleWebKit/537.36 Chrome/107 Mobile "
                            "Safari/537.36 MicroMessenger/8.0.40"}
    assert "在浏览器打开" in page.get(f"/qr-admin/targets/{target.id}", headers=wechat).get_data(as_text=True)
    assert "在浏览器打开" not in page.get(f"/qr-admin/targets/{target.id}").get_data(as_text=True)
