from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from server_stub.console.domain_page import DomainPage, page_number
from server_stub.fleet.clients import FleetError
from server_stub.supply.live import load_orders, order_db_id
from server_stub.supply.order_book import list_supplies
from server_stub.supply.tables import supply_order_lines, supply_orders

PAGE_SIZE = 50
# The page's class filter: what a dealer asks for, as the reorder policy's classes (server_stub.supply.policy)
CLASSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "mono_toner": ("Mono toner", ("mono_toner",)),
    "colour_toner": ("Colour toner", ("colour_toner",)),
    "drum": ("Drums", ("mono_drum", "colour_drum")),
    "maintenance": ("Maintenance", ("maintenance",)),
    "waste_toner": ("Waste toner", ("waste_toner",)),
}
FILTERS = ("days", "level", "class", "client", "site")


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def orders_by_supply(conn: Connection, asset_ids: set[int]) -> dict[tuple[int, str], list[int]]:
    """(asset id, supply key) -> ids of the open orders with a line for it, for these assets."""
    if not asset_ids:
        return {}
    theirs = select(supply_order_lines.c.order_id).where(supply_order_lines.c.asset_id.in_(asset_ids))
    found: dict[tuple[int, str], list[int]] = {}
    for order, asset_of in load_orders(conn, supply_orders.c.closed_at.is_(None), supply_orders.c.id.in_(theirs)):
        for line in order.lines:
            found.setdefault((asset_of[line.device], line.supply), []).append(order_db_id(order.id))
    return found


def query(conn: Connection, filters: dict[str, str], *, paged: bool = True) -> dict[str, Any]:
    """Followed supplies soonest empty first (`supplies list`), filtered by days left, level, class and site, a
    page of PAGE_SIZE at a time (`paged=False`: all of them, for the CSV export)."""
    days, level = _number(filters.get("days")), _number(filters.get("level"))
    client, site = filters.get("client") or None, filters.get("site") or None
    chosen = CLASSES.get(filters.get("class") or "")
    page = page_number(filters.get("page")) if paged else 1
    error = None
    try:
        rows = list_supplies(conn, client=client, site=site,
                             due_within=timedelta(days=days) if days is not None and 0 <= days < 36500 else None,
                             classes=chosen[1] if chosen else None, level_at_most=level,
                             limit=PAGE_SIZE + 1 if paged else None, offset=(page - 1) * PAGE_SIZE)
    except FleetError as exc:
        rows, error = [], str(exc)
    more = paged and len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE] if paged else rows
    shown = {k: filters.get(k, "") for k in FILTERS}
    if not chosen:
        shown["class"] = ""
    return {"supplies": rows, "orders": orders_by_supply(conn, {r.asset_id for r in rows}), "error": error,
            "filters": shown, "classes": {k: v[0] for k, v in CLASSES.items()}, "page": page, "more": more}


PAGE = DomainPage(
    "/supplies", "Supplies due",
    "supplies by days left (filter by days left, level, class, site) with the orders they caused; the "
    "forecast line and range on each device's supply chart, and the days left on the fleet overview",
    "server_stub.supply (orders/forecasts tables)",
    query=query, template="supplies.html")
