"""Storing one verified batch: nonce, heartbeat, rate window and readings in a single transaction.

Either everything in the batch is stored (readings already there are skipped by their idempotency key)
or nothing is: a replayed nonce or an exhausted rate window rolls the whole transaction back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from server_stub.db import agents, nonces, readings, utcnow
from server_stub.identity import device_key
from server_stub.schema import Heartbeat


class Replayed(Exception):
    """The request's nonce was seen before."""


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Stored:
    received: int
    stored: int

    @property
    def duplicates(self) -> int:
        return self.received - self.stored


def _insert(conn: Connection, table):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def store_batch(engine: Engine, agent_id: int, nonce: str, heartbeat: Heartbeat,
                documents: list[tuple[dict, datetime]], remote_ip: str | None, rate_per_minute: int) -> Stored:
    """`documents`: each reading as sent, with its validated collected_at (aware, UTC)."""
    now = utcnow()
    window = int(now.timestamp()) // 60
    with engine.begin() as conn:
        fresh = conn.execute(_insert(conn, nonces).values(nonce=nonce, seen_at=now)
                             .on_conflict_do_nothing(index_elements=["nonce"]).returning(nonces.c.nonce)).first()
        if fresh is None:
            raise Replayed()
        count = conn.execute(
            update(agents).where(agents.c.id == agent_id).values(
                last_seen_at=now, agent_version=heartbeat.version, hostname=heartbeat.hostname,
                os=heartbeat.os, ip_addresses=[str(ip) for ip in heartbeat.ip_addresses], remote_ip=remote_ip,
                queue_depth=heartbeat.queue_depth,
                rate_count=case((agents.c.rate_window == window, agents.c.rate_count + 1), else_=1),
                rate_window=window)
            .returning(agents.c.rate_count)).scalar_one()
        if rate_per_minute and count > rate_per_minute:
            conn.rollback()
            raise RateLimited(retry_after=60 - int(now.timestamp()) % 60)
        stored = 0
        if documents:
            rows = [{"agent_id": agent_id, "device_key": device_key(doc), "collected_at": collected_at,
                     "received_at": now, "document": doc} for doc, collected_at in documents]
            result = conn.execute(_insert(conn, readings)
                                  .on_conflict_do_nothing(index_elements=["agent_id", "device_key", "collected_at"])
                                  .returning(readings.c.id), rows)
            stored = len(result.all())
    return Stored(len(documents), stored)


def prune_nonces(engine: Engine, older_than: timedelta) -> int:
    """Nonces older than the signature window can never be replayed (the signature is too old)."""
    with engine.begin() as conn:
        return conn.execute(delete(nonces).where(nonces.c.seen_at < utcnow() - older_than)).rowcount


