"""`fleetmeter-server supply backtest` through the real CLI, on generated histories."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from fleetmeter_sim.history import write_history
from tests.supply_helpers import START, Printer

CLI = [str(Path(sys.executable).with_name("fleetmeter-server"))]
FORECAST_KEYS = {"device", "supply", "date", "percent", "days_left", "pages_left", "empty_on", "empty_on_earliest",
                 "empty_on_latest", "method"}


def backtest(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "supply", "backtest", *args], capture_output=True, text=True, timeout=120)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def steady_site(path: Path, days: int) -> list[Printer]:
    """Two printers at one site, 100 pages a working day, 3000-page cartridges (about six weeks each);
    the second reports its supply under hrDeviceIndex 1 as index 3. Written newest first."""
    printers = [Printer(serial="P1", yield_pages=3000), Printer(serial="P2", yield_pages=3000, level=55.0)]
    docs = []
    for day in range(days):
        for printer in printers:
            doc = printer.day(day)
            if printer.serial == "P2":
                doc["supplies"][0] |= {"device_index": 1, "index": 3}
            docs.append({"client": "acme", "site": "hq", "reading": doc})
    path.write_text("".join(json.dumps(d) + "\n" for d in reversed(docs)))
    return printers


def test_steady_site_is_stockout_free_and_every_replacement_is_found(tmp_path: Path):
    history, out = tmp_path / "history.jsonl", tmp_path / "out"
    printers = steady_site(history, 200)
    proc = backtest(str(history), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["readings"] == 400 and summary["devices"] == 2 and summary["supplies"] == 2

    orders = lines(out / "orders.jsonl")
    for order in orders:
        assert set(order) == {"id", "client", "site", "placed_at", "lines", "rule", "status"}
        assert (order["client"], order["site"]) == ("acme", "hq")
    keys = {"P1": "1", "P2": "1.3"}
    for printer in printers:
        supply = keys[printer.serial]
        arrivals = sorted(datetime.fromisoformat(o["placed_at"].replace("Z", "+00:00")) + timedelta(days=5)
                          for o in orders for ln in o["lines"] if (ln["device"], ln["supply"]) == (printer.serial, supply)
                          for _ in range(ln["quantity"]))
        needed = [day for day in printer.replaced_on if day >= 30]
        assert needed, "the scenario must run cartridges out after the first month"
        for day in needed:  # a parcel arrived before the morning the cartridge ran out
            morning = datetime.combine(START + timedelta(days=day), datetime.min.time()).replace(
                tzinfo=arrivals[0].tzinfo) + timedelta(hours=8)
            ready = [a for a in arrivals if a <= morning]
            assert ready, f"{printer.serial} ran out on day {day} with nothing delivered"
            arrivals.remove(ready[0])

    found = lines(out / "replacements.jsonl")
    for printer in printers:
        days = sorted((datetime.fromisoformat(r["at"].replace("Z", "+00:00")).date() - START).days
                      for r in found if r["device"] == printer.serial)
        assert days == printer.replaced_on
    for replacement in found:
        assert set(replacement) == {"device", "supply", "at", "left_percent", "premature", "wasted_pages", "order_id"}
        assert replacement["premature"] is False and replacement["left_percent"] < 5

    forecasts = lines(out / "forecasts.jsonl")
    assert all(set(f) == FORECAST_KEYS for f in forecasts)
    assert {(f["device"], f["supply"]) for f in forecasts} == {("P1", "1"), ("P2", "1.3")}
    assert len(forecasts) == 400  # one per supply per day with a reading
    dates = [f["date"] for f in forecasts if f["device"] == "P1"]
    assert dates == sorted(dates) and len(set(dates)) == 200


def test_generated_fleet_history_replays_with_outputs_of_the_documented_shape(tmp_path: Path):
    history, out = tmp_path / "fleet.jsonl", tmp_path / "out"
    fleet = write_history(history, seed=3, devices=12, days=75)
    proc = backtest(str(history), "--out", str(out), "--lead-days", "3")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["devices"] == 12 and summary["readings"] == len(history.read_text().splitlines())
    assert summary["replacements"] == len(lines(out / "replacements.jsonl"))
    for name in ("forecasts", "orders", "replacements", "alarms"):
        assert (out / f"{name}.jsonl").exists()
    for alarm in lines(out / "alarms.jsonl"):
        assert set(alarm) == {"device", "supply", "at", "kind"}
    for forecast in lines(out / "forecasts.jsonl"):
        assert set(forecast) == FORECAST_KEYS
    real = {(e.serial, str(e.supply)) for e in fleet.events}
    seen = {(r["device"], r["supply"]) for r in lines(out / "replacements.jsonl")}
    assert seen <= real  # nothing replaced that was not really replaced


def test_bad_history_line_is_one_clear_error(tmp_path: Path):
    history = tmp_path / "bad.jsonl"
    good = {"client": "a", "site": "s", "reading": Printer().day(0)}
    bad = json.loads(json.dumps(good))
    bad["reading"]["counters"]["total"] = "12"
    history.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    proc = backtest(str(history), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and f"{history}:2: reading.counters.total" in proc.stderr
    proc = backtest(str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1 and "cannot read" in proc.stderr and "Traceback" not in proc.stderr
    policy = tmp_path / "p.toml"
    policy.write_text("[global]\nlead_days = -1\n")
    proc = backtest(str(history), "--out", str(tmp_path / "out"), "--policy", str(policy))
    assert proc.returncode == 1 and "global.lead_days" in proc.stderr
    assert backtest(str(history)).returncode == 2  # --out is required


def test_simulated_history_is_deterministic(tmp_path: Path):
    write_history(tmp_path / "a.jsonl", seed=5, devices=6, days=20)
    write_history(tmp_path / "b.jsonl", seed=5, devices=6, days=20)
    write_history(tmp_path / "c.jsonl", seed=6, devices=6, days=20)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert (tmp_path / "a.jsonl").read_bytes() != (tmp_path / "c.jsonl").read_bytes()


def test_the_bench_counts_a_stockout_as_unavoidable_only_when_a_big_job_left_no_time():
    from datetime import date, datetime, timezone
    from types import SimpleNamespace

    from fleetmeter_sim.score import unavoidable

    start = date(2025, 1, 6)  # a Monday
    # 200 pages a working day, no weekend printing: 200 x 5/7 pages a calendar day; a 3,000-page job on day 10
    profile = SimpleNamespace(workday_pages=200.0, weekend_factor=0.0, trend_day=None, trend_factor=1.0,
                              big_jobs={10: 3000})
    on = lambda day, hour: datetime(2025, 1, 6 + day, hour, tzinfo=timezone.utc)  # noqa: E731
    # the job itself emptied it, and without it the cartridge had three weeks left: nothing could have come
    assert unavoidable(profile, start, on(10, 14), lead_days=5)
    # empty after an order placed at the job day's reading could have arrived: avoidable
    assert not unavoidable(profile, start, on(16, 9), lead_days=5)
    # a small job (a day's pages) that only brought a near-empty cartridge forward: the policy should have ordered
    small = SimpleNamespace(**vars(profile) | {"big_jobs": {10: 200}})
    assert not unavoidable(small, start, on(10, 14), lead_days=5)
    # no big job at all
    assert not unavoidable(SimpleNamespace(**vars(profile) | {"big_jobs": {}}), start, on(10, 14), lead_days=5)


def test_a_device_whose_agent_goes_silent_is_still_ordered_for_while_its_site_reports(tmp_path: Path):
    history, out = tmp_path / "history.jsonl", tmp_path / "out"
    p1 = Printer(serial="P1", yield_pages=3000, pages=lambda day: 10)  # keeps the site reporting, orders nothing
    p2 = Printer(serial="P2", yield_pages=3000)
    silent = range(31, 56)  # P2's agent is offline from its second month, when its cartridge nears empty
    docs = []
    for day in range(70):
        docs.append({"client": "acme", "site": "hq", "reading": p1.day(day)})
        doc = p2.day(day)
        if day not in silent:
            docs.append({"client": "acme", "site": "hq", "reading": doc})
    history.write_text("".join(json.dumps(d) + "\n" for d in docs))
    assert backtest(str(history), "--out", str(out)).returncode == 0
    empty = min(day for day in p2.replaced_on if day >= 30)
    assert empty in silent, "the scenario must run P2 out while it is silent"
    placed = sorted((datetime.fromisoformat(o["placed_at"].replace("Z", "+00:00")).date() - START).days
                    for o in lines(out / "orders.jsonl") for ln in o["lines"] if ln["device"] == "P2")
    assert placed and placed[0] in silent and placed[0] + 5 <= empty  # ordered from its last forecast, in time
