"""Pages: my index, ranks, history, the branch table, member look-up, the duty index, exports."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("index", __name__, url_prefix="/index")
