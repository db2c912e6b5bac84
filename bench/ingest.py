"""Verified ingest throughput: readings/second through the real server (uvicorn subprocess on 127.0.0.1),
each batch of 100 readings signed (RFC 9421, Ed25519), verified, validated and stored with the rows ingest
derives (assets, meter reads, supply observations, alert events, latest state), on SQLite and on
PostgreSQL; the stored and derived rows are counted afterwards. In the same run, in-process on the same
database, the JSON-only path (the raw readings insert alone) beside store + derive, for the cost of
deriving. Prints the figure per database and its ratio against the 5,000 readings/s target, and the CPU
each batch cost in the serve processes, the signing clients and the database backends: on a shared machine
the wall-clock figure depends on what else runs, so the CPU cost also gives the rate with every CPU free.

    .venv/bin/python bench/ingest.py [--batches 400] [--clients 4] [--servers 2] [--db sqlite,postgresql]

PostgreSQL: needs the local cluster running (scripts/setup-env.sh starts it); a scratch database is created
and dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import sqlalchemy  # noqa: E402

from agent.certs.enroll import enrol  # noqa: E402
from agent.certs.signing import request_signer  # noqa: E402
from agent.certs.store import CertStore  # noqa: E402
from fleetmeter_contract.reading import DeviceReading, Identity, Supply  # noqa: E402
from agent.upload import heartbeat  # noqa: E402
from server_stub.trust import enrolment as registry  # noqa: E402
from server_stub.db.engine import make_engine, utcnow  # noqa: E402
from server_stub.assets.identity import asset_key  # noqa: E402
from server_stub.fleet.clients import link_agent  # noqa: E402
from server_stub.ingest.store import insert_readings, store_readings  # noqa: E402
from fleetmeter_contract.reading import validate_wire  # noqa: E402

TARGET = 5000  # readings/s on PostgreSQL, 2-core machine
BATCH = 100


def reading(device: int, at: datetime) -> dict:
    doc = DeviceReading(address=f"10.0.{device // 250}.{device % 250}", port=161, is_printer=True,
                        collected_at=at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        identity=Identity(serial=f"BENCH{device:06d}", manufacturer="Ricoh", model="MP C3002",
                                          sys_descr="RICOH MP C3002 1.10 / RICOH Network Printer C model",
                                          mac=f"00:26:73:{device >> 16 & 255:02x}:{device >> 8 & 255:02x}:"
                                              f"{device & 255:02x}", firmware="1.10", location="Floor 2"),
                        supplies=[Supply(index=i, description=f"{c} Toner", type="toner", color=c, class_="consumed",
                                         unit="percent", level=40 + i, max_capacity=100, percent=40.0 + i,
                                         state="ok") for i, c in enumerate(("black", "cyan", "magenta",
                                                                                 "yellow"), 1)])
    doc.counters.update(total=271871 + device, mono=200000, color=71871 + device)
    return doc.to_json()


def bodies(count: int, offset: int, first_device: int = 0) -> list[bytes]:
    """`count` uploads of the same BATCH printers (each agent its own), a minute apart."""
    start = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=offset)
    hb = heartbeat("127.0.0.1", 0)
    return [json.dumps({"agent": hb, "readings": [reading(first_device + d, start + timedelta(minutes=b))
                                                  for d in range(BATCH)]}, separators=(",", ":")).encode()
            for b in range(count)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scratch_database(kind: str, work: Path) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{work / 'bench.db'}", None
    name = f"fm_bench_{secrets.token_hex(4)}"
    admin = sqlalchemy.create_engine("postgresql+psycopg:///postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sqlalchemy.exc.OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
        raise SystemExit(f"bench: cannot create a scratch PostgreSQL database ({reason}); "
                         "start the local cluster (scripts/setup-env.sh does)") from None
    finally:
        admin.dispose()
    return f"postgresql+psycopg:///{name}", name


def drop_database(name: str | None) -> None:
    if name:
        admin = sqlalchemy.create_engine("postgresql+psycopg:///postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def wait_up(base: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(base + "/healthz", timeout=1)
            return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise SystemExit(f"server {base} did not start")
            time.sleep(0.1)


@dataclass
class Figures:
    rate: float  # verified readings/s, wall clock
    cpu_ms: dict[str, float]  # CPU per batch of 100: serve processes, signing clients, database backends

    @property
    def capacity(self) -> float:
        """Readings/s the same work would reach with every CPU of this machine free for it."""
        return BATCH * (os.cpu_count() or 1) / (sum(self.cpu_ms.values()) / 1000)


def run_http(kind: str, batches: int, clients: int, servers: int, work: Path) -> Figures:
    url, name = scratch_database(kind, work)
    env = dict(os.environ, FLEETMETER_HOME=str(work / "home"), FLEETMETER_DB=url)
    server = [sys.executable, "-m", "server_stub.cli"]
    subprocess.run(server + ["init"], env=env, check=True, capture_output=True, cwd=ROOT)
    ports = [free_port() for _ in range(servers)]
    procs = [subprocess.Popen(server + ["serve", "--port", str(port), "--rate-limit", "0", "--log-level",
                                        "warning"], env=env, cwd=ROOT) for port in ports]
    engine = make_engine(url)
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base in bases:
            wait_up(base)
        stores = []
        for i in range(clients):
            with engine.begin() as conn:
                new = registry.add_agent(conn, f"bench-{i}", "Bench", timedelta(hours=1))
            store = CertStore(work / f"agent-{i}")
            enrol(store, bases[i % servers], new.key)
            stores.append(store)
        errors: list[str] = []

        def client(store: CertStore, work_items: list[bytes]) -> None:
            http = requests.Session()
            http.trust_env = False
            signer = request_signer(store, store.enrolment().fingerprint)
            base = store.enrolment().server
            for body in work_items:
                response = http.post(base + "/v1/ingest", data=body, auth=signer, timeout=60,
                                     headers={"Content-Type": "application/json"})
                if response.status_code != 200 or response.json()["stored"] != BATCH:
                    errors.append(f"{response.status_code} {response.text[:200]}")

        def upload_all(per_client: list[list[bytes]]) -> float:
            threads = [threading.Thread(target=client, args=(s, w)) for s, w in zip(stores, per_client)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if errors:
                raise SystemExit(f"{len(errors)} batches failed, first: {errors[0]}")
            return time.perf_counter() - started

        upload_all([bodies(3, offset=300, first_device=BATCH * i) for i in range(clients)])  # warm-up
        per_client = [bodies(batches // clients, offset=0, first_device=BATCH * i) for i in range(clients)]
        before = cpu_snapshot(procs, engine)
        elapsed = upload_all(per_client)
        after = cpu_snapshot(procs, engine)
        sent = sum(len(w) for w in per_client)
        with engine.connect() as conn:
            stored, linked = conn.exec_driver_sql("SELECT count(*), count(asset_id) FROM readings").one()
            meters = conn.exec_driver_sql("SELECT count(*) FROM meter_reads").scalar_one()
            latest = conn.exec_driver_sql("SELECT count(*), sum(readings) FROM asset_latest").one()
        expected = (sent + 3 * clients) * BATCH
        if stored != expected:
            raise SystemExit(f"sent {expected} readings but {stored} are stored")
        if linked != expected or meters != 3 * expected or tuple(latest) != (clients * BATCH, expected):
            raise SystemExit(f"derived rows missing: {linked} readings with an asset, {meters} meter reads, "
                             f"latest state {tuple(latest)} for {expected} readings")
        return Figures(sent * BATCH / elapsed, {k: (after[k] - before[k]) / sent * 1000 for k in before})
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        engine.dispose()
        drop_database(name)


def run_direct(kind: str, batches: int, work: Path) -> tuple[float, float]:
    """In-process on a fresh database: readings/s of the raw insert alone (the JSON-only path) and of
    store + derive, over the same validated batches of BATCH readings (no HTTP, no signatures)."""
    url, name = scratch_database(kind, work)
    env = dict(os.environ, FLEETMETER_HOME=str(work / "home"), FLEETMETER_DB=url)
    subprocess.run([sys.executable, "-m", "server_stub.cli", "init"], env=env, check=True, capture_output=True,
                   cwd=ROOT)
    engine = make_engine(url)
    try:
        rates = []
        for i, derived in enumerate((False, True)):
            with engine.begin() as conn:
                registry.add_agent(conn, f"direct-{i}", "Direct", timedelta(hours=1))
                link_agent(conn, f"direct-{i}", "Direct")
                agent_id = conn.exec_driver_sql(f"SELECT id FROM agents WHERE name = 'direct-{i}'").scalar_one()
            work_items = []
            for body in bodies(batches, offset=0, first_device=BATCH * i):
                document = json.loads(body)
                raw = [json.dumps(r, separators=(",", ":")) for r in document["readings"]]
                work_items.append(([validate_wire(r) for r in raw], '{"readings":[' + ",".join(raw) + "]}"))
            started = time.perf_counter()
            for items, body in work_items:
                with engine.begin() as conn:
                    if derived:
                        store_readings(conn, agent_id, items, body, utcnow())
                    else:
                        insert_readings(conn, agent_id, body, [asset_key(r) for r in items],
                                        [r.collected_at for r in items], [None] * len(items), utcnow())
            rates.append(batches * BATCH / (time.perf_counter() - started))
        return rates[0], rates[1]
    finally:
        engine.dispose()
        drop_database(name)


def cpu_snapshot(procs: list[subprocess.Popen], engine) -> dict[str, float]:
    snapshot = {"serve": sum(cpu_seconds(proc.pid) for proc in procs), "client": time.process_time()}
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            pids = conn.exec_driver_sql("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                        "AND pid <> pg_backend_pid()").scalars().all()
        snapshot["postgres"] = sum(cpu_seconds(pid) for pid in pids)
    return snapshot


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=400, help="batches of 100 readings in the timed run")
    parser.add_argument("--clients", type=int, default=4, help="agents uploading concurrently")
    parser.add_argument("--servers", type=int, default=2, help="serve processes sharing the database")
    parser.add_argument("--db", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"verified ingest: batches of {BATCH}, {args.batches} batches from {args.clients} concurrent agents, "
          f"{args.servers} serve process(es), {os.cpu_count()} CPUs, load average before {os.getloadavg()[0]:.1f}")
    for kind in args.db.split(","):
        with tempfile.TemporaryDirectory(prefix="fm-bench-") as tmp:
            figures = run_http(kind, args.batches, args.clients, args.servers, Path(tmp))
        cpu = ", ".join(f"{k} {v:.1f} ms" for k, v in figures.cpu_ms.items())
        print(f"{kind:>10}: {figures.rate:6.0f} readings/s with derived rows, over HTTP (x{figures.rate / TARGET:.2f} "
              f"of the {TARGET}/s target); CPU per batch: {cpu}; with all {os.cpu_count()} CPUs free: "
              f"~{figures.capacity:.0f}/s (x{figures.capacity / TARGET:.2f})")
        with tempfile.TemporaryDirectory(prefix="fm-bench-") as tmp:
            json_only, derived = run_direct(kind, min(args.batches, 100), Path(tmp))
        print(f"{'':>10}  in-process, one connection: JSON-only insert {json_only:6.0f} readings/s, store + derive "
              f"{derived:6.0f} readings/s (derived rows cost x{json_only / derived:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
