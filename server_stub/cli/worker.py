"""`fleetmeter-server worker [--once]` and `worker status [--json]`: the periodic tasks (server_stub/worker)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading

from server_stub.cli.common import print_table, ready_engine
from server_stub.cli.lazy import lazy

runner = lazy("server_stub.worker.runner")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    worker = sub.add_parser("worker", parents=[common], help="run the periodic tasks (nonce pruning, silence "
                                                             "alerts, ...); any number may share PostgreSQL")
    worker.add_argument("--once", action="store_true", help="run the tasks that are due once, then exit")
    worker.set_defaults(handler=cmd_worker)
    worker_sub = worker.add_subparsers(dest="action", metavar="ACTION")
    status = worker_sub.add_parser("status", parents=[common], help="each task's last run, duration and error")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=cmd_worker_status)


def cmd_worker(args) -> int:
    _, engine = ready_engine(args)
    if args.once:
        outcomes = runner.run_due(engine)
        for outcome in outcomes:
            print(f"{outcome.task}: {'ok' if outcome.ok else 'failed: ' + str(outcome.error)} "
                  f"({outcome.duration_ms} ms)")
        return 0 if all(o.ok for o in outcomes) else 1
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    runner.run_forever(engine, stop)
    return 0


def cmd_worker_status(args) -> int:
    _, engine = ready_engine(args)
    rows = runner.status(engine)
    if args.json:
        print(json.dumps({"tasks": rows}, indent=2))
        return 0
    print_table([("TASK", "EVERY (s)", "RUNS", "FAILURES", "LAST RUN (UTC)", "MS", "LAST ERROR")] + [
        (r["task"], str(r["period_s"] or "-"), str(r["runs"]), str(r["failures"]),
         (r["last_started_at"] or "-")[:16].replace("T", " "), "-" if r["last_duration_ms"] is None else str(r["last_duration_ms"]),
         r["last_error"] or "-") for r in rows])
    return 0
