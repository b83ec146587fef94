"""Printed PDFs carry their Chinese font when the machine has one, and name the standard one if not."""
import shutil
import subprocess

import pytest

from app import pdf_fonts
from app.qr.sheets import SheetItem, single_sheet

ITEM = SheetItem(url="http://127.0.0.1:5000/r/abc", name="张晓明·李四", org="桂花社区第一党支部")


def _text(pdf: bytes, tmp_path) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_a_truetype_cjk_font_on_the_machine_is_embedded(app, tmp_path):
    found = pdf_fonts.font_file()
    if found is None:
        pytest.skip("no TrueType CJK font here (apt-get install fonts-wqy-zenhei)")
    pdf = single_sheet(ITEM, "二维码")
    assert b"/FontFile2" in pdf and b"STSong-Light" not in pdf  # a print shop needs no font of its own
    text = _text(pdf, tmp_path)
    assert "张晓明·李四" in text and "桂花社区第一党支部" in text and "扫码评价" in text


def test_without_one_the_standard_font_is_named(app, tmp_path):
    app.config["PDF_FONT"] = str(tmp_path / "missing.ttf")
    pdf = single_sheet(ITEM, "二维码")
    assert b"STSong-Light" in pdf and b"/FontFile2" not in pdf
    assert "桂花社区第一党支部" in _text(pdf, tmp_path)
