"""Per-consumable billing from what was delivered, on SQLite and PostgreSQL: orders placed and shipped through
the supply domain (server_stub.supply.order_book), jobs made by the request queue's sync and completed through
the jobs domain, contracts and stock imported with the CLI; plans and bills through `fleetmeter-server billing`.
Expected amounts are worked out here from the prices this test writes into the plan."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

from alembic import command
from sqlalchemy import select

from billing_peers import SERIAL_PREFIX, Home, at, home, reading  # noqa: F401 (home is a fixture)
from fleet_peers import add_agent, ingest
from fleetmeter_contract.reading import Supply
from jobs_scenario import cmyk_reading
from server_stub.billing.deliveries import period_deliveries
from server_stub.billing.periods import Period
from server_stub.db import migrate
from server_stub.db.tables import assets
from server_stub.jobs import requests as queue
from server_stub.jobs.rules import set_status
from server_stub.jobs.tables import consumable_jobs
from server_stub.supply import live, order_book
from server_stub.supply.tables import supply_order_requests

D = Decimal
CLIENT = "Toners"
SERIAL = "K1"
# supply index -> (colour, the part number the printer reports)
SUPPLIES = {1: ("black", "842311"), 2: ("cyan", "842312"), 3: ("yellow", "842314")}
STOCK_BLACK = "TK-BLK"          # the contract's default black stock: what the job sends
PRICES = {"stock": D("89.00"), "part": D("85.50"), "cyan": D("75.00"), "yellow": D("70.25")}
CONTRACT = "-42 C"              # a contract number a spreadsheet would read as a formula


def plan_text(*, yellow: bool) -> str:
    text = ('type = "consumable"\ncurrency = "EUR"\n'
            f'[[consumables.prices]]\npart_number = "{STOCK_BLACK}"\nprice = "{PRICES["stock"]}"\n'
            f'[[consumables.prices]]\npart_number = "{SUPPLIES[1][1]}"\nprice = "{PRICES["part"]}"\n'
            f'[[consumables.prices]]\ntype = "toner"\ncolor = "cyan"\nprice = "{PRICES["cyan"]}"\n')
    if yellow:
        text += f'[[consumables.prices]]\ntype = "toner"\ncolor = "yellow"\nprice = "{PRICES["yellow"]}"\n'
    return text


def with_supplies(doc: dict) -> dict:
    doc["supplies"] = [Supply(index=i, description=f"{c} toner", type="toner", color=c, class_="consumed",
                              unit="percent", level=80, max_capacity=100, percent=80.0, state="ok",
                              part_number=part).to_json() for i, (c, part) in SUPPLIES.items()]
    return doc


def set_plan(home: Home, period: str, *, yellow: bool) -> tuple[int, str, str]:
    path = home.path / "consumables.toml"
    path.write_text(plan_text(yellow=yellow))
    return home.cli("billing", "plan", "set", "--client", CLIENT, str(path), "--from", period)


def test_orders_and_jobs_bill_each_shipment_once_in_its_period(home):
    home.import_readings(CLIENT, [with_supplies(reading(SERIAL, "2026-02-28T12:00", mono=100)),
                                  with_supplies(reading(SERIAL, "2026-03-31T12:00", mono=900))])
    asset = home.activate_all(CLIENT)[SERIAL]
    stock = home.path / "stock.csv"
    stock.write_text(f"part_code,description,colour,class,yield_pages\n{STOCK_BLACK},Black toner,black,toner,12000\n")
    home.ok("import", "stock", str(stock))
    contracts = home.path / "contracts.csv"
    contracts.write_text("number,serial,status,default_stock_black\n"
                         f"{CONTRACT},{SERIAL_PREFIX}{SERIAL},active,{STOCK_BLACK}\n")
    home.ok("import", "contracts", str(contracts))

    with home.engine.begin() as conn:
        live.run_pending(conn, at("2026-03-01T00:00"))   # the supply engine follows the printer's supplies
        first = order_book.add_manual_order(conn, asset, "1.1", 2, "print project", at("2026-03-03T09:00"))
        first_id = int(first.id.lstrip("#"))
        order_book.change_order(conn, first_id, "ship", at("2026-03-05T10:00"))
        queue.add_request(conn, asset, "1.2", "dealer", at=at("2026-03-06T08:00"))
        queue.add_request(conn, asset, "1.3", "portal", at=at("2026-03-06T08:30"))
        assert queue.sync(conn, at("2026-03-07T08:00")).jobs_created == 1   # the order's request and both others
        [job] = {r["job"] for r in queue.list_requests(conn)}
        set_status(conn, job, "in_progress", at("2026-03-10T08:00"))
        set_status(conn, job, "ready_to_invoice", at("2026-03-20T16:00"))
        # a second order for the black toner while the first one's request is open: shipped in April
        second = order_book.add_manual_order(conn, asset, "1.1", 1, "more", at("2026-03-28T09:00"))
        second_id = int(second.id.lstrip("#"))
        order_book.change_order(conn, second_id, "ship", at("2026-04-02T10:00"))
        # a cancelled order delivers nothing
        third = order_book.add_manual_order(conn, asset, "1.2", 5, "not needed", at("2026-03-29T09:00"))
        order_book.change_order(conn, int(third.id.lstrip("#")), "cancel", at("2026-03-29T10:00"))

    assert set_plan(home, "2026-03", yellow=False)[0] == 0   # a past period with no stored bill: allowed
    code, _, err = home.cli("billing", "run", "--client", CLIENT, "--period", "2026-03")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert f"yellow toner x 1 delivered 2026-03-20 (job {job} line" in err and "needs a price" in err

    assert set_plan(home, "2026-03", yellow=True)[0] == 0     # still not billed: the plan may change
    march = home.run(CLIENT, "2026-03")
    lines = march["consumables"]
    ordered = [c for c in lines if c["order"] is not None]
    assert len(ordered) == 1, lines                            # the order and its job line: one shipment
    black = ordered[0]
    assert (black["order"], black["order_line"], black["job"]) == (first_id, 1, job)
    assert black["delivered_at"] == "2026-03-05T10:00:00Z"    # shipped before the job was completed
    assert (black["quantity"], black["stock_code"], black["part_number"]) == (2, STOCK_BLACK, SUPPLIES[1][1])
    assert D(black["amount"]) == 2 * PRICES["stock"]          # the job's stock code beats the printer's part number
    assert f"order {first_id} line 1" in black["reference"] and f"job {job} line" in black["reference"]
    by_colour = {c["color"]: c for c in lines}
    assert set(by_colour) == {"black", "cyan", "yellow"} and all(c["job"] == job for c in lines)
    assert D(by_colour["cyan"]["amount"]) == PRICES["cyan"] and D(by_colour["yellow"]["amount"]) == PRICES["yellow"]
    assert D(march["total"]) == 2 * PRICES["stock"] + PRICES["cyan"] + PRICES["yellow"]
    assert march["contracts"] == {str(asset): CONTRACT}
    text = home.ok("billing", "run", "--client", CLIENT, "--period", "2026-03")
    assert f"order {first_id} line 1 + job {job} line" in text

    # March is billed: a plan from March (or before) is refused, naming the stored bill; April is open
    code, _, err = set_plan(home, "2026-03", yellow=False)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert f"the 2026-03 bill ({march['total']} EUR, billed" in err and "earliest: 2026-04" in err
    assert set_plan(home, "2026-02", yellow=False)[0] == 1
    assert set_plan(home, "2026-04", yellow=True)[0] == 0

    with home.engine.begin() as conn:   # the job invoiced in April: its consumables were delivered in March
        set_status(conn, job, "invoiced", at("2026-04-05T09:00"))
    april = home.run(CLIENT, "2026-04")
    [parcel] = april["consumables"]
    assert (parcel["order"], parcel["job"], parcel["quantity"]) == (second_id, None, 1)
    assert parcel["stock_code"] is None and D(parcel["amount"]) == PRICES["part"]   # priced by the printer's part
    assert D(april["total"]) == PRICES["part"]

    rows = list(csv.DictReader(io.StringIO(home.ok("billing", "export", "--period", "2026-03", "--csv"))))
    assert [(r["contract"], r["asset"], r["meter"], r["quantity"]) for r in rows] == [
        ("'" + CONTRACT, str(asset), "consumables", "4")]   # the contract cell neutralised
    assert D(rows[0]["amount"]) == D(march["total"])

    invoice = home.path / "invoice.html"
    home.ok("invoices", "create", "--client", CLIENT, "--period", "2026-03")
    number = json.loads(home.ok("invoices", "list", "--json"))["invoices"][0]["number"]
    home.ok("invoices", "file", number, "--out", str(invoice))
    html = invoice.read_text()
    assert f"order {first_id} line 1 + job {job} line" in html and STOCK_BLACK in html


def test_upgrade_to_0015_finds_what_the_code_records(engine):
    """Migration 0015 fills in, for data stored before it, the order -> request links and job completion times
    that the code records from then on: recorded by the code, dropped by a downgrade, rebuilt by the upgrade."""
    agent = add_agent(engine, "north", "Acme")
    ingest(engine, agent, [cmyk_reading("W492KB03439", at=at("2026-03-01T08:00"), levels=(80, 80, 80, 80))])
    with engine.begin() as conn:
        [asset] = conn.execute(select(assets.c.id)).scalars().all()
        live.run_pending(conn, at("2026-03-01T09:00"))
        order = order_book.add_manual_order(conn, asset, "1.1", 2, "project", at("2026-03-02T09:00"))
        order_book.change_order(conn, int(order.id.lstrip("#")), "ship", at("2026-03-03T09:00"))
        # a dealer's comment that looks like a reorder's is not a link
        queue.add_request(conn, asset, "1.2", "dealer", comment="supply order 1: 9 cartridge(s)",
                          at=at("2026-03-02T10:00"))
        queue.sync(conn, at("2026-03-04T09:00"))
        [job] = conn.execute(select(consumable_jobs.c.id)).scalars().all()
        set_status(conn, job, "ready_to_invoice", at("2026-03-05T09:00"))

    def recorded():
        with engine.connect() as conn:
            return (sorted(tuple(r) for r in conn.execute(select(supply_order_requests))),
                    conn.execute(select(consumable_jobs.c.completed_at)).scalars().all())

    before = recorded()
    assert len(before[0]) == 1 and before[1] == [at("2026-03-05T09:00")]
    config = migrate._config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0011")
    migrate.upgrade(engine)
    assert recorded() == before
    with engine.connect() as conn:   # the order and its job line, one shipment; the dealer's cyan line alone
        found = period_deliveries(conn, conn.execute(select(assets.c.client_id)).scalar_one(), Period(2026, 3))
    assert sorted((d.order_id is not None, d.job_id == job, d.quantity) for d in found) == [(False, True, 1),
                                                                                           (True, True, 2)]
