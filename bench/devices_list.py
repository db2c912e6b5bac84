"""`fleetmeter-server devices list --json` for 10,000 assets with 90 days of history, on PostgreSQL.

The assets and their latest state come through the real ingest (store + derive, batches of 500 readings);
the 90 days before are written set-based in SQL into the history tables (a daily meter read per meter and a
daily observation per supply: 2.7 M meter reads, 3.6 M supply observations); raw readings for those days are
not generated (the listing reads assets and asset_latest only, never readings). Prints the command's wall time
(median of 9 runs, a fresh process each time, the installed `fleetmeter-server` script as a dealer runs it, its
package's bytecode compiled as pip compiles an installed wheel's) and its process's CPU time (steadier than wall
time on a shared machine), the part spent in the listing itself (the query whose rows are each device's JSON,
streamed; in-process; and the same listing through Python rows for comparison), and as the reference measured in
the same run, the command's own start-up (`--version`).

    .venv/bin/python bench/devices_list.py [--assets 10000] [--days 90]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest import drop_database, reading, scratch_database  # noqa: E402  (bench/ingest.py)

from fleetmeter_contract.reading import validate_wire  # noqa: E402
from server_stub.db.engine import make_engine, utcnow  # noqa: E402
from server_stub.fleet.clients import link_agent  # noqa: E402
from server_stub.fleet.devices import devices_json, list_devices  # noqa: E402
from server_stub.ingest.store import store_readings  # noqa: E402
from server_stub.trust import enrolment as registry  # noqa: E402

TARGET_MS = 300
CHUNK = 500


def populate(engine, assets: int, days: int) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    agents = []
    with engine.begin() as conn:
        for i in range(10):
            registry.add_agent(conn, f"site-{i}", f"Client {i % 4}", timedelta(hours=1))
            link_agent(conn, f"site-{i}", f"Client {i % 4}")
            agents.append(conn.exec_driver_sql(f"SELECT id FROM agents WHERE name = 'site-{i}'").scalar_one())
    for start in range(0, assets, CHUNK):
        raw = [json.dumps(reading(d, now), separators=(",", ":")) for d in range(start, min(start + CHUNK, assets))]
        with engine.begin() as conn:
            store_readings(conn, agents[start // CHUNK % len(agents)], [validate_wire(r) for r in raw],
                           '{"readings":[' + ",".join(raw) + "]}", utcnow())
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE assets SET state = 'active', activated_at = now()")
        conn.exec_driver_sql(f"""
            INSERT INTO meter_reads (asset_id, meter, read_at, value, source_oid, origin)
            SELECT a.id, m.meter, now() - d * interval '1 day', 100000 - d * 50, '1.3.6.1.2.1.43.10.2.1.4.1.1', 'rfc3805'
            FROM assets a CROSS JOIN unnest(ARRAY['total', 'mono', 'color']) AS m(meter)
            CROSS JOIN generate_series(1, {days}) AS d""")
        conn.exec_driver_sql(f"""
            INSERT INTO supply_observations (asset_id, device_index, supply_index, observed_at, type, color,
                                             supply_class, unit, level, max_capacity, percent, state)
            SELECT a.id, 1, s, now() - d * interval '1 day', 'toner', 'black', 'consumed', 'percent',
                   mod(d, 100), 100, mod(d, 100), 'ok'
            FROM assets a CROSS JOIN generate_series(1, 4) AS s CROSS JOIN generate_series(1, {days}) AS d""")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")


def timed(command: list[str], env: dict, runs: int = 9) -> tuple[float, float, bytes]:
    """Median wall and CPU (user + system of the command's process) in ms, and the last output."""
    times, cpu, out = [], [], b""
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        out = subprocess.run(command, env=env, check=True, capture_output=True, cwd=ROOT).stdout
        times.append((time.perf_counter() - started) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return statistics.median(times), statistics.median(cpu), out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fm-bench-") as tmp:
        url, name = scratch_database("postgresql", Path(tmp))
        env = dict(os.environ, FLEETMETER_HOME=str(Path(tmp) / "home"), FLEETMETER_DB=url)
        script = Path(sys.executable).with_name("fleetmeter-server")  # the console script pip installed
        server = [str(script)] if script.exists() else [sys.executable, "-m", "server_stub.cli"]
        shown = "fleetmeter-server" if script.exists() else "python -m server_stub.cli"
        for package in ("server_stub", "fleetmeter_contract"):  # read even under PYTHONDONTWRITEBYTECODE
            compileall.compile_dir(ROOT / package, quiet=1)
        subprocess.run(server + ["init"], env=env, check=True, capture_output=True, cwd=ROOT)
        engine = make_engine(url)
        try:
            started = time.perf_counter()
            populate(engine, args.assets, args.days)
            print(f"populated {args.assets} assets, {args.days} days of history in {time.perf_counter() - started:.0f} s; "
                  f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
            in_process, rows_path = [], []
            for _ in range(5):
                with engine.connect() as conn:
                    begun = time.perf_counter()
                    devices_json(conn)
                    in_process.append((time.perf_counter() - begun) * 1000)
                    begun = time.perf_counter()
                    json.dumps({"devices": [row.to_json() for row in list_devices(conn)]}, ensure_ascii=False)
                    rows_path.append((time.perf_counter() - begun) * 1000)
            startup, startup_cpu, _ = timed(server + ["--version"], env)
            command, command_cpu, out = timed(server + ["devices", "list", "--json"], env)
            listed = len(json.loads(out)["devices"])
            if listed != args.assets:
                raise SystemExit(f"{listed} devices listed, {args.assets} expected")
            listing = statistics.median(in_process)
            print(f"{shown} devices list --json, {listed} assets: {command:.0f} ms per command (x{command / TARGET_MS:.2f} of "
                  f"the {TARGET_MS} ms target), its process {command_cpu:.0f} ms CPU; reference in this run: start-up "
                  f"alone (--version) {startup:.0f} ms ({startup_cpu:.0f} ms CPU); the listing itself (the database "
                  f"builds each device's JSON, streamed out; in-process) {listing:.0f} ms (x{listing / TARGET_MS:.2f}); "
                  f"the same through Python rows {statistics.median(rows_path):.0f} ms")
        finally:
            engine.dispose()
            drop_database(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
