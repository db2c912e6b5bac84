"""Benchmark: one agent inspecting a fleet of simulated printers (10,000 by default), read for real.

The project's simulator (`fleetmeter-sim serve`, one process, one loopback address per printer) serves
the fleet; the agent's meters job (the service's own code path: read_many with bounded concurrency on one
event loop, readings committed to the SQLite outbox in chunks) reads every printer once. Prints what it
observed: wall time, devices per minute, agent CPU per device, agent peak RSS, request PDUs per device,
the simulator's CPU, and the ratio of the wall time to the targets (10,000 devices in under 5 minutes on
2 cores, agent memory under 80 MB).

Run: .venv/bin/python bench/fleet.py [--devices 10000] [--concurrency 64] [--base-address 127.1.0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from agent.network.known_devices import KnownDevices  # noqa: E402
from agent.outbox import Outbox  # noqa: E402
from agent.scheduler.config import DEFAULTS, build, merge  # noqa: E402
from agent.scheduler.jobs import Jobs  # noqa: E402
from agent.scheduler.targets import probe_configured  # noqa: E402
from agent.snmp.fleet import Target  # noqa: E402

TARGET_MIN, TARGET_RSS_MB = 5.0, 80.0


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_simulator(args: argparse.Namespace, work: Path) -> tuple[subprocess.Popen, dict, float]:
    listing = work / "devices.json"
    sim = ROOT / ".venv" / "bin" / "fleetmeter-sim"
    command = [str(sim) if sim.exists() else "fleetmeter-sim", "serve", "--devices", str(args.devices),
               "--base-address", args.base_address, "--port", str(args.port), "--speed", str(args.speed),
               "--quiet", "--list-json", str(listing)]
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=(work / "sim.log").open("w"))
    while not listing.exists():
        if proc.poll() is not None:
            sys.exit(f"bench: fleetmeter-sim exited: {(work / 'sim.log').read_text().strip()}")
        if time.perf_counter() - started > 300:
            proc.terminate()
            sys.exit("bench: fleetmeter-sim did not listen within 300 s")
        time.sleep(0.1)
    return proc, json.loads(listing.read_text()), time.perf_counter() - started


async def inspect(devices: list[dict], concurrency: int, work: Path, sim_pid: int) -> dict:
    """The service's own path: the meters job reads every known device and queues the readings in the
    outbox (SQLite, committed in chunks), exactly as `fleetmeter-agent run` does."""
    document = {"credentials": [{"version": "2c", "community": devices[0]["community"]}],
                "snmp": {"timeout": 10, "retries": 1, "concurrency": concurrency}, "usb": False}
    config = build(merge(DEFAULTS, document))
    known = KnownDevices(work / "known_devices.sqlite")
    known.save([Target(d["address"], d["port"], config.credentials[0]) for d in devices], config.credentials)
    outbox = Outbox(work / "outbox.db")
    jobs = Jobs(outbox, known, discover=probe_configured)
    sim_cpu0 = process_cpu_s(sim_pid)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = await jobs.inspect("meters", config)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    sim_cpu = process_cpu_s(sim_pid) - sim_cpu0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the bench reads anything back
    with sqlite3.connect(outbox.path) as conn:
        pdus, serials = conn.execute(
            "SELECT sum(json_extract(document, '$.stats.pdus')), "
            "count(DISTINCT json_extract(document, '$.identity.serial')) FROM outbox").fetchone()
    return {"ok": result.read, "failed": result.failed, "queued": len(outbox), "serials": serials,
            "wall_s": wall, "agent_cpu_s": cpu, "sim_cpu_s": sim_cpu, "pdus": pdus or 0,
            "outbox_mb": outbox.queued_bytes() / 1e6, "rss_mb": rss_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--base-address", default="127.1.0.1", help="first loopback address of the fleet")
    parser.add_argument("--port", type=int, default=16161, help="UDP port of every simulated printer")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sim, listing, ready_s = start_simulator(args, work)
        try:
            print(f"fleetmeter-sim: {len(listing['devices'])} printers listening in {ready_s:.1f} s "
                  f"({listing['devices'][0]['address']} .. {listing['devices'][-1]['address']}, port {args.port})")
            result = asyncio.run(inspect(listing["devices"], args.concurrency, work, sim.pid))
        finally:
            sim.terminate()
            sim.wait(30)
    n = result["ok"]
    rate = n / result["wall_s"] * 60
    cpu_ms = result["agent_cpu_s"] / max(1, n) * 1000
    minutes_10k = 10_000 / rate
    print(f"devices: {n} read ({result['serials']} distinct serials), {result['failed']} failed, "
          f"{result['queued']} queued in the outbox ({result['outbox_mb']:.1f} MB), "
          f"{result['pdus'] / max(1, n):.2f} request PDUs each, concurrency {args.concurrency}")
    print(f"wall {result['wall_s']:.1f} s -> {rate:,.0f} devices/min; agent CPU {cpu_ms:.2f} ms/device "
          f"({result['agent_cpu_s']:.1f} s, {result['agent_cpu_s'] / result['wall_s']:.0%} of a core); "
          f"agent peak RSS {result['rss_mb']:.0f} MB (target < {TARGET_RSS_MB:.0f} MB, ratio "
          f"{result['rss_mb'] / TARGET_RSS_MB:.2f})")
    print(f"simulator CPU {result['sim_cpu_s']:.1f} s ({result['sim_cpu_s'] / max(1, n) * 1000:.2f} ms/device, "
          f"{result['sim_cpu_s'] / result['wall_s']:.0%} of a core)")
    label = "measured" if n >= 10_000 else "at the measured rate"
    print(f"10,000 devices ({label}): {minutes_10k:.2f} min (target < {TARGET_MIN:.0f} min; "
          f"ratio {minutes_10k / TARGET_MIN:.2f} of the target)")


if __name__ == "__main__":
    main()
