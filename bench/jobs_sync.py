"""Benchmark: the consumable request queue's sync on SQLite and PostgreSQL.

N printers (each reported by an agent, four toner supplies), one request per supply, then one `sync` that
places all of them (match, contract, stock choice, job made or extended, comments). Prints per database the
time to queue the requests (the reference: one INSERT each), the sync's time, per request, and the ratio.

    .venv/bin/python bench/jobs_sync.py [--printers 500]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fleet_peers import add_agent, ingest  # noqa: E402
from jobs_scenario import cmyk_reading  # noqa: E402
from server_stub.db import migrate  # noqa: E402
from server_stub.db.engine import make_engine  # noqa: E402
from server_stub.jobs.csvio import import_csv  # noqa: E402
from server_stub.jobs.requests import add_request, sync  # noqa: E402
from trust_peers import Database  # noqa: E402

STOCK = "part_code,description,colour,class,yield_pages\n" + "".join(
    f"P-{c},{c} toner,{c},toner,9000\n" for c in ("black", "cyan", "magenta", "yellow"))
RELATED = "model,part_code\n" + "".join(f"MP C3002,P-{c}\n" for c in ("black", "cyan", "magenta", "yellow"))


def run(kind: str, printers: int, work: Path) -> tuple[float, float]:
    db = Database(kind, work)
    engine = make_engine(db.url)
    try:
        migrate.upgrade(engine)
        agent = add_agent(engine, "bench", "Acme")
        for start in range(0, printers, 250):
            ingest(engine, agent, [cmyk_reading(f"BENCH{n:07d}") for n in range(start, min(printers, start + 250))])
        with engine.begin() as conn:
            import_csv(conn, "stock", io.StringIO(STOCK))
            import_csv(conn, "related_stock", io.StringIO(RELATED))
            assets = [row[0] for row in conn.exec_driver_sql("SELECT id FROM assets ORDER BY id")]
        began = time.perf_counter()
        with engine.begin() as conn:
            for asset in assets:
                for key in ("1.1", "1.2", "1.3", "1.4"):
                    add_request(conn, asset, key, "reorder")
        queued = time.perf_counter() - began
        began = time.perf_counter()
        with engine.begin() as conn:
            result = sync(conn)
        synced = time.perf_counter() - began
        assert result.actioned == 4 * len(assets) and result.jobs_created == len(assets)
        return queued, synced
    finally:
        engine.dispose()
        db.drop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--printers", type=int, default=500)
    args = parser.parse_args()
    requests = 4 * args.printers
    for kind in ("sqlite", "postgresql"):
        with tempfile.TemporaryDirectory() as work:
            queued, synced = run(kind, args.printers, Path(work))
        print(f"{kind:10s} {requests} requests: queued in {queued:.2f} s ({1000 * queued / requests:.2f} ms each), "
              f"synced in {synced:.2f} s ({1000 * synced / requests:.2f} ms each); sync/queue ratio "
              f"{synced / queued:.1f}")


if __name__ == "__main__":
    main()
