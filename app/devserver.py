"""`make run`: serve the app on 127.0.0.1 (PORT, default 5000) with the scheduler beside it.

The scheduler is its own process (``flask --app wsgi scheduler run``), started here as a child
and stopped when the server stops, so contest boards refresh by themselves on a laptop too.
``--no-scheduler`` (or ``SCHEDULER=0``) serves the pages only.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_scheduler() -> subprocess.Popen:
    """Start ``flask --app wsgi scheduler run`` as a child process (same environment, same DB)."""
    cmd = [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"]
    return subprocess.Popen(cmd, cwd=ROOT)


def stop_scheduler(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve 先锋指数 locally.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--no-scheduler", action="store_true",
                        default=os.environ.get("SCHEDULER", "1").strip().lower() in {"0", "false", "no", "off"},
                        help="Do not start the job scheduler beside the web server.")
    args = parser.parse_args()

    # QR codes printed from a laptop demo point at the address actually served.
    os.environ.setdefault("PUBLIC_BASE_URL", f"http://{args.host}:{args.port}")
    from wsgi import app

    def terminate(_signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, terminate)
    scheduler = None
    try:
        if not args.no_scheduler:
            scheduler = start_scheduler()
            print(f"scheduler started (pid {scheduler.pid})", flush=True)
        print(f"先锋指数 is serving on http://{args.host}:{args.port}  (Ctrl-C stops it)", flush=True)
        app.run(host=args.host, port=args.port, threaded=True, use_reloader=False, debug=False)
    except KeyboardInterrupt:
        pass
    finally:
        stop_scheduler(scheduler)


if __name__ == "__main__":
    main()
