"""The registry of periodic tasks: name, period and a function of one database connection.

Later domains add theirs here with `@task("forecast", timedelta(hours=1))`; the worker runs each once per
period across every process sharing the database (server_stub.worker.runner).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Connection

from fleetmeter_contract import durations
from server_stub.fleet.remote_config import server_setting
from server_stub.fleet.state import raise_silence_alerts
from server_stub.ingest.history import expire_readings
from server_stub.jobs.requests import sync_if_due
from server_stub.notify.outbox import agent_events, send_due
from server_stub.supply.live import run_pending as supply_run
from server_stub.trust.nonces import prune_nonces
from server_stub.trust.rates import prune_windows

NONCE_RETENTION = timedelta(days=1)  # longer than any signature window serve accepts (at most 1 h)


@dataclass(frozen=True)
class Task:
    name: str
    period: timedelta
    run: Callable[[Connection], Any]  # runs in its own transaction; returns a count (or None)


TASKS: dict[str, Task] = {}


def task(name: str, period: timedelta) -> Callable[[Callable[[Connection], Any]], Callable[[Connection], Any]]:
    def register(function: Callable[[Connection], Any]) -> Callable[[Connection], Any]:
        TASKS[name] = Task(name, period, function)
        return function
    return register


@task("prune_nonces", timedelta(minutes=10))
def _prune(conn: Connection) -> int:
    return prune_nonces(conn, NONCE_RETENTION)


@task("prune_rate_windows", timedelta(minutes=10))
def _prune_rates(conn: Connection) -> int:
    return prune_windows(conn)


@task("silence_alerts", timedelta(minutes=1))
def _silence(conn: Connection) -> int:
    return raise_silence_alerts(conn)


@task("readings_retention", timedelta(hours=6))
def _retention(conn: Connection) -> int:
    """Raw readings older than `server.readings_retention` (default 400 days) go; derived history stays."""
    return expire_readings(conn, durations.timedelta_of(server_setting(conn, "server.readings_retention")))


@task("jobs_sync", timedelta(minutes=1))
def _jobs_sync(conn: Connection) -> int | None:
    """Consumable requests -> jobs every `server.jobs_sync_interval` (default 1h; this task only looks)."""
    result = sync_if_due(conn)
    return result and result.actioned
@task("supply", timedelta(minutes=1))
def _supply(conn: Connection) -> int:
    """New readings through the supply engine (forecasts, replacements) and each site's reorder decision."""
    return sum(run.readings for run in supply_run(conn))


@task("notify_send", timedelta(minutes=1))
def _notify(conn: Connection) -> int:
    """Mails for agents that stopped reporting, then every mail queued for immediate sending."""
    agent_events(conn)
    return send_due(conn, digest=False)


@task("notify_digest", timedelta(days=1))
def _digest(conn: Connection) -> int:
    return send_due(conn, digest=True)
