"""The live supply worker's cost: readings applied per second by `supply.live.run_pending` (state loaded
from and written to the database each run, per site under its lock) against the same readings through the
in-memory engine alone (what `supply backtest` does), measured in the same run on the same machine.

    .venv/bin/python bench/supply_live.py [--printers 40] [--days 60] [--per-run 1] [--db sqlite,postgresql]

--per-run N: the worker runs after every N days of readings (1: a run a day per site, the costly case).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fleet_peers import add_agent, ingest  # noqa: E402
from server_stub.db import migrate  # noqa: E402
from server_stub.db.engine import make_engine  # noqa: E402
from server_stub.supply import live  # noqa: E402
from server_stub.supply.engine import SupplyEngine  # noqa: E402
from server_stub.supply.policy import load_policy  # noqa: E402
from supply_helpers import Printer, at  # noqa: E402
from trust_peers import Database  # noqa: E402


@contextmanager
def counting(engine, total: list[int]):
    """Count the SQL statements the engine runs meanwhile into total[0]."""
    def count(*_args) -> None:
        total[0] += 1
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", count)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--printers", type=int, default=40)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--per-run", type=int, default=1)
    parser.add_argument("--db", default="sqlite,postgresql")
    args = parser.parse_args()
    for kind in args.db.split(","):
        with tempfile.TemporaryDirectory() as work:
            db = Database(kind, Path(work))
            engine = make_engine(db.url)
            try:
                migrate.upgrade(engine)
                agent = add_agent(engine, "bench", "Acme")
                printers = [Printer(serial=f"BX{n:08d}", pages=lambda d, n=n: 60 + n) for n in range(args.printers)]
                days = [[p.day(d) for p in printers] for d in range(args.days)]
                memory = SupplyEngine(load_policy(None))
                started = time.perf_counter()
                for d, docs in enumerate(days):
                    for doc in docs:
                        memory.observe("Acme", "S", doc)
                        memory.decide("S", at(d), {doc["identity"]["serial"]})
                in_memory = time.perf_counter() - started
                worker, statements, site_runs = 0.0, [0], 0
                for d, docs in enumerate(days):
                    ingest(engine, agent, docs)
                    if d % args.per_run == args.per_run - 1:
                        started = time.perf_counter()
                        with counting(engine, statements), engine.begin() as conn:
                            site_runs += len(live.run_pending(conn, at(d, 19)))
                        worker += time.perf_counter() - started
                n = args.printers * args.days
                print(f"{kind}: {n} readings, {args.printers} printers (one site each), worker every {args.per_run} "
                      f"day(s): live worker {n / worker:,.0f} readings/s, in-memory engine {n / in_memory:,.0f} "
                      f"readings/s, worker/in-memory {in_memory / worker:.4f} (the worker {worker / in_memory:.0f}x "
                      f"slower), {statements[0] / max(site_runs, 1):.1f} statements per site run")
            finally:
                engine.dispose()
                db.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
