"""Reads and writes under load: gunicorn with 2 workers against an already-loaded database.

    .venv/bin/python bench/http_load.py --db sqlite:////tmp/bench.sqlite3
    .venv/bin/python bench/http_load.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench_b

Setup (in this process, through the app's own services): bearer tokens for a sample of members
and for an admin, a member contest over the whole tree (rolled up once when it is created and
reused on later runs), QR codes for a sample of members with signed device cookies, and pending
claims to approve. Then it starts gunicorn (``-w 2 -k gthread`` with the threads of
gunicorn.conf.py by default: 1 on SQLite, 2 on PostgreSQL), logs a sample of members in through
the login form to get their session cookies, and drives each endpoint with wrk
(bench/wrk/replay.lua) for a warm-up and then a measured window:

    ping          GET  /api/v1/ping                       the ceiling: the same app, no database
    me_points     GET  /api/v1/me/points                  bearer tokens of many members
    leaderboard   GET  /api/v1/contests/{id}/leaderboard  the member contest over all members
    index_me      GET  /index/me                          the member's phone page (session cookie)
    rating        POST /api/v1/ratings                    QR ratings: many codes, many devices
    approve       POST /api/v1/claims/{id}/approve        each request approves a different claim

For each: requests per second inside the window, p50 and p99 latency, and the ratio to the
ceiling (the higher of the ping at the start and the ping again at the end). After the writes it
counts rows: ratings stored == 201 answers, approved claims == ledger entries for them == 200
answers, and the ledger's hash chain verifies from the last entry before the run. It prints a
table and one JSON line per figure, appended to bench/out/http-<db>.jsonl. Exit status 1 when a
row check fails.

The server runs with RATELIMIT_ENABLED=0: the per-IP limits on logins and QR ratings would
otherwise answer 429 to the single address all load comes from.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LUA = ROOT / "bench" / "wrk" / "replay.lua"
OUT_DIR = ROOT / "bench" / "out"
USER_AGENT = "vanguard-bench/1"
CONTEST_TITLE = "压测：全体党员积分赛"
TARGET_LABEL = "压测二维码"
CLAIM_NOTE = "压测申报"
TOKEN_LABEL = "压测令牌"
READS = ("me_points", "leaderboard", "index_me")
WRITES = ("rating", "approve")
ENDPOINTS = ("ping", *READS, *WRITES)
PATHS = {
    "ping": "GET /api/v1/ping",
    "me_points": "GET /api/v1/me/points",
    "leaderboard": "GET /api/v1/contests/{id}/leaderboard",
    "index_me": "GET /index/me",
    "rating": "POST /api/v1/ratings",
    "approve": "POST /api/v1/claims/{id}/approve",
}
TARGETS = {"read_ratio": 0.5, "read_p99_ms": 50.0, "write_ratio": 0.4}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def db_label(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


# --------------------------------------------------------------------------- setup (in process)


@dataclass
class Fixtures:
    members: int = 0
    entries: int = 0
    member_tokens: list[str] = field(default_factory=list)
    admin_token: str = ""
    contest_id: int = 0
    contest_participants: int = 0
    qr_tokens: list[str] = field(default_factory=list)
    device_cookies: list[str] = field(default_factory=list)
    login_phones: list[str] = field(default_factory=list)
    claim_ids: list[int] = field(default_factory=list)
    board_ms: dict = field(default_factory=dict)
    first_token_id: int = 0


def board_build_times(users: dict, ids: list[int], n: int = 5) -> dict:
    """How long ranking one community takes when its board is not cached (a member's first view
    after an entry in the community): median and max over ``n`` communities, in milliseconds."""
    import statistics

    from app.marks import shared_cache
    from app.points import boards
    from app.points import index as ix

    seen, times = set(), []
    period = ix.parse_period()
    for uid in ids:
        user = users[uid]
        if len(times) >= n or user.org.path in seen:
            continue
        seen.add(user.org.path)
        shared_cache(boards.BOARD_CACHE).clear()
        t0 = time.perf_counter()
        ix.member_points(user, uid, period)
        times.append((time.perf_counter() - t0) * 1000)
    return {"median": round(statistics.median(times), 1), "max": round(max(times), 1), "communities": len(times)}


def make_app(url: str):
    os.environ["DATABASE_URL"] = url
    from app import create_app

    return create_app()


def setup_fixtures(url: str, args) -> Fixtures:
    """Tokens, a contest, QR codes, device cookies and pending claims, through the app's services."""
    import sqlalchemy as sa

    from app.auth.models import User
    from app.auth.services import issue_token
    from app.contests import services as contests
    from app.contests.models import Contest, ContestSnapshot
    from app.extensions import db
    from app.orgs.models import Org
    from app.points.models import CATEGORIES, Claim, LedgerEntry, Rule
    from app.qr import services as qr
    from app.qr import tokens as qr_tokens

    app = make_app(url)
    fx = Fixtures()
    rng = random.Random(args.seed)
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.role == "admin", User.active.is_(True)).order_by(User.id))
        if admin is None:
            raise SystemExit("no admin in this database: load it first (flask --app wsgi demo load ...)")
        root = db.session.scalar(sa.select(Org).where(Org.parent_id.is_(None)).order_by(Org.id))
        ids = list(db.session.scalars(
            sa.select(User.id).where(User.role == "member", User.active.is_(True)).order_by(User.id)))
        fx.members = len(ids)
        fx.entries = int(db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) or 0)
        if len(ids) < 10:
            raise SystemExit("too few members in this database")
        sample = rng.sample(ids, min(len(ids), max(args.members, args.sessions, args.targets)))
        log(f"{fx.members} members, {fx.entries} ledger entries; issuing {args.members} tokens")
        from app.auth.models import ApiToken

        fx.first_token_id = int(db.session.scalar(sa.select(sa.func.max(ApiToken.id))) or 0) + 1

        if not args.read_only:
            from app.contests.services import fold_totals

            t0 = time.perf_counter()
            folded = fold_totals()  # as the scheduler does before its rollups
            log(f"folded {folded} ledger entries into the year totals in {time.perf_counter() - t0:.1f} s")
        users = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(sample)))}
        fx.member_tokens = [issue_token(users[i], TOKEN_LABEL) for i in sample[:args.members]]
        if not args.read_only:
            fx.admin_token = issue_token(admin, TOKEN_LABEL)
        fx.login_phones = [users[i].phone for i in sample[:args.sessions]]
        fx.board_ms = board_build_times(users, sample[:args.members])

        if "leaderboard" in args.only and args.read_only:
            # an existing member contest with standings, whoever made it; none: no leaderboard figure
            contest = db.session.scalar(
                sa.select(Contest).join(ContestSnapshot, ContestSnapshot.contest_id == Contest.id)
                .where(Contest.participant_type == "member").order_by(ContestSnapshot.id.desc()).limit(1))
            if contest is None:
                log("read-only: no member contest with standings here, so no leaderboard figure")
                args.only.remove("leaderboard")
            else:
                log(f"read-only: using the existing contest {contest.id} ({contest.title})")
        elif "leaderboard" in args.only:
            contest = db.session.scalar(
                sa.select(Contest).where(Contest.title == CONTEST_TITLE, Contest.status == "running",
                                         Contest.scope_org_id == root.id).order_by(Contest.id.desc()))
            if contest is None:
                year = date.today().year
                log("creating the member contest over the whole tree (its first rollup)")
                t0 = time.perf_counter()
                contest = contests.create_contest(
                    admin, title=CONTEST_TITLE, participant_type="member", scope_org_id=root.id,
                    starts_on=date(year, 1, 1), ends_on=date(year, 12, 31), categories=list(CATEGORIES))
                log(f"contest {contest.id} rolled up in {time.perf_counter() - t0:.1f} s")
        if "leaderboard" in args.only:
            fx.contest_id = contest.id
            snap = db.session.scalar(sa.select(ContestSnapshot.id).where(ContestSnapshot.contest_id == contest.id)
                                     .order_by(ContestSnapshot.id.desc()).limit(1))
            from app.contests.models import ContestStanding

            fx.contest_participants = int(db.session.scalar(
                sa.select(sa.func.count()).select_from(ContestStanding).where(ContestStanding.snapshot_id == snap)) or 0)

        if "rating" in args.only:
            log(f"creating {args.targets} QR codes and {args.devices} device cookies")
            for mid in sample[:args.targets]:
                target = qr.create_target(admin, "member", mid, TARGET_LABEL)
                fx.qr_tokens.append(qr.token_of(target))
            fx.device_cookies = [qr_tokens.new_device_cookie()[1] for _ in range(args.devices)]

        if "approve" in args.only:
            rule = db.session.scalar(
                sa.select(Rule).where(Rule.active.is_(True), Rule.needs_approval.is_(True),
                                      Rule.category.in_(("study", "service", "innovation")),
                                      Rule.daily_cap.is_(None), Rule.monthly_cap.is_(None),
                                      Rule.yearly_cap.is_(None)).order_by(Rule.id))
            if rule is None:
                from app.points.services import RuleInput, create_rule

                rule = create_rule(admin, RuleInput(code="bench_approve", category="service", title="压测审核项目",
                                                    points="1", needs_approval=True))
            today = date.today()
            now = datetime.now(timezone.utc)
            claim_members = [i for i in ids if i != admin.id]
            rows = [{"member_id": rng.choice(claim_members), "rule_id": rule.id,
                     "occurred_on": today - timedelta(days=rng.randrange(0, 20)), "note": CLAIM_NOTE,
                     "status": "pending", "created_at": now} for _ in range(args.claims)]
            first = int(db.session.scalar(sa.select(sa.func.max(Claim.id))) or 0)
            for start in range(0, len(rows), 5000):
                db.session.execute(sa.insert(Claim), rows[start:start + 5000])
            # fresh planner statistics for the table just grown in bulk, as autovacuum would give
            # (it may be off on a benchmark machine: then every run's claims pile up unanalyzed)
            db.session.execute(sa.text("ANALYZE claims"))
            db.session.commit()
            fx.claim_ids = list(db.session.scalars(
                sa.select(Claim.id).where(Claim.id > first, Claim.note == CLAIM_NOTE, Claim.status == "pending")
                .order_by(Claim.id)))
            log(f"{len(fx.claim_ids)} pending claims under rule {rule.code}")
        db.session.remove()
        db.engine.dispose()
    return fx


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(url: str) -> dict:
    env = dict(os.environ)
    env.update({"DATABASE_URL": url, "RATELIMIT_ENABLED": "0"})
    return env


def start_server(url: str, port: int, args) -> subprocess.Popen:
    cmd = [str(ROOT / ".venv" / "bin" / "gunicorn"), "-w", str(args.workers), "-k", args.worker_class,
           "-b", f"127.0.0.1:{port}", "--log-level", "warning", "--timeout", "60"]
    if args.worker_class == "gthread":
        cmd += ["--threads", str(args.worker_threads)]
    cmd.append("wsgi:app")
    log("server: " + " ".join(cmd[1:]))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=server_env(url), start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("gunicorn exited during start-up")
        try:
            status, _, _ = http_request(port, "GET", "/api/v1/ping")
            if status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.3)
    stop_server(proc)
    raise SystemExit("gunicorn did not answer /api/v1/ping within 60 s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def http_request(port: int, method: str, path: str, body: bytes | None = None,
                 headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"User-Agent": USER_AGENT, **(headers or {})})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {"set-cookie": resp.headers.get_all("Set-Cookie") or []}, data
    finally:
        conn.close()


def _cookie(set_cookies: list[str], name: str) -> str | None:
    for raw in set_cookies:
        first = raw.split(";", 1)[0]
        if first.startswith(name + "="):
            return first[len(name) + 1:]
    return None


def login_sessions(port: int, phones: list[str], password: str) -> list[str]:
    """Log members in through the login form; their session cookies."""
    sessions = []
    for phone in phones:
        status, headers, page = http_request(port, "GET", "/login")
        session = _cookie(headers["set-cookie"], "session")
        m = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
            rb'value="([^"]+)"[^>]*name="csrf_token"', page)
        if status != 200 or not session or not m:
            raise SystemExit(f"login page: HTTP {status}, no session cookie or CSRF token")
        body = urlencode({"csrf_token": m.group(1).decode(), "phone": phone, "password": password}).encode()
        status, headers, _ = http_request(port, "POST", "/login", body, {
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"session={session}"})
        cookie = _cookie(headers["set-cookie"], "session")
        if status != 302 or not cookie:
            raise SystemExit(f"login of {phone} failed (HTTP {status}); is --password right?")
        sessions.append(cookie)
    return sessions


# --------------------------------------------------------------------------- request files and wrk


def _line(method: str, path: str, headers: dict, body: str = "") -> str:
    hdrs = "\x1f".join(f"{k}: {v}" for k, v in {"User-Agent": USER_AGENT, **headers}.items())
    return f"{method}\t{path}\t{hdrs}\t{body}"


def request_lines(endpoint: str, fx: Fixtures, sessions: list[str], rng: random.Random) -> tuple[list[str], str]:
    """The requests for an endpoint and the wrk mode ("shared" or "disjoint")."""
    bearer = [{"Authorization": f"Bearer {t}"} for t in fx.member_tokens]
    if endpoint == "ping":
        return [_line("GET", "/api/v1/ping", {})], "shared"
    if endpoint == "me_points":
        return [_line("GET", "/api/v1/me/points", h) for h in bearer], "shared"
    if endpoint == "leaderboard":
        return [_line("GET", f"/api/v1/contests/{fx.contest_id}/leaderboard", h) for h in bearer], "shared"
    if endpoint == "index_me":
        return [_line("GET", "/index/me", {"Cookie": f"session={s}"}) for s in sessions], "shared"
    if endpoint == "rating":
        lines = []
        for _ in range(20_000):
            stars = rng.choice((5, 5, 5, 4, 4, 3, 2, 1))
            body = {"token": rng.choice(fx.qr_tokens), "stars": stars}
            if rng.random() < 0.2:
                body["comment"] = "服务很周到" if stars >= 3 else "等了很久"
            lines.append(_line("POST", "/api/v1/ratings", {
                "Content-Type": "application/json", "Cookie": f"qr_device={rng.choice(fx.device_cookies)}"},
                json.dumps(body, ensure_ascii=False)))
        return lines, "shared"
    if endpoint == "approve":
        auth = {"Authorization": f"Bearer {fx.admin_token}"}
        return [_line("POST", f"/api/v1/claims/{cid}/approve", auth) for cid in fx.claim_ids], "disjoint"
    raise ValueError(endpoint)


def prewarm(port: int, lines: list[str], passes: int) -> None:
    """Send every request ``passes`` times over fresh connections (so both workers see each),
    filling the caches of shared results the way a day of traffic would."""
    from concurrent.futures import ThreadPoolExecutor

    def send(line: str) -> None:
        method, path, hdrs, body = (line.split("\t") + ["", ""])[:4]
        headers = dict(h.split(": ", 1) for h in hdrs.split("\x1f") if h)
        http_request(port, method, path, body.encode() or None, headers)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(send, [ln for _ in range(passes) for ln in lines]))


@dataclass
class Run:
    endpoint: str
    rps: float
    p50_ms: float
    p99_ms: float
    status: dict
    raw: dict


def wrk(port: int, lines_file: str, mode: str, seconds: float, args) -> dict:
    per_thread = max(1, args.connections // args.threads)
    cmd = ["wrk", "-t", str(args.threads), "-c", str(per_thread * args.threads),
           "-d", f"{int(seconds + args.drain)}s", "--timeout", "10s", "-s", str(LUA),
           f"http://127.0.0.1:{port}", "--", lines_file, str(args.threads), mode, str(seconds), str(per_thread)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    lines = [ln for ln in out.splitlines() if ln.startswith("JSON ")]
    if not lines:
        raise RuntimeError("wrk printed no result:\n" + out)
    return json.loads(lines[-1][5:])


def drive(port: int, endpoint: str, lines: list[str], mode: str, args, tmp: str) -> tuple[Run, list[dict]]:
    """Warm up, then measure; returns the measured run and the raw results of both."""
    path = os.path.join(tmp, f"{endpoint}.txt")
    if mode == "disjoint":
        # the warm-up and the measured run each get their own part of the lines
        cut = len(lines) // 4
        parts = [lines[:cut], lines[cut:]]
    else:
        parts = [lines, lines]
    results = []
    for i, (part, seconds) in enumerate(zip(parts, (args.warmup, args.duration))):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(part) + "\n")
        if seconds > 0:
            results.append(wrk(port, path, mode, seconds, args))
    m = results[-1]
    run = Run(endpoint, m["in_window"] / m["window_s"], m["p50_us"] / 1000, m["p99_us"] / 1000, m["status"], m)
    return run, results


# --------------------------------------------------------------------------- row checks


def marks(url: str) -> dict:
    """Where the tables end before the writes."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.points.models import LedgerEntry
    from app.qr.models import Rating

    app = make_app(url)
    with app.app_context():
        m = {"rating_id": int(db.session.scalar(sa.select(sa.func.max(Rating.id))) or 0),
             "entry_id": int(db.session.scalar(sa.select(sa.func.max(LedgerEntry.id))) or 0)}
        db.session.remove()
        db.engine.dispose()
    return m


def verify_tail(after_id: int) -> tuple[int, str | None]:
    """Walk the hash chain from the entry ``after_id`` on (trusting that one): (checked, problem)."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.points.ledger import GENESIS, entry_digest
    from app.points.models import LedgerEntry

    prev = db.session.scalar(sa.select(LedgerEntry.hash).where(LedgerEntry.id == after_id)) if after_id else GENESIS
    checked, last = 0, after_id
    while True:
        rows = db.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.id > last)
                                  .order_by(LedgerEntry.id).limit(5000)).all()
        if not rows:
            return checked, None
        for e in rows:
            if e.prev_hash != prev:
                return checked, f"entry {e.id}: prev_hash does not match the previous entry"
            if entry_digest(prev, e) != e.hash:
                return checked, f"entry {e.id}: content does not match its hash"
            prev, last, checked = e.hash, e.id, checked + 1
        db.session.expunge_all()


def drop_tokens(url: str, fx: Fixtures) -> None:
    """Read-only runs leave the database as they found it: their bearer tokens go again."""
    import sqlalchemy as sa

    from app.auth.models import ApiToken
    from app.extensions import db

    app = make_app(url)
    with app.app_context():
        db.session.execute(sa.delete(ApiToken).where(ApiToken.id >= fx.first_token_id, ApiToken.label == TOKEN_LABEL))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def count_rows(url: str, before: dict, fx: Fixtures, answers: dict[str, dict]) -> list[dict]:
    """Compare rows with answers after the writes; one dict per check."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.points.models import Claim, LedgerEntry
    from app.qr.models import Rating

    app = make_app(url)
    checks = []
    with app.app_context():
        if "rating" in answers:
            stored = int(db.session.scalar(sa.select(sa.func.count()).select_from(Rating)
                                           .where(Rating.id > before["rating_id"])) or 0)
            created = answers["rating"].get("201", 0)
            checks.append({"check": "ratings stored == 201 answers", "rows": stored, "answers": created,
                           "ok": stored == created})
        if "approve" in answers:
            ids = fx.claim_ids
            approved = entries = 0
            for start in range(0, len(ids), 5000):
                chunk = ids[start:start + 5000]
                approved += int(db.session.scalar(sa.select(sa.func.count()).select_from(Claim).where(
                    Claim.id.in_(chunk), Claim.status == "approved")) or 0)
                entries += int(db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry).where(
                    LedgerEntry.source_key.in_([f"claim:{i}" for i in chunk]))) or 0)
            ok200 = answers["approve"].get("200", 0)
            checks.append({"check": "approved claims == ledger entries == 200 answers", "rows": approved,
                           "entries": entries, "answers": ok200, "ok": approved == entries == ok200})
            checked, problem = verify_tail(before["entry_id"])
            checks.append({"check": "ledger hash chain verifies past the run's start", "entries": checked,
                           "problem": problem, "ok": problem is None})
            # tidy up: claims left pending go back to the members' queue as rejected
            db.session.execute(sa.update(Claim).where(Claim.id.in_(ids), Claim.status == "pending")
                               .values(status="rejected", reject_reason="压测结束，未处理"))
            db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return checks


# --------------------------------------------------------------------------- main


def machine() -> dict:
    import platform

    info = {"nproc": os.cpu_count(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as fh:
            info["cpu"] = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "")
        with open("/proc/meminfo") as fh:
            info["mem_gb"] = round(int(fh.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return info


def other_load() -> list[str]:
    """Other busy processes right now (the machine may be shared): a 1 s sample of /proc."""
    def ticks() -> dict[int, tuple[int, str]]:
        out = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    cmd = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
                out[int(entry)] = (int(fields[11]) + int(fields[12]), cmd)
            except (OSError, IndexError, ValueError):
                continue
        return out

    before = ticks()
    time.sleep(1)
    after = ticks()
    hz = os.sysconf("SC_CLK_TCK")
    busy = []
    for pid, (t, cmd) in after.items():
        share = (t - before.get(pid, (t, ""))[0]) / hz
        if share >= 0.2 and pid != os.getpid():
            busy.append(f"{pid} {share * 100:.0f}% {cmd[:120]}")
    return busy


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", default=os.environ.get("DATABASE_URL"), help="database URL (default: $DATABASE_URL)")
    p.add_argument("--label", help="db label in the output (default: sqlite / postgresql from the URL)")
    p.add_argument("--only", default=",".join(ENDPOINTS), help=f"endpoints, comma-separated: {','.join(ENDPOINTS)}")
    p.add_argument("--duration", type=float, default=12, help="measured seconds per endpoint")
    p.add_argument("--warmup", type=float, default=3, help="warm-up seconds per endpoint")
    p.add_argument("--prewarm", type=int, default=6, help="reads: send each request this many times first (0: no)")
    p.add_argument("--drain", type=float, default=5, help="seconds wrk may take to collect answers in flight")
    p.add_argument("--connections", type=int, default=8, help="wrk connections")
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--worker-class", default="gthread", choices=("sync", "gthread"))
    p.add_argument("--worker-threads", type=int,
                   help="threads per gthread worker (default: as gunicorn.conf.py, 1 on SQLite, 2 on PostgreSQL)")
    p.add_argument("--members", type=int, default=200, help="members with bearer tokens")
    p.add_argument("--sessions", type=int, default=100, help="members logged in for /index/me")
    p.add_argument("--targets", type=int, default=200, help="QR codes to rate")
    p.add_argument("--devices", type=int, default=500, help="device cookies rating them")
    p.add_argument("--claims", type=int, default=30000, help="pending claims to approve")
    p.add_argument("--password", default="demo12345", help="the members' password (demo data: demo12345)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--read-only", action="store_true",
                   help="someone else's database: reads only, an existing member contest, no fold; "
                        "the bearer tokens it needs are deleted again at the end")
    p.add_argument("--out", help="JSON lines file (default: bench/out/http-<db>.jsonl)")
    args = p.parse_args(argv)
    if not args.db:
        p.error("--db or DATABASE_URL is required")
    if args.worker_threads is None:
        from app.config import web_threads

        args.worker_threads = web_threads(args.db)
    if shutil.which("wrk") is None:
        p.error("wrk is not installed (Debian/Ubuntu: apt-get install -y wrk)")
    from app.config import normalize_database_url

    url = normalize_database_url(args.db)
    label = args.label or db_label(url)
    args.only = [e.strip() for e in args.only.split(",") if e.strip()]
    unknown = set(args.only) - set(ENDPOINTS)
    if unknown:
        p.error(f"unknown endpoints: {', '.join(sorted(unknown))}")
    if "ping" not in args.only:
        args.only.insert(0, "ping")
    if args.read_only and any(e in args.only for e in WRITES):
        log("read-only: the write benchmarks are left out")
        args.only = [e for e in args.only if e not in WRITES]
    busy = other_load()
    if busy:
        log("other load on the machine now (figures will be lower):\n  " + "\n  ".join(busy))

    fx = setup_fixtures(url, args)
    before = marks(url)
    port = free_port()
    proc = start_server(url, port, args)
    rng = random.Random(args.seed)
    runs: list[Run] = []
    answers: dict[str, dict] = {}
    try:
        sessions = []
        if "index_me" in args.only:
            log(f"logging {len(fx.login_phones)} members in through the login form")
            sessions = login_sessions(port, fx.login_phones, args.password)
        with tempfile.TemporaryDirectory(prefix="http_load-") as tmp:
            for endpoint in [e for e in ENDPOINTS if e in args.only]:
                lines, mode = request_lines(endpoint, fx, sessions, rng)
                if endpoint in READS and args.prewarm:
                    t0 = time.perf_counter()
                    prewarm(port, lines, args.prewarm)
                    log(f"{endpoint}: pre-warmed in {time.perf_counter() - t0:.1f} s")
                run, results = drive(port, endpoint, lines, mode, args, tmp)
                total: dict[str, int] = {}
                for r in results:
                    for k, v in r["status"].items():
                        total[k] = total.get(k, 0) + v
                    if not r.get("drained", True) or any(r["errors"].values()):
                        log(f"{endpoint}: wrk errors {r['errors']}, drained={r.get('drained')}")
                answers[endpoint] = total
                runs.append(run)
                log(f"{endpoint}: {run.rps:.0f} req/s, p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms, "
                    f"answers {total}")
        ping_end = None
        if any(e in args.only for e in WRITES) or len(runs) > 2:
            with tempfile.TemporaryDirectory(prefix="http_load-") as tmp:
                ping_end, _ = drive(port, "ping", [_line("GET", "/api/v1/ping", {})], "shared", args, tmp)
            log(f"ping again at the end: {ping_end.rps:.0f} req/s")
    finally:
        stop_server(proc)

    busy_end = other_load()
    if busy_end:
        log("other load on the machine at the end:\n  " + "\n  ".join(busy_end))
    checks = count_rows(url, before, fx, {k: v for k, v in answers.items() if k in WRITES})
    if args.read_only:
        drop_tokens(url, fx)
    # the higher of the two ping runs: a ping disturbed by something else on the machine (a
    # checkpoint, autovacuum after the previous run's writes) must not flatter the ratios
    ceiling = max(runs[0].rps, ping_end.rps if ping_end else 0.0)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    info = machine()
    out_path = Path(args.out) if args.out else OUT_DIR / f"http-{label}.jsonl"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    records = []
    for run in runs:
        ratio = run.rps / ceiling if ceiling else 0.0
        ok_status = sum(v for k, v in run.status.items() if k.startswith("2"))
        rec = {"bench": "http", "db": label, "endpoint": run.endpoint, "rps": round(run.rps, 1),
               "p50_ms": round(run.p50_ms, 2), "p99_ms": round(run.p99_ms, 2), "ratio": round(ratio, 3),
               "path": PATHS[run.endpoint], "members": fx.members, "entries": fx.entries,
               "non_2xx": sum(run.status.values()) - ok_status, "ceiling_rps_end": round(ping_end.rps, 1) if ping_end else None,
               "server": f"gunicorn -w {args.workers} -k {args.worker_class}"
                         + (f" --threads {args.worker_threads}" if args.worker_class == "gthread" else ""),
               "wrk": f"-t{args.threads} -c{args.connections} {args.duration:g}s after {args.warmup:g}s",
               "at": stamp, **{k: info.get(k) for k in ("nproc", "cpu")},
               "other_load": [b.split(" ", 2)[2][:60] for b in busy + busy_end]}
        if run.endpoint in ("me_points", "index_me") and fx.board_ms:
            rec["board_build_ms"] = fx.board_ms
        if run.endpoint in READS:
            rec["target_met"] = ratio >= TARGETS["read_ratio"] and run.p99_ms < TARGETS["read_p99_ms"]
        elif run.endpoint in WRITES:
            rec["target_met"] = ratio >= TARGETS["write_ratio"]
        records.append(rec)
    with out_path.open("a", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")

    print(f"\nHTTP under load: {label}, {fx.members} members, {fx.entries} ledger entries, "
          f"{records[0]['server']}, wrk {records[0]['wrk']}")
    print(f"{'endpoint':<12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6}  {'target':<22} met")
    for rec in records:
        e = rec["endpoint"]
        target = ("ceiling" if e == "ping" else
                  f">= {TARGETS['read_ratio']}x, p99 < {TARGETS['read_p99_ms']:g} ms" if e in READS else
                  f">= {TARGETS['write_ratio']}x")
        met = "" if e == "ping" else ("yes" if rec["target_met"] else "NO")
        print(f"{e:<12} {rec['rps']:>8.0f} {rec['p50_ms']:>8.1f} {rec['p99_ms']:>8.1f} {rec['ratio']:>6.2f}  {target:<22} {met}")
    if ping_end:
        print(f"(ping again at the end: {ping_end.rps:.0f} req/s)")
    if fx.board_ms:
        print(f"(ranking one community when its board is not cached: median {fx.board_ms['median']} ms, "
              f"max {fx.board_ms['max']} ms over {fx.board_ms['communities']} communities)")
    for c in checks:
        print(("OK   " if c["ok"] else "FAIL ") + json.dumps(c, ensure_ascii=False))
    for rec in records:
        print(json.dumps({k: rec[k] for k in ("bench", "db", "endpoint", "rps", "p50_ms", "p99_ms", "ratio")}))
    log(f"appended {len(records)} lines to {out_path}")
    return 0 if all(c["ok"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
