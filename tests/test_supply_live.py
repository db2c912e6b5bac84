"""The supply engine run live on SQLite and PostgreSQL: readings stored through ingest (store_readings, the
function the HTTP upload runs), the worker's supply task applies them and decides per site."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from sqlalchemy import select

from fleet_peers import add_agent, ingest
from server_stub.db import migrate
from server_stub.db.engine import make_engine
from server_stub.db.tables import assets
from server_stub.fleet.clients import add_site
from server_stub.jobs.csvio import import_csv
from server_stub.jobs.requests import list_requests
from server_stub.supply import backtest, live, order_book, policy_store
from server_stub.supply.orders import OrderError
from server_stub.supply.tables import supply_order_lines, supply_orders, supply_state
from supply_helpers import Printer, at
from trust_peers import Database


def put_on_site(engine, client: str, site: str) -> None:
    with engine.begin() as conn:
        site_id = add_site(conn, client, site).id
        conn.execute(assets.update().values(site_id=site_id))


def worker(engine, now):
    with engine.begin() as conn:
        return live.run_pending(conn, now)


def orders(engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(supply_orders).order_by(supply_orders.c.id)).all()
        lines = conn.execute(select(supply_order_lines)).all()
    return [dict(r._mapping) | {"lines": [dict(ln._mapping) for ln in lines if ln.order_id == r.id]} for r in rows]


def two_printers():
    # different paces: one runs out around day 45, the other around day 50 (5000-page cartridges)
    return [Printer(serial="PX0000001A", pages=lambda d: 110), Printer(serial="PX0000002A", pages=lambda d: 100)]


def feed(engine, agent, printers, days, *, worker_every: int | None = 1):
    for day in days:
        ingest(engine, agent, [p.day(day) for p in printers])
        if worker_every and day % worker_every == 0:
            worker(engine, at(day, 19))


def test_site_running_low_places_one_consolidated_order_and_a_replacement_closes_it(engine):
    agent = add_agent(engine, "north", "Acme")
    printers = two_printers()
    ingest(engine, agent, [p.day(0) for p in printers])
    put_on_site(engine, "Acme", "HQ")
    feed(engine, agent, printers, range(1, 44))
    placed = orders(engine)
    assert len(placed) == 1, placed
    [order] = placed
    assert {(ln["device"], ln["supply_key"]) for ln in order["lines"]} == {("PX0000001A", "1"), ("PX0000002A", "1")}
    why = order["why"]
    assert order["rule"] == "proactive" and set(why["lines"]) == {"PX0000001A/1", "PX0000002A/1"}
    assert why["fired"][0]["device"] == "PX0000001A" and why["consolidated"] == [{"device": "PX0000002A", "supply": "1"}]
    assert why["lines"]["PX0000001A/1"]["readings"]  # the readings that fired it
    assert order["shipped_at"] == order["placed_at"]  # mark shipped after notification (default)
    assert order["status"] == "to_replace"  # delivered after the lead time (5 days)
    worker(engine, at(43, 20))  # a second run with the order open: no second order
    assert len(orders(engine)) == 1
    feed(engine, agent, printers, range(44, 52))  # both cartridges run out and are replaced
    assert all(len(p.replaced_on) == 1 for p in printers)
    [order] = orders(engine)
    assert order["status"] == "replaced" and [ln["installed"] for ln in order["lines"]] == [1, 1]


def test_live_forecast_equals_the_backtest_on_the_same_history(engine, tmp_path):
    agent = add_agent(engine, "north", "Acme")
    printers = two_printers()
    history = tmp_path / "history.jsonl"
    with history.open("w") as out:
        for day in range(0, 60):
            docs = [p.day(day) for p in printers]
            for doc in docs:
                out.write(json.dumps({"client": "Acme", "site": "HQ", "reading": doc}) + "\n")
            ingest(engine, agent, docs)
            if day % 7 == 3:  # the worker runs at irregular times, several days at once
                worker(engine, at(day, 20))
    worker(engine, at(59, 20))
    backtest.run(history, tmp_path / "out", None, None)
    last = {}
    for line in (tmp_path / "out" / "forecasts.jsonl").read_text().splitlines():
        doc = json.loads(line)
        last[(doc["device"], doc["supply"])] = doc
    with engine.connect() as conn:
        rows = conn.execute(select(supply_state)).all()
    assert len(rows) == len(last) == 2
    for row in rows:
        expected = last[(row.state["f"]["device"], row.supply_key)]
        assert row.pages_left == expected["pages_left"]
        assert round(row.percent, 1) == expected["percent"] and round(row.days_left, 1) == expected["days_left"]
        assert row.empty_on.date().isoformat() == expected["empty_on"]
        assert row.empty_earliest.date().isoformat() == expected["empty_on_earliest"]
        assert row.method == expected["method"]


def test_blocked_order_waits_for_release(engine):
    """A cartridge printed 2,000 of a rated 10,000 pages (20 %): the order after it is blocked."""
    agent = add_agent(engine, "north", "Acme")
    with engine.begin() as conn:
        policy_store.set_level(conn, "global", "", {"rated_yields": {"TN-1": 10000}})
        policy_store.set_level(conn, "client", "Acme", {"block_efficiency_below": 50.0,
                                                        "mark_shipped_after_notification": True})
    printer = Printer(serial="PX0000009B", yield_pages=2000, pages=lambda d: 100)
    feed(engine, agent, [printer], range(0, 56), worker_every=3)
    assert len(printer.replaced_on) == 2  # the second cartridge's whole life was seen: 2,000 pages
    blocked = [o for o in orders(engine) if o["blocked"]]
    assert len(blocked) == 1 and blocked[0]["status"] == "new" and "blocked" in json.dumps(blocked[0]["why"])
    worker(engine, at(56, 20))
    assert [o["status"] for o in orders(engine) if o["blocked"]] == ["new"]  # never shipped automatically
    with engine.begin() as conn, pytest.raises(OrderError, match="blocked; release it first"):
        order_book.change_order(conn, blocked[0]["id"], "ship", at(56, 21))
    with engine.begin() as conn:
        order_book.change_order(conn, blocked[0]["id"], "release", at(56, 21))
        shipped = order_book.change_order(conn, blocked[0]["id"], "ship", at(56, 21))
    assert shipped.status.value == "installation_in_progress"


def test_two_worker_processes_at_once_place_one_order(tmp_path):
    db = Database("postgresql", tmp_path)
    engine = make_engine(db.url)
    try:
        migrate.upgrade(engine)
        agent = add_agent(engine, "north", "Acme")
        printers = two_printers()
        ingest(engine, agent, [p.day(0) for p in printers])
        put_on_site(engine, "Acme", "HQ")
        feed(engine, agent, printers, range(1, 44), worker_every=None)
        script = ("import sys; from server_stub.db.engine import make_engine; from server_stub.supply import live; "
                  "from datetime import datetime\n"
                  "with make_engine(sys.argv[1]).begin() as conn:\n"
                  "    runs = live.run_pending(conn, datetime.fromisoformat(sys.argv[2]))\n"
                  "print(sum(len(r.placed) for r in runs))")
        procs = [subprocess.Popen([sys.executable, "-c", script, db.url, at(43, 20).isoformat()],
                                  stdout=subprocess.PIPE, text=True) for _ in range(2)]
        placed = [int(p.communicate(timeout=120)[0]) for p in procs]
        assert all(p.returncode == 0 for p in procs)
        assert sorted(placed) == [0, 1] and len(orders(engine)) == 1
        worker(engine, at(43, 21))
        assert len(orders(engine)) == 1
    finally:
        engine.dispose()
        db.drop()


def test_printers_without_a_usable_serial_are_followed_per_asset(engine):
    """Placeholder serials ("XXXXXXXXXX") on two printers told apart by their MACs: two assets, two supplies."""
    agent = add_agent(engine, "north", "Acme")
    printers = two_printers()
    for day in range(0, 10):
        docs = [p.day(day) for p in printers]
        for doc, mac in zip(docs, ("00:11:22:33:44:01", "00:11:22:33:44:02")):
            doc["identity"] |= {"serial": "XXXXXXXXXX", "mac": mac}
        ingest(engine, agent, docs)
    worker(engine, at(9, 20))
    with engine.connect() as conn:
        rows = conn.execute(select(supply_state.c.asset_id, supply_state.c.percent)).all()
    assert len({r.asset_id for r in rows}) == 2
    truth = sorted(p.level for p in printers)  # 78 % and 80 % left: each asset follows its own printer
    assert all(abs(got - want) <= 1.5 for got, want in zip(sorted(r.percent for r in rows), truth))


def test_contract_monitor_off_and_threshold_override_reach_the_reorder_decision(engine):
    """One contract orders its printer at its own Level threshold; the other's monitoring is off: no order,
    no consolidated line, no consumable request for it, though it runs as low as the first."""
    agent = add_agent(engine, "north", "Acme")
    printers = two_printers()
    ingest(engine, agent, [p.day(0) for p in printers])
    put_on_site(engine, "Acme", "HQ")
    override = 50.0
    with engine.begin() as conn:
        import_csv(conn, "contracts", io.StringIO(
            "number,serial,status,monitor,threshold_override_percent\n"
            f"C-1,{printers[0].serial},active,on,{override}\nC-2,{printers[1].serial},active,off,\n"))
    feed(engine, agent, printers, range(1, 48))
    placed = orders(engine)
    assert placed and all(ln["device"] == printers[0].serial for o in placed for ln in o["lines"]), placed
    first = placed[0]
    fired = first["why"]["lines"][f"{printers[0].serial}/1"]
    assert (first["rule"], fired["level_percent"]) == ("level", override)
    assert override - 5 <= fired["percent"] <= override  # ordered as soon as it reached the contract's threshold
    with engine.connect() as conn:
        asked = {r["serial"] for r in list_requests(conn)}
    assert asked == {printers[0].serial}  # the order's line became a request; the unmonitored printer has none
    with engine.connect() as conn:
        low = conn.execute(select(supply_state.c.percent).join(assets, assets.c.id == supply_state.c.asset_id)
                           .where(assets.c.serial == printers[1].serial)).scalar_one()
    assert low is not None and low < 20  # below any threshold the default policy would have ordered at
