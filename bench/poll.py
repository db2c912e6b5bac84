"""Benchmark: request PDUs and client CPU per full inventory, against net-snmp on the same subtrees.

For each shared recording with Printer-MIB data (served by snmpsim on 127.0.0.1), in one run:
- the agent polls it N times in-process (warm engine) -> PDUs per inventory, CPU ms per inventory;
- net-snmp `snmpbulkwalk` walks the same subtrees the agent reads (one process per subtree, as a shell
  script or a monitoring system would) -> CPU ms of those processes (RUSAGE_CHILDREN), twice:
  without MIB loading (-m '', the fair reference) and with net-snmp's default MIBs.
Prints a table and the ratio agent / net-snmp. Targets (issue 2): <= 4 request PDUs per inventory of a
typical printer, CPU within 3x of net-snmp.

Run: .venv/bin/python bench/poll.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from agent.snmp.client import SnmpClient  # noqa: E402
from agent.snmp.credentials import Credentials  # noqa: E402
from agent.snmp.reader import read_device  # noqa: E402
from peers import Simulator  # noqa: E402

FIXTURES = ROOT.parent / "shared" / "fixtures" / "printers"
SUBTREES = ("1.3.6.1.2.1.1", "1.3.6.1.2.1.2.2.1.6", "1.3.6.1.2.1.25.3.2", "1.3.6.1.2.1.25.3.5",
            "1.3.6.1.2.1.43.5.1.1.17", "1.3.6.1.2.1.43.8.2", "1.3.6.1.2.1.43.10.2", "1.3.6.1.2.1.43.11",
            "1.3.6.1.2.1.43.12", "1.3.6.1.2.1.43.18")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def netsnmp_cpu_ms(sim: Simulator, community: str, rounds: int, mibs: list[str]) -> float:
    before = children_cpu()
    for _ in range(rounds):
        for subtree in SUBTREES:
            subprocess.run(["snmpbulkwalk", "-v2c", "-c", community, "-On", "-Cr25", *mibs,
                            f"{sim.host}:{sim.port}", subtree], capture_output=True, check=False)
    return (children_cpu() - before) * 1000 / rounds


async def agent_runs(sim: Simulator, community: str, rounds: int) -> tuple[float, int, int]:
    client = SnmpClient()
    try:
        await read_device(client.session(sim.host, sim.port, Credentials(community=community), timeout=2))
        cpu, pdus, size = [], [], []
        for _ in range(rounds):
            start = time.process_time()
            reading = await read_device(client.session(sim.host, sim.port, Credentials(community=community),
                                                       timeout=2))
            cpu.append((time.process_time() - start) * 1000)
            pdus.append(reading.stats.pdus)
            size.append(reading.stats.bytes)
        return statistics.median(cpu), max(pdus), max(size)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    if not shutil.which("snmpbulkwalk"):
        sys.exit("bench/poll.py: net-snmp's snmpbulkwalk is missing (apt-get install snmp)")
    manifest = json.loads((FIXTURES / "manifest.json").read_text())["entries"]
    entries = [e for e in manifest if e.get("walk_readout", {}).get("prtMarkerSupplies")]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        sim = Simulator(FIXTURES, Path(work))
        try:
            for entry in entries:
                community = entry["snmpsim_community"]
                cpu, pdus, size = asyncio.run(agent_runs(sim, community, args.rounds))
                lean = netsnmp_cpu_ms(sim, community, args.rounds, ["-m", ""])
                default = netsnmp_cpu_ms(sim, community, 1, [])
                rows.append({"recording": community, "pdus": pdus, "bytes": size, "agent_cpu_ms": round(cpu, 1),
                             "netsnmp_cpu_ms": round(lean, 1), "netsnmp_mibs_cpu_ms": round(default, 1),
                             "ratio": round(cpu / lean, 2) if lean else None})
        finally:
            sim.stop()
    print(f"{'recording':<24} {'PDUs':>4} {'bytes':>6} {'agent ms':>9} {'net-snmp ms':>12} "
          f"{'(+MIBs)':>8} {'ratio':>6}")
    for r in rows:
        print(f"{r['recording']:<24} {r['pdus']:>4} {r['bytes']:>6} {r['agent_cpu_ms']:>9} "
              f"{r['netsnmp_cpu_ms']:>12} {r['netsnmp_mibs_cpu_ms']:>8} {r['ratio']:>6}")
    print(f"median PDUs per inventory: {statistics.median(r['pdus'] for r in rows)}, "
          f"max {max(r['pdus'] for r in rows)}")
    total_agent = sum(r["agent_cpu_ms"] for r in rows)
    total_lean = sum(r["netsnmp_cpu_ms"] for r in rows)
    print(f"CPU per inventory, all recordings: agent {total_agent / len(rows):.1f} ms, "
          f"net-snmp (no MIBs) {total_lean / len(rows):.1f} ms, ratio {total_agent / total_lean:.2f}")
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
