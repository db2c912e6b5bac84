"""The supply domain's calls into the jobs domain: an order line becomes a consumable request in the dealer's
request queue (server_stub.jobs.requests), where the sync turns it into a consumable job."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from server_stub.jobs.requests import RequestError
from server_stub.jobs.requests import add_request as queue_request


def add_request(conn: Connection, asset_id: int, supply_key: str, order_id: int, quantity: int) -> int | None:
    """Queue the order line's consumable (source `reorder`); the supply's open request when it has one. None
    when the queue refuses it (e.g. a supply its printer no longer reports): the order itself stands."""
    try:
        return queue_request(conn, asset_id, supply_key, "reorder", requested_by="reorder",
                             comment=f"supply order {order_id}: {quantity} cartridge(s)")
    except RequestError:
        return None
