"""The one rank function: competition ranking ("1, 2, 2, 4") computed by the database.

Every place in the product that shows a rank (a member's rank in the branch and the community,
the branch table, contest leaderboards) builds it from here, so a score and its place can never
disagree::

    rank_column(score_expr, partition_by=None)
        -> RANK() OVER ([PARTITION BY ...] ORDER BY score_expr DESC)

    ranked_select(scores_subquery, score="score", ranks={"rank": None, "branch_rank": "org_id"})
        -> SELECT scores.*, RANK() OVER (ORDER BY score DESC) AS rank,
                  RANK() OVER (PARTITION BY org_id ORDER BY score DESC) AS branch_rank
           FROM scores

    rank_participants(scores_subquery)   # a subquery of (participant_id, score)
        -> SELECT participant_id, score, rank ... ORDER BY rank, participant_id

Ties share a place and the next place is skipped (two members on 50 are both 2nd, the next is
4th). Pass an *exact* score: an integer (the index is ranked in tenths) or a ``ROUND()``-ed
numeric; on SQLite, NUMERIC arithmetic runs on floats, and float noise would split a tie.
Works the same on SQLite (3.25+) and PostgreSQL.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement

Partition = ColumnElement | str | Sequence[ColumnElement | str] | None


def _columns(source, spec: Partition) -> list[ColumnElement] | None:
    if spec is None:
        return None
    items = [spec] if isinstance(spec, (str, ColumnElement)) else list(spec)
    if not items:
        return None
    return [source.c[item] if isinstance(item, str) else item for item in items]


def rank_column(score: ColumnElement, partition_by: Partition = None, *, source=None) -> ColumnElement:
    """``RANK() OVER (PARTITION BY partition_by ORDER BY score DESC)``: 1, 2, 2, 4.

    ``partition_by`` is a column, a list of columns, or None for one ranking of all rows;
    column names (strings) are looked up on ``source`` (a subquery).
    """
    return sa.func.rank().over(partition_by=_columns(source, partition_by), order_by=score.desc())


def ranked_select(
    scores, *, score: str = "score", ranks: Mapping[str, Partition] | None = None
) -> sa.Select:
    """Every column of the ``scores`` subquery plus one rank column per entry of ``ranks``.

    ``ranks`` maps the label of a rank column to its partition (None: one ranking of all rows).
    """
    ranks = {"rank": None} if ranks is None else ranks
    score_col = scores.c[score]
    extra = [rank_column(score_col, spec, source=scores).label(label) for label, spec in ranks.items()]
    return sa.select(*scores.c, *extra)


def rank_participants(scores, *, partition_by: Partition = None) -> sa.Select:
    """Rank a subquery of ``(participant_id, score)``: participant_id, score, rank, best first."""
    stmt = ranked_select(scores, ranks={"rank": partition_by})
    ranked = stmt.subquery("ranked")
    return sa.select(ranked.c.participant_id, ranked.c.score, ranked.c.rank).order_by(
        ranked.c.rank, ranked.c.participant_id
    )
