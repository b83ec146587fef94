"""Rollup benchmark: one contest over all members, against the bare GROUP BY floor.

    .venv/bin/python bench/rollup.py --database-url sqlite:////tmp/bench.sqlite3 \
        --members 100000 --entries-per-member 50 --fresh
    .venv/bin/python bench/rollup.py --database-url postgresql://postgres@127.0.0.1/bench --existing

With ``--members N --entries-per-member K`` the database is brought to the current schema and
loaded with the bulk generator (``flask demo load --members``); ``--fresh`` empties it first
(deletes the SQLite file, or drops and recreates the ``public`` schema on PostgreSQL).
``--existing`` benchmarks the data already there (brought to the current schema first; entries
not folded into the member year totals yet are folded once before timing, and that first fold is
reported as its own figure).

The contest: participant type member, scope the root org holding the most accounts, the whole
current year, all categories, total scoring. Measured in the same run, alternating:

* rollup: what the scheduler's rollup job does, for this one contest: fold the ledger entries
  added since the last fold into the member year totals (``services.fold_totals``; none are added
  during the run), then ``services.commit_snapshot`` with a fresh ``tick`` period key (one
  INSERT ... SELECT, commit);
* floor: ``SELECT member_id, SUM(points) FROM ledger_entries WHERE <same period and categories>
  GROUP BY member_id``, every row fetched.

Prints a table, one JSON line per figure, and appends the lines to ``bench/out/rollup-<db>.jsonl``.
Peak memory of the rollup is measured in a fresh subprocess (tracemalloc peak of Python
allocations, and the growth of the process's peak RSS) for two cuts of the same contest: through
the end of March and through the end of the year, i.e. two entry counts. Snapshots written by the
benchmark are deleted at the end, and so is its contest.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from app import create_app  # noqa: E402
from app.config import normalize_database_url  # noqa: E402
from app.extensions import db  # noqa: E402

ALL_CATEGORIES = ["study", "service", "innovation", "rating", "penalty"]
FLOOR_SQL = (
    "SELECT member_id, SUM(points) FROM ledger_entries "
    "WHERE member_id IS NOT NULL AND occurred_on BETWEEN :start AND :through "
    "AND category IN ('study', 'service', 'innovation', 'rating', 'penalty') "
    "GROUP BY member_id"
)
COUNT_SQL = (
    "SELECT COUNT(*) FROM ledger_entries "
    "WHERE member_id IS NOT NULL AND occurred_on BETWEEN :start AND :through "
    "AND category IN ('study', 'service', 'innovation', 'rating', 'penalty')"
)


def make_app(url: str):
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False})


def dialect_of(url: str) -> str:
    return "postgresql" if url.startswith("postgresql") else "sqlite"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data


def fresh(url: str) -> None:
    """Empty the benchmark database."""
    if dialect_of(url) == "sqlite":
        path = sa.engine.make_url(url).database
        for suffix in ("", "-wal", "-shm"):
            if path and os.path.exists(path + suffix):
                os.remove(path + suffix)
        return
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def load(app, members: int, per_member: int, seed: int) -> dict:
    """Migrate and run the bulk generator; returns its timings."""
    from flask_migrate import upgrade

    from app.demo_scale import load_scale

    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        last = [0.0]

        def progress(stage, done, total):
            now = time.perf_counter()
            if now - last[0] > 10 or done >= total:
                last[0] = now
                log(f"  {stage}: {done:,}/{total:,}")

        result = load_scale(members, per_member, seed, progress=progress)
        db.session.remove()
        return {"timings": result.timings, "entries": result.entries, "members": result.members}


# --------------------------------------------------------------------------- the contest


def scope_root():
    """The root org holding the most accounts (the generated district)."""
    from app.auth.models import User
    from app.orgs.models import Org

    roots = list(db.session.scalars(sa.select(Org).where(Org.parent_id.is_(None))))
    member_org = sa.orm.aliased(Org)

    def accounts(root) -> int:
        return db.session.scalar(
            sa.select(sa.func.count(User.id)).join(member_org, member_org.id == User.org_id)
            .where(member_org.path.startswith(root.path))) or 0

    return max(roots, key=accounts)


def make_contest(year: int) -> int:
    """The benchmark's contest (inserted directly: create_contest would take a first snapshot)."""
    from app.contests.models import Contest

    root = scope_root()
    contest = Contest(title=f"性能测试 {year} 全体党员积分榜", participant_type="member", scope_org_id=root.id,
                      starts_on=date(year, 1, 1), ends_on=date(year, 12, 31),
                      categories=",".join(ALL_CATEGORIES), scoring="total", status="running")
    db.session.add(contest)
    db.session.commit()
    return contest.id


def drop_contest(contest_id: int) -> None:
    from app.contests.models import Contest, ContestSnapshot, ContestStanding

    snapshots = sa.select(ContestSnapshot.id).where(ContestSnapshot.contest_id == contest_id)
    db.session.execute(sa.delete(ContestStanding).where(ContestStanding.snapshot_id.in_(snapshots)))
    db.session.execute(sa.delete(ContestSnapshot).where(ContestSnapshot.contest_id == contest_id))
    db.session.execute(sa.delete(Contest).where(Contest.id == contest_id))
    db.session.commit()


def rollup_once(contest_id: int, through: date | None = None) -> float:
    """One rollup as the scheduler's job runs it for one contest: fold the new ledger entries
    into the member year totals, then write the snapshot; wall seconds.

    A point for the lowest-placed member is appended first (untimed), so the standings change:
    a rollup that finds nothing changed, or standings the same as the latest snapshot's, writes
    no copy (app.contests.rollup.write_snapshot), and this one must write."""
    from app.auth.models import User
    from app.contests import services
    from app.points.ledger import append_entry

    member_id = db.session.scalar(sa.select(User.id).where(User.role == "member").order_by(User.id.desc()).limit(1))
    append_entry(category="study", points=Decimal("0.5"), occurred_on=through or date.today(), source="award",
                 source_key=f"bench:{uuid.uuid4().hex}", rule_code="BENCH", member_id=member_id,
                 note="rollup benchmark: moves the board")
    db.session.commit()
    key = f"t:bench-{uuid.uuid4().hex[:12]}"
    db.session.expire_all()
    started = time.perf_counter()
    services.fold_totals()
    _snapshot, created = services.commit_snapshot(contest_id, period_key=key, kind="tick",
                                                  as_of=datetime.now(timezone.utc), through=through)
    elapsed = time.perf_counter() - started
    assert created
    return elapsed


def first_fold() -> tuple[float, int]:
    """Fold whatever the totals do not hold yet (everything, on a database loaded otherwise)."""
    from app.points.totals import fold_member_totals

    started = time.perf_counter()
    folded = fold_member_totals()
    return time.perf_counter() - started, folded


def floor_once(start: date, through: date) -> tuple[float, int]:
    """The bare GROUP BY, every row fetched; (wall seconds, rows)."""
    conn = db.session.connection()
    started = time.perf_counter()
    rows = conn.execute(sa.text(FLOOR_SQL), {"start": start, "through": through}).fetchall()
    elapsed = time.perf_counter() - started
    db.session.commit()
    return elapsed, len(rows)


# --------------------------------------------------------------------------- memory probe


def _status(field: str) -> float:
    """A VmRSS/VmHWM figure of this process, in MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def memory_probe(url: str, contest_id: int, through: date) -> dict:
    """In this (fresh) process: warm up, then one rollup through ``through``; its peak memory."""
    app = make_app(url)
    with app.app_context():
        contest_year = through.year
        rollup_once(contest_id, through=date(contest_year, 1, 1))  # warm-up: same participants, few entries
        db.session.expire_all()
        try:
            with open("/proc/self/clear_refs", "w") as fh:  # reset the peak RSS (VmHWM) to the current RSS
                fh.write("5")
        except OSError:
            pass
        rss_before = _status("VmRSS")
        tracemalloc.start()
        seconds = rollup_once(contest_id, through=through)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        hwm = _status("VmHWM")
        db.session.remove()
    return {"seconds": seconds, "tracemalloc_peak_mb": peak / 2**20, "rss_peak_delta_mb": max(0.0, hwm - rss_before),
            "rss_before_mb": rss_before}


def run_probe(url: str, contest_id: int, through: date) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--database-url", url, "--memory-probe", str(contest_id),
         "--through", through.isoformat()],
        check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- reporting


def machine() -> dict:
    return {"host": platform.node(), "load1": round(os.getloadavg()[0], 2)}


def emit(lines: list[dict], record: dict, out_path: Path | None) -> None:
    print(json.dumps(record, ensure_ascii=False), flush=True)
    lines.append(record)
    if out_path:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with out_path.open("a") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", required=True)
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--members", type=int)
    group.add_argument("--existing", action="store_true")
    ap.add_argument("--entries-per-member", type=int, default=50)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--fresh", action="store_true", help="empty the database before loading")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--out", default=None, help="JSON lines file (default bench/out/rollup-<db>.jsonl)")
    ap.add_argument("--label", default="", help="free text stored with each figure (e.g. 'before fix')")
    ap.add_argument("--memory-probe", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--through", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    url = normalize_database_url(args.database_url)
    kind = dialect_of(url)

    if args.memory_probe:
        print(json.dumps(memory_probe(url, args.memory_probe, date.fromisoformat(args.through))))
        return 0
    if not args.members and not args.existing:
        ap.error("give --members N --entries-per-member K, or --existing")

    out_path = Path(args.out) if args.out else ROOT / "bench" / "out" / f"rollup-{kind}.jsonl"
    lines: list[dict] = []
    run_id = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    app = make_app(url)
    loaded = None
    if args.members:
        if args.fresh:
            log(f"emptying {kind} database")
            fresh(url)
        log(f"loading {args.members:,} members x {args.entries_per_member} entries")
        loaded = load(app, args.members, args.entries_per_member, args.seed)
    else:
        from flask_migrate import upgrade

        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            db.session.remove()

    with app.app_context():
        from app.auth.models import User

        year = date.today().year
        start, end = date(year, 1, 1), date(year, 12, 31)
        members = db.session.scalar(sa.select(sa.func.count(User.id)).where(User.role == "member"))
        entries = db.session.scalar(sa.text(COUNT_SQL), {"start": start, "through": end})
        db.session.commit()
        contest_id = make_contest(year)
        base = {"bench": "rollup", "db": kind, "members": members, "entries": entries, "run": run_id,
                "label": args.label}
        if loaded:
            for stage, seconds in loaded["timings"].items():
                emit(lines, {**base, "bench": "load", "metric": "seconds", "stage": stage, "value": round(seconds, 2),
                             **machine()}, out_path)
        try:
            fold_s, folded = first_fold()
            if folded:
                log(f"folded {folded:,} entries into the member year totals in {fold_s:.1f}s")
                emit(lines, {**base, "bench": "fold_initial", "metric": "seconds", "value": round(fold_s, 3),
                             "folded": folded, **machine()}, out_path)
            log(f"{members:,} members, {entries:,} entries counted; warming up")
            floor_once(start, end)
            rollup_once(contest_id)
            rollups, floors = [], []
            participants = 0
            for i in range(args.repeat):
                if i % 2:
                    rollups.append(rollup_once(contest_id))
                    seconds, participants_floor = floor_once(start, end)
                    floors.append(seconds)
                else:
                    seconds, participants_floor = floor_once(start, end)
                    floors.append(seconds)
                    rollups.append(rollup_once(contest_id))
                log(f"  rep {i + 1}: rollup {rollups[-1]:.3f}s floor {floors[-1]:.3f}s")
            from app.contests.models import ContestSnapshot, ContestStanding

            latest = db.session.scalar(sa.select(sa.func.max(ContestSnapshot.id))
                                       .where(ContestSnapshot.contest_id == contest_id))
            participants = db.session.scalar(sa.select(sa.func.count()).select_from(ContestStanding)
                                             .where(ContestStanding.snapshot_id == latest))
            rollup_s, floor_s = statistics.median(rollups), statistics.median(floors)
            ratio = rollup_s / floor_s
            common = {**base, "participants": participants, "repeat": args.repeat, **machine()}
            emit(lines, {**common, "metric": "seconds", "value": round(rollup_s, 4),
                         "samples": [round(x, 4) for x in rollups]}, out_path)
            emit(lines, {**common, "bench": "rollup_floor", "metric": "seconds", "value": round(floor_s, 4),
                         "rows": participants_floor, "samples": [round(x, 4) for x in floors]}, out_path)
            emit(lines, {**common, "metric": "ratio", "value": round(ratio, 3), "target": 1.5,
                         "met": ratio <= 1.5}, out_path)
            db.session.remove()

            probes = []
            if not args.no_memory:
                for through in (date(year, 3, 31), end):
                    with app.app_context():
                        counted = db.session.scalar(sa.text(COUNT_SQL), {"start": start, "through": through})
                        db.session.remove()
                    log(f"memory probe through {through} ({counted:,} entries)")
                    probe = run_probe(url, contest_id, through)
                    probes.append((through, counted, probe))
                    for measure, key in (("tracemalloc", "tracemalloc_peak_mb"), ("rss_delta", "rss_peak_delta_mb")):
                        emit(lines, {**common, "entries": counted, "metric": "peak_mb", "measure": measure,
                                     "through": through.isoformat(), "value": round(probe[key], 2)}, out_path)
        finally:
            with app.app_context():
                drop_contest(contest_id)
                db.session.remove()

    print()
    print(f"rollup benchmark, {kind}: {members:,} members, {entries:,} entries, {participants:,} participants, "
          f"{args.repeat} repetitions (median)")
    print(f"{'figure':<34}{'value':>14}")
    print(f"{'rollup seconds':<34}{rollup_s:>14.3f}")
    print(f"{'floor seconds (GROUP BY)':<34}{floor_s:>14.3f}")
    print(f"{'ratio rollup/floor (<= 1.5)':<34}{ratio:>14.2f}  {'met' if ratio <= 1.5 else 'MISSED'}")
    for through, counted, probe in probes:
        print(f"{'peak MB through ' + through.isoformat():<34}{probe['tracemalloc_peak_mb']:>8.2f} py "
              f"{probe['rss_peak_delta_mb']:>6.1f} rss  ({counted:,} entries)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
