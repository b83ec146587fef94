"""The scheduler: its own process (``flask --app wsgi scheduler run``), never inside web workers.

The job registry below is the one list of scheduled work. Every job is

* keyed on its period (``period_key(now)``: the 10-minute bucket, yesterday, last month) and
  recorded in ``job_runs`` (unique per job and period): a period that is done is never redone;
* run under a lock (PostgreSQL advisory lock; a lock row with an expiry on SQLite), so two
  scheduler processes, or a scheduler and a cron ``run-once``, never work on it at once;
* idempotent underneath too (unique snapshot periods, unique ledger source keys), so even a
  crash halfway through leaves nothing doubled and the next run finishes the rest;
* scheduled with ``coalesce=True``, ``max_instances=1`` and an explicit ``misfire_grace_time``.

Commands: ``scheduler run`` (the process), ``scheduler run-once JOB [--at TIME]`` (one job now,
for cron, tests and catching up by hand) and ``scheduler jobs`` (the registry and last runs).
"""
from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Callable

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.jobs_lock import JobRun, holder_id, job_lock, last_runs
from app.timeutil import local_tz, to_utc

log = logging.getLogger("app.scheduler")


def setting(name: str, default):
    """A scheduler setting: app config first, then the environment, then ``default``."""
    value = current_app.config.get(name)
    if value is None:
        value = os.environ.get(name)
    return default if value in (None, "") else value






def local(now: datetime) -> datetime:
    return to_utc(now).astimezone(local_tz())


def _hhmm(name: str, default: str) -> tuple[int, int]:
    text = str(setting(name, default))
    try:
        hour, minute = (int(p) for p in text.split(":", 1))
        if 0 <= hour < 24 and 0 <= minute < 60:
            return hour, minute
    except ValueError:
        pass
    log.warning("%s=%r is not HH:MM; using %s", name, text, default)
    hour, minute = (int(p) for p in default.split(":"))
    return hour, minute


# --------------------------------------------------------------------------- the jobs


def _rollup_minutes() -> int:
    from app.contests.rollup import rollup_minutes

    return rollup_minutes()


def rollup_key(now: datetime) -> str:
    from app.contests.rollup import bucket_key

    return bucket_key(now)


def yesterday_key(now: datetime) -> str:
    return f"day:{(local(now).date() - timedelta(days=1)).isoformat()}"


def last_month_key(now: datetime) -> str:
    first = local(now).date().replace(day=1)
    return f"month:{(first - timedelta(days=1)):%Y-%m}"


def run_rollup(now: datetime) -> str:
    from app.contests.services import rollup_running

    return rollup_running(now)


def run_nightly(now: datetime) -> str:
    """The contests' day close, then the logins that ended (logged out, revoked, too old) go."""
    from app.auth.services import prune_login_sessions
    from app.contests.services import close_day

    summary = close_day(now)
    pruned = prune_login_sessions(now)
    db.session.commit()
    return f"{summary}; pruned {pruned} ended login(s)"


def run_monthly(now: datetime) -> str:
    from app.contests.services import publish_month

    return publish_month(now)


def rating_months(now: datetime) -> list[str]:
    """The months the daily conversion runs for: the previous month (closed on the 1st at 00:10,
    before the nightly close and the monthly publication; a no-op afterwards unless late changes
    such as a new weight change the figures). With ``RATINGS_CONVERT_CURRENT_MONTH`` on, also the
    month to date, which re-versions a subject's entry whenever its average moves."""
    first = local(now).date().replace(day=1)
    months = [f"{first - timedelta(days=1):%Y-%m}"]
    if str(setting("RATINGS_CONVERT_CURRENT_MONTH", "")).strip().lower() in {"1", "true", "yes", "on"}:
        months.append(f"{first:%Y-%m}")
    return months


def run_ratings(now: datetime) -> str:
    """Convert counted QR ratings into ledger points (app.qr.jobs; re-runnable, versioned)."""
    from app.qr.jobs import convert_ratings

    return "; ".join(str(convert_ratings(month)) for month in rating_months(now))


@dataclass(frozen=True)
class JobSpec:
    name: str
    title: str
    run: Callable[[datetime], str]
    period_key: Callable[[datetime], str]
    cron: Callable[[], dict]  # CronTrigger fields, read from the config when scheduling
    misfire_grace_time: Callable[[], int]  # seconds
    lock_ttl: int = 3600  # seconds a lock row lives (SQLite) if its holder dies

    def describe(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.cron().items())


def _at(name: str, default: str, **extra) -> Callable[[], dict]:
    def cron() -> dict:
        hour, minute = _hhmm(name, default)
        return {**extra, "hour": hour, "minute": minute}

    return cron


JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec(
            "rollup", "竞位赛榜单刷新（每隔几分钟）", run_rollup, rollup_key,
            cron=lambda: {"minute": f"*/{_rollup_minutes()}", "second": 5},
            misfire_grace_time=lambda: _rollup_minutes() * 30, lock_ttl=900,
        ),
        JobSpec(
            "ratings", "群众评议转积分（每日，结算上月）", run_ratings, yesterday_key,
            cron=_at("SCHEDULER_RATINGS_AT", "00:10"), misfire_grace_time=lambda: 6 * 3600,
        ),
        JobSpec(
            "nightly", "竞位赛每日重算与日终快照，清理已结束的登录", run_nightly, yesterday_key,
            cron=_at("SCHEDULER_NIGHTLY_AT", "00:30"), misfire_grace_time=lambda: 6 * 3600,
        ),
        JobSpec(
            "monthly", "竞位赛月度排名发布", run_monthly, last_month_key,
            cron=_at("SCHEDULER_MONTHLY_AT", "01:00", day=1), misfire_grace_time=lambda: 24 * 3600,
        ),
    )
}
CATCH_UP_ORDER = ("ratings", "nightly", "monthly", "rollup")


# --------------------------------------------------------------------------- running one job


@dataclass
class RunResult:
    job: str
    period_key: str
    outcome: str  # done, skipped (already done for the period), locked (another process), failed
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.job} [{self.period_key}] {self.outcome}" + (f": {self.detail}" if self.detail else "")


def run_job(name: str, now: datetime | None = None) -> RunResult:
    """Run job ``name`` for the period of ``now`` unless it is done or another process has it."""
    spec = JOBS[name]
    now = to_utc(now or datetime.now(timezone.utc))
    key = spec.period_key(now)
    with job_lock(f"job:{name}", ttl=spec.lock_ttl) as got:
        if not got:
            return RunResult(name, key, "locked", "another process is running this job")
        run = db.session.scalar(sa.select(JobRun).where(JobRun.job == name, JobRun.period_key == key))
        if run is not None and run.status == "done":
            return RunResult(name, key, "skipped", "already done for this period")
        started = datetime.now(timezone.utc)
        if run is None:
            run = JobRun(job=name, period_key=key, status="running", holder=holder_id(), started_at=started,
                         attempts=1, detail="")
            db.session.add(run)
        else:  # failed, or left running by a process that died (we hold the lock now)
            run.status, run.holder, run.started_at, run.finished_at = "running", holder_id(), started, None
            run.attempts += 1
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            return RunResult(name, key, "skipped", "another process recorded this period")
        run_id = run.id
        try:
            detail, outcome = spec.run(now) or "", "done"
        except Exception as exc:  # recorded, and retried by the next run of the same period
            db.session.rollback()
            log.exception("job %s [%s] failed", name, key)
            detail, outcome = f"{type(exc).__name__}: {exc}"[:2000], "failed"
        run = db.session.get(JobRun, run_id)
        run.status, run.finished_at, run.detail = outcome, datetime.now(timezone.utc), detail
        db.session.commit()
        return RunResult(name, key, outcome, detail)


def _run_in_app(app, name: str, *, retry: bool = False, at: datetime | None = None) -> RunResult | None:
    with app.app_context():
        try:
            result = run_job(name, at)
            level = logging.WARNING if result.outcome == "failed" else logging.INFO
            if retry and result.outcome == "locked":
                level = logging.DEBUG  # still waiting: said once already
            log.log(level, "%s", result)
            return result
        except Exception:
            log.exception("job %s crashed", name)
            return None
        finally:
            db.session.remove()


CATCH_UP_POLL = 1.0  # seconds between looks at a job another process is running


CATCH_UP_MAX = 62  # periods of one job caught up at start (two months of days)


def missed_instants(name: str, now: datetime) -> list[datetime]:
    """The instants to run job ``name`` at so that every period since its last done one is done,
    oldest first, ending with ``now`` (a scheduler down over a month's first day would otherwise
    never convert that month's ratings nor publish it). Only ``now`` for the rollup (it can only
    compute the standings of now) and for a job never done (a new install starts today)."""
    if name == "rollup":
        return [now]
    last = db.session.scalar(sa.select(sa.func.max(JobRun.period_key))
                             .where(JobRun.job == name, JobRun.status == "done"))
    if last is None:
        return [now]
    tz, today = local_tz(), local(now).date()
    days: list[date] = []  # the local days to run on (at noon), before today's run, which is now
    if last.startswith("day:"):
        day = date.fromisoformat(last[4:]) + timedelta(days=2)  # the run after the last done one
        if name == "ratings":
            # a day's run converts the month before it: one run on each missed 1st of a month
            # does every missed month (the days between change nothing), however long the stop
            days = _firsts_of_months(day, today)
        else:
            days = [day + timedelta(days=i) for i in range(max(0, (today - day).days))]
    elif last.startswith("month:"):
        # the run for month M is on the 1st of M + 1: the next one needed, on the 1st of M + 2
        days = _firsts_of_months(_next_month(_next_month(date.fromisoformat(last[6:] + "-01"))), today)
    instants = [to_utc(datetime(d.year, d.month, d.day, 12, tzinfo=tz)) for d in days]
    return instants[-(CATCH_UP_MAX - 1):] + [now]


def _next_month(first: date) -> date:
    return (first.replace(day=1) + timedelta(days=32)).replace(day=1)


def _firsts_of_months(start: date, today: date) -> list[date]:
    """The first days of months from ``start`` on (itself when it is one), before this month's
    (whose run is the one for now)."""
    first = start if start.day == 1 else _next_month(start)
    out = []
    while first < today.replace(day=1):
        out.append(first)
        first = _next_month(first)
    return out


def catch_up_due(app, *, poll: float = CATCH_UP_POLL) -> None:
    """Run the due periods in ``CATCH_UP_ORDER``, each job's missed periods oldest first
    (:func:`missed_instants`). A job another process holds is waited for (then found done),
    so a later job never runs ahead of an earlier one: with two schedulers started together,
    the monthly publication must not read last month before the ratings job has turned its QR
    ratings into points."""
    for name in CATCH_UP_ORDER:
        now = datetime.now(timezone.utc)
        with app.app_context():
            try:
                instants = missed_instants(name, now)
            finally:
                db.session.remove()
        for at in instants:
            deadline = time.monotonic() + JOBS[name].lock_ttl
            result = _run_in_app(app, name, at=at)
            while result is not None and result.outcome == "locked" and time.monotonic() < deadline:
                time.sleep(poll)
                result = _run_in_app(app, name, retry=True, at=at)


# --------------------------------------------------------------------------- the process


def build_scheduler(app):
    """A BlockingScheduler (Asia/Shanghai) holding every registered job."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    with app.app_context():
        tz = local_tz()
        sched = BlockingScheduler(timezone=tz, job_defaults={"coalesce": True, "max_instances": 1})
        for spec in JOBS.values():
            sched.add_job(
                _run_in_app, CronTrigger(timezone=tz, **spec.cron()), args=(app, spec.name), id=spec.name,
                name=spec.title, coalesce=True, max_instances=1,
                misfire_grace_time=int(spec.misfire_grace_time()), replace_existing=True,
            )
    return sched


def run_scheduler(app, *, catch_up: bool = True) -> None:
    """Catch up on the periods that are due, then run the jobs on their schedule until stopped."""
    sched = build_scheduler(app)
    if catch_up:
        catch_up_due(app)

    def stop(_signum, _frame):
        log.info("scheduler stopping")
        if sched.running:
            sched.shutdown(wait=False)
        else:  # the signal came while the scheduler was still starting: leave before it runs a job
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler started: %s", ", ".join(f"{j.id} ({j.trigger})" for j in sched.get_jobs()))
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass


# --------------------------------------------------------------------------- commands

scheduler_cli = AppGroup("scheduler", help="The job scheduler: run it as its own process.")


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.INFO)


def parse_at(text: str | None) -> datetime | None:
    """``--at``: ISO 8601; a time without an offset is local (Asia/Shanghai)."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter("须为 ISO 8601 时间，例如 2026-05-01T10:05 或 2026-05-01T10:05+08:00",
                                 param_hint="--at") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=local_tz())
    value = to_utc(value)
    # a period that has not come yet would be marked done, and its snapshot (as of that time)
    # would stand in front of every real rollup until then
    if value > datetime.now(timezone.utc) + timedelta(minutes=1):
        raise click.BadParameter("不能晚于当前时间：--at 用于补跑已经到期的时段", param_hint="--at")
    return value


@scheduler_cli.command("run")
@click.option("--no-catch-up", is_flag=True, help="Do not run the due periods at start.")
def run_command(no_catch_up: bool) -> None:
    """Run the scheduler in the foreground (one process per deployment is enough; more are safe)."""
    _logging()
    run_scheduler(current_app._get_current_object(), catch_up=not no_catch_up)


@scheduler_cli.command("run-once")
@click.argument("job", type=click.Choice(sorted(JOBS)))
@click.option("--at", "at", default=None, help="Run for the period of this time (ISO 8601; local when no offset).")
def run_once_command(job: str, at: str | None) -> None:
    """Run one job now for its current period (a no-op when that period is done)."""
    _logging()
    result = run_job(job, parse_at(at))
    click.echo(str(result))
    if result.outcome == "failed":
        raise SystemExit(1)


@scheduler_cli.command("jobs")
def jobs_command() -> None:
    """List the registered jobs, their schedules and their last runs."""
    runs = last_runs()
    now = datetime.now(timezone.utc)
    for spec in JOBS.values():
        click.echo(f"{spec.name:8} {spec.title}")
        click.echo(f"         schedule: {spec.describe()} ({local_tz().key}), "
                   f"misfire grace {spec.misfire_grace_time()}s, current period {spec.period_key(now)}")
        run = runs.get(spec.name)
        if run is not None:
            when = local(run.started_at).strftime("%Y-%m-%d %H:%M:%S")
            click.echo(f"         last run: {run.period_key} {run.status} at {when}"
                       + (f" — {run.detail}" if run.detail else ""))
