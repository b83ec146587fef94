"""Pages: the org tree, members and the roster import (secretaries in scope, admins)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.auth.scope import require_role
from app.orgs import services
from app.templating import register_nav

bp = Blueprint("orgs", __name__, url_prefix="/orgs")

register_nav(50, _l("组织"), "orgs.tree", ("secretary", "admin"))


@bp.route("/")
@login_required
def tree():
    require_role(current_user, "admin", "secretary")
    orgs = services.managed_orgs(current_user)
    return render_template("orgs/tree.html", orgs=orgs)
