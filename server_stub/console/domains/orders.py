from typing import Any

from sqlalchemy.engine import Connection

from server_stub.supply.live import order_json
from server_stub.supply.order_book import STATUSES, list_orders
from server_stub.console.domain_page import DomainPage


def rows(conn: Connection, filters: dict[str, str]) -> list[dict[str, Any]]:
    """Orders (newest first) with their lifecycle and why, through the function `orders list` calls."""
    status = filters.get("status") or None
    orders = list_orders(conn, client=filters.get("client") or None,
                         status=status if status in STATUSES else None)
    return [order_json(o, why=True) for o in reversed(orders)]


def query(conn: Connection, filters: dict[str, str]) -> dict[str, Any]:
    return {"orders": rows(conn, filters), "statuses": STATUSES,
            "filters": {k: filters.get(k, "") for k in ("client", "status")}}


PAGE = DomainPage(
    "/orders", "Orders",
    "consumable orders with their lifecycle (proposed, placed, shipped, delivered, cancelled) and the reason "
    "each was placed (which supply, which forecast, which policy, consolidation)",
    "server_stub.supply (orders table)",
    query=query, template="orders.html")
