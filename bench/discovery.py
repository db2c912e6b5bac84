"""Benchmark: discovery of a /24 on loopback where 20 addresses are printers and the rest drop packets.

127.0.77.0/24, port 161: 20 addresses served by snmpsim (one engine per address, each its own printer
recording), the other 234 bound by sockets that read and never answer (a real LAN's silence; an
unbound loopback port would answer ICMP port-unreachable at once). Runs, on the same range:

1. `fleetmeter-agent discover 127.0.77.0/24 --json` (defaults: timeout 2 s, 1 retry, 500 packets/s);
2. FusionInventory's `fusioninventory-netdiscovery` (Debian fusioninventory-agent-task-network), same
   timeout and community, --threads as given;

and prints wall times, wall time / (timeout x (retries + 1)), printers found / expected, duplicates,
the ratio between the two, and the estimate for a /16 at the rate limit.

    .venv/bin/python bench/discovery.py [--threads 20] [--skip-fusion] [--v3]

Needs root (port 161 on 127.0.77.x) or pass --port for an unprivileged port (FusionInventory included).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import FIXTURES  # noqa: E402
from simulated_lan import SilentHosts, SimPrinter, SimPrinters  # noqa: E402

from agent.network.sweep import DEFAULT_RATE  # noqa: E402
from fleetmeter_contract.ranges import TargetSet  # noqa: E402

NET = "127.0.77"
PRINTERS = 20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=161)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--retries", type=int, default=1)
    parser.add_argument("--threads", type=int, default=20, help="FusionInventory --threads")
    parser.add_argument("--skip-fusion", action="store_true")
    parser.add_argument("--v3", action="store_true",
                        help="also sweep with an SNMPv3 set first (no printer knows the user), then v2c")
    args = parser.parse_args()

    recordings = sorted(FIXTURES.glob("*.snmprec"))[:PRINTERS]
    printers = [SimPrinter(f"{NET}.{10 + i}", rec) for i, rec in enumerate(recordings)]
    targets = TargetSet.parse([f"{NET}.0/24"])
    work = Path(tempfile.mkdtemp(prefix="fleetmeter-bench-discovery-"))
    started = time.perf_counter()
    sim = SimPrinters(printers, args.port, work / "sim")
    silent = SilentHosts([a for a in targets if a not in {p.address for p in printers}], args.port)
    print(f"simulated LAN: {NET}.0/24, {len(printers)} snmpsim printers, {len(silent.sockets)} silent hosts "
          f"(ready in {time.perf_counter() - started:.1f} s)")
    budget = args.timeout * (args.retries + 1)
    try:
        ours = run_fleetmeter(args, work)
        print_row("fleetmeter discover", ours, budget)
        print(f"  sweep {ours['stats']['elapsed_s']:.2f} s inside the process")
        print(f"  packets sent {ours['stats']['packets']}, silent hosts received {silent.received}, "
              f"rate limit {DEFAULT_RATE:g}/s, identity PDUs {ours['stats']['identity_pdus']}")
        if args.v3:
            both = run_fleetmeter(args, work, ["--v3-user", "bench", "--auth-key", "bench-auth-key",
                                               "--community", "public"])
            print_row("fleetmeter discover, SNMPv3 set then v2c", both, 2 * budget)
            print(f"  sweep {both['stats']['elapsed_s']:.2f} s inside the process; "
                  f"{both['stats']['refused']} addresses refused the v3 user")
        fusion = None if args.skip_fusion else run_fusion(args)
        if fusion:
            print_row(f"fusioninventory-netdiscovery (--threads {args.threads})", fusion, budget)
            print(f"ratio fusioninventory / fleetmeter wall time: {fusion['wall_s'] / ours['wall_s']:.1f}x")
    finally:
        sim.stop()
        silent.stop()
        shutil.rmtree(work, ignore_errors=True)

    per_address = args.retries + 1
    slash16 = 65534 * per_address / DEFAULT_RATE + budget
    print(f"estimate for a silent /16 at {DEFAULT_RATE:g} packets/s: 65534 x {per_address} packets / "
          f"{DEFAULT_RATE:g} + {budget:g} s = {slash16:.0f} s ({slash16 / 60:.1f} min) per credential set")
    return 0


def print_row(name: str, result: dict, budget: float) -> None:
    print(f"{name}: {result['wall_s']:.2f} s wall = {result['wall_s'] / budget:.2f} x timeout x (retries+1) "
          f"[{budget:g} s]; printers found {result['printers']}/{PRINTERS}; duplicates {result['duplicates']}")


def run_fleetmeter(args, work: Path, extra: list[str] | None = None) -> dict:
    env = dict(os.environ, FLEETMETER_HOME=str(work / "home"), PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "agent.cli", "discover", f"{NET}.0/24", "--port", str(args.port),
               "--timeout", str(args.timeout), "--retries", str(args.retries), "--json", *(extra or [])]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"discover failed: {done.stderr.strip()}")
    doc = json.loads(done.stdout)
    printers = [d for d in doc["devices"] if d["is_printer"]]
    keys = [d["identity"]["serial"] or d["identity"]["mac"] or d["address"] for d in printers]
    return {"wall_s": wall, "printers": len(printers), "duplicates": len(keys) - len(set(keys)),
            "stats": doc["stats"]}


def run_fusion(args) -> dict | None:
    tool = shutil.which("fusioninventory-netdiscovery")
    if tool is None:
        print("fusioninventory-netdiscovery not installed (apt-get install fusioninventory-agent-task-network)")
        return None
    command = [tool, "--first", f"{NET}.1", "--last", f"{NET}.254", "--port", str(args.port),
               "--community", "public", "--timeout", str(int(round(args.timeout))), "--threads", str(args.threads)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - started
    devices = re.findall(r"<DEVICE>(.*?)</DEVICE>", done.stdout, re.S)
    printers = [d for d in devices if "<TYPE>PRINTER</TYPE>" in d]
    addresses = [m.group(1) for d in devices if (m := re.search(r"<IP>([^<]+)</IP>", d))]
    return {"wall_s": wall, "printers": len(printers), "duplicates": len(addresses) - len(set(addresses)),
            "devices": len(devices)}


if __name__ == "__main__":
    sys.exit(main())
