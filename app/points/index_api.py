"""API: the Vanguard Index, ranks and ledger history (the ledger's read side)."""
from __future__ import annotations

from app.api import make_blueprint

blp = make_blueprint("index_api", __name__, "The Vanguard Index, ranks and history")
