"""Benchmark: one agent inspecting a fleet of >= 1,000 simulated printers.

snmpsim serves the shared recordings that hold Printer-MIB data under N different communities (one
copy per simulated device), split over --simulators snmpsim processes on loopback; the agent's meters job
(the service's own code path: read_many with bounded concurrency on one event loop, readings committed to
the SQLite outbox in chunks) reads them all. Prints devices per minute, agent CPU ms per device, agent peak RSS, the
simulator's CPU share, and an extrapolation to 10,000 devices (target: under 5 minutes, agent memory
under 80 MB). When the simulator (one Python process) saturates a core, the agent's own rate is
estimated from its CPU per device as well, and the output says so.

Run: .venv/bin/python bench/fleet.py [--devices 1000] [--concurrency 64] [--simulators 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from agent.network.known_devices import KnownDevices  # noqa: E402
from agent.outbox import Outbox  # noqa: E402
from agent.scheduler.config import DEFAULTS, build, merge  # noqa: E402
from agent.scheduler.jobs import Jobs  # noqa: E402
from agent.scheduler.targets import probe_configured  # noqa: E402
from agent.snmp.fleet import Target  # noqa: E402
from peers import Simulator  # noqa: E402

FIXTURES = ROOT.parent / "shared" / "fixtures" / "printers"


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def build_fleet(data_dirs: list[Path], devices: int) -> list[str]:
    """Device i is served by simulator i % len(data_dirs) under community devNNNNN."""
    manifest = json.loads((FIXTURES / "manifest.json").read_text())["entries"]
    sources = [FIXTURES / e["file"] for e in manifest
               if e.get("walk_readout", {}).get("prtMarkerSupplies") and e["file"] != "zebra.snmprec"]
    communities = []
    for i in range(devices):
        name = f"dev{i:05d}"
        # copies, not symlinks: snmpsim names a symlinked file by its target
        shutil.copyfile(sources[i % len(sources)], data_dirs[i % len(data_dirs)] / f"{name}.snmprec")
        communities.append(name)
    return communities


async def inspect(sims: list[Simulator], communities: list[str], concurrency: int, work: Path) -> dict:
    """The service's own path: the meters job reads every known device and queues the readings in the
    outbox (SQLite, committed in chunks), exactly as `fleetmeter-agent run` does."""
    document = {"credentials": [{"version": "2c", "community": c} for c in communities],
                "snmp": {"timeout": 10, "retries": 1, "concurrency": concurrency}, "usb": False}
    config = build(merge(DEFAULTS, document))
    known = KnownDevices(work / "known_devices.sqlite")
    known.save([Target(sims[i % len(sims)].host, sims[i % len(sims)].port, config.credentials[i])
                for i in range(len(communities))], config.credentials)
    outbox = Outbox(work / "outbox.db")
    jobs = Jobs(outbox, known, discover=probe_configured)
    sim_cpu0 = sum(process_cpu_s(sim.proc.pid) for sim in sims)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = await jobs.inspect("meters", config)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    sim_cpu = sum(process_cpu_s(sim.proc.pid) for sim in sims) - sim_cpu0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the bench reads anything back
    with sqlite3.connect(outbox.path) as conn:
        pdus = conn.execute("SELECT sum(json_extract(document, '$.stats.pdus')) FROM outbox").fetchone()[0] or 0
    return {"devices": len(communities), "ok": result.read, "failed": result.failed, "queued": len(outbox),
            "wall_s": wall, "agent_cpu_s": cpu, "sim_cpu_s": sim_cpu, "pdus": pdus,
            "outbox_mb": outbox.queued_bytes() / 1e6, "rss_mb": rss_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--simulators", type=int, default=2, help="snmpsim processes feeding the agent")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        data_dirs = [Path(work) / f"data{i}" for i in range(args.simulators)]
        for data in data_dirs:
            data.mkdir()
        communities = build_fleet(data_dirs, args.devices)
        started = time.perf_counter()
        sims = [Simulator(data, Path(work) / f"sim{i}") for i, data in enumerate(data_dirs)]
        print(f"{len(sims)} snmpsim process(es) indexed {args.devices} devices in "
              f"{time.perf_counter() - started:.1f} s")
        try:
            result = asyncio.run(inspect(sims, communities, args.concurrency, Path(work)))
        finally:
            for sim in sims:
                sim.stop()
    rss_mb = result["rss_mb"]
    rate = result["ok"] / result["wall_s"] * 60
    cpu_ms = result["agent_cpu_s"] / max(1, result["ok"]) * 1000
    cpu_bound_rate = 60_000 / cpu_ms  # devices/min if the agent's one event loop had a core to itself
    print(f"devices: {result['ok']} read, {result['failed']} failed, {result['queued']} queued in the outbox "
          f"({result['outbox_mb']:.1f} MB), {result['pdus'] / max(1, result['ok']):.1f} PDUs each, "
          f"concurrency {args.concurrency}")
    print(f"wall {result['wall_s']:.1f} s -> {rate:,.0f} devices/min; agent CPU {cpu_ms:.1f} ms/device; "
          f"agent peak RSS {rss_mb:.0f} MB (target < 80 MB)")
    print(f"simulators CPU {result['sim_cpu_s']:.1f} s ({result['sim_cpu_s'] / result['wall_s']:.0%} of a core), "
          f"agent CPU {result['agent_cpu_s']:.1f} s ({result['agent_cpu_s'] / result['wall_s']:.0%} of a core)")
    print(f"10,000 devices at the measured rate: {10_000 / rate:.1f} min (target < 5 min; ratio "
          f"{5 / (10_000 / rate):.2f}x the target)")
    print(f"10,000 devices at the agent's own CPU cost on one core (the simulators removed): "
          f"{10_000 / cpu_bound_rate:.1f} min (ratio {5 / (10_000 / cpu_bound_rate):.2f}x the target)")


if __name__ == "__main__":
    main()
