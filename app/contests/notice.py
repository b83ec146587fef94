"""The printable results notice (通报) of a contest for a period: a published month or the final."""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _

from app.contests import services
from app.contests.models import Contest, ContestOutcome, ContestSnapshot
from app.errors import NotFound
from app.extensions import db
from app.templating import local_dt


@dataclass
class Notice:
    contest: Contest
    snapshot: ContestSnapshot | None
    period_label: str
    heading: str
    rows: list[services.StandingRow]
    published: list[ContestSnapshot]
    outcomes: dict[int, ContestOutcome] = field(default_factory=dict)
    awarded: set[int] = field(default_factory=set)
    last_place: int | None = None

    @property
    def winners(self) -> list[services.StandingRow]:
        c = self.contest
        return [r for r in self.rows if c.top_places and r.rank <= c.top_places]

    @property
    def last(self) -> list[services.StandingRow]:
        return [r for r in self.rows if self.last_place and r.rank == self.last_place]


def period_label(snapshot: ContestSnapshot) -> str:
    if snapshot.is_final:
        return _("最终排名")
    if snapshot.kind == "month":
        year, month = snapshot.period_key.split(":", 1)[1].split("-")
        return _("%(year)s年%(month)s月", year=int(year), month=int(month))
    return _("截至%(time)s", time=local_dt(snapshot.as_of))


def published_snapshots(contest: Contest) -> list[ContestSnapshot]:
    return list(db.session.scalars(
        sa.select(ContestSnapshot)
        .where(ContestSnapshot.contest_id == contest.id, ContestSnapshot.published.is_(True))
        .order_by(ContestSnapshot.is_final.desc(), ContestSnapshot.as_of.desc())
    ))


def build_notice(actor, contest_id: int, snapshot_id: int | None = None) -> Notice:
    """The notice of a published snapshot (default: the final, else the latest month, else now)."""
    contest = services.view_contest(actor, contest_id)
    published = published_snapshots(contest)
    if snapshot_id is not None:
        snapshot = next((s for s in published if s.id == snapshot_id), None)
        if snapshot is None:
            raise NotFound(_("找不到该期通报。"), code="notice_not_found")
    else:
        snapshot = published[0] if published else services.current_snapshot(contest)
    if snapshot is None:
        return Notice(contest, None, "", contest.title, [], published)
    label = period_label(snapshot)
    heading = _("关于%(title)s%(period)s情况的通报", title=contest.title,
                period=_("最终排名") if snapshot.is_final else label + _("排名"))
    rows = services.standings(contest, snapshot, limit=None)
    notice = Notice(contest, snapshot, label, heading, rows, published)
    if rows and snapshot.is_final:
        worst = max(r.rank for r in rows)
        if contest.exclude_last and worst > 1:
            notice.last_place = worst
        if contest.participant_type == "member":
            notice.awarded = {r.participant_id for r in services.awarded_members(contest)}
        else:
            notice.outcomes = {o.org_id: o for o in services.outcomes(contest)}
    return notice
