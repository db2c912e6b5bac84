"""Storing one verified batch: nonce, heartbeat, rate window and readings in a single transaction.

Either everything in the batch is stored (readings already there are skipped by their idempotency key)
or nothing is: a replayed nonce or an exhausted rate window rolls the whole transaction back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import case, delete, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from server_stub.db import agents, nonces, utcnow
from server_stub.identity import device_key
from server_stub.schema import Batch


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


def store_batch(engine: Engine, agent_id: int, nonce: str, batch: Batch, body: bytes, remote_ip: str | None,
                rate_per_minute: int) -> Stored:
    """`batch` is the validated form of `body`; the readings are stored as sent (JSON taken from `body`)."""
    heartbeat = batch.agent
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
    keys = json.dumps([device_key(reading) for reading in batch.readings])
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


def prune_nonces(engine: Engine, older_than: timedelta) -> int:
    """Nonces older than the signature window can never be replayed (the signature is too old)."""
    with engine.begin() as conn:
        return conn.execute(delete(nonces).where(nonces.c.seen_at < utcnow() - older_than)).rowcount


