"""Benchmark: request PDUs and client CPU per full inventory, like against like.

For each shared recording with Printer-MIB data (served by snmpsim on 127.0.0.1), in one run:
- agent (warm): `read_device` in-process, N times on a warm engine -> PDUs and CPU ms per inventory;
- pysnmp/pyasn1 (warm): the same subtrees walked in-process with pysnmp's GETBULK (lookupMib=False,
  max-repetitions 25), so the agent's BER codec is compared with pyasn1's on the same reads;
- net-snmp (request CPU): `snmpbulkwalk -m ''` over the same ten subtrees (one process per subtree, as a
  script would run it), minus the CPU of starting those processes (`snmpbulkwalk -V`, measured in the
  same run) -> net-snmp's CPU for the requests alone, comparable with the warm figures;
- cold, both with start-up: one `fleetmeter-agent poll --json` process per inventory against the ten
  `snmpbulkwalk` processes including their start-up.
Prints a table and the ratios. Target (issue 2): <= 4 request PDUs per inventory of a typical printer.

Run: .venv/bin/python bench/poll.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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


def netsnmp_cpu_ms(sim: Simulator, community: str, rounds: int) -> float:
    """CPU ms of the ten snmpbulkwalk processes of one inventory, start-up included."""
    before = children_cpu()
    for _ in range(rounds):
        for subtree in SUBTREES:
            subprocess.run(["snmpbulkwalk", "-v2c", "-c", community, "-On", "-Cr25", "-m", "",
                            f"{sim.host}:{sim.port}", subtree], capture_output=True, check=False)
    return (children_cpu() - before) * 1000 / rounds


def netsnmp_startup_ms(rounds: int) -> float:
    """CPU ms of starting one snmpbulkwalk process that sends nothing (library load, argument parsing)."""
    before = children_cpu()
    for _ in range(rounds):
        subprocess.run(["snmpbulkwalk", "-m", "", "-V"], capture_output=True, check=False)
    return (children_cpu() - before) * 1000 / rounds


def agent_cold_cpu_ms(sim: Simulator, community: str, rounds: int) -> float:
    """CPU ms of one `fleetmeter-agent poll` process per inventory (interpreter start-up included)."""
    env = dict(os.environ, FLEETMETER_HOME=tempfile.mkdtemp(prefix="bench-poll-"))
    before = children_cpu()
    for _ in range(rounds):
        subprocess.run([sys.executable, "-m", "agent.cli", "poll", sim.host, "--port", str(sim.port),
                        "--community", community, "--json"], capture_output=True, check=False, env=env, cwd=ROOT)
    return (children_cpu() - before) * 1000 / rounds


async def pysnmp_runs(sim: Simulator, community: str, rounds: int) -> float:
    """Median CPU ms of walking the same subtrees with pysnmp/pyasn1 (GETBULK, no MIB lookups)."""
    from pysnmp.hlapi.v3arch.asyncio import (
        CommunityData, ContextData, ObjectIdentity, ObjectType, SnmpEngine, UdpTransportTarget, bulk_walk_cmd)

    engine = SnmpEngine()
    target = await UdpTransportTarget.create((sim.host, sim.port), timeout=2, retries=0)
    auth = CommunityData(community, mpModel=1)

    async def inventory() -> int:
        count = 0
        for subtree in SUBTREES:
            async for error, status, _index, rows in bulk_walk_cmd(
                    engine, auth, target, ContextData(), 0, 25, ObjectType(ObjectIdentity(subtree)),
                    lookupMib=False, lexicographicMode=False):
                if error or status:
                    break
                count += len(rows)
        return count

    await inventory()
    cpu = []
    for _ in range(rounds):
        start = time.process_time()
        await inventory()
        cpu.append((time.process_time() - start) * 1000)
    engine.close_dispatcher()
    return statistics.median(cpu)


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
    startup = netsnmp_startup_ms(max(10, args.rounds * 4))
    with tempfile.TemporaryDirectory() as work:
        sim = Simulator(FIXTURES, Path(work))
        try:
            for entry in entries:
                community = entry["snmpsim_community"]
                cpu, pdus, size = asyncio.run(agent_runs(sim, community, args.rounds))
                codec = asyncio.run(pysnmp_runs(sim, community, args.rounds))
                netsnmp = netsnmp_cpu_ms(sim, community, args.rounds)
                cold = agent_cold_cpu_ms(sim, community, max(1, args.rounds // 2))
                requests_only = max(0.0, netsnmp - startup * len(SUBTREES))
                rows.append({"recording": community, "pdus": pdus, "bytes": size, "agent_cpu_ms": round(cpu, 2),
                             "pysnmp_cpu_ms": round(codec, 2), "netsnmp_requests_cpu_ms": round(requests_only, 2),
                             "netsnmp_processes_cpu_ms": round(netsnmp, 1), "agent_process_cpu_ms": round(cold, 1)})
        finally:
            sim.stop()
    print(f"net-snmp start-up per process: {startup:.2f} ms CPU (x{len(SUBTREES)} processes per inventory)")
    print(f"{'recording':<24} {'PDUs':>4} {'agent':>7} {'pysnmp':>7} {'net-snmp':>9} | "
          f"{'agent proc':>10} {'net-snmp procs':>14}   (CPU ms per inventory)")
    for r in rows:
        print(f"{r['recording']:<24} {r['pdus']:>4} {r['agent_cpu_ms']:>7} {r['pysnmp_cpu_ms']:>7} "
              f"{r['netsnmp_requests_cpu_ms']:>9} | {r['agent_process_cpu_ms']:>10} {r['netsnmp_processes_cpu_ms']:>14}")
    print(f"median PDUs per inventory: {statistics.median(r['pdus'] for r in rows)}, "
          f"max {max(r['pdus'] for r in rows)}")

    def mean(key: str) -> float:
        return sum(r[key] for r in rows) / len(rows)

    agent, codec, requests = mean("agent_cpu_ms"), mean("pysnmp_cpu_ms"), mean("netsnmp_requests_cpu_ms")
    cold, processes = mean("agent_process_cpu_ms"), mean("netsnmp_processes_cpu_ms")
    print(f"warm, requests only: agent {agent:.1f} ms, pysnmp/pyasn1 {codec:.1f} ms (agent/pysnmp "
          f"{agent / codec:.2f}), net-snmp {requests:.1f} ms (agent/net-snmp "
          f"{agent / requests if requests else float('nan'):.2f})")
    print(f"cold, start-up included: agent process {cold:.1f} ms, net-snmp processes {processes:.1f} ms "
          f"(agent/net-snmp {cold / processes:.2f})")
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
