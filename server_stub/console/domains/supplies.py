from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Connection

from server_stub.fleet.clients import FleetError
from server_stub.supply.live import load_orders
from server_stub.supply.order_book import list_supplies
from server_stub.supply.tables import supply_orders


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None
from server_stub.console.domain_page import DomainPage


def orders_by_supply(conn: Connection) -> dict[tuple[int, str], list[int]]:
    """(asset id, supply key) -> ids of the open orders with a line for it."""
    found: dict[tuple[int, str], list[int]] = {}
    for order, asset_of in load_orders(conn, supply_orders.c.closed_at.is_(None)):
        for line in order.lines:
            found.setdefault((asset_of[line.device], line.supply), []).append(int(order.id[1:]))
    return found


def query(conn: Connection, filters: dict[str, str]) -> dict[str, Any]:
    """Followed supplies soonest empty first (`supplies list`), filtered by days left, level and site."""
    days, level = _number(filters.get("days")), _number(filters.get("level"))
    client, site = filters.get("client") or None, filters.get("site") or None
    error = None
    try:
        rows = list_supplies(conn, client=client, site=site,
                             due_within=timedelta(days=days) if days is not None and 0 <= days < 36500 else None)
    except FleetError as exc:
        rows, error = [], str(exc)
    if level is not None:
        rows = [r for r in rows if r.percent is not None and r.percent <= level]
    return {"supplies": rows, "orders": orders_by_supply(conn), "error": error,
            "filters": {k: filters.get(k, "") for k in ("days", "level", "client", "site")}}


PAGE = DomainPage(
    "/supplies", "Supplies due",
    "supplies by days left (filter by days left, level, class, site) with the orders they caused; the "
    "forecast line and range on each device's supply chart, and the days left on the fleet overview",
    "server_stub.supply (orders/forecasts tables)",
    query=query, template="supplies.html")
