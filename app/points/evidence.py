"""Photo evidence for claims: checked by content, stored outside static under random names.

A file is accepted only when its bytes are a JPEG or PNG (magic bytes, then Pillow reads the
whole image); the name and the declared type are ignored. The stored copy is re-encoded, which
drops metadata such as the GPS position a phone writes into its photos, and gets a small
thumbnail for the review queue.
"""
from __future__ import annotations

import io
import os
import secrets
from dataclasses import dataclass

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError
from werkzeug.security import safe_join

from app.errors import Invalid

MAX_BYTES = 15 * 1024 * 1024  # a 12-48 MP phone photo as the camera wrote it; re-encoded to MAX_SIDE
MAX_PIXELS = 50_000_000
MAX_SIDE = 2560
THUMB_SIDE = 320
SUBDIR = "claims"

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
KINDS = {"jpeg": ("JPEG", "image/jpeg", "jpg"), "png": ("PNG", "image/png", "png")}


@dataclass
class StoredEvidence:
    path: str  # relative to UPLOAD_DIR, e.g. "claims/3f2a....jpg"
    mime: str


def max_bytes() -> int:
    return int(current_app.config.get("EVIDENCE_MAX_BYTES", MAX_BYTES))


def _bad(message: str) -> Invalid:
    return Invalid(message, fields={"evidence": [message]})


def sniff(data: bytes) -> str | None:
    """'jpeg' or 'png' from the first bytes, None for anything else."""
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    if data.startswith(PNG_MAGIC):
        return "png"
    return None


def check_image(data: bytes) -> str:
    """The kind of an acceptable photo ('jpeg' / 'png'), or Invalid with a Chinese message."""
    if not data:
        raise _bad("照片是空文件，请重新选择。")
    limit = max_bytes()
    if len(data) > limit:
        raise _bad(f"照片不能超过 {limit // (1024 * 1024)} MB，请压缩后再传。")
    kind = sniff(data)
    if kind is None:
        raise _bad("只能上传 JPEG 或 PNG 格式的照片。")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != KINDS[kind][0]:
                raise _bad("只能上传 JPEG 或 PNG 格式的照片。")
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise _bad("照片尺寸过大，请压缩后再传。")
            image.verify()
    except Invalid:
        raise
    except Image.DecompressionBombError:  # Pillow refuses to open one past twice its pixel limit
        raise _bad("照片尺寸过大，请压缩后再传。") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _bad("照片文件已损坏或不是图片，请重新选择。") from None
    return kind


def _encode(data: bytes, kind: str) -> tuple[bytes, bytes]:
    """The re-encoded photo (no metadata, at most MAX_SIDE) and a JPEG thumbnail."""
    try:
        with Image.open(io.BytesIO(data)) as original:
            image = ImageOps.exif_transpose(original)
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise _bad("照片文件已损坏或不是图片，请重新选择。") from None
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    if kind == "jpeg":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=85, optimize=True)
    else:
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        image.save(out, "PNG", optimize=True)
    thumb = image.copy()
    if thumb.mode in ("RGBA", "LA", "P"):
        thumb = thumb.convert("RGBA")
        background = Image.new("RGB", thumb.size, (255, 255, 255))
        background.paste(thumb, mask=thumb.getchannel("A"))
        thumb = background
    elif thumb.mode != "RGB":
        thumb = thumb.convert("RGB")
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
    small = io.BytesIO()
    thumb.save(small, "JPEG", quality=80)
    return out.getvalue(), small.getvalue()


def _write(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def thumb_name(relpath: str) -> str:
    stem, _ = os.path.splitext(relpath)
    return f"{stem}.thumb.jpg"


def store(data: bytes) -> StoredEvidence:
    """Check ``data`` and store it under UPLOAD_DIR/claims with a random name."""
    kind = check_image(data)
    photo, thumb = _encode(data, kind)
    _, mime, ext = KINDS[kind]
    folder = os.path.join(current_app.config["UPLOAD_DIR"], SUBDIR)
    os.makedirs(folder, exist_ok=True)
    relpath = f"{SUBDIR}/{secrets.token_hex(16)}.{ext}"
    _write(os.path.join(current_app.config["UPLOAD_DIR"], relpath), photo)
    _write(os.path.join(current_app.config["UPLOAD_DIR"], thumb_name(relpath)), thumb)
    return StoredEvidence(relpath, mime)


def file_path(relpath: str, thumb: bool = False) -> str | None:
    """The absolute path of a stored photo (or its thumbnail), None when it is missing."""
    name = thumb_name(relpath) if thumb else relpath
    path = safe_join(current_app.config["UPLOAD_DIR"], name)
    return path if path and os.path.isfile(path) else None


def discard(stored: StoredEvidence | None) -> None:
    """Remove a stored photo whose claim was not saved."""
    if stored is None:
        return
    for name in (stored.path, thumb_name(stored.path)):
        path = safe_join(current_app.config["UPLOAD_DIR"], name)
        if path and os.path.isfile(path):
            os.remove(path)


def send_photo(path: str, mime: str):
    """The response for a claim's photo (page or API): private, cached an hour on the phone."""
    from flask import send_file

    response = send_file(path, mimetype=mime, conditional=True, max_age=0)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
