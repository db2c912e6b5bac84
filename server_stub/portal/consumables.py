"""Consumables a customer requests by hand from the portal."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from server_stub.db.engine import utcnow
from server_stub.portal import visible
from server_stub.portal.accounts import Account
from server_stub.portal.tables import portal_consumable_requests


def request_consumable(conn: Connection, account: Account, asset_id: int, supply_key: str,
                       note: str | None = None) -> int:
    """Record a customer's request for a consumable of a device the account sees (NotFound otherwise); returns
    the request id. This is the portal's one entry into the consumable request queue: the jobs domain
    (server_stub.jobs, built in parallel) owns that queue, and at merge the lead makes this function call
    jobs.add_request(conn, asset_id, supply_key, source="portal", ...) instead of writing the portal's table."""
    visible.device(conn, account, asset_id)
    supply_key = supply_key.strip()
    if not supply_key or len(supply_key) > 200:
        raise ValueError("choose a consumable")
    return conn.execute(portal_consumable_requests.insert().values(
        user_id=account.user_id, asset_id=asset_id, supply_key=supply_key,
        note=(note or "").strip()[:2000] or None, created_at=utcnow())).inserted_primary_key[0]
