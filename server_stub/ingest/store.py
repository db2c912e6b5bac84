"""Storing one verified batch: nonce, heartbeat, rate window and readings in a single transaction.

Either everything in the batch is stored (readings already there are skipped by their idempotency key)
or nothing is: a replayed nonce or an exhausted rate window rolls the whole transaction back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import case, text, update
from sqlalchemy.engine import Connection

from server_stub.api.models import Batch
from server_stub.db.engine import utcnow
from server_stub.db.tables import agents
from server_stub.assets.identity import asset_key
from server_stub.trust.nonces import claim_nonce

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


def store_batch(conn: Connection, agent_id: int, nonce: str, batch: Batch, body: bytes, remote_ip: str | None,
                rate_per_minute: int) -> Stored:
    """`batch` is the validated form of `body`; the readings are stored as sent (JSON taken from `body`).
    Raises Replayed or RateLimited: the caller's transaction then rolls back, so nothing of the batch stays."""
    heartbeat = batch.agent
    now = utcnow()
    window = int(now.timestamp()) // 60
    claim_nonce(conn, nonce)
    count = conn.execute(
        update(agents).where(agents.c.id == agent_id).values(
            last_seen_at=now, agent_version=heartbeat.version, hostname=heartbeat.hostname,
            os=heartbeat.os, ip_addresses=[str(ip) for ip in heartbeat.ip_addresses], remote_ip=remote_ip,
            queue_depth=heartbeat.queue_depth,
            rate_count=case((agents.c.rate_window == window, agents.c.rate_count + 1), else_=1),
            rate_window=window)
        .returning(agents.c.rate_count)).scalar_one()
    if rate_per_minute and count > rate_per_minute:
        raise RateLimited(retry_after=60 - int(now.timestamp()) % 60)
    stored = _insert_readings(conn, agent_id, batch, body, now) if batch.readings else 0
    return Stored(len(batch.readings), stored)


# One statement per batch: the database takes the readings out of the request body itself (no per-row
# round trips, no re-serialisation in Python); keys and times come from the validated batch, in order.
_INSERT_PG = text("""
    INSERT INTO readings (agent_id, device_key, collected_at, received_at, document)
    SELECT :agent_id, k.key, CAST(t.at AS timestamptz), :now, r.doc
    FROM json_array_elements(CAST(:body AS json) -> 'readings') WITH ORDINALITY AS r(doc, n)
    JOIN json_array_elements_text(CAST(:keys AS json)) WITH ORDINALITY AS k(key, n) USING (n)
    JOIN json_array_elements_text(CAST(:times AS json)) WITH ORDINALITY AS t(at, n) USING (n)
    ON CONFLICT (agent_id, device_key, collected_at) DO NOTHING
    RETURNING id""")
_INSERT_SQLITE = text("""
    INSERT INTO readings (agent_id, device_key, collected_at, received_at, document)
    SELECT :agent_id, k.value, t.value, :now, r.value
    FROM json_each(:body, '$.readings') AS r
    JOIN json_each(:keys) AS k ON k.key = r.key
    JOIN json_each(:times) AS t ON t.key = r.key
    WHERE true
    ON CONFLICT (agent_id, device_key, collected_at) DO NOTHING
    RETURNING id""")
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime on SQLite (UTCDateTime: naive UTC)


def _insert_readings(conn: Connection, agent_id: int, batch: Batch, body: bytes, now: datetime) -> int:
    keys = json.dumps([asset_key(reading) for reading in batch.readings])
    times = [reading.collected_at.astimezone(timezone.utc) for reading in batch.readings]
    if conn.dialect.name == "postgresql":
        params = {"times": json.dumps([t.isoformat() for t in times]), "now": now}
        statement = _INSERT_PG
    else:
        params = {"times": json.dumps([t.strftime(SQLITE_TIME) for t in times]),
                  "now": now.astimezone(timezone.utc).strftime(SQLITE_TIME)}
        statement = _INSERT_SQLITE
    result = conn.execute(statement, {"agent_id": agent_id, "body": body.decode(), "keys": keys, **params})
    return len(result.all())
