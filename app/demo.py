"""Demo data: a believable street with communities, branches, secretaries and 500+ members.

``load_demo`` runs the demo steps in order; each step is a function taking the shared
``DemoStreet``, and a feature adds its own demo data by adding its step to ``load_demo``.
Everything is drawn from one seeded random generator, so the same seed gives the same street.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.auth.models import User, hash_password
from app.errors import Conflict
from app.extensions import db
from app.orgs.models import Org, utcnow

DEMO_PASSWORD = "demo12345"

STREET_NAME = "东湖街道党工委"

# Each community (short name, org name) with the branches under it.
COMMUNITIES: list[tuple[str, str, list[str]]] = [
    ("桂花社区", "桂花社区党委", ["第一党支部", "第二党支部", "离退休党支部", "物业党支部"]),
    ("荷花社区", "荷花社区党委", ["第一党支部", "第二党支部", "离退休党支部", "两新组织党支部"]),
    ("梅园社区", "梅园社区党委", ["第一党支部", "第二党支部", "第三党支部", "离退休党支部"]),
    ("兰亭社区", "兰亭社区党委", ["第一党支部", "离退休党支部", "物业党支部"]),
    ("竹林社区", "竹林社区党总支", ["第一党支部", "第二党支部", "流动党员党支部"]),
    ("枫桥社区", "枫桥社区党委", ["第一党支部", "离退休党支部", "两新组织党支部", "网格党支部"]),
    ("松涛社区", "松涛社区党委", ["第一党支部", "第二党支部", "离退休党支部"]),
]
# Branches that report straight to the street.
STREET_BRANCHES = ["街道机关党支部"]

MEMBERS_PER_BRANCH = (16, 30)
MIN_MEMBERS = 520

# Fixed, memorable logins: (label, phone, name, role). The secretaries and the member sit in the
# first community and its first branch.
FIXED_ADMIN = ("管理员", "13800000000", "周建华")
FIXED_COMMUNITY_SECRETARY = ("社区书记", "13800000001", "李桂芳")
FIXED_BRANCH_SECRETARY = ("支部书记", "13800000002", "陈志强")
FIXED_MEMBER = ("党员", "13800000003", "张晓明")
FIXED_PHONES = {p for _, p, _ in (FIXED_ADMIN, FIXED_COMMUNITY_SECRETARY, FIXED_BRANCH_SECRETARY, FIXED_MEMBER)}

# Common surnames, the most frequent listed several times so they come up more often.
SURNAMES = (
    "王王王李李李张张张刘刘陈陈杨杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董"
    "袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷"
    "侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_MALE = "伟强磊军勇杰涛明超刚平辉鹏华飞斌波宇浩凯健俊峰建国志文斌海林东晨亮成龙德福春生忠"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀英桂兰玉梅琳红燕萍雪婷慧颖洁佳琴晶莉倩云凤珍素丹宁"
PHONE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153",
    "155", "156", "157", "158", "159", "166", "173", "177", "180", "181", "182", "183", "185",
    "186", "187", "188", "189", "191", "198", "199",
)


@dataclass
class DemoStreet:
    """What the demo steps share: the generator, the tree, the password hash and the fixed logins."""

    rng: random.Random
    password_hash: str
    street: Org | None = None
    communities: list[Org] = field(default_factory=list)
    branches: list[Org] = field(default_factory=list)
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    used_names: set[str] = field(default_factory=set)
    used_phones: set[str] = field(default_factory=set)

    def person_name(self) -> str:
        """A Chinese name not used yet in this street."""
        for _ in range(50):
            given = GIVEN_MALE if self.rng.random() < 0.5 else GIVEN_FEMALE
            length = 1 if self.rng.random() < 0.35 else 2
            name = self.rng.choice(SURNAMES) + "".join(self.rng.choice(given) for _ in range(length))
            if name not in self.used_names:
                self.used_names.add(name)
                return name
        return name  # namesakes do happen on a big street

    def phone(self) -> str:
        """A valid mainland mobile number not used yet."""
        while True:
            number = self.rng.choice(PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number


def load_demo(seed: int = 2026) -> list[tuple[str, str, str]]:
    """Build the demo street and return the demo logins as (label, phone, password)."""
    taken = set(db.session.scalars(sa.select(User.phone).where(User.phone.in_(FIXED_PHONES))))
    if taken:
        raise Conflict(f"演示账号已存在（{'、'.join(sorted(taken))}），请换一个空数据库。")
    demo = DemoStreet(rng=random.Random(seed), password_hash=hash_password(DEMO_PASSWORD))
    demo.used_phones.update(db.session.scalars(sa.select(User.phone)))
    demo.used_phones.update(FIXED_PHONES)
    demo.used_names.update(name for _, _, name in (FIXED_ADMIN, FIXED_COMMUNITY_SECRETARY,
                                                FIXED_BRANCH_SECRETARY, FIXED_MEMBER))

    build_org_tree(demo)
    add_people(demo)
    db.session.commit()
    add_points(demo, seed)
    add_contests()
    return demo.logins


def add_points(demo: DemoStreet, seed: int) -> None:
    """The rule catalogue and a few weeks of claims, approvals and awards, written through the ledger."""
    from app.points.demo import load_demo_activity, load_demo_rules

    admin_id = db.session.scalar(sa.select(User.id).where(User.phone == FIXED_ADMIN[1]))
    load_demo_rules(admin_id)
    load_demo_activity(seed)


def add_contests() -> None:
    """This year's points races with three weeks of leaderboard history."""
    from app.contests.demo import load_demo_contests

    load_demo_contests()


def _add_orgs(names: list[str], kind: str, parent: Org) -> list[Org]:
    """Add children of ``parent`` with their materialized paths."""
    orgs = [Org(name=n, kind=kind, parent_id=parent.id, depth=parent.depth + 1) for n in names]
    db.session.add_all(orgs)
    db.session.flush()
    for org in orgs:
        org.path = f"{parent.path}{org.id}/"
    return orgs


def build_org_tree(demo: DemoStreet) -> None:
    """The street, its communities and their branches."""
    street = Org(name=STREET_NAME, kind="street", depth=0)
    db.session.add(street)
    db.session.flush()
    street.path = f"/{street.id}/"
    demo.street = street
    demo.communities = _add_orgs([name for _, name, _ in COMMUNITIES], "community", street)
    for community, (short, _, branch_names) in zip(demo.communities, COMMUNITIES):
        demo.branches += _add_orgs([short + b for b in branch_names], "branch", community)
    demo.branches += _add_orgs(STREET_BRANCHES, "branch", street)
    db.session.flush()


def add_people(demo: DemoStreet) -> None:
    """The admin, a secretary per community and per branch, and the members, in one bulk insert."""
    now = utcnow()
    rows: list[dict] = []

    def person(org: Org, role: str, name: str | None = None, phone: str | None = None) -> None:
        rows.append({"name": name or demo.person_name(), "phone": phone or demo.phone(), "role": role,
                     "org_id": org.id, "password_hash": demo.password_hash, "active": True,
                     "created_at": now})

    first_community, first_branch = demo.communities[0], demo.branches[0]
    fixed = [
        (FIXED_ADMIN, demo.street, "admin"),
        (FIXED_COMMUNITY_SECRETARY, first_community, "secretary"),
        (FIXED_BRANCH_SECRETARY, first_branch, "secretary"),
        (FIXED_MEMBER, first_branch, "member"),
    ]
    for (label, phone, name), org, role in fixed:
        person(org, role, name, phone)
        demo.logins.append((f"{label} {name}（{org.name}）", phone, DEMO_PASSWORD))

    for community in demo.communities[1:]:
        person(community, "secretary")
    for branch in demo.branches[1:]:
        person(branch, "secretary")

    counts = [demo.rng.randint(*MEMBERS_PER_BRANCH) for _ in demo.branches]
    while sum(counts) < MIN_MEMBERS:
        counts[demo.rng.randrange(len(counts))] += 1
    counts[0] -= 1  # the fixed member is one of the first branch's members
    for branch, count in zip(demo.branches, counts):
        for _ in range(count):
            person(branch, "member")

    db.session.execute(sa.insert(User), rows)


def existing_demo_logins() -> list[tuple[str, str, str]]:
    """The demo logins still present with the demo password, for `make run` to print again."""
    rows = []
    for label, phone, _name in (FIXED_ADMIN, FIXED_COMMUNITY_SECRETARY, FIXED_BRANCH_SECRETARY, FIXED_MEMBER):
        user = db.session.scalar(sa.select(User).where(User.phone == phone, User.active.is_(True)))
        if user is not None and user.check_password(DEMO_PASSWORD):
            rows.append((f"{label} {user.name}（{user.org.name}）", phone, DEMO_PASSWORD))
    return rows
