"""The supply domain's calls into the jobs domain: an order line becomes a consumable request in the dealer's
request queue (server_stub.jobs.requests), where the sync turns it into a consumable job; a replacement the
engine detects completes the supply's open requests (the only replacement rule: server_stub.supply.replacement).
Which request each order line was queued as is recorded (supply_order_requests): billing counts an order line
and its request's job line as one shipment (server_stub.billing.deliveries)."""

from __future__ import annotations

from datetime import datetime

from typing import Any

from sqlalchemy.engine import Connection

from server_stub.db.engine import upsert_insert

from server_stub.jobs.contracts import contract_settings
from server_stub.jobs.requests import RequestError, complete_requests_for_replacement
from server_stub.jobs.requests import add_request as queue_request
from server_stub.supply.policy import SUPPLY_CLASSES
from server_stub.supply.tables import supply_order_requests


def supply_pair(supply_key: str) -> tuple[int, int]:
    """The engine's supply key ("1.3", or "3" for a reading that gave no device index: device 1, as the
    reading model defaults it) as the queue's (device index, supply index)."""
    device, _, index = supply_key.rpartition(".")
    return int(device or 1), int(index)


def contract_levels(conn: Connection, devices: dict[str, int]) -> dict[str, dict[str, Any]]:
    """The reorder policy's device level each asset's contract sets (engine device -> asset id in, device ->
    level out): monitoring off places no automatic order; a threshold override orders every supply class at
    that Level."""
    levels: dict[str, dict[str, Any]] = {}
    for device, asset_id in devices.items():
        settings = contract_settings(conn, asset_id)
        level: dict[str, Any] = {}
        if not settings.monitor:
            level["monitor"] = False
        if settings.threshold_override_percent is not None:
            level["classes"] = {c: {"method": "level", "level_percent": settings.threshold_override_percent}
                                for c in SUPPLY_CLASSES}
        if level:
            levels[device] = level
    return levels


def add_request(conn: Connection, asset_id: int, supply_key: str, order_id: int, quantity: int,
                at: datetime | None = None) -> int | None:
    """Queue the order line's consumable (source `reorder`); the supply's open request when it has one. None
    when the queue refuses it (e.g. a supply its printer no longer reports): the order itself stands. The
    request the line was queued as is recorded for the order."""
    try:
        request_id = queue_request(conn, asset_id, supply_pair(supply_key), "reorder", requested_by="reorder",
                                   comment=f"supply order {order_id}: {quantity} cartridge(s)", at=at)
    except RequestError:
        return None
    conn.execute(upsert_insert(conn, supply_order_requests).on_conflict_do_nothing(),
                 {"order_id": order_id, "asset_id": asset_id, "supply_key": supply_key, "request_id": request_id})
    return request_id


def replaced(conn: Connection, asset_id: int, supply_key: str, at: datetime) -> int:
    """The engine saw this supply replaced at `at`: its open requests made before then are completed."""
    return complete_requests_for_replacement(conn, asset_id, supply_pair(supply_key), at)
