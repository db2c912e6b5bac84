"""Orders and forecasts as the dealer sees and handles them: listings (with the why), manual transitions
(ship, cancel, release) and exceptional manual orders. Every transition goes through the lifecycle in
server_stub.supply.orders, under the same site lock the worker decides under."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from server_stub.db.engine import utcnow
from server_stub.db.tables import assets, clients, sites
from server_stub.fleet.clients import FleetError, get_client, site_id
from server_stub.notify.outbox import order_event
from server_stub.supply import orders as lifecycle
from server_stub.supply.live import insert_order, load_orders, lock_site, order_json, save_order, site_key
from server_stub.supply.orders import Order, OrderError
from server_stub.supply.tables import supply_orders, supply_state

STATUSES = ("new", "blocked", "installation_in_progress", "to_replace", "replaced", "cancelled")
ACTIONS = {"ship": lambda o, now: lifecycle.ship(o, now), "cancel": lambda o, now: lifecycle.cancel(o, now),
           "release": lambda o, now: lifecycle.release(o)}


def _site_filter(conn: Connection, client: str | None, site: str | None) -> list[Any]:
    where = []
    if client is not None:
        where.append(supply_orders.c.client_id == get_client(conn, client).id)
    if site is not None:
        if client is None:
            raise FleetError("--site needs --client (site names are per client)")
        where.append(supply_orders.c.site_key == site_key(site_id(conn, client, site), 0))
    return where


def list_orders(conn: Connection, *, client: str | None = None, site: str | None = None,
                status: str | None = None) -> list[Order]:
    where = _site_filter(conn, client, site)
    if status == "blocked":
        where += [supply_orders.c.status == "new", supply_orders.c.blocked.is_(True)]
    elif status == "new":
        where += [supply_orders.c.status == "new", supply_orders.c.blocked.is_(False)]
    elif status is not None:
        where.append(supply_orders.c.status == status)
    return [order for order, _ in load_orders(conn, *where)]


def get_order(conn: Connection, order_id: int) -> Order:
    found = load_orders(conn, supply_orders.c.id == order_id)
    if not found:
        raise OrderError(f"no order {order_id}; see: fleetmeter-server orders list")
    return found[0][0]


def change_order(conn: Connection, order_id: int, action: str, now: datetime | None = None, *,
                 until: datetime | None = None, note: str | None = None) -> Order:
    """ship | cancel | release | backorder (with the date the goods are expected and a note), under the
    site's lock (the worker cannot decide on a stale copy meanwhile); shipping and back-ordering queue the
    client's mail."""
    row = conn.execute(select(supply_orders.c.site_key, supply_orders.c.client_id)
                       .where(supply_orders.c.id == order_id)).first()
    if row is None:
        raise OrderError(f"no order {order_id}; see: fleetmeter-server orders list")
    lock_site(conn, row.site_key, row.client_id, wait=True)
    now = now or utcnow()
    order = get_order(conn, order_id)
    if action == "backorder":
        order = lifecycle.backorder(order, now, until, note)
    else:
        order = ACTIONS[action](order, now)
    save_order(conn, order)
    if action == "ship":
        order_event(conn, row.client_id, order_json(order), "order_shipped", now)
    elif action == "backorder":  # each back-order of the order is news (a new date): one mail each
        order_event(conn, row.client_id, order_json(order), "order_backordered", now)
    return order


def add_manual_order(conn: Connection, asset_id: int, supply: str, quantity: int, note: str,
                     now: datetime | None = None) -> Order:
    """An exceptional order (a big print project) for one followed supply; the worker then treats it like any
    open order (stock, delivery, replacement)."""
    row = conn.execute(select(supply_state.c.state, assets.c.client_id, assets.c.site_id, clients.c.name)
                       .join(assets, assets.c.id == supply_state.c.asset_id)
                       .join(clients, clients.c.id == assets.c.client_id)
                       .where(supply_state.c.asset_id == asset_id, supply_state.c.supply_key == supply)).first()
    if row is None:
        raise OrderError(f"asset {asset_id} has no followed supply {supply!r}; see: fleetmeter-server supplies list")
    key = site_key(row.site_id, asset_id)
    lock_site(conn, key, row.client_id, wait=True)
    slot = row.state["f"]
    order = lifecycle.place_manual("manual", row.name, key, now or utcnow(),
                                   [(slot["device"], supply, quantity, slot.get("part_number"))], note)
    db_id = insert_order(conn, order, row.client_id, {slot["device"]: asset_id})
    return get_order(conn, db_id)


@dataclass(frozen=True)
class SupplyRow:
    asset_id: int
    client: str
    site: str | None
    serial: str | None
    model: str | None
    supply: str
    part_number: str | None
    percent: float | None
    days_left: float | None
    pages_left: int | None
    empty_on: datetime | None
    empty_earliest: datetime | None
    empty_latest: datetime | None
    method: str | None
    supply_class: str | None = None

    def to_json(self) -> dict[str, Any]:
        day = lambda v: v.date().isoformat() if v else None  # noqa: E731
        return {"asset_id": self.asset_id, "client": self.client, "site": self.site, "serial": self.serial,
                "model": self.model, "supply": self.supply, "part_number": self.part_number,
                "percent": None if self.percent is None else round(self.percent, 1),
                "days_left": None if self.days_left is None else round(self.days_left, 1),
                "pages_left": self.pages_left, "empty_on": day(self.empty_on),
                "empty_on_earliest": day(self.empty_earliest), "empty_on_latest": day(self.empty_latest),
                "method": self.method}


def list_supplies(conn: Connection, *, client: str | None = None, site: str | None = None,
                  due_within: timedelta | None = None, now: datetime | None = None,
                  classes: Collection[str] | None = None, level_at_most: float | None = None,
                  limit: int | None = None, offset: int = 0) -> list[SupplyRow]:
    """The forecast of every followed supply, soonest empty first; optionally of some policy classes
    (server_stub.supply.policy.SUPPLY_CLASSES), at most a level, and one page (`limit` rows from `offset`)."""
    query = (select(supply_state, assets.c.serial, assets.c.model, clients.c.name.label("client"),
                    sites.c.name.label("site"))
             .join(assets, assets.c.id == supply_state.c.asset_id)
             .join(clients, clients.c.id == assets.c.client_id)
             .outerjoin(sites, sites.c.id == assets.c.site_id))
    if client is not None:
        query = query.where(assets.c.client_id == get_client(conn, client).id)
    if site is not None:
        if client is None:
            raise FleetError("--site needs --client (site names are per client)")
        query = query.where(assets.c.site_id == site_id(conn, client, site))
    if due_within is not None:
        query = query.where(supply_state.c.empty_on <= (now or utcnow()) + due_within)
    if classes is not None:
        query = query.where(supply_state.c.supply_class.in_(list(classes)))
    if level_at_most is not None:
        query = query.where(supply_state.c.percent <= level_at_most)
    query = query.order_by(supply_state.c.empty_on.is_(None), supply_state.c.empty_on, supply_state.c.asset_id,
                           supply_state.c.supply_key)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    rows = conn.execute(query).all()
    return [SupplyRow(r.asset_id, r.client, r.site, r.serial, r.model, r.supply_key, r.state["f"].get("part_number"),
                      r.percent, r.days_left, r.pages_left, r.empty_on, r.empty_earliest, r.empty_latest, r.method,
                      r.supply_class)
            for r in rows]
