"""The dealer's supply commands end to end (`python -m server_stub.cli`), on SQLite and PostgreSQL: history
imported with `readings import`, the worker's supply task (`worker --once`), then orders, forecasts and the
policy levels."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from supply_helpers import Printer, START
from trust_peers import DATABASES, Database, environment

SERVER = [sys.executable, "-m", "server_stub.cli"]
DAYS = 44  # the first printer runs low on the last days


@pytest.fixture(params=DATABASES)
def cli(request, tmp_path):
    db = Database(request.param, tmp_path)
    env = environment(tmp_path / "home", FLEETMETER_DB=db.url)

    def run(*args: str, expect: int = 0) -> subprocess.CompletedProcess:
        done = subprocess.run(SERVER + list(args), env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == expect, f"{args} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        return done

    run("init")
    yield run
    db.drop()


def history(path) -> None:
    """Two printers at one site, the readings' days moved so the last one is today (the worker decides now)."""
    shift = datetime.now(timezone.utc).date() - (START + timedelta(days=DAYS - 1))
    printers = [Printer(serial="PX0000001A", pages=lambda d: 110), Printer(serial="PX0000002A", pages=lambda d: 100)]
    with path.open("w") as out:
        for day in range(DAYS):
            for printer in printers:
                doc = printer.day(day)
                at = datetime.fromisoformat(doc["collected_at"].replace("Z", "+00:00")) + shift - timedelta(hours=12)
                doc["collected_at"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
                out.write(json.dumps(doc) + "\n")


def listing(run, *args: str) -> dict:
    return json.loads(run(*args, "--json").stdout)


def test_orders_supplies_and_policy_levels(cli, tmp_path):
    cli("clients", "add", "Acme")
    cli("sites", "add", "Acme", "HQ")
    cli("agents", "add", "hq-1", "--client", "Acme", "--site", "HQ")
    history(tmp_path / "history.jsonl")
    assert listing(cli, "readings", "import", str(tmp_path / "history.jsonl"), "--agent", "hq-1")["stored"] == 2 * DAYS
    cli("worker", "--once")

    [order] = listing(cli, "orders", "list", "--client", "Acme", "--site", "HQ")["orders"]
    assert sorted(ln["device"] for ln in order["lines"]) == ["PX0000001A", "PX0000002A"]
    shown = listing(cli, "orders", "show", str(order["id"]))
    assert shown["why"]["consolidated"] and shown["why"]["lines"]
    assert "why:" in cli("orders", "show", str(order["id"])).stdout

    supplies = listing(cli, "supplies", "list", "--client", "Acme", "--due-within", "21d")["supplies"]
    assert {s["serial"] for s in supplies} == {"PX0000001A", "PX0000002A"}
    assert all(s["days_left"] is not None and s["empty_on_earliest"] <= s["empty_on"] <= s["empty_on_latest"]
               for s in supplies)
    soon = {s["serial"]: s["days_left"] for s in supplies}
    assert soon["PX0000001A"] < 4 < soon["PX0000002A"]  # 110 and 100 pages a day of 5,000-page cartridges
    assert [s["serial"] for s in listing(cli, "supplies", "list", "--due-within", "4d")["supplies"]] == ["PX0000001A"]

    assert "only a new or shipped" in cli("orders", "backorder", str(order["id"]), expect=1).stderr  # it arrived
    cli("orders", "cancel", str(order["id"]))
    refused = cli("orders", "ship", str(order["id"]), expect=1)
    assert refused.stderr.count("\n") == 1 and "cancelled" in refused.stderr
    assert listing(cli, "orders", "list", "--status", "cancelled")["orders"][0]["id"] == order["id"]

    asset = supplies[0]["asset_id"]
    manual = listing(cli, "orders", "add", "--asset", str(asset), "--supply", "1", "--quantity", "3",
                     "--note", "print project")
    assert (manual["kind"], manual["lines"][0]["quantity"], manual["why"]["note"]) == ("manual", 3, "print project")
    assert "back-ordered until 2099-01-04" in cli("orders", "backorder", str(manual["id"]), "--until", "2099-01-04",
                                                  "--note", "supplier\x1b[2J out").stdout
    shown = listing(cli, "orders", "show", str(manual["id"]))["backordered"]
    assert (shown["until"], shown["note"]) == ("2099-01-04T00:00:00Z", "supplier\x1b[2J out")
    assert "\x1b" not in cli("orders", "show", str(manual["id"])).stdout  # escaped on the terminal
    assert "not a date" in cli("orders", "backorder", str(manual["id"]), "--until", "soon", expect=2).stderr
    assert "no followed supply" in cli("orders", "add", "--asset", str(asset), "--supply", "9", "--note", "x",
                                       expect=1).stderr

    (tmp_path / "acme.toml").write_text("mark_shipped_after_notification = false\nlead_days = 9\n")
    cli("policy", "set", "--client", "Acme", str(tmp_path / "acme.toml"))
    resolved = listing(cli, "policy", "show", "--client", "Acme")["resolved"]
    assert (resolved["mark_shipped_after_notification"], resolved["lead_days"]) == (False, 9)
    assert listing(cli, "policy", "show")["resolved"]["lead_days"] == 5
    (tmp_path / "bad.toml").write_text("lead_days = 400\n")
    bad = cli("policy", "set", "--asset", str(asset), str(tmp_path / "bad.toml"), expect=1)
    assert bad.stderr.count("\n") == 1 and "lead_days" in bad.stderr
