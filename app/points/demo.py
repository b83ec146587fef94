"""Demo data for points: a believable rule catalogue and some weeks of claims, reviews and awards.

``load_demo_rules(admin_id)`` writes the catalogue; ``load_demo_activity(seed)`` then files claims
and awards for the demo street through the same service functions the pages use, so every entry
is in the hash chain and within the caps. Both expect the demo street (app.demo) to exist.
"""
from __future__ import annotations

import io
import random
from datetime import datetime, time, timedelta, timezone

import sqlalchemy as sa

from app.auth.models import User
from app.errors import Conflict, DomainError
from app.extensions import db
from app.orgs.models import Org
from app.points import services
from app.points.models import Claim, LedgerEntry, Rule

# (code, category, title, points, daily_cap, monthly_cap, yearly_cap, needs_approval, evidence_required)
DEMO_RULES = [
    ("xxqg_daily", "study", "学习强国每日积分", 1, 5, None, None, False, False),
    ("shyk", "study", "参加“三会一课”", 2, None, 8, None, True, False),
    ("ztdr", "study", "参加主题党日活动", 2, None, 4, None, True, False),
    ("xinde", "study", "撰写学习心得体会", 2, None, 6, None, True, False),
    ("volunteer_hour", "service", "志愿服务（每小时）", 2, 8, None, None, True, False),
    ("jiedui", "service", "结对帮扶困难群众", 5, None, 10, None, True, False),
    ("yexun", "service", "参加社区夜巡", 3, 3, None, None, True, False),
    ("wangge", "service", "网格走访收集民情", 1, 3, None, None, True, False),
    ("branch_activity", "service", "支部开展特色服务活动", 5, None, 10, None, True, False),
    ("jindianzi", "innovation", "金点子被采纳", 10, None, None, 30, True, True),
    ("xuanchuan", "innovation", "宣传稿件被区级以上媒体采用", 5, None, 10, None, True, False),
    ("commendation", "innovation", "获区级以上表彰", 15, None, None, None, True, True),
    ("absent", "penalty", "无故缺席组织生活", -5, None, None, None, True, False),
    ("late_dues", "penalty", "未按时交纳党费", -3, None, None, None, True, False),
    ("discipline", "penalty", "违反纪律受到处理", -10, None, None, None, True, False),
]
# A rule revised at the start of the year: its history shows both versions.
REVISED = ("xinde", 3, "撰写学习心得体会（1500字以上）")

CLAIM_NOTES = {
    "shyk": ["参加支部党员大会", "参加党小组会，学习二十届三中全会精神", "参加支部专题党课"],
    "ztdr": ["参加主题党日：重温入党誓词", "主题党日参观红色教育基地", "主题党日开展垃圾分类宣传"],
    "xinde": ["撰写《学习新思想的几点体会》", "读《习近平的七年知青岁月》心得", "党课学习心得"],
    "volunteer_hour": ["社区环境整治志愿服务", "疫苗接种点秩序维护", "老年食堂帮厨", "文明交通劝导"],
    "jiedui": ["走访结对困难户，帮助申请临时救助", "为结对独居老人代购药品"],
    "yexun": ["参加平安夜巡（20:00-22:00）", "防汛期间夜间巡查"],
    "wangge": ["走访网格内住户，收集加装电梯意见", "入户宣传反诈知识"],
    "jindianzi": ["建议在小区设置共享工具屋，已被社区采纳", "提出楼道“微网格”议事办法，已推广"],
    "xuanchuan": ["社区志愿服务稿件被区融媒体中心采用"],
    "commendation": ["获评区级优秀共产党员"],
}
REJECT_REASONS = [
    "照片看不清，请补充活动现场照片后重新申报。",
    "该活动不在本支部组织范围内，请向活动组织方核实。",
    "日期与活动签到记录不符，请核实后重新申报。",
    "同一事项已申报过，请勿重复申报。",
]
AWARD_NOTES = {
    "jiedui": "书记核实：长期结对帮扶困难家庭",
    "yexun": "参加街道统一组织的平安夜巡",
    "absent": "无故缺席支部党员大会",
    "late_dues": "第三季度党费逾期未交",
    "branch_activity": "支部组织“邻里守望”特色服务活动",
    "commendation": "获评区级先进基层党组织",
}


def _demo_png() -> bytes:
    """A small generated photo standing in for a certificate snapshot."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 320), (200, 16, 46))
    draw = ImageDraw.Draw(image)
    draw.rectangle((24, 24, 456, 296), outline=(212, 160, 23), width=8)
    draw.rectangle((120, 130, 360, 190), fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def load_demo_rules(admin_id: int) -> list[Rule]:
    """The demo catalogue (积分细则), created by the admin; codes that exist are left alone."""
    admin = db.session.get(User, admin_id)
    existing = set(db.session.scalars(sa.select(Rule.code)))
    for code, category, title, pts, daily, monthly, yearly, approval, evidence in DEMO_RULES:
        if code in existing:
            continue
        services.create_rule(admin, services.RuleInput(
            code=code, category=category, title=title, points=pts, daily_cap=daily, monthly_cap=monthly,
            yearly_cap=yearly, needs_approval=approval, evidence_required=evidence))
    code, pts, title = REVISED
    current = services.current_rule(code)
    if current.version == 1:
        services.change_rule(admin, code, services.RuleInput(
            code=code, category=current.category, title=title, points=pts, daily_cap=current.daily_cap,
            monthly_cap=current.monthly_cap, yearly_cap=current.yearly_cap,
            needs_approval=current.needs_approval, evidence_required=current.evidence_required))
    return services.active_rules()


class _Street:
    """Who is who on the demo street, loaded once."""

    def __init__(self):
        orgs = list(db.session.scalars(sa.select(Org).order_by(Org.path)))
        self.orgs = {o.id: o for o in orgs}
        users = list(db.session.scalars(sa.select(User).where(User.active.is_(True)).order_by(User.id)))
        self.admin = next(u for u in users if u.role == "admin")
        self.secretary_of: dict[int, User] = {}
        for u in users:
            if u.role == "secretary":
                self.secretary_of.setdefault(u.org_id, u)
        self.members = [u for u in users if u.role == "member"]
        self.secretaries = [u for u in users if u.role == "secretary"]
        self.by_phone = {u.phone: u for u in users}

    def reviewer_for(self, user: User) -> User:
        """The branch secretary for a member; the next level up for a secretary."""
        if user.role == "member" and user.org_id in self.secretary_of:
            return self.secretary_of[user.org_id]
        org = self.orgs[user.org_id]
        while org.parent_id is not None:
            org = self.orgs[org.parent_id]
            if org.id in self.secretary_of:
                return self.secretary_of[org.id]
        return self.admin


def _fixed_phones() -> tuple[str | None, str | None, str | None]:
    """The phones of the demo's fixed member, branch secretary and community secretary."""
    try:
        from app.demo import FIXED_BRANCH_SECRETARY, FIXED_COMMUNITY_SECRETARY, FIXED_MEMBER
    except ImportError:
        return None, None, None
    return FIXED_MEMBER[1], FIXED_BRANCH_SECRETARY[1], FIXED_COMMUNITY_SECRETARY[1]


TODAY_MOVERS = 4  # members of the demo community with an hour of volunteering approved today


def load_demo_activity(seed: int = 2026) -> dict[str, int]:
    """Claims (approved, rejected, pending, granted at once), awards and a reversal for the street.

    Returns counts by kind. Dates fall in the claim window before today (Asia/Shanghai).
    """
    session = db.session()
    expire = session.expire_on_commit
    session.expire_on_commit = False  # the demo is the only writer: skip reloading the street after each commit
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:  # demo rows need no fsync per commit; a crash mid-load just means loading again
        session.execute(sa.text("SET synchronous_commit TO off"))
        session.commit()
    try:
        return _load_activity(seed)
    finally:
        session.expire_on_commit = expire
        if postgres:
            session.rollback()
            session.execute(sa.text("RESET synchronous_commit"))
            session.commit()


def _load_activity(seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    street = _Street()
    rules = {r.code: r for r in services.active_rules()}
    today = services.local_today()
    window = min(services.claim_window_days(), 56)
    photo = _demo_png()
    counts = {"approved": 0, "rejected": 0, "pending": 0, "instant": 0, "awards": 0, "reversals": 0,
              "over_cap": 0}
    timeline: list[tuple[int, datetime, datetime | None]] = []
    claimable = [c for c in ("shyk", "ztdr", "xinde", "volunteer_hour", "jiedui", "yexun", "wangge",
                             "xuanchuan") if c in rules]

    def day_back(most: int) -> "datetime.date":
        return today - timedelta(days=rng.randint(0, most))

    def claim(user: User, code: str, outcome: str, on=None) -> None:
        on = on or day_back(window)
        notes = CLAIM_NOTES.get(code) or [rules[code].title]
        evidence = photo if rules[code].evidence_required else None
        try:
            c = services.submit_claim(user, rule_code=code, occurred_on=on, note=rng.choice(notes),
                                      evidence=evidence)
        except Conflict:
            counts["over_cap"] += 1
            return
        filed = datetime.combine(on, time(20, rng.randint(0, 59)), tzinfo=timezone.utc) - timedelta(hours=8)
        filed += timedelta(hours=rng.randint(0, 30))
        if c.status == "approved":
            counts["instant"] += 1
            timeline.append((c.id, filed, filed))
            return
        reviewer = street.reviewer_for(user)
        reviewed = min(filed + timedelta(hours=rng.choice((2, 6, 20, 30, 50, 80, 120))), services.utc_now())
        try:
            if outcome == "approve":
                services.approve_claim(reviewer, c.id)
                counts["approved"] += 1
            elif outcome == "reject":
                services.reject_claim(reviewer, c.id, rng.choice(REJECT_REASONS))
                counts["rejected"] += 1
            else:
                counts["pending"] += 1
                reviewed = None
        except Conflict:  # over a cap: the secretary leaves it for later
            counts["over_cap"] += 1
            reviewed = None
        timeline.append((c.id, filed, reviewed))

    def outcome() -> str:
        roll = rng.random()
        return "approve" if roll < 0.72 else "reject" if roll < 0.8 else "pending"

    # The fixed demo member: a little of everything, so every page has something to show.
    member_phone, branch_sec_phone, community_sec_phone = _fixed_phones()
    fixed = street.by_phone.get(member_phone) if member_phone else None
    if fixed is not None:
        for code, result, back in (("shyk", "approve", 3), ("volunteer_hour", "approve", 1),
                                   ("wangge", "approve", 9), ("xinde", "reject", 6),
                                   ("yexun", "pending", 1), ("volunteer_hour", "pending", 0)):
            if code in rules:
                claim(fixed, code, result, today - timedelta(days=back))
        for back in range(0, 5):
            if "xxqg_daily" in rules:
                claim(fixed, "xxqg_daily", "approve", today - timedelta(days=back))

    # Members: most of them active now and then.
    active = [m for m in street.members if m is not fixed and rng.random() < 0.3]
    for member in active:
        for _ in range(rng.randint(1, 2)):
            claim(member, rng.choice(claimable), outcome())
        if "xxqg_daily" in rules and rng.random() < 0.4:
            claim(member, "xxqg_daily", "approve")
    for member in rng.sample(active, min(4, len(active))):
        if "jindianzi" in rules:
            claim(member, "jindianzi", "approve")
    # Secretaries claim too; their claims go to the next level up (some still waiting there).
    for sec in rng.sample(street.secretaries, min(8, len(street.secretaries))):
        claim(sec, rng.choice(claimable), rng.choice(("approve", "pending")))

    # Fresh claims waiting for the fixed branch secretary.
    branch_sec = street.by_phone.get(branch_sec_phone) if branch_sec_phone else None
    if branch_sec is not None:
        mates = [m for m in street.members if m.org_id == branch_sec.org_id and m is not fixed]
        for member in mates[:3]:
            claim(member, rng.choice(claimable), "pending", today - timedelta(days=rng.randint(0, 2)))

    # Awards and deductions by secretaries, and org points from the level above.
    award_window = min(services.award_window_days(), 300)
    awards = []

    def give(actor: User, code: str, **subject) -> None:
        if code not in rules:
            return
        try:
            entry = services.award(actor, rule_code=code, note=AWARD_NOTES.get(code, ""),
                                   occurred_on=today - timedelta(days=rng.randint(0, award_window)),
                                   **subject)
        except DomainError:
            counts["over_cap"] += 1
            return
        counts["awards"] += 1
        awards.append((actor, entry.id))

    for member in rng.sample(street.members, min(40, len(street.members))):
        code = rng.choice(("jiedui", "yexun", "jiedui", "absent", "late_dues"))
        give(street.reviewer_for(member), code, member_id=member.id)
    for org in street.orgs.values():
        if org.kind == "branch" and org.parent_id is not None and rng.random() < 0.6:
            parent = street.orgs[org.parent_id]
            actor = street.secretary_of.get(parent.id, street.admin) if parent.kind != "street" else street.admin
            give(actor, "branch_activity", org_id=org.id)
        elif org.kind == "community" and rng.random() < 0.4:
            give(street.admin, "commendation", org_id=org.id)

    # One correction: a deduction recorded by mistake, reversed with a reason.
    for actor, entry_id in awards:
        entry = services.get_entry(entry_id)
        if entry.points < 0:
            services.reverse_entry(actor, entry_id, "经核实已按时请假，撤销扣分")
            counts["reversals"] += 1
            break

    # Today: a few members of the demo community who already have points this year get an hour
    # of volunteering approved, so the community's boards show the day's movement against
    # yesterday's close (members still at 0 stay tied, their places unmoved).
    community_secretary = street.by_phone.get(community_sec_phone or "")
    code = "volunteer_hour" if "volunteer_hour" in rules else claimable[0] if claimable else None
    if community_secretary is not None and code:
        prefix = street.orgs[community_secretary.org_id].path
        local = {m.id: m for m in street.members
                 if street.orgs[m.org_id].path.startswith(prefix) and m is not fixed}
        scored = sorted(db.session.scalars(
            sa.select(LedgerEntry.member_id).where(LedgerEntry.member_id.in_(list(local)),
                                                   LedgerEntry.occurred_on >= today.replace(month=1, day=1))
            .group_by(LedgerEntry.member_id).having(sa.func.sum(LedgerEntry.points) > 0)))
        today_rng = random.Random(seed + 1)  # its own stream: the rest of the demo stays as it was
        for member_id in today_rng.sample(scored, min(TODAY_MOVERS, len(scored))):
            claim(local[member_id], code, "approve", today)

    # Claims were filed and reviewed over the past weeks, not all just now (the duty index reads this).
    if timeline:
        db.session.execute(sa.update(Claim), [
            {"id": cid, "created_at": filed, **({"reviewed_at": reviewed} if reviewed else {})}
            for cid, filed, reviewed in timeline if filed <= services.utc_now()
        ])
        db.session.commit()
    return counts
