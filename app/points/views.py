"""Pages: claims, the review queue, awards and deductions, reversals, the rule catalogue."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("points", __name__, url_prefix="/points")
