"""API: contests, leaderboards, rollup and finalize."""
from __future__ import annotations

from app.api import make_blueprint

blp = make_blueprint("contests_api", __name__, "Points race contests and leaderboards")
