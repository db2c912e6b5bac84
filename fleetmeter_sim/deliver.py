"""Deliver a simulated fleet's history through an enrolled agent's signed ingest path (the demo's import
step; the server never imports the agent, so this lives with the simulator).

    python -m fleetmeter_sim.deliver FILE.jsonl     (FLEETMETER_HOME: that agent's home)

FILE holds `fleetmeter.device/1` readings, one JSON document per line. They go into the agent's outbox and
are delivered exactly as the service delivers what it reads (signed batches, acknowledged, at least once).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from agent.certs.store import agent_store
from agent.outbox import agent_outbox
from agent.upload import deliver


def upload(path: Path) -> int:
    readings = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    outbox = agent_outbox()
    outbox.put_many(readings, "meters")
    result = deliver(agent_store(), outbox)
    print(f"history: {len(readings)} readings delivered through the agent: {result.message}")
    return 0 if result.ok and len(outbox) == 0 else 1


if __name__ == "__main__":
    sys.exit(upload(Path(sys.argv[1])))
