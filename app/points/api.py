"""API: rules, claims, awards, entries (the ledger's write side)."""
from __future__ import annotations

from app.api import make_blueprint

blp = make_blueprint("points_api", __name__, "Rules, claims, awards and ledger entries")
