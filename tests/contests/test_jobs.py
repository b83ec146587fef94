"""The scheduler: job registry, one run per period, locks, and two schedulers at once."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app import scheduler
from app.contests import rollup
from app.contests.models import ContestSnapshot, ContestStanding
from app.extensions import db
from app.jobs_lock import JobRun, job_lock

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")


def _runs(job: str) -> list[tuple[str, str]]:
    return db.session.execute(
        sa.select(JobRun.period_key, JobRun.status).where(JobRun.job == job).order_by(JobRun.id)).all()


def _tick_snapshots(contest_id: int) -> list[ContestSnapshot]:
    return list(db.session.scalars(sa.select(ContestSnapshot).where(
        ContestSnapshot.contest_id == contest_id, ContestSnapshot.kind == "tick")))


def _standing_count(snapshot_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(ContestStanding)
                             .where(ContestStanding.snapshot_id == snapshot_id))


def test_registry_lists_the_four_jobs(runner):
    result = runner.invoke(args=["scheduler", "jobs"])
    assert result.exit_code == 0, result.output
    for name in ("rollup", "ratings", "nightly", "monthly"):
        assert name in result.output
    assert "Asia/Shanghai" in result.output and "minute=*/10" in result.output


def test_scheduler_jobs_coalesce_one_instance_and_misfire_grace(app):
    sched = scheduler.build_scheduler(app)
    jobs = {j.id: j for j in sched.get_jobs()}
    assert set(jobs) == {"rollup", "ratings", "nightly", "monthly"}
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time > 0
    assert str(sched.timezone) == "Asia/Shanghai"
    assert "*/10" in str(jobs["rollup"].trigger)


def test_run_once_is_keyed_on_the_ten_minute_bucket(race, make_contest, runner, add_points):
    c = make_contest(race.tree.sec_c1, race.c1)
    at = datetime.now(TZ).replace(minute=3, second=0, microsecond=0) - timedelta(hours=2)
    add_points(1, "study", member=race.m13)  # each bucket has a change to count
    first = runner.invoke(args=["scheduler", "run-once", "rollup", "--at", at.isoformat()])
    add_points(1, "study", member=race.m13)
    later_same_bucket = runner.invoke(args=["scheduler", "run-once", "rollup", "--at", (at + timedelta(minutes=6)).isoformat()])
    next_bucket = runner.invoke(args=["scheduler", "run-once", "rollup", "--at", (at + timedelta(minutes=8)).isoformat()])
    assert "done" in first.output and "skipped" in later_same_bucket.output and "done" in next_bucket.output
    key = f"t:{at:%Y-%m-%dT%H}:00"
    assert [s.period_key for s in _tick_snapshots(c.id)] == [key, f"t:{at:%Y-%m-%dT%H}:10"]
    assert _runs("rollup") == [(key, "done"), (f"t:{at:%Y-%m-%dT%H}:10", "done")]


def test_run_once_refuses_a_time_still_to_come(race, make_contest, runner):
    c = make_contest(race.tree.sec_c1, race.c1)
    later = (datetime.now(TZ) + timedelta(days=365)).isoformat(timespec="minutes")
    result = runner.invoke(args=["scheduler", "run-once", "rollup", "--at", later])
    assert result.exit_code != 0 and "不能晚于当前时间" in result.output
    assert _tick_snapshots(c.id) == [] and _runs("rollup") == []
    bad = runner.invoke(args=["scheduler", "run-once", "rollup", "--at", "tomorrow"])
    assert bad.exit_code != 0 and "ISO 8601" in bad.output


def test_a_failed_run_is_retried_and_a_done_one_is_not(app, monkeypatch):
    calls = []

    def flaky(now):
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return "ok"

    monkeypatch.setitem(scheduler.JOBS, "nightly", dataclasses.replace(scheduler.JOBS["nightly"], run=flaky))
    now = datetime(2026, 5, 2, 0, 30, tzinfo=TZ)
    assert scheduler.run_job("nightly", now).outcome == "failed"
    assert scheduler.run_job("nightly", now).outcome == "done"
    assert scheduler.run_job("nightly", now + timedelta(hours=3)).outcome == "skipped"
    assert len(calls) == 2
    run = db.session.scalar(sa.select(JobRun).where(JobRun.job == "nightly"))
    assert (run.period_key, run.status, run.attempts) == ("day:2026-05-01", "done", 2)


def test_a_held_lock_makes_the_other_process_skip(app, monkeypatch):
    ran = []
    monkeypatch.setitem(scheduler.JOBS, "monthly",
                        dataclasses.replace(scheduler.JOBS["monthly"], run=lambda now: ran.append(now) or "ok"))
    with job_lock("job:monthly") as got:
        assert got
        with job_lock("job:monthly") as again:  # a second holder (another connection) is refused
            assert not again
        result = scheduler.run_job("monthly")
    assert result.outcome == "locked" and not ran
    assert scheduler.run_job("monthly").outcome == "done" and len(ran) == 1  # released on exit


def test_catch_up_waits_for_a_job_another_process_holds(app, monkeypatch):
    """A scheduler starting while another one runs the ratings job waits for it, so its nightly
    close and monthly publication never read the month before its ratings are points."""
    ran: list[tuple[str, bool]] = []
    released = threading.Event()
    for name in scheduler.CATCH_UP_ORDER:
        monkeypatch.setitem(scheduler.JOBS, name, dataclasses.replace(
            scheduler.JOBS[name], run=lambda now, n=name: ran.append((n, released.is_set())) or "ok"))
    held = threading.Event()

    def other_process():
        with app.app_context():
            try:
                with job_lock("job:ratings") as got:
                    assert got
                    held.set()
                    released.wait(20)
            finally:
                db.session.remove()

    holder = threading.Thread(target=other_process)
    holder.start()
    assert held.wait(20)
    threading.Timer(1.0, released.set).start()
    scheduler.catch_up_due(app, poll=0.1)
    holder.join(20)
    assert ran == [(name, True) for name in scheduler.CATCH_UP_ORDER]


def test_an_expired_lock_row_is_taken_over(app):
    if db.engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL advisory locks die with their connection; no rows to expire")
    from app.jobs_lock import JobLock

    db.session.add(JobLock(name="job:rollup", holder="dead-host:1:x",
                           acquired_at=datetime.now(timezone.utc) - timedelta(hours=2),
                           expires_at=datetime.now(timezone.utc) - timedelta(hours=1)))
    db.session.commit()
    with job_lock("job:rollup") as got:
        assert got


def test_the_lock_row_of_a_process_that_died_is_taken_over_at_once(app):
    """A job killed halfway (kill -9, a crash) leaves its row; its process is gone, so the next
    run takes the lock instead of waiting out the row's hour. A live holder keeps it."""
    if db.engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL advisory locks die with their connection; no rows to take over")
    import socket
    import subprocess
    import sys

    from app.jobs_lock import JobLock, process_space

    space = process_space()
    if not space:
        pytest.skip("this system does not tell its boot and PID namespace")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = socket.gethostname()[:60]
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    db.session.add(JobLock(name="job:monthly", holder=f"{host}:{gone.pid}:{space}:dead",
                           acquired_at=datetime.now(timezone.utc), expires_at=later))
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    db.session.add(JobLock(name="job:ratings", holder=f"{host}:{alive.pid}:{space}:live",
                           acquired_at=datetime.now(timezone.utc), expires_at=later))
    db.session.add(JobLock(name="job:nightly", holder=f"other-host:{gone.pid}:{space}:far",
                           acquired_at=datetime.now(timezone.utc), expires_at=later))
    # the same host name, another PID namespace (a container next to this one): cannot tell
    db.session.add(JobLock(name="job:rollup", holder=f"{host}:{gone.pid}:0000-1:other",
                           acquired_at=datetime.now(timezone.utc), expires_at=later))
    db.session.commit()
    try:
        with job_lock("job:monthly") as got:
            assert got
        with job_lock("job:ratings") as got:
            assert not got  # its process still runs
        with job_lock("job:nightly") as got:
            assert not got  # another host's process: cannot tell, so it waits for the expiry
        with job_lock("job:rollup") as got:
            assert not got
    finally:
        alive.kill()
        alive.wait()


def test_two_threads_with_their_own_sessions_write_one_snapshot(race, make_contest, app, add_points):
    c = make_contest(race.tree.sec_c1, race.c1, "member")
    add_points(1, "study", member=race.m13)  # a change since the contest's first rollup
    now = datetime.now(timezone.utc) + timedelta(hours=2)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def worker():
        with app.app_context():
            try:
                barrier.wait()
                outcomes.append(scheduler.run_job("rollup", now).outcome)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) in (["done", "locked"], ["done", "skipped"])
    ticks = _tick_snapshots(c.id)
    assert len(ticks) == 1 and _standing_count(ticks[0].id) == 8
    assert _runs("rollup") == [(rollup.bucket_key(now), "done")]


def test_two_scheduler_processes_started_together_write_one_snapshot_per_period(
        race, make_contest, database_url, app, add_points):
    branch = make_contest(race.tree.sec_c1, race.c1, "branch")
    members = make_contest(race.tree.sec_c1, race.c1, "member")
    add_points(1, "study", member=race.m13)  # a change since the contests' first rollups
    at = (datetime.now(TZ) - timedelta(hours=3)).replace(second=0, microsecond=0)
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONWARNINGS": "ignore"}
    env.pop("FLASK_APP", None)
    cmd = [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run-once", "rollup", "--at", at.isoformat()]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    said = " ".join(out for out, _err in outputs)
    assert said.count("] done:") == 1, said
    db.session.expire_all()
    key = rollup.bucket_key(at)
    for contest, participants in ((branch, 4), (members, 8)):
        ticks = _tick_snapshots(contest.id)
        assert [s.period_key for s in ticks] == [key]
        assert _standing_count(ticks[0].id) == participants
    assert _runs("rollup") == [(key, "done")]


def test_rating_points_flow_into_the_board_without_a_button(race, make_contest, app):
    """The daily ratings job closes last month's QR ratings into points; the rollup counts them."""
    from datetime import date

    from app.qr import services as qr
    from app.qr.models import Rating
    from tests.contests.conftest import YEAR

    t = race.tree
    c = make_contest(t.sec_c1, race.c1, "member", categories=["rating"])
    target = qr.create_target(t.sec_c1, "member", race.m14.id, "吴九")
    db.session.add_all([
        Rating(target_id=target.id, stars=5, counted=True, count_slot=1, device_hash=f"d{i}", ip_hash=f"i{i}",
               day=date(YEAR, 6, 10 + i), tags=[], comment="")
        for i in range(3)
    ])
    db.session.commit()
    now = datetime(YEAR, 7, 1, 0, 10, tzinfo=TZ)
    assert scheduler.run_job("ratings", now).outcome == "done"
    assert scheduler.run_job("rollup", now).outcome == "done"
    tick = rollup.find_snapshot(c.id, rollup.bucket_key(now))
    top = db.session.execute(sa.select(ContestStanding.participant_id, ContestStanding.rank, ContestStanding.score)
                             .where(ContestStanding.snapshot_id == tick.id, ContestStanding.rank == 1)).all()
    # 20 rating points from the race fixture, plus (5 stars - 3) x 2 from June's QR ratings
    assert [(pid, rank, float(score)) for pid, rank, score in top] == [(race.m14.id, 1, 24.0)]


def _wait_for(paths: list[Path], text: str, timeout: float) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(p.exists() and text in p.read_text(encoding="utf-8", errors="replace") for p in paths):
            return True
        time.sleep(0.5)
    return False


def test_two_scheduler_run_processes_catch_up_once_and_in_order(
        race, make_contest, database_url, app, tmp_path):
    """Two real ``flask scheduler run`` processes started together: every due job runs once for
    its period, nothing is doubled (ledger entries, snapshots), and last month's publication
    already holds the rating points the daily ratings job converts (the catch-up order holds
    across processes), then both stop cleanly on SIGTERM."""
    import signal

    from app.qr import services as qr
    from app.qr.models import Rating
    from app.points.models import LedgerEntry
    from tests.contests.conftest import END

    t = race.tree
    today = rollup.local_date(rollup.utcnow())
    month_end = today.replace(day=1) - timedelta(days=1)
    month_start = month_end.replace(day=1)
    # only last month's converted ratings count (the fixture's own rating entry lies outside)
    c = make_contest(t.sec_c1, race.c1, "member", categories=["rating"], starts_on=month_start, ends_on=END)
    target = qr.create_target(t.sec_c1, "member", race.m14.id, "吴九")
    db.session.add_all([
        Rating(target_id=target.id, stars=5, counted=True, count_slot=1, device_hash=f"d{i}", ip_hash=f"i{i}",
               day=month_start + timedelta(days=i), tags=[], comment="")
        for i in range(3)
    ])
    db.session.commit()

    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONWARNINGS": "ignore"}
    env.pop("FLASK_APP", None)
    cmd = [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"]
    logs = [tmp_path / f"scheduler{i}.log" for i in range(2)]
    files = [p.open("w", encoding="utf-8") for p in logs]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, text=True) for f in files]
    try:
        started = _wait_for(logs, "scheduler started:", 150)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = [p.wait(30) for p in procs]
        for f in files:
            f.close()
    said = "\n".join(p.read_text(encoding="utf-8") for p in logs)
    assert started and codes == [0, 0], said

    db.session.expire_all()
    runs = db.session.execute(sa.select(JobRun.job, JobRun.period_key, JobRun.status)).all()
    by_job: dict[str, list] = {}
    for job, key, status in runs:
        by_job.setdefault(job, []).append((key, status))
    assert set(by_job) == {"ratings", "nightly", "monthly", "rollup"}, said
    for job in ("ratings", "nightly", "monthly"):
        assert len(by_job[job]) == 1 and by_job[job][0][1] == "done", (job, said)
        assert said.count(f"{job} [{by_job[job][0][0]}] done") == 1, said
    # one conversion entry for the member, not one per process
    entries = db.session.scalars(sa.select(LedgerEntry.points).where(
        LedgerEntry.source == "rating", LedgerEntry.member_id == race.m14.id,
        LedgerEntry.occurred_on == month_end)).all()
    assert entries == [Decimal("4.0")], said  # (5 stars - 3) x 2
    # one snapshot per period, complete; last month's publication counts the converted ratings
    keys = db.session.execute(sa.select(ContestSnapshot.period_key, sa.func.count()).where(
        ContestSnapshot.contest_id == c.id).group_by(ContestSnapshot.period_key)).all()
    assert all(n == 1 for _key, n in keys), keys
    ticks = _tick_snapshots(c.id)
    # The first tick computes; a later one (the run crossed a 10-minute boundary) that found
    # nothing new since it writes no copy and moves the latest snapshot's time instead.
    run_keys, tick_keys = sorted(k for k, _s in by_job["rollup"]), {s.period_key for s in ticks}
    assert run_keys[0] in tick_keys and tick_keys <= set(run_keys), (run_keys, tick_keys)
    assert all(_standing_count(s.id) == 8 for s in ticks)
    month = rollup.find_snapshot(c.id, f"month:{month_start:%Y-%m}")
    assert month is not None and month.published
    top = db.session.execute(sa.select(ContestStanding.participant_id, ContestStanding.rank, ContestStanding.score)
                             .where(ContestStanding.snapshot_id == month.id, ContestStanding.rank == 1)).all()
    assert [(pid, rank, score) for pid, rank, score in top] == [(race.m14.id, 1, Decimal("4.00"))], said


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_stop_signal_while_the_scheduler_starts_exits_cleanly(app, monkeypatch):
    # systemd (or Ctrl-C) may stop the process between the catch-up and the scheduler running
    import signal

    from apscheduler.schedulers.blocking import BlockingScheduler

    real_start = BlockingScheduler.start

    def start_after_a_stop(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # delivered before the scheduler's state is "running"
        return real_start(self, *args, **kwargs)

    monkeypatch.setattr(BlockingScheduler, "start", start_after_a_stop)
    old = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        scheduler.run_scheduler(app, catch_up=False)  # returns: no SchedulerNotRunningError, no hang
    finally:
        signal.signal(signal.SIGTERM, old[0])
        signal.signal(signal.SIGINT, old[1])


def test_catch_up_runs_every_period_missed_since_the_last_done_one(app, monkeypatch):
    """Down from 5 days ago, and over two months' first days: each missed day's ratings and
    nightly run, and each missed month's publication, oldest first; a job never done runs for
    now only, and the rollup only ever for now."""
    from app.timeutil import local_tz

    tz = local_tz()
    now = datetime.now(timezone.utc)
    today = now.astimezone(tz).date()
    ran: list[tuple[str, str]] = []
    for name in scheduler.CATCH_UP_ORDER:
        monkeypatch.setitem(scheduler.JOBS, name, dataclasses.replace(
            scheduler.JOBS[name], run=lambda at, n=name: ran.append((n, scheduler.JOBS[n].period_key(at))) or "ok"))
    done_day = today - timedelta(days=6)  # its period: the run of 5 days ago
    first = today.replace(day=1)
    three_back = first
    for _ in range(3):
        three_back = (three_back - timedelta(days=1)).replace(day=1)
    for job, key in (("nightly", f"day:{done_day.isoformat()}"), ("monthly", f"month:{three_back:%Y-%m}")):
        db.session.add(JobRun(job=job, period_key=key, status="done", holder="x", attempts=1, detail="",
                              started_at=now, finished_at=now))
    db.session.commit()

    scheduler.catch_up_due(app, poll=0.1)
    nightly = [k for n, k in ran if n == "nightly"]
    assert nightly == [f"day:{(today - timedelta(days=d)).isoformat()}" for d in range(5, 0, -1)]
    months = [k for n, k in ran if n == "monthly"]
    expect, m = [], first
    for _ in range(2):
        m = (m - timedelta(days=1)).replace(day=1)
        expect.insert(0, f"month:{m:%Y-%m}")
    assert months == expect  # the two after the last done one, the newest being last month
    assert [k for n, k in ran if n == "ratings"] == [scheduler.yesterday_key(now)]  # never done: now only
    assert len([n for n, _k in ran if n == "rollup"]) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(JobRun)
                             .where(JobRun.job == "nightly", JobRun.status == "done")) == 6


def test_catch_up_converts_every_missed_month_of_ratings_however_long_the_stop(app):
    """Ratings last done for 2026-07-31 (July converted on Aug 1), restarted on 2026-12-05: runs
    on Sep 1, Oct 1, Nov 1 convert August to October, and now converts November."""
    at = datetime(2026, 12, 5, 3, 0, tzinfo=TZ)
    db.session.add(JobRun(job="ratings", period_key="day:2026-07-31", status="done", holder="x", attempts=1,
                          detail="", started_at=at, finished_at=at))
    db.session.commit()
    instants = scheduler.missed_instants("ratings", at)
    assert [i.astimezone(TZ).date().isoformat() for i in instants] == [
        "2026-09-01", "2026-10-01", "2026-11-01", "2026-12-05"]
    assert [m for i in instants for m in scheduler.rating_months(i)] == ["2026-08", "2026-09", "2026-10", "2026-11"]
    # done on a 1st: the next 1st is the first run needed
    db.session.add(JobRun(job="ratings", period_key="day:2026-11-30", status="done", holder="x", attempts=1,
                          detail="", started_at=at, finished_at=at))
    db.session.commit()
    assert scheduler.missed_instants("ratings", at) == [at]


def test_a_rollup_run_for_a_past_bucket_is_stamped_with_the_time_it_computed(race, make_contest, runner, add_points):
    c = make_contest(race.tree.sec_c1, race.c1)
    add_points(1, "study", member=race.m13)
    past = (datetime.now(TZ) - timedelta(hours=5)).replace(minute=1, second=0, microsecond=0)
    before = datetime.now(timezone.utc)
    assert "done" in runner.invoke(args=["scheduler", "run-once", "rollup", "--at", past.isoformat()]).output
    (tick,) = _tick_snapshots(c.id)
    assert tick.period_key == f"t:{past:%Y-%m-%dT%H}:00"
    assert rollup.to_utc(tick.as_of) >= before - timedelta(seconds=1)  # the standings are of now
