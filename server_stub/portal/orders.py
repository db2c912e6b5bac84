"""Service orders: made from a fault report (at once with "order directly", or when the dealer accepts it)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.engine import Connection

from server_stub.db.engine import utcnow
from server_stub.portal.tables import service_order_lines, service_orders

STATES = ("planned", "in_progress", "performed", "cancelled")


def create_order(conn: Connection, client_id: int, site_id: int, asset_id: int | None, description: str) -> int:
    """A new service order on the site, status planned (SDF: "Planerad")."""
    return conn.execute(service_orders.insert().values(
        client_id=client_id, site_id=site_id, asset_id=asset_id, status="planned", description=description,
        created_at=utcnow())).inserted_primary_key[0]


def add_line(conn: Connection, order_id: int, description: str, quantity: Decimal, unit_price: Decimal,
             purchase_price: Decimal | None = None) -> int:
    if quantity <= 0 or unit_price < 0 or (purchase_price is not None and purchase_price < 0):
        raise ValueError("an order line needs a positive quantity and prices of at least zero")
    return conn.execute(service_order_lines.insert().values(
        order_id=order_id, description=description, quantity=quantity, unit_price=unit_price,
        purchase_price=purchase_price)).inserted_primary_key[0]
