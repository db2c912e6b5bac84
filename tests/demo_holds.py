"""What `fleetmeter-server demo` must leave in the server, read back through the server's own CLI (--json) on the
demo's home: a forecast, an order that consolidation placed, a consumable job on a demo printer's contract, and a
bill for last month. Shared by the demo test (from the checkout) and the packaging test (from the installed wheel)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

from server_stub.billing.periods import Period

CLIENT = "Demo Customer Ltd"


def last_month() -> str:
    return str(Period.containing(datetime.now(timezone.utc)).previous())


def assert_demo_holds(server: str, home: Path, printed: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("FLEETMETER_DB", "PYTHONPATH")}
    env["FLEETMETER_HOME"] = str(home)

    def cli(*args: str) -> dict:
        done = subprocess.run([server, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{args}: {done.stderr}"
        return json.loads(done.stdout)

    serials = {p["serial"] for p in json.loads((home / "printers.json").read_text())["devices"]}
    # a forecast: level, days left and an empty date inside its range, by a named method
    forecasts = [s for s in cli("supplies", "list", "--json")["supplies"] if s["empty_on"]]
    assert forecasts, "no supply has a forecast"
    for f in forecasts:
        assert f["serial"] in serials and f["percent"] is not None and f["days_left"] is not None and f["method"]
        assert date.fromisoformat(f["empty_on_earliest"]) <= date.fromisoformat(f["empty_on"]) \
            <= date.fromisoformat(f["empty_on_latest"])
    # an order of more than one line that consolidation placed, with its reason
    orders = cli("orders", "list", "--json")["orders"]
    joined = [o for o in orders if len(o["lines"]) > 1 and any(ln["reason"] == "consolidated" for ln in o["lines"])]
    assert joined, [(o["id"], [ln["reason"] for ln in o["lines"]]) for o in orders]
    why = cli("orders", "show", str(joined[-1]["id"]), "--json")["why"]
    assert why["fired"] and why["consolidated"]
    assert f"order     #{joined[-1]['id']} " in printed
    # a consumable job on a demo printer, its contract matched by the printer's serial, the contract's stock
    jobs = cli("jobs", "list", "--json")["jobs"]
    assert jobs and all(j["serial"] in serials for j in jobs)
    shown = cli("jobs", "show", str(jobs[-1]["job"]), "--json")
    assert shown["contract"] and shown["lines"]
    assert all(ln["part_code"] and ln["stock_source"] == "contract" for ln in shown["lines"])
    # last month's bill
    bill = cli("billing", "run", "--client", CLIENT, "--period", last_month(), "--json")
    assert bill["period"] == last_month() and bill["lines"] and Decimal(bill["total"]) > 0
    assert f"bill      {last_month()} for {CLIENT}: total {bill['total']}" in printed

