"""What the console tests share: a real server (uvicorn on 127.0.0.1, SQLite or PostgreSQL) holding two clients
with sites, an active device with two weeks of supply history and an alarm, a device to complete, dealer users
of every role and a customer portal account; readings uploaded as agents upload them (signed HTTP) or stored
through the function live ingest uses."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from agent.upload import heartbeat
from fleet_peers import add_agent, ingest, reading
from portal_peers import PASSWORD, PLANTED_LOCATION, Browser
from server_stub.api.app import Limits
from server_stub.assets import registry as asset_registry
from server_stub.db.engine import utcnow
from server_stub.db.tables import assets
from server_stub.fleet import clients as fleet
from server_stub.portal.accounts import add_account
from server_stub.supply.live import run_pending
from supply_helpers import Printer, at as supply_at
from server_stub.web.users import add_user
from trust_peers import Site, start_site, stop_site

PLANTED_SUPPLY = '<img src=x onerror="window.__pwned=3">Black'
PLANTED_FORMULA = "=HYPERLINK(\"http://evil.example\",\"x\")"
ROLES = {"admin": "admin@dealer.example", "staff": "staff@dealer.example", "read_only": "viewer@dealer.example"}
CUSTOMER = "customer@acme.example"


@dataclass
class Console:
    site: Site
    ids: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.site.url

    def asset_id(self, serial: str) -> int:
        with self.site.engine.connect() as conn:
            return conn.execute(select(assets.c.id).where(assets.c.serial == serial)).scalar_one()


def history(serial: str, days: int = 14, location: str = "2nd floor", supply: str = "Black Toner",
            model: str = "MP C3002", alerts: tuple[str, ...] = ()) -> list[dict]:
    """One reading a day for `days` days up to an hour ago, black toner falling 5 points a day."""
    now = utcnow().replace(microsecond=0) - timedelta(hours=1)
    documents = []
    for day in range(days):
        doc = reading(serial, at=now - timedelta(days=days - 1 - day), total=1000 + 150 * day,
                      black=90.0 - 5 * day, alerts=alerts if day == days - 1 else ())
        doc["identity"].update(location=location, model=model)
        doc["supplies"][0]["description"] = supply
        documents.append(doc)
    return documents


def replaced_history(serial: str, days: int = 30) -> list[dict]:
    """A mono printer whose cartridge (2,000 pages, 150 pages a day) runs out about every 13 days: the worker
    orders at the policy's level and then sees the cartridge replaced. One reading a day, the last an hour ago."""
    printer = Printer(serial=serial, yield_pages=2000, pages=lambda day: 150)
    shift = utcnow().replace(microsecond=0) - timedelta(hours=1) - supply_at(days - 1)
    documents = []
    for day in range(days):
        doc = printer.day(day)
        doc["collected_at"] = (supply_at(day) + shift).strftime("%Y-%m-%dT%H:%M:%SZ")
        documents.append(doc)
    assert printer.replaced_on, "the scenario must replace a cartridge"
    return documents


def run_supply_worker(engine) -> None:
    """The worker's supply task once (forecasts, orders, replacements and alarms recorded)."""
    with engine.begin() as conn:
        run_pending(conn)


def batch(documents: list[dict]) -> bytes:
    """A body as the agent uploads it."""
    return json.dumps({"agent": heartbeat("127.0.0.1", 0), "readings": documents}).encode()


def seed(console: Console) -> None:
    engine, ids = console.site.engine, console.ids
    with engine.begin() as conn:
        for client, sites in (("Acme", ("North", "South")), ("Globex", ("Main",))):
            fleet.add_client(conn, client)
            for site in sites:
                fleet.add_site(conn, client, site)
        for role, email in ROLES.items():
            add_user(conn, "dealer", email, PASSWORD, role=role)
        add_account(conn, CUSTOMER, PASSWORD, "Acme", ["North"], [])
    north = add_agent(engine, "acme-north", "Acme")
    ingest(engine, north, history("ACME-N-1", location=PLANTED_LOCATION, supply=PLANTED_SUPPLY,
                                  alerts=("paper_jam",)))
    ingest(engine, north, history("ACME-NEW-1", days=1))
    globex = add_agent(engine, "globex-main", "Globex")
    ingest(engine, globex, history("GLOBEX-1", days=3, model=PLANTED_FORMULA))
    for serial, site in (("ACME-N-1", "North"), ("GLOBEX-1", "Main")):
        with engine.begin() as conn:
            asset_id = conn.execute(select(assets.c.id).where(assets.c.serial == serial)).scalar_one()
            asset_registry.activate(conn, asset_id)
            asset_registry.set_site(conn, asset_id, site)
    ids.update(acme_device=console.asset_id("ACME-N-1"), new_device=console.asset_id("ACME-NEW-1"),
               globex_device=console.asset_id("GLOBEX-1"))


def start_console(kind: str, work: Path) -> Console:
    console = Console(start_site(kind, work, Limits()))
    seed(console)
    return console


def stop_console(console: Console) -> None:
    stop_site(console.site)


def logged_in(console: Console, role: str) -> Browser:
    browser = Browser(console)
    assert browser.login(ROLES[role]).status_code == 303
    return browser


__all__ = ["PASSWORD", "PLANTED_LOCATION", "Browser"]
