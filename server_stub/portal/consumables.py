"""Consumables a customer requests by hand from the portal: they enter the dealer's request queue
(server_stub.jobs.requests), like the reorder decision's and the dealer's own requests."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from server_stub.jobs.requests import add_request
from server_stub.portal import visible
from server_stub.portal.accounts import Account


def request_consumable(conn: Connection, account: Account, asset_id: int, supply_key: str,
                       note: str | None = None) -> int:
    """Queue a request for a consumable of a device the account sees (NotFound otherwise); returns the
    request id (the open one when that supply already has one)."""
    visible.device(conn, account, asset_id)
    return add_request(conn, asset_id, supply_key.strip(), "portal", requested_by=account.email,
                       comment=(note or "").strip()[:2000])
