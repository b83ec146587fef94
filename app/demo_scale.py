"""Demo data at district and city scale: ``flask demo load --members N --entries-per-member K``.

Builds a district (a root org) with streets, communities and branches sized to ``N`` (about 100
members per branch, 10 branches per community, 10 communities per street), a secretary for every
street, community and branch, ``N`` members with Chinese names and unique phones (one password,
hashed once), the demo rule catalogue (app.points.demo), and ``K`` ledger entries per member
spread over this year up to today.

Everything is written in bulk: PostgreSQL ``COPY`` through psycopg 3, SQLite ``executemany`` in
big transactions with ``synchronous=OFF``. Ids are assigned here, continuing from the current
maximum (PostgreSQL sequences are moved past them), and the ledger's hash chain is computed here
in id order (the same digest as ``app.points.ledger.entry_digest``, which is checked on samples),
so ``flask ledger verify`` passes afterwards. The loader holds the ledger lock while it writes and
stops if the chain moved under it. From ``DEFER_INDEXES_AT`` entries on, the ledger's indexes are
built once the rows are in: on PostgreSQL the whole ledger load is then one transaction (unique
constraints and plain indexes dropped, rows copied, all rebuilt and checked, commit), on SQLite
the plain indexes are dropped and rebuilt around the batches.

At the end the member year totals are folded (app.points.totals), as the scheduler's jobs
would have done day by day, and the planner statistics are refreshed.

Entries are direct awards (``source="award"``) by the member's branch secretary; they are not
checked against the rules' caps, and no ``rating`` entries are made (the monthly rating
conversion would reverse rating entries that have no ratings behind them). The same seed gives
the same district.
"""
from __future__ import annotations

import hashlib
import io
import json
import random
import time as clock
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace
from typing import Callable, Iterable, Sequence

import sqlalchemy as sa

from app.auth.models import User, hash_password
from app.demo import DEMO_PASSWORD, GIVEN_FEMALE, GIVEN_MALE, PHONE_PREFIXES, SURNAMES
from app.errors import Conflict, Invalid
from app.extensions import db
from app.marks import LEDGER_HEAD, ledger_key, set_marks
from app.orgs.models import Org
from app.points.ledger import GENESIS, entry_digest, lock_ledger, quantize
from app.points.models import LedgerEntry, Rule
from app.points.totals import fold_member_totals

DISTRICT_NAME = "江城区委"
# Fixed logins of the district (all with DEMO_PASSWORD): its admin, the first branch's
# secretary and the first member of that branch.
SCALE_ADMIN = ("13700000000", "吴卫东")
SCALE_SECRETARY = ("13700000001", "郑丽华")
SCALE_MEMBER = ("13700000002", "刘建军")
SCALE_PHONES = (SCALE_ADMIN[0], SCALE_SECRETARY[0], SCALE_MEMBER[0])

MEMBERS_PER_BRANCH = (60, 140)
BRANCHES_PER_COMMUNITY = (6, 14)
COMMUNITIES_PER_STREET = (6, 14)
LEDGER_BATCH = 200_000  # entries per statement (COPY or executemany)
# Entries per transaction. SQLite rewrites every page a transaction touched into its WAL at each
# commit, and the hash indexes take random inserts, so it commits less often.
COMMIT_EVERY = {"postgresql": 200_000, "sqlite": 1_000_000}
USER_BATCH = 100_000
# From this many entries on, ledger indexes are built after the rows are in (sorted, once):
# the plain ones on SQLite, the plain ones and the unique constraints on PostgreSQL.
DEFER_INDEXES_AT = 500_000

PLACE_HEADS = "东西南北中新长青金银玉翠红丰安和平康永兴华宏盛福瑞祥泰明光春秋云月星湖江河山松柏桂"
PLACE_TAILS = "湖山河桥门台园林苑庄岭坪湾塘港堤坝洲溪泉阁亭坊里巷街城"
NUMERALS = "一二三四五六七八九十"

# How often each rule comes up among a member's entries (the rest of the demo catalogue is rare).
RULE_WEIGHTS = {
    "xxqg_daily": 34, "shyk": 16, "ztdr": 8, "xinde": 5, "volunteer_hour": 14, "wangge": 8,
    "yexun": 5, "jiedui": 4, "branch_activity": 0, "xuanchuan": 1.5, "jindianzi": 0.6,
    "commendation": 0.2, "absent": 1.2, "late_dues": 1.2, "discipline": 0.1,
}


@dataclass
class ScaleResult:
    """What was loaded, and how long each part took (seconds)."""

    streets: int = 0
    communities: int = 0
    branches: int = 0
    members: int = 0
    secretaries: int = 0
    entries: int = 0
    first_entry_id: int | None = None
    last_entry_id: int | None = None
    timings: dict[str, float] = field(default_factory=dict)
    logins: list[tuple[str, str, str]] = field(default_factory=list)


def chinese_numeral(n: int) -> str:
    """1 -> 一, 12 -> 十二, 20 -> 二十, 35 -> 三十五 (1..99)."""
    if n <= 10:
        return NUMERALS[n - 1]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else NUMERALS[tens - 1]
    return head + "十" + (NUMERALS[ones - 1] if ones else "")


def _place_names(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """``count`` distinct two-character place names (a number is added once combinations run out)."""
    pool = [h + t for h in PLACE_HEADS for t in PLACE_TAILS if h + t not in taken]
    rng.shuffle(pool)
    names = pool[:count]
    round_ = 2
    while len(names) < count:
        names += [f"{p}{chinese_numeral(round_)}" for p in pool[: count - len(names)]]
        round_ += 1
    taken.update(names)
    return names


def _split(rng: random.Random, total: int, low: int, high: int) -> list[int]:
    """Split ``total`` into parts of ``low``..``high`` (the last part may be smaller)."""
    parts: list[int] = []
    while total > 0:
        part = min(total, rng.randint(low, high))
        parts.append(part)
        total -= part
    return parts or [0]


# --------------------------------------------------------------------------- bulk writing


def _pg_text(value) -> str:
    """One value in PostgreSQL COPY text format."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    text = str(value)
    if any(c in text for c in "\\\t\n\r"):
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _sqlite_value(value):
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


class BulkWriter:
    """Writes many rows per statement on the session's connection (COPY or executemany)."""

    def __init__(self):
        self.dialect = db.session.connection().dialect.name
        self.superuser = self.dialect == "postgresql" and bool(db.session.scalar(
            sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")))

    @property
    def raw(self):
        """The DBAPI connection of the session's current transaction."""
        return db.session.connection().connection.dbapi_connection

    @property
    def postgres(self) -> bool:
        return self.dialect == "postgresql"

    def write(self, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
        """Insert plain Python values."""
        if self.postgres:
            buf = io.StringIO()
            for row in rows:
                buf.write("\t".join(_pg_text(_pg_value(v)) for v in row))
                buf.write("\n")
            self.copy_text(table, columns, buf.getvalue())
        else:
            self.sqlite_rows(table, columns, [tuple(_sqlite_value(v) for v in row) for row in rows])

    def copy_text(self, table: str, columns: Sequence[str], text: str) -> None:
        """PostgreSQL: COPY rows already in COPY text format."""
        cur = self.raw.cursor()
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(text)

    def sqlite_rows(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        """SQLite: executemany of rows already in stored form."""
        marks = ", ".join("?" for _ in columns)
        self.raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def _pg_value(value):
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _max_id(column) -> int:
    return int(db.session.scalar(sa.select(sa.func.max(column))) or 0)


def _reset_sequences(tables: Sequence[str]) -> None:
    """PostgreSQL: move each table's id sequence past the ids written here."""
    for table in tables:
        db.session.execute(sa.text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"))


# --------------------------------------------------------------------------- the district


@dataclass
class _Tree:
    orgs: list[tuple] = field(default_factory=list)  # (id, name, kind, parent_id, path, depth)
    branch_sizes: list[tuple[int, int]] = field(default_factory=list)  # (branch id, members)
    secretary_orgs: list[int] = field(default_factory=list)  # one secretary per org listed here
    root_id: int = 0
    streets: int = 0
    communities: int = 0


def _plan_tree(rng: random.Random, members: int, first_id: int) -> _Tree:
    """Streets, communities and branches for ``members`` members, ids from ``first_id``."""
    tree = _Tree()
    next_id = first_id
    taken: set[str] = set()

    def add(name: str, kind: str, parent: tuple | None) -> tuple:
        nonlocal next_id
        org_id = next_id
        next_id += 1
        path = (parent[4] if parent else "/") + f"{org_id}/"
        row = (org_id, name, kind, parent[0] if parent else None, path, (parent[5] + 1) if parent else 0)
        tree.orgs.append(row)
        return row

    branch_sizes = _split(rng, members, *MEMBERS_PER_BRANCH)
    community_sizes = _split(rng, len(branch_sizes), *BRANCHES_PER_COMMUNITY)
    street_sizes = _split(rng, len(community_sizes), *COMMUNITIES_PER_STREET)
    root = add(DISTRICT_NAME, "street", None)
    tree.root_id = root[0]
    tree.secretary_orgs.append(root[0])
    street_names = _place_names(rng, len(street_sizes), taken)
    community_names = _place_names(rng, len(community_sizes), taken)
    sizes = iter(branch_sizes)
    communities = iter(zip(community_names, community_sizes))
    for street_name, n_communities in zip(street_names, street_sizes):
        street = add(f"{street_name}街道党工委", "street", root)
        tree.secretary_orgs.append(street[0])
        tree.streets += 1
        for _ in range(n_communities):
            short, n_branches = next(communities)
            community = add(f"{short}社区党委", "community", street)
            tree.secretary_orgs.append(community[0])
            tree.communities += 1
            for b in range(n_branches):
                label = "离退休党支部" if b == n_branches - 1 and n_branches > 3 else f"第{chinese_numeral(b + 1)}党支部"
                branch = add(f"{short}社区{label}", "branch", community)
                tree.secretary_orgs.append(branch[0])
                tree.branch_sizes.append((branch[0], next(sizes)))
    return tree


class _People:
    """Seeded Chinese names and unique mainland mobile numbers."""

    def __init__(self, rng: random.Random, taken_phones: set[str]):
        self.rng = rng
        self.phones = taken_phones

    def name(self) -> str:
        rng = self.rng
        given = GIVEN_MALE if rng.random() < 0.5 else GIVEN_FEMALE
        if rng.random() < 0.35:
            return rng.choice(SURNAMES) + rng.choice(given)
        return rng.choice(SURNAMES) + rng.choice(given) + rng.choice(given)

    def phone(self) -> str:
        rng = self.rng
        while True:
            number = rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class _Kind:
    """One rule with one of its notes, pre-formatted for the digest payload and the row."""

    rule_id: int
    code: str
    category: str
    points: str  # as the digest formats it ("2.0", "-5.0")
    note: str
    head: str  # payload up to created_at's value
    middle: str  # payload from note up to occurred_on's value
    tail: str  # payload from org_id up to source_key's value (the key's number follows)
    pg: str  # COPY columns rule_id .. category .. points (tab-joined)


def _kinds() -> tuple[list[list[_Kind]], list[float]]:
    """The active rules the entries draw from (each with its notes), with cumulative weights."""
    from app.points.demo import AWARD_NOTES, CLAIM_NOTES

    rules = {r.code: r for r in db.session.scalars(sa.select(Rule).where(Rule.active.is_(True)))}
    mix, cumulative, total = [], [], 0.0
    for code, weight in RULE_WEIGHTS.items():
        rule = rules.get(code)
        if rule is None or weight <= 0:
            continue
        notes = tuple(CLAIM_NOTES.get(code) or ()) or ((AWARD_NOTES[code],) if code in AWARD_NOTES else (rule.title,))
        points = format(quantize(rule.points), "f")
        kinds = []
        for note in notes:
            if any(c in note + code for c in "\\\t\n\r"):
                raise RuntimeError("notes must not need COPY escaping")
            dumps = lambda v: json.dumps(v, ensure_ascii=False)  # noqa: E731
            kinds.append(_Kind(
                rule.id, code, rule.category, points, note,
                head=f'{{"category":{dumps(rule.category)},"created_at":"',
                middle=f',"note":{dumps(note)},"occurred_on":"',
                tail=(f'","org_id":null,"points":"{points}","reverses_id":null,"rule_code":{dumps(code)},'
                      f'"rule_id":{rule.id},"source":"award","source_key":"award:bulk-'),
                pg=f"{rule.id}\t{code}\t{rule.category}\t{points}",
            ))
        mix.append(kinds)
        total += weight
        cumulative.append(total)
    if not mix:
        raise Invalid("没有可用的积分细则。")
    return mix, cumulative


# "12:00:00" .. "21:59:59": the time of day (UTC) an entry is recorded, from its id.
_TIMES = [f"{12 + s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(36000)]


class _Chain:
    """Formats entries, computes their hashes in id order, and writes them in batches."""

    COLUMNS = ("id", "member_id", "org_id", "rule_id", "rule_code", "category", "points", "occurred_on",
               "source", "source_key", "note", "created_by_id", "created_at", "reverses_id", "prev_hash", "hash")

    def __init__(self, writer: BulkWriter, next_id: int, prev_hash: str):
        self.writer = writer
        self.postgres = writer.postgres
        self.next_id = next_id
        self.prev_hash = prev_hash
        self.pending: list = []
        self.checked = 0
        self.open = False  # a transaction holding the ledger lock is open

    def check(self, entry_id: int, member_id: int, by_id: int, day: str, kind: _Kind, prev: str,
              digest: str) -> None:
        """Compare the fast digest with ``entry_digest`` itself (done on a sample of rows)."""
        created = datetime.fromisoformat(f"{day}T{_TIMES[entry_id % 36000]}+00:00")
        e = SimpleNamespace(
            member_id=member_id, org_id=None, rule_id=kind.rule_id, rule_code=kind.code, category=kind.category,
            points=Decimal(kind.points), occurred_on=date.fromisoformat(day), source="award",
            source_key=f"award:bulk-{entry_id}", note=kind.note, created_by_id=by_id, created_at=created,
            reverses_id=None)
        if entry_digest(prev, e) != digest:
            raise RuntimeError(f"digest mismatch at entry {entry_id}")
        self.checked += 1

    def add(self, member_id: int, by_id: int, day: str, kind: _Kind) -> None:
        """Append one member award on ``day`` (ISO text) to the chain."""
        entry_id = self.next_id
        self.next_id = entry_id + 1
        at = _TIMES[entry_id % 36000]
        prev = self.prev_hash
        payload = (f"{prev}{kind.head}{day}T{at}.000000\",\"created_by_id\":{by_id},\"member_id\":{member_id}"
                   f"{kind.middle}{day}{kind.tail}{entry_id}\"}}")
        digest = self.prev_hash = hashlib.sha256(payload.encode()).hexdigest()
        if not entry_id % 100_003 or not self.checked:
            self.check(entry_id, member_id, by_id, day, kind, prev, digest)
        if self.postgres:
            self.pending.append(f"{entry_id}\t{member_id}\t\\N\t{kind.pg}\t{day}\taward\taward:bulk-{entry_id}\t"
                                f"{kind.note}\t{by_id}\t{day} {at}+00\t\\N\t{prev}\t{digest}\n")
        else:
            self.pending.append((entry_id, member_id, kind.rule_id, kind.code, kind.category, kind.points, day,
                                 f"award:bulk-{entry_id}", kind.note, by_id, f"{day} {at}.000000", prev, digest))

    def flush(self, commit: bool = True) -> int:
        """Write the pending entries under the ledger lock; commit unless told not to.

        Foreign keys are not checked row by row (the ids come from the rows written above):
        SQLite runs the transaction with ``foreign_keys`` off, PostgreSQL (as a superuser) with
        ``session_replication_role = replica`` for that transaction only.
        """
        rows, self.pending = self.pending, []
        if rows:
            if not self.open:
                if not self.postgres:
                    self.writer.raw.execute("PRAGMA foreign_keys=OFF")  # outside a transaction: takes effect
                lock_ledger()
                if _max_id(LedgerEntry.id) >= self.next_id - len(rows):
                    raise Conflict("批量写入期间有其他记账，请在无人使用时重新载入。")
                if self.postgres and self.writer.superuser:
                    db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
                self.open = True
            if self.postgres:
                self.writer.copy_text("ledger_entries", self.COLUMNS, "".join(rows))
            else:
                self.writer.raw.executemany(
                    "INSERT INTO ledger_entries (id, member_id, org_id, rule_id, rule_code, category, points, "
                    "occurred_on, source, source_key, note, created_by_id, created_at, reverses_id, prev_hash, "
                    "hash) VALUES (?, ?, NULL, ?, ?, ?, CAST(? AS REAL), ?, 'award', ?, ?, ?, ?, NULL, ?, ?)", rows)
            # these rows bypass the ORM event that moves the ledger head (app.marks)
            set_marks(db.session.connection(), {LEDGER_HEAD: self.next_id - 1})
        if commit and self.open:
            db.session.commit()
            self.open = False
            if not self.postgres:
                self.writer.raw.execute("PRAGMA foreign_keys=ON")
        return len(rows)


def _year_days(today: date) -> int:
    return (today - date(today.year, 1, 1)).days + 1


# --------------------------------------------------------------------------- the loader


def load_scale(members: int, entries_per_member: int, seed: int = 2026, *, today: date | None = None,
               progress: Callable[[str, int, int], None] | None = None) -> ScaleResult:
    """Load a district of ``members`` members with ``entries_per_member`` ledger entries each.

    ``progress(stage, done, total)`` is called as rows are written.
    """
    from app.points.demo import load_demo_rules
    from app.points.services import local_today

    if members < 1 or entries_per_member < 0:
        raise Invalid("党员人数须大于0，每人记账条数不能为负数。")
    taken = set(db.session.scalars(sa.select(User.phone).where(User.phone.in_(SCALE_PHONES))))
    if taken:
        raise Conflict(f"规模演示数据已存在（{'、'.join(sorted(taken))}），请换一个空数据库。")
    report = progress or (lambda *_: None)
    result = ScaleResult()
    rng = random.Random(seed)
    today = today or local_today()
    started = clock.perf_counter()
    writer = BulkWriter()
    sqlite_settings = _sqlite_fast(writer) if not writer.postgres else None
    if writer.postgres:
        db.session.execute(sa.text("SET synchronous_commit TO off"))
    try:
        # The tree.
        tree = _plan_tree(rng, members, _max_id(Org.id) + 1)
        writer.write("orgs", ("id", "name", "kind", "parent_id", "path", "depth", "created_at"),
                     [(*row, datetime.now(timezone.utc)) for row in tree.orgs])
        db.session.commit()
        result.streets, result.communities = tree.streets, tree.communities
        result.branches = len(tree.branch_sizes)
        result.timings["orgs"] = clock.perf_counter() - started

        # The people: admin, secretaries, then the members branch by branch.
        t0 = clock.perf_counter()
        password_hash = hash_password(DEMO_PASSWORD)
        people = _People(rng, set(db.session.scalars(sa.select(User.phone))) | set(SCALE_PHONES))
        next_user = _max_id(User.id) + 1
        admin_id = next_user
        now = datetime.now(timezone.utc)
        user_cols = ("id", "name", "phone", "role", "org_id", "password_hash", "active", "created_at")
        staff = [(admin_id, SCALE_ADMIN[1], SCALE_ADMIN[0], "admin", tree.root_id, password_hash, True, now)]
        secretary_of: dict[int, int] = {}
        first_branch = tree.branch_sizes[0][0]
        for org_id in tree.secretary_orgs[1:]:
            uid = admin_id + len(staff)
            name, phone = (SCALE_SECRETARY[1], SCALE_SECRETARY[0]) if org_id == first_branch else (people.name(), people.phone())
            staff.append((uid, name, phone, "secretary", org_id, password_hash, True, now))
            secretary_of[org_id] = uid
        writer.write("users", user_cols, staff)
        result.secretaries = len(staff) - 1
        member_ids: list[int] = []
        member_secretary: list[int] = []
        uid = admin_id + len(staff)
        batch: list[tuple] = []
        for branch_id, size in tree.branch_sizes:
            for i in range(size):
                if branch_id == first_branch and i == 0:
                    name, phone = SCALE_MEMBER[1], SCALE_MEMBER[0]
                else:
                    name, phone = people.name(), people.phone()
                batch.append((uid, name, phone, "member", branch_id, password_hash, True, now))
                member_ids.append(uid)
                member_secretary.append(secretary_of[branch_id])
                uid += 1
            if len(batch) >= USER_BATCH:
                writer.write("users", user_cols, batch)
                report("members", len(member_ids), members)
                batch = []
        writer.write("users", user_cols, batch)
        report("members", len(member_ids), members)
        db.session.commit()
        people.phones.clear()
        result.members = len(member_ids)
        result.timings["users"] = clock.perf_counter() - t0

        # The rule catalogue (through the rule service, as an admin would).
        t0 = clock.perf_counter()
        load_demo_rules(admin_id)
        db.session.commit()
        result.timings["rules"] = clock.perf_counter() - t0

        # The ledger.
        t0 = clock.perf_counter()
        if entries_per_member:
            _load_entries(writer, rng, member_ids, member_secretary, entries_per_member, today, result, report)
            _mark_org_ledgers(_max_id(LedgerEntry.id))
        result.timings["entries"] = clock.perf_counter() - t0

        if writer.postgres:
            _reset_sequences(("orgs", "users", "ledger_entries"))
        db.session.commit()
    finally:
        if writer.postgres:
            db.session.rollback()
            db.session.execute(sa.text("RESET synchronous_commit"))
            db.session.commit()
        else:
            _sqlite_restore(sqlite_settings)

    t0 = clock.perf_counter()
    fold_member_totals()  # what the scheduler would have done day by day
    result.timings["totals"] = clock.perf_counter() - t0
    t0 = clock.perf_counter()
    analyze()
    result.timings["analyze"] = clock.perf_counter() - t0
    result.timings["total"] = clock.perf_counter() - started
    result.logins = [
        (f"区管理员 {SCALE_ADMIN[1]}", SCALE_ADMIN[0], DEMO_PASSWORD),
        (f"支部书记 {SCALE_SECRETARY[1]}", SCALE_SECRETARY[0], DEMO_PASSWORD),
        (f"党员 {SCALE_MEMBER[1]}", SCALE_MEMBER[0], DEMO_PASSWORD),
    ]
    return result


def _mark_org_ledgers(head: int) -> None:
    """Every org's ``ledger:`` mark at the loaded head, as the ledger's own event would have left
    them had the entries come one by one (the bulk rows bypass it): the marks table then holds
    a row per org, as it does after a day of use, and reads meet it the size it will be."""
    org_ids = list(db.session.scalars(sa.select(Org.id).order_by(Org.id)))
    for start in range(0, len(org_ids), 500):
        set_marks(db.session.connection(), {ledger_key(i): head for i in org_ids[start:start + 500]})


def _load_entries(writer: BulkWriter, rng: random.Random, member_ids: list[int], member_secretary: list[int],
                  per_member: int, today: date, result: ScaleResult, report) -> None:
    """``per_member`` entries for every member, in rough date order (the order they arrive in).

    The year to date is cut into ``per_member`` equal slices; each member has one entry in each
    slice on a random day of it, so every member gets exactly ``per_member`` entries spread over
    the year. Within a slice, entries are written day by day.
    """
    mix, cumulative = _kinds()
    total = len(member_ids) * per_member
    args = (writer, rng, member_ids, member_secretary, per_member, today, result, report, mix, cumulative)
    if total < DEFER_INDEXES_AT:
        _write_entries(*args)
    elif writer.postgres:
        # One transaction: the ledger lock, the unique constraints and plain indexes dropped, the
        # rows copied, everything rebuilt (sorted, once) and checked again, then commit. Either the
        # whole load is there, constraints and all, or nothing is.
        lock_ledger()
        dropped = _drop_pg_indexes()
        try:
            _write_entries(*args, commit_every=None)
            t0 = clock.perf_counter()
            _create_pg_indexes(dropped)
            db.session.commit()
            result.timings["indexes"] = clock.perf_counter() - t0
        except BaseException:
            db.session.rollback()
            raise
    else:
        deferred = _drop_indexes()
        try:
            _write_entries(*args)
        finally:
            t0 = clock.perf_counter()
            _create_indexes(deferred)
            result.timings["indexes"] = clock.perf_counter() - t0


def _write_entries(writer, rng, member_ids, member_secretary, per_member, today, result, report, mix,
                   cumulative, commit_every: int | None = 0) -> None:
    """Generate and write the entries; commit every ``commit_every`` rows (0: the dialect's
    default), or never with None (the caller commits)."""
    first_day = date(today.year, 1, 1)
    days = _year_days(today)
    lock_ledger()
    chain = _Chain(writer, _max_id(LedgerEntry.id) + 1, db.session.scalar(
        sa.select(LedgerEntry.hash).order_by(LedgerEntry.id.desc()).limit(1)) or GENESIS)
    if commit_every is None:
        chain.open = True  # the caller's transaction holds the lock
        if writer.superuser:
            db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
    else:
        db.session.commit()
    result.first_entry_id = chain.next_id
    total = len(member_ids) * per_member
    done = 0
    n_members = len(member_ids)
    positions = range(n_members)
    committed = 0
    if commit_every == 0:
        commit_every = COMMIT_EVERY.get(writer.dialect, LEDGER_BATCH)
    never = commit_every is None
    for slice_no in range(per_member):
        low = slice_no * days / per_member
        width = days / per_member
        buckets: dict[int, list[int]] = {}
        for pos in positions:
            day_no = min(int(low + rng.random() * width), days - 1)
            buckets.setdefault(day_no, []).append(pos)
        picks = rng.choices(mix, cum_weights=cumulative, k=n_members)
        note_picks = [rng.random() for _ in positions]
        add = chain.add
        for day_no in sorted(buckets):
            day = (first_day + timedelta(days=day_no)).isoformat()
            for pos in buckets[day_no]:
                kinds = picks[pos]
                add(member_ids[pos], member_secretary[pos], day, kinds[int(note_picks[pos] * len(kinds))])
            if len(chain.pending) >= LEDGER_BATCH:
                done += chain.flush(commit=not never and done + len(chain.pending) - committed >= commit_every)
                if not chain.open:
                    committed = done
                report("entries", done, total)
    done += chain.flush(commit=not never)
    report("entries", done, total)
    result.entries = done
    result.last_entry_id = chain.next_id - 1 if done else None


# --------------------------------------------------------------------------- database settings


def _drop_indexes() -> list[sa.Index]:
    """Drop the ledger's plain (non-unique) indexes for a big load; returns them for re-creation.

    Building an index once, sorted, is much faster than updating it row by row. The unique
    constraints stay, so the chain is guarded while the rows go in.
    """
    indexes = sorted((ix for ix in LedgerEntry.__table__.indexes if not ix.unique), key=lambda ix: ix.name)
    conn = db.session.connection()
    for ix in indexes:
        ix.drop(bind=conn, checkfirst=True)
    db.session.commit()
    return indexes


def _create_indexes(indexes: list[sa.Index]) -> None:
    db.session.rollback()
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")
    for ix in indexes:
        ix.create(bind=conn, checkfirst=True)
    db.session.commit()


def _pg_ledger_constraints() -> list[sa.UniqueConstraint]:
    return sorted((c for c in LedgerEntry.__table__.constraints if isinstance(c, sa.UniqueConstraint)),
                  key=lambda c: str(c.name))


def _drop_pg_indexes() -> tuple[list, list]:
    """PostgreSQL, inside the caller's transaction: drop the ledger's unique constraints (not the
    primary key) and plain indexes."""
    conn = db.session.connection()
    constraints = _pg_ledger_constraints()
    indexes = sorted((ix for ix in LedgerEntry.__table__.indexes if not ix.unique), key=lambda ix: ix.name)
    for c in constraints:
        conn.execute(sa.schema.DropConstraint(c))
    for ix in indexes:
        ix.drop(bind=conn)
    return constraints, indexes


def _create_pg_indexes(dropped: tuple[list, list]) -> None:
    constraints, indexes = dropped
    conn = db.session.connection()
    conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")
    for c in constraints:
        conn.execute(sa.schema.AddConstraint(c))
    for ix in indexes:
        ix.create(bind=conn)


def _sqlite_fast(writer: BulkWriter) -> dict:
    """SQLite: no fsync and a big page cache while loading; returns what to restore."""
    db.session.commit()
    raw = writer.raw
    saved = {name: raw.execute(f"PRAGMA {name}").fetchone()[0] for name in ("synchronous", "cache_size")}
    raw.execute("PRAGMA synchronous=OFF")
    raw.execute("PRAGMA cache_size=-2097152")  # 2 GiB, so the indexes being filled stay in memory
    return saved


def _sqlite_restore(saved: dict | None) -> None:
    if not saved:
        return
    db.session.rollback()
    raw = db.session.connection().connection.dbapi_connection
    for name, value in saved.items():
        raw.execute(f"PRAGMA {name}={value}")
    db.session.commit()


def analyze() -> None:
    """Fresh planner statistics after a bulk load (PostgreSQL also sets the visibility map)."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("orgs", "users", "rules", "ledger_entries", "member_year_points"):
                conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
