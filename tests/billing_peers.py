"""What the billing database tests share: a server home on SQLite or PostgreSQL driven through the real
`fleetmeter-server` CLI (in this process, or as separate processes), and readings imported with
`readings import` so meter reads are derived by the production ingest path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from fleetmeter_contract.reading import CounterSource, DeviceReading, Identity
from server_stub.billing.plans import Tier
from server_stub.cli.main import main
from server_stub.db.engine import make_engine
from trust_peers import DATABASES, Database

ROOT = Path(__file__).resolve().parent.parent
MONO_OID = "1.3.6.1.4.1.367.3.2.1.2.19.5.1.9.21"
SERIAL_PREFIX = "W492KB-"  # short names like "P1" would be placeholders to the asset identity rules


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def reading(serial: str, when: str, address: str = "10.0.0.5", model: str = "MP C3002", manufacturer: str = "Ricoh",
            **counters: int) -> dict:
    doc = DeviceReading(address=address, port=161, collected_at=at(when).isoformat(), is_printer=True,
                        identity=Identity(serial=SERIAL_PREFIX + serial, manufacturer=manufacturer, model=model))
    doc.counters.update(counters)
    doc.counter_sources["mono"] = CounterSource(oid=MONO_OID, origin="ricoh")
    return doc.to_json()


def tiered(pages: int, tiers: list[Tier]) -> Decimal:
    """Worked by hand: each tier takes the pages up to its up_to, the rest go to the next."""
    total, floor = Decimal(0), 0
    for tier in tiers:
        top = pages if tier.up_to is None else min(pages, tier.up_to)
        if top > floor:
            total += (top - floor) * tier.price
            floor = top
    return total


class Home:
    """A server home and database; `cli` runs fleetmeter-server in-process and returns (code, stdout, stderr)."""

    def __init__(self, url: str, path: Path, capsys, monkeypatch) -> None:
        self.url, self.path, self.capsys = url, path, capsys
        monkeypatch.setenv("FLEETMETER_HOME", str(path))
        monkeypatch.setenv("FLEETMETER_DB", url)
        self.engine = make_engine(url)
        assert self.cli("init")[0] == 0
        self.agents: dict[str, str] = {}

    def cli(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse refusing a value: exit 2 with its one line
            code = exc.code
        out = self.capsys.readouterr()
        return code, out.out, out.err

    def ok(self, *args: str) -> str:
        code, out, err = self.cli(*args)
        assert code == 0, (args, err)
        return out

    def process(self, *args: str) -> subprocess.Popen:
        env = {**os.environ, "FLEETMETER_HOME": str(self.path), "FLEETMETER_DB": self.url}
        return subprocess.Popen([sys.executable, "-m", "server_stub.cli", *args], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def import_readings(self, client: str, documents: list[dict]) -> None:
        agent = self.agents.get(client)
        if agent is None:
            agent = self.agents[client] = f"agent{len(self.agents) + 1}"
            self.ok("agents", "add", agent, "--client", client)
        lines = self.path / f"import-{agent}.jsonl"
        lines.write_text("".join(json.dumps(d) + "\n" for d in documents))
        result = json.loads(self.ok("readings", "import", str(lines), "--agent", agent, "--json"))
        assert result["rejected"] == [] and result["stored"] == len(documents), result

    def activate_all(self, client: str) -> dict[str, int]:
        """Activate the client's found printers; serial as given to reading() (upper case) -> asset id."""
        found = json.loads(self.ok("devices", "to-complete", "--client", client, "--json"))["devices"]
        if found:
            self.ok("devices", "activate", *[str(d["asset_id"]) for d in found])
        return {d["serial"].removeprefix(SERIAL_PREFIX): d["asset_id"] for d in found}

    def run(self, client: str, period: str, *extra: str) -> dict:
        return json.loads(self.ok("billing", "run", "--client", client, "--period", period, "--json", *extra))


@pytest.fixture(params=DATABASES)
def home(request, tmp_path, capsys, monkeypatch):
    db = Database(request.param, tmp_path)
    h = Home(db.url, tmp_path, capsys, monkeypatch)
    yield h
    h.engine.dispose()
    db.drop()
