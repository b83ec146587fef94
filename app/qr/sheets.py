"""Printable A4 sheets of codes (reportlab), in the Chinese font of app.pdf_fonts."""
from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from app.pdf_fonts import STANDARD, cjk_font
from app.qr.images import matrix

PAGE_W, PAGE_H = A4
MARGIN = 10 * mm
COLS, ROWS = 2, 3


@dataclass
class SheetItem:
    url: str
    name: str
    org: str
    note: str = ""


def _font() -> str:
    return cjk_font()


def _fit(text: str, size: float, width: float, minimum: float = 6) -> float:
    """The largest font size <= ``size`` at which ``text`` fits in ``width``."""
    font = _font()
    while size > minimum and pdfmetrics.stringWidth(text, font, size) > width:
        size -= 0.5
    return size


def _clip(text: str, size: float, width: float) -> str:
    font = _font()
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _centered(c: Canvas, text: str, x: float, y: float, size: float, width: float, minimum: float = 7) -> None:
    if _font() == STANDARD:
        text = text.replace("\u00b7", "\u30fb")  # STSong-Light has no Latin middle dot
    size = _fit(text, size, width, minimum)
    text = _clip(text, size, width)
    c.setFont(_font(), size)
    c.drawCentredString(x, y, text)


def _draw_code(c: Canvas, url: str, x: float, y: float, side: float) -> None:
    """The code as vector squares (crisp at any printer resolution), lower-left at (x, y)."""
    modules = matrix(url)
    n = len(modules)
    cell = side / n
    c.setFillGray(0)
    for row, line in enumerate(modules):
        top = y + side - (row + 1) * cell
        col = 0
        while col < n:
            if line[col]:
                start = col
                while col < n and line[col]:
                    col += 1
                c.rect(x + start * cell, top, (col - start) * cell + 0.05, cell + 0.05, stroke=0, fill=1)
            else:
                col += 1


def _card(c: Canvas, item: SheetItem, x: float, y: float, w: float, h: float) -> None:
    c.setDash(3, 3)
    c.setStrokeGray(0.6)
    c.setLineWidth(0.5)
    c.rect(x, y, w, h, stroke=1, fill=0)
    c.setDash()
    cx = x + w / 2
    inner = w - 8 * mm
    c.setFillColorRGB(0.72, 0.07, 0.12)
    _centered(c, "扫码评价", cx, y + h - 10 * mm, 15, inner)
    c.setFillGray(0)
    side = min(w - 30 * mm, h - 40 * mm)
    code_y = y + 20 * mm
    _draw_code(c, item.url, cx - side / 2, code_y, side)
    _centered(c, item.name, cx, y + 12 * mm, 14, inner)
    c.setFillGray(0.3)
    _centered(c, item.org, cx, y + 6.5 * mm, 9, inner)
    if item.note:
        _centered(c, item.note, cx, y + 2.5 * mm, 7, inner)
    c.setFillGray(0)


def branch_sheet(items: list[SheetItem], title: str) -> bytes:
    """Six codes per A4 page, with cut lines, the name, the org and "扫码评价"."""
    _font()
    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=A4, pageCompression=1)
    c.setTitle(title)
    c.setAuthor("先锋指数")
    per_page = COLS * ROWS
    header = 8 * mm
    w = (PAGE_W - 2 * MARGIN) / COLS
    h = (PAGE_H - 2 * MARGIN - header) / ROWS
    pages = max(1, (len(items) + per_page - 1) // per_page)
    for page in range(pages):
        c.setFillGray(0.3)
        _centered(c, f"{title}　第 {page + 1}/{pages} 页", PAGE_W / 2, PAGE_H - MARGIN - 5 * mm, 10,
                  PAGE_W - 2 * MARGIN)
        c.setFillGray(0)
        chunk = items[page * per_page:(page + 1) * per_page]
        if not chunk:
            _centered(c, "暂无可打印的二维码", PAGE_W / 2, PAGE_H / 2, 16, PAGE_W - 2 * MARGIN)
        for i, item in enumerate(chunk):
            row, col = divmod(i, COLS)
            x = MARGIN + col * w
            y = PAGE_H - MARGIN - header - (row + 1) * h
            _card(c, item, x + 1.5 * mm, y + 1.5 * mm, w - 3 * mm, h - 3 * mm)
        c.showPage()
    c.save()
    return buffer.getvalue()


def single_sheet(item: SheetItem, title: str) -> bytes:
    """One large code on an A4 page, for a door plate or a service desk."""
    _font()
    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=A4, pageCompression=1)
    c.setTitle(title)
    c.setAuthor("先锋指数")
    width = PAGE_W - 2 * MARGIN - 20 * mm
    c.setFillColorRGB(0.72, 0.07, 0.12)
    _centered(c, "扫码评价", PAGE_W / 2, PAGE_H - 40 * mm, 36, width)
    c.setFillGray(0.3)
    _centered(c, "微信或相机扫一扫，为我们的服务打分", PAGE_W / 2, PAGE_H - 52 * mm, 14, width)
    c.setFillGray(0)
    side = 130 * mm
    _draw_code(c, item.url, (PAGE_W - side) / 2, PAGE_H - 72 * mm - side, side)
    base = PAGE_H - 72 * mm - side
    _centered(c, item.name, PAGE_W / 2, base - 18 * mm, 28, width)
    c.setFillGray(0.3)
    _centered(c, item.org, PAGE_W / 2, base - 30 * mm, 16, width)
    if item.note:
        _centered(c, item.note, PAGE_W / 2, base - 40 * mm, 12, width)
    c.setFillGray(0.5)
    _centered(c, "评价匿名，仅用于改进服务", PAGE_W / 2, MARGIN + 8 * mm, 10, width)
    c.showPage()
    c.save()
    return buffer.getvalue()
