"""API: a health check that answers without touching the database."""
from __future__ import annotations

import marshmallow as ma

from app.api import Schema, make_blueprint

blp = make_blueprint("health_api", __name__, "Health check")


class PingOut(Schema):
    status = ma.fields.String(metadata={"description": "always \"ok\""})


@blp.route("/ping", methods=["GET"])
@blp.doc(security=[])
@blp.response(200, PingOut)
def ping():
    """Liveness for load balancers and monitors: the app answers; no database access, no auth."""
    return {"status": "ok"}
