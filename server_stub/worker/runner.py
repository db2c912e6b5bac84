"""Running the registered tasks: each exactly once per period, whatever number of processes share the database.

A task is claimed with one conditional UPDATE (`next_run_at <= now` -> `next_run_at = now + period`): on
PostgreSQL a second process's UPDATE waits for the first to commit, re-reads the row and matches nothing; on
SQLite writers are serialised. The claim commits before the task runs, so a crashed run is retried next
period, never twice in one. A failing run is logged and recorded (last_error); the loop goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from server_stub.db.engine import upsert_insert, utcnow
from server_stub.db.tables import worker_tasks
from server_stub.worker.tasks import TASKS, Task

log = logging.getLogger("fleetmeter.worker")
IDLE_S = 5.0  # longest sleep between looks at the schedule


@dataclass(frozen=True)
class Outcome:
    task: str
    ok: bool
    result: object
    duration_ms: int
    error: str | None


def _claim(engine: Engine, task: Task, now: datetime) -> bool:
    with engine.begin() as conn:
        conn.execute(upsert_insert(conn, worker_tasks).values(name=task.name, next_run_at=now, runs=0, failures=0)
                     .on_conflict_do_nothing(index_elements=["name"]))
        claimed = conn.execute(update(worker_tasks).where(worker_tasks.c.name == task.name,
                                                          worker_tasks.c.next_run_at <= now)
                               .values(next_run_at=now + task.period, last_started_at=now))
        return claimed.rowcount == 1


def run_task(engine: Engine, task: Task) -> Outcome:
    started = time.perf_counter()
    try:
        with engine.begin() as conn:
            result, error = task.run(conn), None
    except Exception as exc:  # noqa: BLE001 (a failing task must not stop the others)
        result, error = None, f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        log.exception("worker task %s failed", task.name)
    duration_ms = int((time.perf_counter() - started) * 1000)
    with engine.begin() as conn:
        conn.execute(update(worker_tasks).where(worker_tasks.c.name == task.name).values(
            last_finished_at=utcnow(), last_duration_ms=duration_ms, last_error=error,
            runs=worker_tasks.c.runs + 1, failures=worker_tasks.c.failures + int(error is not None),
            total_duration_ms=worker_tasks.c.total_duration_ms + duration_ms))
    return Outcome(task.name, error is None, result, duration_ms, error)


def run_due(engine: Engine, tasks: dict[str, Task] | None = None) -> list[Outcome]:
    """One pass: every task whose time has come and that no other process claimed first."""
    outcomes = []
    for task in (TASKS if tasks is None else tasks).values():
        try:
            if _claim(engine, task, utcnow()):
                outcomes.append(run_task(engine, task))
        except Exception:  # noqa: BLE001 (database away: the next pass tries again; other tasks go on)
            log.exception("worker could not claim or record %s", task.name)
    return outcomes


def run_forever(engine: Engine, stop: threading.Event, tasks: dict[str, Task] | None = None) -> None:
    """Passes until `stop` is set; never dies of a task's or the database's failure."""
    while not stop.is_set():
        try:
            run_due(engine, tasks)
        except Exception:  # noqa: BLE001
            log.exception("worker pass failed")
        stop.wait(IDLE_S)


def status(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(worker_tasks).order_by(worker_tasks.c.name)).all()
    iso = lambda v: v.isoformat().replace("+00:00", "Z") if v else None  # noqa: E731
    known = {row.name: row for row in rows}
    return [{"task": name, "period_s": int(TASKS[name].period.total_seconds()) if name in TASKS else None,
             "runs": row.runs if row else 0, "failures": row.failures if row else 0,
             "last_started_at": iso(row.last_started_at) if row else None,
             "last_finished_at": iso(row.last_finished_at) if row else None,
             "last_duration_ms": row.last_duration_ms if row else None,
             "last_error": row.last_error if row else None,
             "next_run_at": iso(row.next_run_at) if row else None}
            for name, row in ((n, known.get(n)) for n in sorted(set(TASKS) | set(known)))]
