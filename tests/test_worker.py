"""Periodic work: each task once per period across any number of processes sharing the database, a failing
run recorded and survived, `worker status` reporting it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from server_stub.db import migrate
from server_stub.db.engine import make_engine
from server_stub.worker import runner
from server_stub.worker.tasks import TASKS, Task
from trust_peers import DATABASES, Database, environment, free_tcp_port

SERVER = [sys.executable, "-m", "server_stub.cli"]


def runs(engine) -> dict[str, int]:
    return {row["task"]: row["runs"] for row in runner.status(engine)}


def test_two_serve_and_two_worker_processes_run_each_task_once_per_period(tmp_path):
    db = Database("postgresql", tmp_path)
    env = environment(tmp_path)
    try:
        assert subprocess.run([*SERVER, "init", "--db", db.url], env=env, capture_output=True).returncode == 0
        commands = [[*SERVER, "serve", "--worker", "--port", str(free_tcp_port()), "--db", db.url] for _ in range(2)]
        commands += [[*SERVER, "worker", "--db", db.url] for _ in range(2)]
        processes = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                     for c in commands]
        engine = make_engine(db.url)
        try:
            deadline = time.monotonic() + 60
            while set(runs(engine)) != set(TASKS) or any(n == 0 for n in runs(engine).values()):
                assert time.monotonic() < deadline and all(p.poll() is None for p in processes)
                time.sleep(0.2)
            time.sleep(runner.IDLE_S * 2)  # every process has had more than one pass at every task
            assert runs(engine) == dict.fromkeys(TASKS, 1)  # periods are minutes: each ran exactly once
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(timeout=30)
        # uvicorn shuts down cleanly and re-raises SIGTERM (-15); a worker returns 0
        assert [p.returncode for p in processes] == [-15, -15, 0, 0], [p.stderr.read()[-500:] for p in processes]
        shown = subprocess.run([*SERVER, "worker", "status", "--json", "--db", db.url], env=env,
                               capture_output=True, text=True)
        tasks = {t["task"]: t for t in json.loads(shown.stdout)["tasks"]}
        assert all(t["runs"] == 1 and t["last_error"] is None and t["last_duration_ms"] is not None
                   for t in tasks.values())
        engine.dispose()
    finally:
        db.drop()


@pytest.mark.parametrize("kind", DATABASES)
def test_a_failing_task_is_recorded_and_the_others_go_on(tmp_path, kind):
    db = Database(kind, tmp_path)
    engine = make_engine(db.url)
    try:
        migrate.upgrade(engine)

        def broken(_conn):
            raise ValueError("server.disconnected_after: stored before values were checked")

        tasks = {"broken": Task("broken", timedelta(seconds=1), broken),
                 "after": Task("after", timedelta(seconds=1), lambda conn: 7)}
        outcomes = runner.run_due(engine, tasks)
        assert [(o.task, o.ok, o.result) for o in outcomes] == [("broken", False, None), ("after", True, 7)]
        assert runner.run_due(engine, tasks) == []  # the period has not passed: nobody runs them again
        time.sleep(1.1)
        assert [o.task for o in runner.run_due(engine, tasks)] == ["broken", "after"]  # the failure is retried
        status = {row["task"]: row for row in runner.status(engine)}
        assert status["broken"]["runs"] == 2 and status["broken"]["failures"] == 2
        assert status["broken"]["last_error"] == ("ValueError: server.disconnected_after: stored before values "
                                                  "were checked")
        assert status["after"]["failures"] == 0 and status["after"]["last_error"] is None
    finally:
        engine.dispose()
        db.drop()


def test_worker_once_runs_what_is_due_and_status_lists_it(tmp_path):
    env = environment(tmp_path)
    assert subprocess.run([*SERVER, "init"], env=env, capture_output=True).returncode == 0
    first = subprocess.run([*SERVER, "worker", "--once"], env=env, capture_output=True, text=True)
    assert first.returncode == 0 and sorted(line.split(":")[0] for line in first.stdout.splitlines()) == sorted(TASKS)
    again = subprocess.run([*SERVER, "worker", "--once"], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout == ""  # nothing due yet
    table = subprocess.run([*SERVER, "worker", "status"], env=env, capture_output=True, text=True)
    assert table.returncode == 0 and all(name in table.stdout for name in TASKS)
