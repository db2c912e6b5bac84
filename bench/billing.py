"""Billing run cost for one client's fleet: `run_bill` (load reads, volumes with the outlier check, rules,
store the bill and its reads) for N printers with weekly readings over a quarter, on SQLite and PostgreSQL.
Prints the run's wall time, per printer, and its ratio against a reference measured in the same run: loading
the same meter reads alone (store.load_reads), the floor any billing run pays.

    .venv/bin/python bench/billing.py [--devices 2000] [--db sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy  # noqa: E402
from sqlalchemy import select, update  # noqa: E402

from fleetmeter_contract.reading import DeviceReading, Identity, validate_wire  # noqa: E402
from server_stub.billing import store  # noqa: E402
from server_stub.billing.periods import Period  # noqa: E402
from server_stub.billing.plans import load_plan  # noqa: E402
from server_stub.billing.reads import DEFAULT_LOOKBACK, DEFAULT_WINDOW  # noqa: E402
from server_stub.db import migrate  # noqa: E402
from server_stub.db.engine import make_engine, utcnow  # noqa: E402
from server_stub.db.tables import agents, assets  # noqa: E402
from server_stub.fleet.clients import link_agent  # noqa: E402
from server_stub.ingest.store import store_readings  # noqa: E402
from server_stub.trust import enrolment as registry  # noqa: E402

PG_ADMIN = "postgresql+psycopg:///postgres"
START = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
MARCH = Period(2026, 3)
PLAN = load_plan('type = "simple"\ncurrency = "EUR"\n[prices]\nmono = "0.006"\ncolor = "0.055"\n', "toml")


def readings(devices: int) -> list[str]:
    out = []
    for week in range(14):
        when = START + timedelta(days=7 * week)
        for n in range(devices):
            doc = DeviceReading(address=f"10.{n // 65536}.{n // 256 % 256}.{n % 256}", port=161,
                                collected_at=when.isoformat(), is_printer=True,
                                identity=Identity(serial=f"BENCH{n:07d}", manufacturer="Ricoh", model="MP C3002"))
            doc.counters.update(mono=1_000 + week * (200 + n % 50), color=100 + week * (30 + n % 7))
            out.append(json.dumps(doc.to_json()))
    return out


def bench(url: str, devices: int) -> dict:
    engine = make_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        registry.add_agent(conn, "bench", "Bench", timedelta(days=1))
        link_agent(conn, "bench", "Bench")
        agent_id = conn.execute(select(agents.c.id).where(agents.c.name == "bench")).scalar_one()
    docs = readings(devices)
    for i in range(0, len(docs), 500):
        chunk = docs[i:i + 500]
        with engine.begin() as conn:
            store_readings(conn, agent_id, [validate_wire(d) for d in chunk], '{"readings":[' + ",".join(chunk) + "]}",
                           utcnow())
    with engine.begin() as conn:
        client = store.client_id(conn, "Bench")
        conn.execute(update(assets).values(state="active"))
        store.store_plan(conn, client, PLAN, datetime(2026, 3, 2, tzinfo=timezone.utc))
        ids = [d.asset_id for d in store.client_fleet(conn, client).devices]
    began = time.perf_counter()
    with engine.connect() as conn:
        loaded = store.load_reads(conn, ids, MARCH.start - DEFAULT_WINDOW.before - DEFAULT_LOOKBACK,
                                  MARCH.end + DEFAULT_WINDOW.after)
    reference = time.perf_counter() - began
    began = time.perf_counter()
    with engine.begin() as conn:
        result = store.run_bill(conn, client, MARCH, utcnow())
    run = time.perf_counter() - began
    began = time.perf_counter()
    with engine.begin() as conn:
        again = store.run_bill(conn, client, MARCH, utcnow())
    rerun = time.perf_counter() - began
    engine.dispose()
    assert result.stored and not result.open_items and again.document == result.document
    return {"devices": len(ids), "reads": sum(len(v) for v in loaded.values()), "run_s": run, "load_s": reference,
            "rerun_s": rerun, "total": result.document["total"]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--db", default="sqlite,postgresql")
    args = parser.parse_args()
    for kind in args.db.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            name = None
            if kind == "sqlite":
                url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            else:
                name = f"fm_bench_{secrets.token_hex(4)}"
                admin = sqlalchemy.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
                url = f"postgresql+psycopg:///{name}"
            try:
                r = bench(url, args.devices)
            finally:
                if name:
                    with admin.connect() as conn:
                        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    admin.dispose()
        print(f"{kind}: billing run for {r['devices']} printers ({r['reads']} meter reads): {r['run_s']:.2f} s "
              f"({r['run_s'] / r['devices'] * 1000:.2f} ms/printer), loading the reads alone {r['load_s']:.2f} s "
              f"(ratio {r['run_s'] / r['load_s']:.1f}x); re-run returning the stored bill {r['rerun_s'] * 1000:.0f} ms; "
              f"total {r['total']} EUR")
    return 0


if __name__ == "__main__":
    sys.exit(main())
