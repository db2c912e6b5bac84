"""Benchmark: one agent inspecting a fleet of >= 1,000 simulated printers.

snmpsim serves the shared recordings that hold Printer-MIB data under N different communities (one
symlink per simulated device) on one loopback endpoint; the agent reads them all with bounded
concurrency on one event loop. Prints devices per minute, agent CPU ms per device, agent peak RSS, the
simulator's CPU share, and an extrapolation to 10,000 devices (target: under 5 minutes, agent memory
under 80 MB). When the simulator (one Python process) saturates a core, the agent's own rate is
estimated from its CPU per device as well, and the output says so.

Run: .venv/bin/python bench/fleet.py [--devices 1000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from agent.snmp.client import SnmpClient  # noqa: E402
from agent.snmp.credentials import Credentials  # noqa: E402
from agent.snmp.fleet import Target, read_many  # noqa: E402
from peers import Simulator  # noqa: E402

FIXTURES = ROOT.parent / "shared" / "fixtures" / "printers"


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def build_fleet(data: Path, devices: int) -> list[str]:
    manifest = json.loads((FIXTURES / "manifest.json").read_text())["entries"]
    sources = [FIXTURES / e["file"] for e in manifest
               if e.get("walk_readout", {}).get("prtMarkerSupplies") and e["file"] != "zebra.snmprec"]
    communities = []
    for i in range(devices):
        name = f"dev{i:05d}"
        # copies, not symlinks: snmpsim names a symlinked file by its target
        shutil.copyfile(sources[i % len(sources)], data / f"{name}.snmprec")
        communities.append(name)
    return communities


async def inspect(sim: Simulator, communities: list[str], concurrency: int) -> dict:
    client = SnmpClient()
    targets = [Target(sim.host, sim.port, Credentials(community=c)) for c in communities]
    ok = failed = pdus = 0
    sim_cpu0, cpu0, wall0 = process_cpu_s(sim.proc.pid), time.process_time(), time.perf_counter()
    async for outcome in read_many(client, targets, timeout=10, retries=1, concurrency=concurrency):
        if outcome.reading:
            ok += 1
            pdus += outcome.reading.stats.pdus
        else:
            failed += 1
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    sim_cpu = process_cpu_s(sim.proc.pid) - sim_cpu0
    client.close()
    return {"devices": len(communities), "ok": ok, "failed": failed, "wall_s": wall, "agent_cpu_s": cpu,
            "sim_cpu_s": sim_cpu, "pdus": pdus}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        data = Path(work) / "data"
        data.mkdir()
        communities = build_fleet(data, args.devices)
        started = time.perf_counter()
        sim = Simulator(data, Path(work) / "sim")
        print(f"snmpsim indexed {args.devices} devices in {time.perf_counter() - started:.1f} s")
        try:
            result = asyncio.run(inspect(sim, communities, args.concurrency))
        finally:
            sim.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = result["ok"] / result["wall_s"] * 60
    cpu_ms = result["agent_cpu_s"] / max(1, result["ok"]) * 1000
    cpu_bound_rate = 60_000 / cpu_ms  # devices/min if the agent's one event loop had a core to itself
    print(f"devices: {result['ok']} read, {result['failed']} failed, {result['pdus'] / max(1, result['ok']):.1f} "
          f"PDUs each, concurrency {args.concurrency}")
    print(f"wall {result['wall_s']:.1f} s -> {rate:,.0f} devices/min; agent CPU {cpu_ms:.1f} ms/device; "
          f"agent peak RSS {rss_mb:.0f} MB")
    print(f"simulator CPU {result['sim_cpu_s']:.1f} s ({result['sim_cpu_s'] / result['wall_s']:.0%} of a core), "
          f"agent CPU {result['agent_cpu_s']:.1f} s ({result['agent_cpu_s'] / result['wall_s']:.0%} of a core)")
    print(f"10,000 devices at the measured rate: {10_000 / rate:.1f} min (target < 5 min)")
    print(f"10,000 devices at the agent's own CPU cost on one core (the simulator removed): "
          f"{10_000 / cpu_bound_rate:.1f} min")


if __name__ == "__main__":
    main()
