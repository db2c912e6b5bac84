"""Replay protection: each signature's nonce is claimed once, in the transaction of the request it signs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.engine import Connection

from server_stub.db.engine import upsert_insert, utcnow
from server_stub.db.tables import nonces


class Replayed(Exception):
    """The request's nonce was seen before."""


def claim_nonce(conn: Connection, nonce: str) -> None:
    """Record the nonce; raises Replayed if it was already used (the caller's transaction rolls back)."""
    fresh = conn.execute(upsert_insert(conn, nonces).values(nonce=nonce, seen_at=utcnow())
                         .on_conflict_do_nothing(index_elements=["nonce"]).returning(nonces.c.nonce)).first()
    if fresh is None:
        raise Replayed()


def prune_nonces(conn: Connection, older_than: timedelta) -> int:
    """Nonces older than the signature window can never be replayed (the signature is too old)."""
    return conn.execute(delete(nonces).where(nonces.c.seen_at < utcnow() - older_than)).rowcount
