"""QR ratings, the domain: targets and tokens, service posts, ratings with their abuse guards,
burst flags and low-rating follow-ups (差评整改). Plain functions; no request object here."""
from __future__ import annotations

import functools
import time
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time as dtime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import aliased, joinedload, make_transient_to_detached, selectinload

from app.auth.models import User
from app.auth.scope import can_manage_org, is_fellow_secretary, org_scope_clause, require_manage_org, require_role
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.orgs.models import Org, utcnow
from app.qr import tokens
from app.qr.models import SUBJECT_TYPES, FollowUp, QrFlag, QrTarget, Rating, ServicePost
from app.ids import get_by_id
from app.orm import commit_keeping_loaded
from app.timeutil import iso_local, local_tz  # iso_local is re-exported for the API

HUNDREDTH = Decimal("0.01")
MANAGERS = ("admin", "secretary")


# --- small helpers --------------------------------------------------------------------------

def cfg(name: str):
    return current_app.config[name]


def local_day(moment: datetime | None = None) -> date:
    return (moment or utcnow()).astimezone(local_tz()).date()


def local_start(day: date) -> datetime:
    """The UTC instant a local day starts."""
    return datetime.combine(day, dtime.min, tzinfo=local_tz()).astimezone(timezone.utc)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes (stored as UTC)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def _clean_text(value, max_len: int, field: str, label: str) -> str:
    text = "" if value is None else str(value)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    text = text.replace("\r", "").strip()
    if len(text) > max_len:
        raise Invalid(_("%(label)s最多 %(n)d 个字。", label=label, n=max_len),
                      fields={field: [_("最多 %(n)d 个字。", n=max_len)]})
    return text


# --- targets --------------------------------------------------------------------------------

def _load_subjects():
    """Eager loads for showing many targets (names, orgs, parents) without N+1 queries."""
    return (
        selectinload(QrTarget.member).joinedload(User.org).selectinload(Org.parent),
        selectinload(QrTarget.org).selectinload(Org.parent),
        selectinload(QrTarget.post).joinedload(ServicePost.org).selectinload(Org.parent),
    )


def _scoped_targets(actor):
    """SELECT of targets joined to their managing org, limited to ``actor``'s scope."""
    member = aliased(User)
    post = aliased(ServicePost)
    scope_org = aliased(Org)
    q = (
        sa.select(QrTarget)
        .outerjoin(member, member.id == QrTarget.member_id)
        .outerjoin(post, post.id == QrTarget.post_id)
        .join(scope_org, scope_org.id == sa.func.coalesce(member.org_id, post.org_id, QrTarget.org_id))
        .where(org_scope_clause(actor, scope_org.path))
        .options(*_load_subjects())
    )
    return q, scope_org


def token_of(target: QrTarget) -> str:
    return tokens.derive_token(target.id, target.nonce)


def url_of(target: QrTarget) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/r/{token_of(target)}"


def get_target(target_id: int) -> QrTarget:
    target = get_by_id(QrTarget, target_id)
    if target is None:
        raise NotFound(_("二维码不存在。"), code="target_not_found")
    return target


def manage_target(actor, target_id: int) -> QrTarget:
    """A target the actor may manage (secretary in scope, admin)."""
    require_role(actor, *MANAGERS)
    target = get_target(target_id)
    require_manage_org(actor, target.scope_org)
    return target


# One statement per scan or rating: the code with its subject (a member with their org, or a post).
_TARGET_BY_HASH = (
    sa.select(QrTarget).where(QrTarget.token_hash == sa.bindparam("token_hash"))
    .options(joinedload(QrTarget.member), joinedload(QrTarget.post))
)


def active_target_for_token(token) -> QrTarget | None:
    """The live target of a token; None for malformed, unknown, rotated or revoked tokens."""
    if not tokens.well_formed(token):
        return None
    target = db.session.scalar(_TARGET_BY_HASH, {"token_hash": tokens.token_hash(token)})
    if target is None or target.revoked_at is not None:
        return None
    if (target.subject_type == "member" and not target.member.active) or (
            target.subject_type == "post" and not target.post.active):
        return None  # the member left, the post closed: the printed code rests
    return target


def _subject(subject_type: str, subject_id) -> tuple[object, Org]:
    if subject_type not in SUBJECT_TYPES:
        raise Invalid(_("评价对象类型有误。"), fields={"subject_type": [_("须为党员、组织或服务岗。")]})
    if not isinstance(subject_id, int) or isinstance(subject_id, bool) or subject_id <= 0:
        raise Invalid(_("请选择评价对象。"), fields={"subject_id": [_("请选择评价对象。")]})
    if subject_type == "member":
        member = get_by_id(User, subject_id)
        if member is None or not member.active:
            raise NotFound(_("该党员不存在。"), code="member_not_found")
        return member, member.org
    if subject_type == "org":
        org = get_by_id(Org, subject_id)
        if org is None:
            raise NotFound(_("该组织不存在。"), code="org_not_found")
        return org, org
    post = get_by_id(ServicePost, subject_id)
    if post is None or not post.active:
        raise NotFound(_("该服务岗不存在。"), code="post_not_found")
    return post, post.org


def _new_target(actor, subject_type: str, subject, label: str) -> QrTarget:
    target = QrTarget(subject_type=subject_type, label=label, nonce=tokens.new_nonce(),
                      token_hash="pending:" + tokens.new_nonce(), created_by_id=actor.id)
    setattr(target, {"member": "member_id", "org": "org_id", "post": "post_id"}[subject_type], subject.id)
    db.session.add(target)
    db.session.flush()  # the id is part of the token
    target.token_hash = tokens.token_hash(token_of(target))
    return target


def create_target(actor, subject_type: str, subject_id, label: str | None = "") -> QrTarget:
    """A new code for a member, an org or a service post in the actor's scope."""
    require_role(actor, *MANAGERS)
    subject, org = _subject(subject_type, subject_id)
    if not can_manage_org(actor, org):
        raise Forbidden({"member": "该党员不在您的管理范围内。", "post": "该服务岗不在您的管理范围内。"}.get(
            subject_type, "该组织不在您的管理范围内。"), code="out_of_scope")
    label = _clean_text(label, 100, "label", _("名称"))
    target = _new_target(actor, subject_type, subject, label)
    db.session.commit()
    return target


def rotate_target(actor, target_id: int) -> QrTarget:
    """A new token for the code: the printed old one stops working at once."""
    target = manage_target(actor, target_id)
    if target.revoked_at is not None:
        raise Conflict(_("该二维码已停用，不能更换。"), code="revoked")
    target.nonce = tokens.new_nonce()
    target.token_hash = tokens.token_hash(token_of(target))
    target.rotated_at = utcnow()
    db.session.commit()
    return target


def revoke_target(actor, target_id: int) -> QrTarget:
    """Stop a code for good."""
    target = manage_target(actor, target_id)
    if target.revoked_at is not None:
        raise Conflict(_("该二维码已停用。"), code="revoked")
    target.revoked_at = utcnow()
    target.revoked_by_id = actor.id
    db.session.commit()
    return target


@dataclass
class TargetRow:
    target: QrTarget
    scope_org: Org
    ratings: int
    counted: int
    average: Decimal | None
    open_flags: int


def _stats_subqueries():
    counted_sum = sa.func.sum(sa.case((Rating.counted, Rating.stars), else_=0))
    counted_n = sa.func.sum(sa.case((Rating.counted, 1), else_=0))
    stats = (sa.select(Rating.target_id, sa.func.count(Rating.id).label("n"),
                       counted_n.label("counted"), counted_sum.label("star_sum"))
             .group_by(Rating.target_id).subquery())
    flags = (sa.select(QrFlag.target_id, sa.func.count(QrFlag.id).label("open_flags"))
             .where(QrFlag.cleared_at.is_(None)).group_by(QrFlag.target_id).subquery())
    return stats, flags


def average_of(star_sum, n) -> Decimal | None:
    if not n:
        return None
    return (Decimal(int(star_sum)) / Decimal(int(n))).quantize(HUNDREDTH, rounding=ROUND_HALF_UP)


def list_targets(actor, *, org_id: int | None = None, flagged: bool = False, active_only: bool = False,
                 limit: int = 50, offset: int = 0) -> tuple[list[TargetRow], int]:
    """Targets in the actor's scope (optionally under one org), newest first, with rating stats."""
    require_role(actor, *MANAGERS)
    q, scope_org = _scoped_targets(actor)
    if org_id is not None:
        under = get_by_id(Org, org_id)
        if under is None:
            raise NotFound(_("该组织不存在。"), code="org_not_found")
        require_manage_org(actor, under)
        q = q.where(scope_org.path.startswith(under.path, autoescape=True))
    if active_only:
        q = q.where(QrTarget.revoked_at.is_(None))
    stats, flags = _stats_subqueries()
    if flagged:
        q = q.where(QrTarget.id.in_(sa.select(flags.c.target_id)))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(q.subquery()))
    rows = db.session.execute(
        q.add_columns(scope_org, stats.c.n, stats.c.counted, stats.c.star_sum, flags.c.open_flags)
        .outerjoin(stats, stats.c.target_id == QrTarget.id)
        .outerjoin(flags, flags.c.target_id == QrTarget.id)
        .order_by(QrTarget.revoked_at.is_not(None), QrTarget.id.desc())
        .limit(limit).offset(offset)
    ).all()
    return [TargetRow(t, o, n or 0, c or 0, average_of(s, c), f or 0) for t, o, n, c, s, f in rows], total


def _subtree_orgs(actor, org_id: int) -> Org:
    require_role(actor, *MANAGERS)
    org = get_by_id(Org, org_id)
    if org is None:
        raise NotFound(_("该组织不存在。"), code="org_not_found")
    require_manage_org(actor, org)
    return org


def ensure_member_targets(actor, org_id: int) -> int:
    """Give every active member under ``org_id`` without a live code a new one; returns how many."""
    org = _subtree_orgs(actor, org_id)
    has_code = sa.select(QrTarget.member_id).where(QrTarget.member_id.is_not(None), QrTarget.revoked_at.is_(None))
    members = db.session.scalars(
        sa.select(User).join(Org, Org.id == User.org_id)
        .where(Org.path.startswith(org.path, autoescape=True), User.active.is_(True),
               User.role != "admin", User.id.not_in(has_code))
        .order_by(Org.path, User.id)
    ).all()
    for member in members:
        _new_target(actor, "member", member, "")
    db.session.commit()
    return len(members)


def sheet_targets(actor, org_id: int) -> tuple[Org, list[QrTarget]]:
    """Live codes under ``org_id`` for a sheet: the org's own and posts' first, then members."""
    org = _subtree_orgs(actor, org_id)
    q, scope_org = _scoped_targets(actor)
    targets = db.session.scalars(
        q.where(scope_org.path.startswith(org.path, autoescape=True), QrTarget.revoked_at.is_(None))
        .order_by(scope_org.path, sa.case((QrTarget.subject_type == "org", 0),
                                          (QrTarget.subject_type == "post", 1), else_=2), QrTarget.id)
        .limit(2000)
    ).all()
    return org, list(targets)


# --- service posts --------------------------------------------------------------------------

def create_post(actor, *, name: str, org_id, address: str = "", description: str = "") -> ServicePost:
    require_role(actor, *MANAGERS)
    name = _clean_text(name, 100, "name", _("名称"))
    if not name:
        raise Invalid(_("请填写服务岗名称。"), fields={"name": [_("请填写服务岗名称。")]})
    if not isinstance(org_id, int) or isinstance(org_id, bool):
        raise Invalid(_("请选择所属组织。"), fields={"org_id": [_("请选择所属组织。")]})
    org = get_by_id(Org, org_id)
    if org is None:
        raise NotFound(_("该组织不存在。"), code="org_not_found")
    require_manage_org(actor, org)
    address = _clean_text(address, 200, "address", _("地址"))
    twin = db.session.scalar(sa.select(ServicePost.id).where(
        ServicePost.org_id == org.id, ServicePost.name == name, ServicePost.address == address,
        ServicePost.active.is_(True)).limit(1))
    if twin is not None:  # a second tap, or the same post typed again: one post, one code
        raise Conflict(_("本组织已有服务岗“%(name)s”（同一地点），无需重复添加。", name=name), code="post_exists")
    post = ServicePost(name=name, org_id=org.id, address=address,
                       description=_clean_text(description, 1000, "description", _("说明")),
                       created_by_id=actor.id)
    db.session.add(post)
    db.session.commit()
    return post


def list_posts(actor, *, limit: int = 100, offset: int = 0) -> tuple[list[ServicePost], int]:
    require_role(actor, *MANAGERS)
    q = (sa.select(ServicePost).join(Org, Org.id == ServicePost.org_id)
         .where(org_scope_clause(actor), ServicePost.active.is_(True)))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(q.subquery()))
    posts = db.session.scalars(q.order_by(Org.path, ServicePost.id).limit(limit).offset(offset)).all()
    return list(posts), total


def managed_orgs(actor) -> list[Org]:
    require_role(actor, *MANAGERS)
    return list(db.session.scalars(sa.select(Org).where(org_scope_clause(actor)).order_by(Org.path)).all())


def subject_choices(actor, org_id: int) -> tuple[Org, list[tuple[str, str]]]:
    """What can get a code under one org: the org itself, its posts, its own members."""
    org = _subtree_orgs(actor, org_id)
    choices = [(f"org:{org.id}", _("本组织：%(name)s", name=org.name))]
    posts = db.session.scalars(sa.select(ServicePost).where(ServicePost.org_id == org.id,
                                                            ServicePost.active.is_(True))
                               .order_by(ServicePost.id)).all()
    choices += [(f"post:{p.id}", _("服务岗：%(name)s", name=p.name)) for p in posts]
    members = db.session.scalars(sa.select(User).where(User.org_id == org.id, User.active.is_(True))
                                 .order_by(User.name, User.id).limit(500)).all()
    choices += [(f"member:{m.id}", _("党员：%(name)s", name=m.name)) for m in members]
    codes = _live_codes(org.id, [p.id for p in posts], [m.id for m in members])
    # a second code for the same subject is allowed (two door plates), but not unknowingly
    return org, [(key, _("%(label)s（已有 %(n)d 个二维码）", label=label, n=codes[key]) if codes.get(key) else label)
                 for key, label in choices]


def _live_codes(org_id: int, post_ids: list[int], member_ids: list[int]) -> dict[str, int]:
    """{"org:1" / "post:2" / "member:3": live (not revoked) codes} of one org's subjects, one query."""
    subject_id = sa.case((QrTarget.subject_type == "member", QrTarget.member_id),
                         (QrTarget.subject_type == "post", QrTarget.post_id), else_=QrTarget.org_id)
    rows = db.session.execute(
        sa.select(QrTarget.subject_type, subject_id, sa.func.count())
        .where(QrTarget.revoked_at.is_(None), sa.or_(
            sa.and_(QrTarget.subject_type == "org", QrTarget.org_id == org_id),
            sa.and_(QrTarget.subject_type == "post", QrTarget.post_id.in_(post_ids)),
            sa.and_(QrTarget.subject_type == "member", QrTarget.member_id.in_(member_ids))))
        .group_by(QrTarget.subject_type, subject_id))
    return {f"{kind}:{sid}": int(n) for kind, sid, n in rows}


# --- ratings --------------------------------------------------------------------------------

def clean_stars(value) -> int:
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and len(value.strip()) == 1 and value.strip().isdecimal():
        value = int(value.strip())  # isdecimal: "５" is 5; "²" and "①" are digits int() refuses
    if not isinstance(value, int) or not 1 <= value <= 5:
        raise Invalid(_("请选择 1 到 5 颗星。"), fields={"stars": [_("请选择 1 到 5 颗星。")]})
    return value


def clean_tags(values) -> list[str]:
    allowed = list(cfg("QR_TAGS"))
    if values is None:
        return []
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        raise Invalid(_("标签有误。"), fields={"tags": [_("标签有误。")]})
    picked: list[str] = []
    for value in values:
        if not isinstance(value, str) or value not in allowed:
            raise Invalid(_("标签有误。"), fields={"tags": [_("请从给出的标签中选择。")]})
        if value not in picked:
            picked.append(value)
    return picked


def clean_comment(value) -> str:
    if value is not None and not isinstance(value, str):
        raise Invalid(_("留言有误。"), fields={"comment": [_("留言有误。")]})
    return _clean_text(value, int(cfg("QR_COMMENT_MAX")), "comment", _("留言"))


def _is_retryable(exc: OperationalError) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return any(word in text for word in ("locked", "busy", "deadlock", "could not serialize"))


_RATING_COLUMNS = ("target_id", "stars", "tags", "comment", "device_hash", "ip_hash", "day", "channel",
                   "created_at")


# The codes of the same subject as :target_id (a member, an org or a service post may have several
# codes: a door plate, a badge): the counting rules hold per subject, not per printed code.
_SIBLING_CODES = (
    "SELECT s.id FROM qr_targets s JOIN qr_targets t ON t.id = :target_id AND s.subject_type = t.subject_type "
    "AND ((t.subject_type = 'member' AND s.member_id = t.member_id) "
    "OR (t.subject_type = 'org' AND s.org_id = t.org_id) "
    "OR (t.subject_type = 'post' AND s.post_id = t.post_id))"
)


@functools.cache
def _insert_rating_stmt() -> sa.TextClause:
    """One statement that counts today's counted ratings of the subject (every code of it) from
    the device and from the network address, takes the device's next slot on this code while
    both have some left, and inserts: ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``.

    A concurrent request that took the same slot first makes this insert nothing (no row comes
    back) instead of failing, so no savepoint is needed around it. The same SQL on SQLite and
    PostgreSQL (``WHERE true`` keeps SQLite's parser from reading ``ON`` as a join).
    """
    table = Rating.__table__
    cols = ", ".join(_RATING_COLUMNS)
    values = ", ".join(f":{c}" for c in _RATING_COLUMNS)
    counts = "used.n < :per_day AND by_ip.n < :per_ip"
    return sa.text(
        f"INSERT INTO qr_ratings ({cols}, counted, count_slot) "
        f"SELECT {values}, {counts}, CASE WHEN {counts} THEN used.n + 1 END "
        f"FROM (SELECT count(*) AS n FROM qr_ratings WHERE target_id IN ({_SIBLING_CODES}) "
        "AND device_hash = :device_hash AND day = :day AND counted) AS used, "
        f"(SELECT count(*) AS n FROM qr_ratings WHERE target_id IN ({_SIBLING_CODES}) "
        "AND ip_hash = :ip_hash AND day = :day AND counted) AS by_ip WHERE true "
        "ON CONFLICT (target_id, device_hash, day, count_slot) DO NOTHING "
        "RETURNING id, counted, count_slot"
    ).bindparams(*(sa.bindparam(c, type_=table.c[c].type) for c in _RATING_COLUMNS),
                 sa.bindparam("per_day", type_=sa.Integer), sa.bindparam("per_ip", type_=sa.Integer),
                 ).columns(id=sa.BigInteger, counted=sa.Boolean, count_slot=sa.Integer)


def _insert_rating(**values) -> Rating:
    """Insert a rating, counted while the device has counted slots left today for the subject and
    its network address has too (``QR_COUNTED_PER_IP``: a resident can clear cookies or ask
    the API for a new device id, not easily a new address); race-safe for one code: the unique
    key on the device's slot decides, and a lost race counts again."""
    per_day = max(0, int(cfg("QR_COUNTED_PER_DAY")))
    per_ip = max(0, int(cfg("QR_COUNTED_PER_IP")))
    stmt = _insert_rating_stmt()
    # per_day + 3 tries for a slot, then one asking for none, which no other request can take first
    for limit in [per_day] * (per_day + 3) + [0]:
        row = db.session.execute(stmt, {**values, "per_day": limit, "per_ip": per_ip}).one_or_none()
        if row is not None:
            break
    rating = Rating(**values, id=row.id, counted=bool(row.counted), count_slot=row.count_slot)
    make_transient_to_detached(rating)  # the row is in the table: attach it without another SELECT
    db.session.add(rating)
    return rating


def _open_followup(rating: Rating, org_id: int, now: datetime) -> FollowUp:
    followup = FollowUp(rating_id=rating.id, target_id=rating.target_id, org_id=org_id, opened_at=now,
                        due_at=now + timedelta(days=int(cfg("QR_FOLLOWUP_DAYS"))))
    db.session.add(followup)
    return followup


def _check_burst(target_id: int, now: datetime) -> QrFlag | None:
    """Flag the target when many ratings arrive from few devices or IPs in a short window."""
    window = int(cfg("QR_BURST_WINDOW_MINUTES"))
    since = now - timedelta(minutes=window)
    n, devices, ips = db.session.execute(
        sa.select(sa.func.count(Rating.id), sa.func.count(sa.distinct(Rating.device_hash)),
                  sa.func.count(sa.distinct(Rating.ip_hash)))
        .where(Rating.target_id == target_id, Rating.created_at >= since)
    ).one()
    sources = min(devices, ips)
    if n < int(cfg("QR_BURST_MIN_RATINGS")) or sources > int(cfg("QR_BURST_MAX_SOURCES")):
        return None
    if db.session.scalar(sa.select(QrFlag.id).where(QrFlag.target_id == target_id,
                                                    QrFlag.cleared_at.is_(None)).limit(1)):
        return None
    flag = QrFlag(target_id=target_id, kind="burst", ratings=n, sources=sources, window_minutes=window,
                  created_at=now)
    db.session.add(flag)
    return flag


RATING_LOCK_CLASS = 7342  # first key of the two-int advisory locks taken per rated subject


def _subject_lock_key(target: QrTarget) -> int | None:
    """The advisory lock key of the target's subject on PostgreSQL; None elsewhere."""
    if db.session.get_bind().dialect.name != "postgresql":
        return None
    from app.jobs_lock import advisory_key

    return advisory_key(f"{target.subject_type}:{target.subject_id}")


def submit_rating(token, *, stars, tags=None, comment=None, device_id: str, ip: str | None,
                  channel: str = "page") -> Rating:
    """Record one resident's rating of the code ``token``.

    Unknown, rotated, revoked or malformed tokens raise NotFound and store nothing. Every valid
    rating is stored; it is counted only while the device has counted ratings left for this
    target today (``QR_COUNTED_PER_DAY``). A counted 1-2 star rating with a comment opens a
    follow-up for the subject org's secretary.
    """
    target = active_target_for_token(token)
    if target is None:
        raise NotFound(_("二维码无效或已停用。"), code="unknown_code")
    stars = clean_stars(stars)
    tags = clean_tags(tags)
    comment = clean_comment(comment)
    target_id, org_id = target.id, target.scope_org.id
    now = utcnow()
    day = local_day(now)
    values = dict(target_id=target_id, stars=stars, tags=tags, comment=comment, day=day, channel=channel,
                  device_hash=tokens.device_hash(device_id), ip_hash=tokens.ip_hash(ip, day), created_at=now)
    subject_lock = _subject_lock_key(target)
    for attempt in range(8):
        try:
            if subject_lock is not None:
                # the counts in the INSERT hold per subject and address, across codes: on
                # PostgreSQL concurrent ratings of one subject take turns (SQLite's write lock
                # already serializes them)
                db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:c, :k)"),
                                   {"c": RATING_LOCK_CLASS, "k": subject_lock})
            rating = _insert_rating(**values)
            if rating.counted and stars <= 2 and comment:
                _open_followup(rating, org_id, now)
            _check_burst(target_id, now)
            commit_keeping_loaded(rating)  # ratings are never changed: no reload after the commit
            return rating
        except OperationalError as exc:
            db.session.rollback()
            if not _is_retryable(exc) or attempt == 7:
                raise
            time.sleep(0.02 * (attempt + 1))
    raise RuntimeError("unreachable")


@dataclass
class OwnCodes:
    """A person's own live codes and this month's counted ratings of them (all codes together)."""

    targets: list[QrTarget]
    month_count: int
    month_average: Decimal | None


def own_codes(user) -> OwnCodes:
    """The live codes whose subject is ``user`` (any role: a secretary is a member too), oldest
    first, with the month's counted ratings: two statements."""
    targets = list(db.session.scalars(
        sa.select(QrTarget).where(QrTarget.subject_type == "member", QrTarget.member_id == user.id,
                                  QrTarget.revoked_at.is_(None))
        .order_by(QrTarget.created_at, QrTarget.id)))
    count, total = 0, None
    if targets:
        today = local_day()
        count, total = db.session.execute(
            sa.select(sa.func.count(Rating.id), sa.func.sum(Rating.stars))
            .join(QrTarget, QrTarget.id == Rating.target_id)
            .where(QrTarget.subject_type == "member", QrTarget.member_id == user.id, Rating.counted,
                   Rating.day >= today.replace(day=1), Rating.day <= today)).one()
    return OwnCodes(targets, int(count or 0), average_of(total, count))  # as a secretary sees it


def target_ratings(actor, target_id: int, *, limit: int = 50, offset: int = 0) -> dict:
    """A target's ratings for its secretaries: newest first, the counted average and open flags."""
    target = manage_target(actor, target_id)
    total, counted, star_sum = db.session.execute(
        sa.select(sa.func.count(Rating.id), sa.func.sum(sa.case((Rating.counted, 1), else_=0)),
                  sa.func.sum(sa.case((Rating.counted, Rating.stars), else_=0)))
        .where(Rating.target_id == target.id)
    ).one()
    items = db.session.scalars(
        sa.select(Rating).where(Rating.target_id == target.id)
        .order_by(Rating.created_at.desc(), Rating.id.desc()).limit(limit).offset(offset)
    ).all()
    flags = db.session.scalars(
        sa.select(QrFlag).where(QrFlag.target_id == target.id, QrFlag.cleared_at.is_(None))
        .order_by(QrFlag.id.desc())
    ).all()
    followups = {f.rating_id: f for f in db.session.scalars(
        sa.select(FollowUp).where(FollowUp.rating_id.in_([r.id for r in items])))} if items else {}
    return {"target": target, "items": list(items), "total": total or 0, "count": counted or 0,
            "average": average_of(star_sum, counted), "flags": list(flags), "followups": followups}


def is_about(actor, target: QrTarget) -> bool:
    """Are the ratings of ``target`` about ``actor`` as a person: the secretary's own code, or a
    fellow secretary's of their org? Those ratings' flags and follow-ups are for the level above,
    as the points of such accounts are (nobody closes the complaints about themselves)."""
    if target.subject_type != "member" or actor.role != "secretary":
        return False
    member = target.member
    return member is not None and (member.id == actor.id or is_fellow_secretary(actor, member.org_id, member.role))


def _require_not_about(actor, target: QrTarget, message: str) -> None:
    if is_about(actor, target):
        raise Forbidden(message, code="next_level_up")


def clear_flag(actor, flag_id: int) -> QrFlag:
    """The secretary has looked at a flagged burst."""
    flag = get_by_id(QrFlag, flag_id)
    if flag is None:
        raise NotFound(_("该提醒不存在。"), code="flag_not_found")
    target = manage_target(actor, flag.target_id)
    _require_not_about(actor, target, _("关于书记本人的评价提醒由上级组织处理。"))
    if flag.cleared_at is not None:
        raise Conflict(_("该提醒已处理。"), code="already_cleared")
    flag.cleared_at = utcnow()
    flag.cleared_by_id = actor.id
    db.session.commit()
    return flag


# --- follow-ups (差评整改) -------------------------------------------------------------------

FOLLOWUP_STATUSES = ("open", "overdue", "closed", "all")


def _scoped_followups(actor):
    return (sa.select(FollowUp).join(Org, Org.id == FollowUp.org_id).where(org_scope_clause(actor))
            .options(selectinload(FollowUp.rating), selectinload(FollowUp.closed_by),
                     selectinload(FollowUp.target).options(*_load_subjects())))


def list_followups(actor, *, status: str = "open", limit: int = 50, offset: int = 0) -> tuple[list[FollowUp], int]:
    """Follow-ups in scope: open ones by deadline (overdue first), closed ones newest first."""
    require_role(actor, *MANAGERS)
    if status not in FOLLOWUP_STATUSES:
        raise Invalid(_("状态有误。"), fields={"status": [_("须为 open、overdue、closed 或 all。")]})
    q = _scoped_followups(actor)
    now = utcnow()
    if status == "open":
        q = q.where(FollowUp.closed_at.is_(None))
    elif status == "overdue":
        q = q.where(FollowUp.closed_at.is_(None), FollowUp.due_at < now)
    elif status == "closed":
        q = q.where(FollowUp.closed_at.is_not(None))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(q.subquery()))
    order = ((FollowUp.closed_at.desc(), FollowUp.id.desc()) if status == "closed"
             else (FollowUp.closed_at.is_not(None), FollowUp.due_at, FollowUp.id))
    items = db.session.scalars(q.order_by(*order).limit(limit).offset(offset)).all()
    return list(items), total


def followup_counts(actor) -> dict:
    """Open and overdue follow-ups in scope (for the secretary's overview)."""
    require_role(actor, *MANAGERS)
    now = utcnow()
    open_n, overdue_n = db.session.execute(
        sa.select(sa.func.count(FollowUp.id), sa.func.sum(sa.case((FollowUp.due_at < now, 1), else_=0)))
        .join(Org, Org.id == FollowUp.org_id)
        .where(org_scope_clause(actor), FollowUp.closed_at.is_(None))
    ).one()
    return {"open": open_n or 0, "overdue": overdue_n or 0}


def get_followup(actor, followup_id: int) -> FollowUp:
    require_role(actor, *MANAGERS)
    followup = get_by_id(FollowUp, followup_id)
    if followup is None:
        raise NotFound(_("该整改事项不存在。"), code="followup_not_found")
    require_manage_org(actor, followup.org)
    return followup


def close_followup(actor, followup_id: int, action) -> FollowUp:
    """Close a follow-up, recording what was done, by whom and when."""
    followup = get_followup(actor, followup_id)
    _require_not_about(actor, followup.target, _("关于书记本人的差评整改由上级组织办结。"))
    if followup.closed_at is not None:
        raise Conflict(_("该整改事项已办结。"), code="already_closed")
    action = _clean_text(action, 1000, "action", _("整改情况"))
    if len(action) < 2:
        raise Invalid(_("请写明整改情况。"), fields={"action": [_("请写明整改情况。")]})
    followup.action = action
    followup.closed_at = utcnow()
    followup.closed_by_id = actor.id
    db.session.commit()
    return followup


def is_overdue(followup: FollowUp, now: datetime | None = None) -> bool:
    """Open past its deadline, or closed after it."""
    due = aware(followup.due_at)
    if followup.closed_at is not None:
        return aware(followup.closed_at) > due
    return (now or utcnow()) > due


def followup_stats(actor_or_org, start: date, end: date, *, now: datetime | None = None) -> dict:
    """Follow-ups opened on local days ``start``..``end`` under an org (or in an actor's scope).

    ``opened``; ``closed_on_time`` (closed by the deadline); ``closed_late``; ``overdue_open``
    (open past the deadline); ``waiting`` (open, deadline not reached). ``due`` =
    closed + overdue_open, and ``rate`` = closed_on_time / due (None when nothing was due): a
    follow-up still inside its deadline counts neither for nor against the secretary.
    """
    now = (aware(now) or utcnow()).astimezone(timezone.utc)  # SQLite compares UTC text
    closed = FollowUp.closed_at.is_not(None)
    on_time = sa.and_(closed, FollowUp.closed_at <= FollowUp.due_at)
    overdue_open = sa.and_(FollowUp.closed_at.is_(None), FollowUp.due_at <= now)

    def count(cond):
        return sa.func.coalesce(sa.func.sum(sa.case((cond, 1), else_=0)), 0)

    q = (sa.select(sa.func.count(FollowUp.id), count(closed), count(on_time), count(overdue_open))
         .join(Org, Org.id == FollowUp.org_id)
         .where(FollowUp.opened_at >= local_start(start),
                FollowUp.opened_at < local_start(end + timedelta(days=1))))
    if isinstance(actor_or_org, int) and not isinstance(actor_or_org, bool):
        actor_or_org = get_by_id(Org, actor_or_org)
        if actor_or_org is None:
            raise NotFound(_("该组织不存在。"), code="org_not_found")
    if isinstance(actor_or_org, Org):
        q = q.where(Org.path.startswith(actor_or_org.path, autoescape=True))
    else:
        q = q.where(org_scope_clause(actor_or_org))
    opened, n_closed, n_on_time, n_overdue = (int(v or 0) for v in db.session.execute(q).one())
    due = n_closed + n_overdue
    rate = (Decimal(n_on_time) / Decimal(due)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP) if due else None
    return {"opened": opened, "closed_on_time": n_on_time, "closed_late": n_closed - n_on_time,
            "overdue_open": n_overdue, "waiting": opened - n_closed - n_overdue, "due": due, "rate": rate}


def followup_closure_rate(actor_or_org, start: date, end: date) -> Decimal | None:
    """The share (0..1, Decimal) of due follow-ups closed on time; None when none was due.

    ``actor_or_org``: a secretary (their subtree), an admin (everything), an Org or an org id.
    """
    return followup_stats(actor_or_org, start, end)["rate"]


# --- sheets ---------------------------------------------------------------------------------

def _org_line(org: Org | None) -> str:
    if org is None:
        return ""
    return f"{org.parent.name}　{org.name}" if org.parent is not None else org.name


def sheet_item(target: QrTarget):
    from app.qr.sheets import SheetItem

    if target.subject_type == "member":
        return SheetItem(url_of(target), target.display_name, _org_line(target.member.org))
    if target.subject_type == "org":
        return SheetItem(url_of(target), target.display_name, _org_line(target.org.parent) or target.org.kind_label)
    post = target.post
    return SheetItem(url_of(target), target.display_name, _org_line(post.org), post.address)


def target_sheet_pdf(actor, target_id: int) -> tuple[QrTarget, bytes]:
    """One large code on A4 for a live target in scope."""
    from app.qr.sheets import single_sheet

    target = manage_target(actor, target_id)
    if target.revoked_at is not None:
        raise Conflict(_("该二维码已停用，不能打印。"), code="revoked")
    return target, single_sheet(sheet_item(target), f"扫码评价　{target.display_name}")


def org_sheet_pdf(actor, org_id: int) -> tuple[Org, bytes, int]:
    """All live codes under an org, six per page."""
    from app.qr.sheets import branch_sheet

    org, targets = sheet_targets(actor, org_id)
    return org, branch_sheet([sheet_item(t) for t in targets], f"{org.name}　扫码评价二维码"), len(targets)
