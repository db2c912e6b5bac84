"""Stock items and related stock: which parts fit a model (every asset of it) or one asset."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from server_stub.db.tables import assets
from server_stub.jobs.tables import related_stock, stock_items


class StockError(ValueError):
    pass


def relate_stock(conn: Connection, part_code: str, *, model: str | None = None, asset_id: int | None = None) -> bool:
    """Relate a stock item to a model or to one asset (exactly one of them); False when already related.
    An asset's own related stock is chosen before its model's."""
    if (model is None) == (asset_id is None):
        raise StockError("relate stock to a model or to an asset")
    if conn.execute(select(stock_items.c.part_code).where(stock_items.c.part_code == part_code)).first() is None:
        raise StockError(f"part_code: no stock item {part_code!r} (import stock.csv first)")
    if asset_id is not None and conn.execute(select(assets.c.id).where(assets.c.id == asset_id)).first() is None:
        raise StockError(f"no asset {asset_id}")
    owner = related_stock.c.asset_id == asset_id if asset_id is not None else related_stock.c.model == model
    other = related_stock.c.model.is_(None) if asset_id is not None else related_stock.c.asset_id.is_(None)
    if conn.execute(select(related_stock.c.id).where(owner, other, related_stock.c.part_code == part_code)).first():
        return False
    conn.execute(insert(related_stock).values(model=model, asset_id=asset_id, part_code=part_code))
    return True


def list_stock(conn: Connection) -> list[dict]:
    related: dict[str, list[str]] = {}
    for row in conn.execute(select(related_stock).order_by(related_stock.c.id)):
        related.setdefault(row.part_code, []).append(f"asset {row.asset_id}" if row.asset_id else f"model {row.model}")
    return [{"part_code": r.part_code, "description": r.description, "colour": r.colour, "class": r.supply_class,
             "yield_pages": r.yield_pages, "related": related.get(r.part_code, [])}
            for r in conn.execute(select(stock_items).order_by(stock_items.c.part_code))]
