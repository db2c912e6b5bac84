"""What the live forecast says of one supply now (server_stub.supply.live keeps it in supply_state), for the
pages of other domains (consumable jobs): days and pages left, percent, expected empty date, method."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from server_stub.supply.tables import supply_state


def supply_outlook(conn: Connection, asset: int, supply_key: str) -> dict[str, Any] | None:
    """Days and pages left for one asset supply ("device_index.index"), None when it is not followed."""
    row = conn.execute(select(supply_state.c.days_left, supply_state.c.pages_left, supply_state.c.percent,
                              supply_state.c.empty_on, supply_state.c.method)
                       .where(supply_state.c.asset_id == asset, supply_state.c.supply_key == supply_key)).first()
    return None if row is None else dict(row._mapping)
