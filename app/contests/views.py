"""Pages: contests, leaderboards, the hall display, results notices."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("contests", __name__, url_prefix="/contests")
