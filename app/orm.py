"""Small session helpers shared by the write paths."""
from __future__ import annotations

from contextlib import contextmanager

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


@contextmanager
def planned_for_parameters():
    """Statements run inside are planned for their parameter values every time (PostgreSQL).

    psycopg prepares a statement on a connection once it has run there five times, and
    PostgreSQL then switches a prepared statement to a generic plan, one made without looking at
    the parameters, when that plan looks no costlier than the ones made for them. For the
    ranking statements the guess is wrong: planned blind to the community's path, ranking one
    community took 1.1 to 1.6 s instead of 44 to 172 ms (bench/RESULTS.md). The small statements
    of every request stay prepared, which saves their planning. Nothing to do on SQLite.
    """
    raw = db.session.connection().connection.dbapi_connection
    if not hasattr(raw, "prepare_threshold"):
        yield
        return
    saved = raw.prepare_threshold
    raw.prepare_threshold = None
    try:
        yield
    finally:
        raw.prepare_threshold = saved
