"""Rank boards: a community's members ranked for a period, computed once and shared by all of them.

A member's index page shows their place in the branch and in the community. Both come from
ranking the whole community for the period (:func:`app.points.index.ranked_members`, the one SQL
ranking), which is the same work for every member of that community. A board keeps the numbers
of that ranking in the process, under

- the community, the period and the index configuration (the key), and
- the community's ledger mark and the roster mark (:mod:`app.marks`), read by one small query on
  every request: any entry appended for a member of the community, or any change to a user or
  an org, moves them and the board is ranked again.

So a board never shows an old figure; it only saves ranking what has not changed. A board holds
numbers only (no names, no ORM objects), one tuple per ranked member.
"""
from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from app.marks import shared_cache
from app.orm import planned_for_parameters
from app.points.models import CATEGORIES

FIELDS = ("ranked", "org_id", "community_id", *(f"{c}10" for c in CATEGORIES), "total10", "index10",
          "branch_rank", "branch_size", "community_rank", "community_size")
BOARD_CACHE = "rank_boards"
ORG_CACHE = "community_of"


@dataclass(frozen=True)
class OrgRef:
    """The few fields of an org a board and a page need, safe to share between requests."""

    id: int
    name: str
    kind: str
    path: str
    parent_id: int | None = None

    @classmethod
    def of(cls, org) -> "OrgRef":
        return cls(org.id, org.name, org.kind, org.path, org.parent_id)


def community_of(org, roster_mark: int) -> OrgRef:
    """The community ``org`` belongs to (nearest ``community`` on its path, else the root)."""
    from app.orgs.services import org_chain
    from app.points.index import community_of as nearest_community

    def compute() -> OrgRef:
        return OrgRef.of(nearest_community(org_chain(org)))

    return shared_cache(ORG_CACHE, 4096).get(org.path, roster_mark, compute)


@dataclass(frozen=True)
class Board:
    rows: dict[int, tuple]

    def row(self, member_id: int) -> dict | None:
        values = self.rows.get(member_id)
        return None if values is None else dict(zip(FIELDS, values))

    def __len__(self) -> int:
        return len(self.rows)

    def group_sizes(self, org_id: int, community_id: int) -> tuple[int, int]:
        """(ranked members of the org, of the community): the groups someone who is not ranked
        (a stopped account, an admin) is shown against."""
        orgs, communities = self._sizes
        return orgs.get(org_id, 0), communities.get(community_id, 0)

    def tied(self, org_id: int, branch_rank: int | None, community_id: int, community_rank: int | None) -> tuple[int, int]:
        """How many ranked members share a place: (in the org at ``branch_rank``, in the
        community at ``community_rank``); 1 for a place nobody shares, or no place."""
        in_org, in_community = self._ties
        return in_org.get((org_id, branch_rank), 1), in_community.get((community_id, community_rank), 1)

    @functools.cached_property
    def _ranked_rows(self) -> list[tuple]:
        """The rows of the ranked members, picked once per board (boards are shared)."""
        ranked = FIELDS.index("ranked")
        return [v for v in self.rows.values() if v[ranked]]

    @functools.cached_property
    def _ties(self) -> tuple[Counter, Counter]:
        org, community, branch_rank, community_rank = (
            FIELDS.index(f) for f in ("org_id", "community_id", "branch_rank", "community_rank"))
        return (Counter((v[org], v[branch_rank]) for v in self._ranked_rows),
                Counter((v[community], v[community_rank]) for v in self._ranked_rows))

    @functools.cached_property
    def _sizes(self) -> tuple[dict[int, int], dict[int, int]]:
        """Group sizes as the ranked rows carry them, read once per board."""
        org, community, org_size, community_size = (
            FIELDS.index(f) for f in ("org_id", "community_id", "branch_size", "community_size"))
        return ({v[org]: v[org_size] for v in self._ranked_rows},
                {v[community]: v[community_size] for v in self._ranked_rows})


def _cfg_key(cfg) -> tuple:
    return (tuple(sorted((k, str(v)) for k, v in cfg.weights.items())),
            tuple(sorted((k, str(v)) for k, v in cfg.ceilings.items())))


def community_board(period, community: OrgRef, cfg, marks: tuple) -> Board:
    """The ranked members of ``community`` for ``period`` (one statement when not cached)."""
    from app.points.index import ranked_members

    def compute() -> Board:
        ranked = ranked_members(period, within=community, cfg=cfg)
        stmt = sa.select(ranked.c.member_id, *[ranked.c[f] for f in FIELDS])
        with planned_for_parameters():
            rows = db.session.execute(stmt).all()
        return Board({r[0]: tuple(int(v) if v is not None else None for v in r[1:]) for r in rows})

    key = (community.id, community.path, period.key, _cfg_key(cfg))
    return shared_cache(BOARD_CACHE, 256).get(key, marks, compute)
