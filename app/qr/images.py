"""QR code images: PNG (Pillow) and SVG, and the module matrix the PDF sheets draw."""
from __future__ import annotations

import io

import qrcode
import qrcode.constants
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathImage


def _code(data: str, box_size: int = 10, border: int = 4) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=border)
    code.add_data(data)
    code.make(fit=True)
    return code


def png_bytes(data: str, box_size: int = 10) -> bytes:
    image = _code(data, box_size=box_size).make_image(image_factory=PilImage)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def svg_bytes(data: str) -> bytes:
    image = _code(data).make_image(image_factory=SvgPathImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


def matrix(data: str) -> list[list[bool]]:
    """Dark/light modules without the quiet zone (the sheet leaves its own margin)."""
    return _code(data, border=0).get_matrix()
