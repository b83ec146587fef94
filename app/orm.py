"""Small session helpers shared by the write paths."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import db


def commit_keeping_loaded(obj) -> None:
    """Commit, then put back the column values ``obj`` had as flushed.

    For rows nobody changes after they are written (ledger entries, ratings): the commit expires
    them, and the answer built from them would otherwise cost one more query to reload the row.
    """
    loaded = sa.inspect(obj).dict
    kept = {c.key: loaded[c.key] for c in sa.inspect(type(obj)).column_attrs if c.key in loaded}
    db.session.commit()
    for key, value in kept.items():
        set_committed_value(obj, key, value)
