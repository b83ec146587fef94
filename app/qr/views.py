"""Pages: the public rating page and the secretaries' QR pages."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("qr", __name__)
