"""What `/metrics` exports (Prometheus text format), read from the database at each scrape.

Every figure is global: any number of serve processes share one database, so counts come from it, not
from one process's memory (a scrape of any process gives the same answer).

    fleetmeter_readings_ingested_total                readings stored (duplicates not counted)
    fleetmeter_ingest_rejected_total{reason}          ingest requests refused, by the problem's error
    fleetmeter_agents{state}                          agents by connection state (new, connected, ...)
    fleetmeter_agent_queue_depth{agent}               readings waiting in each agent's outbox (its last heartbeat)
    fleetmeter_orders_placed_total                    supply orders placed (rows of supply_orders)
    fleetmeter_worker_runs_total{task}, fleetmeter_worker_failures_total{task},
    fleetmeter_worker_run_seconds_total{task}, fleetmeter_worker_last_run_seconds{task}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, inspect, select, update
from sqlalchemy.engine import Connection, Engine

from server_stub.db.engine import upsert_insert
from server_stub.db.tables import agents, ingest_rejections, readings, worker_tasks
from server_stub.fleet.state import agent_states

ORDERS_TABLE = "supply_orders"  # the supply domain's orders (server_stub/supply/tables.py)
REASON_MAX = 64


def count_rejection(conn: Connection, reason: str) -> None:
    """One more ingest request refused for `reason` (atomic across processes)."""
    reason = reason[:REASON_MAX]
    conn.execute(upsert_insert(conn, ingest_rejections).values(reason=reason, count=0)
                 .on_conflict_do_nothing(index_elements=["reason"]))
    conn.execute(update(ingest_rejections).where(ingest_rejections.c.reason == reason)
                 .values(count=ingest_rejections.c.count + 1))


def collect(conn: Connection) -> Iterator[Metric]:
    ingested = CounterMetricFamily("fleetmeter_readings_ingested", "Readings stored by ingest")
    ingested.add_metric([], conn.execute(select(func.count()).select_from(readings)).scalar_one())
    yield ingested

    rejected = CounterMetricFamily("fleetmeter_ingest_rejected", "Ingest requests refused, by reason",
                                   labels=["reason"])
    for row in conn.execute(select(ingest_rejections).order_by(ingest_rejections.c.reason)):
        rejected.add_metric([row.reason], row.count)
    yield rejected

    states = GaugeMetricFamily("fleetmeter_agents", "Agents by connection state", labels=["state"])
    for state, n in sorted(Counter(state for state, _ in agent_states(conn).values()).items()):
        states.add_metric([state], n)
    yield states

    queue = GaugeMetricFamily("fleetmeter_agent_queue_depth", "Readings waiting in each agent's outbox, as its "
                              "last heartbeat reported", labels=["agent"])
    for row in conn.execute(select(agents.c.name, agents.c.queue_depth)
                            .where(agents.c.queue_depth.is_not(None)).order_by(agents.c.name)):
        queue.add_metric([row.name], row.queue_depth)
    yield queue

    if inspect(conn).has_table(ORDERS_TABLE):
        orders = CounterMetricFamily("fleetmeter_orders_placed", "Supply orders placed")
        orders.add_metric([], conn.exec_driver_sql(f"SELECT count(*) FROM {ORDERS_TABLE}").scalar_one())
        yield orders

    runs = CounterMetricFamily("fleetmeter_worker_runs", "Worker task runs", labels=["task"])
    failures = CounterMetricFamily("fleetmeter_worker_failures", "Worker task runs that failed", labels=["task"])
    spent = CounterMetricFamily("fleetmeter_worker_run_seconds", "Time spent in worker task runs",
                                labels=["task"])
    last = GaugeMetricFamily("fleetmeter_worker_last_run_seconds", "Duration of each task's last run",
                             labels=["task"])
    for row in conn.execute(select(worker_tasks).order_by(worker_tasks.c.name)):
        runs.add_metric([row.name], row.runs)
        failures.add_metric([row.name], row.failures)
        spent.add_metric([row.name], row.total_duration_ms / 1000)
        if row.last_duration_ms is not None:
            last.add_metric([row.name], row.last_duration_ms / 1000)
    yield from (runs, failures, spent, last)


class DatabaseCollector(Collector):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        with self.engine.connect() as conn:
            yield from list(collect(conn))
