"""What the portal tests share: a real server (uvicorn on 127.0.0.1, SQLite or PostgreSQL) holding two clients
with sites, active devices, orders and projects; a browser-like HTTP client that logs in with a real session
cookie and posts forms with the page's CSRF token."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import requests
from sqlalchemy import select, update

from fleet_peers import T0, ingest, reading
from server_stub.api.app import Limits
from server_stub.assets import registry as asset_registry
from server_stub.db.tables import agents, assets
from server_stub.fleet import clients as fleet
from server_stub.fleet.remote_config import set_entry
from server_stub.portal.accounts import add_account, add_project
from server_stub.portal.orders import add_line, create_order
from server_stub.portal.tables import project_lines, service_orders
from server_stub.trust import enrolment as registry
from trust_peers import Site, start_site, stop_site

PASSWORD = "correct horse battery"
PLANTED_LOCATION = '<script>window.__pwned=1;alert("loc")</script>'
PLANTED_MODEL = '<img src=x onerror="window.__pwned=2">'
CSRF = re.compile(r'name="csrf" value="([^"]*)"')


@dataclass
class Portal:
    site: Site
    ids: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.site.url + "/portal"

    def begin(self):
        return self.site.engine.begin()

    def setting(self, key: str, value) -> None:
        with self.begin() as conn:
            set_entry(conn, "global", "", "server." + key, value)

    def account(self, email: str, client: str, sites: list[str], projects: list[str] = (), **options) -> str:
        with self.begin() as conn:
            add_account(conn, email, PASSWORD, client, sites, list(projects), **options)
        return email


def _device(engine, client: str, site: str, serial: str, *, model: str = "MP C3002",
            location: str = "2nd floor") -> int:
    """An active asset on the site, made the way production makes it: an agent of the client at that site uploads
    a reading, the dealer activates the asset."""
    name = f"agent-{secrets.token_hex(3)}"
    with engine.begin() as conn:
        registry.add_agent(conn, name, client, timedelta(days=1))
        fleet.link_agent(conn, name, client, site)
        agent_id = conn.execute(select(agents.c.id).where(agents.c.name == name)).scalar_one()
    doc = reading(serial, at=T0)
    doc["identity"].update(model=model, location=location)
    ingest(engine, agent_id, [doc])
    with engine.begin() as conn:
        asset_id = conn.execute(select(assets.c.id).where(assets.c.serial == serial)).scalar_one()
        asset_registry.activate(conn, asset_id)
        asset_registry.set_site(conn, asset_id, site)
    return asset_id


def seed(portal: Portal) -> None:
    """Acme (sites North and South) and Globex (site Main), each with a device, an order with lines and a
    project; Acme North's device carries hostile strings a printer could send."""
    engine, ids = portal.site.engine, portal.ids
    with engine.begin() as conn:
        for client, sites in (("Acme", ("North", "South")), ("Globex", ("Main",))):
            fleet.add_client(conn, client)
            for site in sites:
                fleet.add_site(conn, client, site)
        fleet.add_coordinator(conn, "Acme", "Ref Person", email="ref@acme.example", main=True)
    ids["acme_device"] = _device(engine, "Acme", "North", "ACME-N-1", model=PLANTED_MODEL, location=PLANTED_LOCATION)
    ids["south_device"] = _device(engine, "Acme", "South", "ACME-S-1", model="SouthSecretModel")
    ids["globex_device"] = _device(engine, "Globex", "Main", "GLOBEX-1", model="GlobexSecretModel")
    with engine.begin() as conn:
        for key, client, site in (("acme_north", "Acme", "North"), ("acme_south", "Acme", "South"),
                                  ("globex_site", "Globex", "Main")):
            ids[key] = fleet.site_id(conn, client, site)
        for key, client, site, device in (("acme_order", "Acme", "acme_north", "acme_device"),
                                          ("south_order", "Acme", "acme_south", "south_device"),
                                          ("globex_order", "Globex", "globex_site", "globex_device")):
            client_id = fleet.get_client(conn, client).id
            ids[key] = create_order(conn, client_id, ids[site], ids[device], f"{key} secret description")
            add_line(conn, ids[key], f"{key} toner", Decimal("2"), Decimal("12.50"), Decimal("7.10"))
            add_line(conn, ids[key], f"{key} labour", Decimal("1"), Decimal("0.10"), None)
        conn.execute(update(service_orders).where(service_orders.c.id == ids["acme_order"])
                     .values(performed_action="Replaced fuser unit"))
        for key, client in (("acme_project", "Acme"), ("globex_project", "Globex")):
            ids[key] = add_project(conn, client, f"{key}-Name")
            conn.execute(project_lines.insert().values(project_id=ids[key], description=f"{key} line",
                                                       quantity=Decimal("3"), unit_price=Decimal("100.00"),
                                                       purchase_price=Decimal("61.25")))


def start_portal(kind: str, work: Path) -> Portal:
    portal = Portal(start_site(kind, work, Limits()))
    seed(portal)
    return portal


def stop_portal(portal: Portal) -> None:
    stop_site(portal.site)


class Browser:
    """An HTTP client that behaves like a browser on the portal: cookies, the page's CSRF token in forms."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.http = requests.Session()
        self.http.trust_env = False
        self.csrf = ""

    def get(self, path: str, **kw) -> requests.Response:
        response = self.http.get(self.portal.url + path, allow_redirects=False, timeout=30, **kw)
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict, csrf: bool = True) -> requests.Response:
        data = dict(data, csrf=self.csrf) if csrf else data
        return self.http.post(self.portal.url + path, data=data, allow_redirects=False, timeout=30)

    def login(self, email: str, password: str = PASSWORD) -> requests.Response:
        self.get("/login")
        response = self.post("/login", {"email": email, "password": password})
        if response.status_code == 303:
            self.get("/")  # the logged-in session's CSRF token
        return response

    @property
    def cookie(self) -> str | None:
        return self.http.cookies.get("fm_portal")
