"""The Chinese font of every PDF the app prints (QR code sheets, the assessment notice).

A TrueType CJK font on the machine is embedded, as a subset of the characters used, so a sheet
prints the same from any reader or print shop. ``PDF_FONT`` names its file (.ttf, or .ttc for
the first face); otherwise the usual Debian/Ubuntu locations are tried (``fonts-wqy-zenhei``,
``fonts-wqy-microhei``, ``fonts-arphic-uming``, ``fonts-droid-fallback``). Without any, the PDF
names Adobe's standard font STSong-Light, which most readers substitute with a system Song face
(Acrobat may ask for its Asian font pack).
"""
from __future__ import annotations

import functools
import os
import threading

from flask import current_app
from reportlab.pdfbase import pdfmetrics

CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
EMBEDDED = "VanguardCJK"
STANDARD = "STSong-Light"
_lock = threading.Lock()


def font_file() -> str | None:
    """The TrueType font file to embed, if there is one."""
    configured = current_app.config.get("PDF_FONT")
    paths = (configured,) if configured else CANDIDATES
    return next((p for p in paths if p and os.path.isfile(p)), None)


@functools.lru_cache(maxsize=4)
def _register(path: str | None) -> str:
    with _lock:
        if path is None:
            from reportlab.pdfbase.cidfonts import UnicodeCIDFont

            if STANDARD not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(UnicodeCIDFont(STANDARD))
            return STANDARD
        from reportlab.pdfbase.ttfonts import TTFont

        name = f"{EMBEDDED}-{abs(hash(path)) % 10_000}"
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
        return name


def cjk_font() -> str:
    """The registered reportlab font name to write Chinese with."""
    return _register(font_file())
