"""What the live forecast says of one supply now (server_stub.supply.live keeps it in supply_state), for the
pages of other domains (consumable jobs): days and pages left, percent, expected empty date, method."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
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


def days_left(conn: Connection, asset_ids: Sequence[int]) -> dict[int, dict[str, float]]:
    """Asset id -> {supply key: days left} for the followed supplies of `asset_ids` (one query for a page)."""
    found: dict[int, dict[str, float]] = {}
    if asset_ids:
        for row in conn.execute(select(supply_state.c.asset_id, supply_state.c.supply_key, supply_state.c.days_left)
                                .where(supply_state.c.asset_id.in_(list(asset_ids)),
                                       supply_state.c.days_left.is_not(None))):
            found.setdefault(row.asset_id, {})[row.supply_key] = row.days_left
    return found


def observed_key(supply_key: str) -> tuple[int, int]:
    """The (device_index, supply_index) of supply_observations for an engine key ("3" is device 1's, as a reading
    without a device index means device 1)."""
    device, _, index = supply_key.rpartition(".")
    return int(device or 1), int(index)


def forecast_lines(conn: Connection, asset: int) -> dict[tuple[int, int], list[tuple[datetime, float, float, float]]]:
    """(device_index, supply_index) -> the forecast as points (at, percent, low, high): from the level now to empty on the expected
    date, the range running to empty on the earliest (low) and latest (high) dates."""
    lines = {}
    for row in conn.execute(select(supply_state.c.supply_key, supply_state.c.percent, supply_state.c.updated_at,
                                   supply_state.c.empty_on, supply_state.c.empty_earliest,
                                   supply_state.c.empty_latest).where(supply_state.c.asset_id == asset)):
        if row.percent is None or row.empty_on is None or row.empty_on <= row.updated_at:
            continue
        start, level = row.updated_at, row.percent
        earliest = max(start, min(row.empty_earliest or row.empty_on, row.empty_on))
        latest = max(row.empty_latest or row.empty_on, row.empty_on)

        def at(moment: datetime, empty: datetime) -> float:
            if empty <= start:
                return 0.0
            return max(0.0, level * (1 - (moment - start) / (empty - start)))
        moments = sorted({start, earliest, row.empty_on, latest})
        lines[observed_key(row.supply_key)] = [(m, at(m, row.empty_on), at(m, earliest), at(m, latest)) for m in moments]
    return lines
