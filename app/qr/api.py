"""API: QR targets and ratings."""
from __future__ import annotations

from app.api import make_blueprint

blp = make_blueprint("qr_api", __name__, "QR targets and public ratings")
