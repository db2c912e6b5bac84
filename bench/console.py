"""The dealer console's pages with 10,000 devices and 90 days of history, on PostgreSQL.

Builds the database with bench/devices_list.py's builder (real ingest for the assets and their latest state,
90 days of daily meter reads and supply observations written set-based) plus the supply engine's state (four
followed supplies, replacements and alarms per asset, set-based), serves the real app with uvicorn on
127.0.0.1, logs in as a dealer and times each page over HTTP (median of 7 requests after one warm-up). The
reference measured in the same run: the `devices list --json` query (devices_json, in-process) and a /healthz
round trip (the HTTP floor). Target: every page under 300 ms.

    .venv/bin/python bench/console.py [--assets 10000] [--days 90]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devices_list import TARGET_MS, populate  # noqa: E402  (bench/devices_list.py)
from ingest import drop_database, scratch_database  # noqa: E402  (bench/ingest.py)

from server_stub.api.app import create_app  # noqa: E402
from server_stub.db import migrate  # noqa: E402
from server_stub.db.engine import make_engine  # noqa: E402
from server_stub.fleet.devices import devices_json  # noqa: E402
from server_stub.trust.ca import CertificateAuthority  # noqa: E402
from server_stub.web.users import add_user  # noqa: E402

RUNS = 7
PASSWORD = "bench console password"


def median_ms(call, runs: int = RUNS) -> float:
    call()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def populate_supply(engine) -> None:
    """What the worker's supply task leaves (set-based): four followed supplies per asset (mono and colour toner, a
    drum, a waste box) with forecasts spread over 100 days, and four detected replacements and alarms each."""
    with engine.begin() as conn:
        conn.exec_driver_sql("""
            INSERT INTO supply_state (asset_id, supply_key, site_key, state, watermark, percent, days_left,
                                      pages_left, empty_on, empty_earliest, empty_latest, method, supply_class,
                                      updated_at)
            SELECT a.id, s::text, 'asset:' || a.id, json_build_object('f', json_build_object('part_number', 'BN-' || s)),
                   0, mod(a.id * 7 + s * 13, 100), mod(a.id * 7 + s * 13, 100), 40 * mod(a.id * 7 + s * 13, 100),
                   now() + mod(a.id * 7 + s * 13, 100) * interval '1 day',
                   now() + mod(a.id * 7 + s * 13, 100) * interval '20 hours',
                   now() + mod(a.id * 7 + s * 13, 100) * interval '30 hours', 'level+cartridge',
                   (ARRAY['mono_toner', 'colour_toner', 'mono_drum', 'waste_toner'])[s], now()
            FROM assets a CROSS JOIN generate_series(1, 4) AS s""")
        conn.exec_driver_sql("""
            INSERT INTO supply_replacements (asset_id, supply_key, at, cause, left_percent, premature, wasted_pages,
                                             removed_pages, new_percent, new_serial, order_id)
            SELECT a.id, '1', now() - k * interval '20 days', 'level', mod(a.id + k, 30), mod(a.id + k, 30) >= 20,
                   40 * mod(a.id + k, 30), 3000, 100, 'C-' || a.id || '-' || k, NULL
            FROM assets a CROSS JOIN generate_series(1, 4) AS k""")
        conn.exec_driver_sql("""
            INSERT INTO supply_alarms (asset_id, supply_key, at, kind, detail)
            SELECT a.id, '1', now() - k * interval '20 days', 'without_order', '{}'::json
            FROM assets a CROSS JOIN generate_series(1, 4) AS k""")


def serve(app) -> tuple[uvicorn.Server, threading.Thread, str]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fm-bench-") as tmp:
        url, name = scratch_database("postgresql", Path(tmp))
        engine = make_engine(url)
        server = None
        try:
            migrate.upgrade(engine)
            started = time.perf_counter()
            populate(engine, args.assets, args.days)
            populate_supply(engine)
            with engine.begin() as conn:
                add_user(conn, "dealer", "bench@dealer.example", PASSWORD, role="read_only")
                asset = conn.exec_driver_sql("SELECT max(id) FROM assets").scalar_one()
            print(f"populated {args.assets} assets, {args.days} days of history in "
                  f"{time.perf_counter() - started:.0f} s; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
            (Path(tmp) / "ca").mkdir()
            ca = CertificateAuthority.create(Path(tmp) / "ca", "bench CA")
            server, thread, base = serve(create_app(engine, ca))
            http = requests.Session()
            http.trust_env = False
            login = http.get(base + "/login", timeout=30)
            csrf = re.search(r'name="csrf" value="([^"]*)"', login.text).group(1)
            answer = http.post(base + "/login", data={"csrf": csrf, "email": "bench@dealer.example",
                                                      "password": PASSWORD}, allow_redirects=False, timeout=30)
            assert answer.status_code == 303, answer.text

            def query() -> None:
                with engine.connect() as conn:
                    devices_json(conn)

            reference = median_ms(query)
            floor = median_ms(lambda: http.get(base + "/healthz", timeout=30))
            last_page = -(-args.assets // 50)
            pages = [("fleet overview", "/"), ("fleet, last page", f"/?page={last_page}"),
                     ("fleet, one client", "/?client=Client%201"), ("fleet, not reporting", "/?silent=1"),
                     ("device", f"/devices/{asset}"), ("device, older readings", f"/devices/{asset}?readings=2"),
                     ("agents", "/agents"), ("devices to complete", "/devices/to-complete"),
                     ("supplies due", "/supplies"), ("supplies due, 7 days", "/supplies?days=7"),
                     ("supplies due, colour toner", "/supplies?class=colour_toner"),
                     ("supplies due, drums, page 20", "/supplies?class=drum&page=20"),
                     ("supplies due, last page", f"/supplies?page={-(-4 * args.assets // 50)}"),
                     ("orders", "/orders"), ("jobs", "/jobs"), ("billing", "/billing"),
                     ("notifications", "/notifications"), ("policy", "/policy")]
            print(f"reference: devices list --json query {reference:.0f} ms (in-process); /healthz round trip "
                  f"{floor:.1f} ms")
            print(f"{'page':28} {'ms':>7} {'x target':>9} {'x reference':>12}")
            worst = 0.0
            for label, path in pages:
                def get(path=path) -> None:
                    response = http.get(base + path, timeout=60, allow_redirects=False)
                    if response.status_code != 200:
                        raise SystemExit(f"{path}: HTTP {response.status_code}")
                ms = median_ms(get)
                worst = max(worst, ms)
                print(f"{label:28} {ms:7.1f} {ms / TARGET_MS:9.2f} {ms / reference:12.2f}")
            export = median_ms(lambda: http.get(base + "/devices.csv", timeout=60), runs=3)
            print(f"{'devices.csv (all, export)':28} {export:7.1f} {'-':>9} {export / reference:12.2f}")
            print(f"slowest page {worst:.0f} ms: {'within' if worst < TARGET_MS else 'OVER'} the {TARGET_MS} ms target")
        finally:
            if server:
                server.should_exit = True
                thread.join(10)
            engine.dispose()
            drop_database(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
