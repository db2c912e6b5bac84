"""Requests per poll, against the reference of walking the whole device (what `record` does).

Serves ../shared/fixtures/printers and tests/recordings with snmpsim on 127.0.0.1, polls each device
once, walks it once, and prints request PDUs and bytes of both and their ratio. Run:
    .venv/bin/python bench/poll_pdus.py [community ...]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from conftest import FIXTURES, RECORDINGS, Simulator  # noqa: E402

from agent.snmp.client import SnmpClient  # noqa: E402
from agent.snmp.credentials import Credentials  # noqa: E402
from agent.snmp.reader import read_device  # noqa: E402


async def measure(sim: Simulator, community: str) -> tuple[int, int, int, int]:
    client = SnmpClient()
    try:
        poll = client.session(sim.host, sim.port, Credentials(community=community), timeout=2, retries=1)
        reading = await read_device(poll)
        walk = client.session(sim.host, sim.port, Credentials(community=community), timeout=2, retries=1)
        await walk.walk(["1.3.6.1"])
        return reading.stats.pdus, reading.stats.bytes, walk.pdus, walk.bytes
    finally:
        client.close()


def main(names: list[str]) -> None:
    rows = []
    for data in (FIXTURES, RECORDINGS):
        sim = Simulator(data, Path(tempfile.mkdtemp()))
        try:
            for path in sorted(data.glob("*.snmprec")):
                if names and path.stem not in names:
                    continue
                rows.append((path.stem, *asyncio.run(measure(sim, path.stem))))
        finally:
            sim.stop()
    print(f"{'device':28} {'poll PDUs':>9} {'poll bytes':>10} {'walk PDUs':>9} {'walk bytes':>10} {'PDU ratio':>9}")
    for name, pp, pb, wp, wb in rows:
        print(f"{name:28} {pp:9} {pb:10,} {wp:9} {wb:10,} {pp / max(wp, 1):9.2f}")
    total_p, total_w = sum(r[1] for r in rows), sum(r[3] for r in rows)
    print(f"{'all':28} {total_p:9} {sum(r[2] for r in rows):10,} {total_w:9} {sum(r[4] for r in rows):10,} "
          f"{total_p / max(total_w, 1):9.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
