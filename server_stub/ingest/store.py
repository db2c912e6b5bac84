"""Storing one verified batch: heartbeat, rate window, readings and what they derive, in one transaction.

Either everything in the batch is stored (readings already there are skipped by their idempotency key)
or nothing is: an exhausted rate window rolls the whole transaction back. (The request's nonce was claimed
and committed when its signature was verified: server_stub.trust.signatures.)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from json.decoder import scanstring

from sqlalchemy import String, bindparam, case, select, text, update
from sqlalchemy.engine import Connection

from fleetmeter_contract.reading import DeviceReading
from server_stub.api.models import Batch
from server_stub.assets.identity import asset_key
from server_stub.db.bulk import SQLITE_TIME
from server_stub.db.engine import utcnow
from server_stub.db.tables import Id, UTCDateTime, agents
from server_stub.fleet.clients import ensure_client
from server_stub.ingest.derive import StoredReading, derive, resolve_assets


# The batch's heartbeat and rate window, and the agent's client and site for ingest: one statement, built once.
_HEARTBEAT = (update(agents).where(agents.c.id == bindparam("agent_id")).values(
    last_seen_at=bindparam("now"), agent_version=bindparam("version"), hostname=bindparam("hostname"),
    os=bindparam("os"), ip_addresses=bindparam("ips"), remote_ip=bindparam("remote_ip"),
    queue_depth=bindparam("queue_depth"),
    rate_count=case((agents.c.rate_window == bindparam("window"), agents.c.rate_count + 1), else_=1),
    rate_window=bindparam("window"))
    .returning(agents.c.rate_count, agents.c.client_id, agents.c.site_id))


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


def store_batch(conn: Connection, agent_id: int, batch: Batch, body: bytes, remote_ip: str | None,
                rate_per_minute: int) -> Stored:
    """`batch` is the validated form of `body`; the readings are stored as sent (JSON taken from `body`).
    Raises RateLimited: the caller's transaction then rolls back, so nothing of the batch stays."""
    heartbeat = batch.agent
    now = utcnow()
    window = int(now.timestamp()) // 60
    row = conn.execute(_HEARTBEAT, {
        "agent_id": agent_id, "now": now, "version": heartbeat.version, "hostname": heartbeat.hostname,
        "os": heartbeat.os, "ips": [str(ip) for ip in heartbeat.ip_addresses], "remote_ip": remote_ip,
        "queue_depth": heartbeat.queue_depth, "window": window}).one()
    if rate_per_minute and row.rate_count > rate_per_minute:
        raise RateLimited(retry_after=60 - int(now.timestamp()) % 60)
    client = (row.client_id, row.site_id) if row.client_id is not None else None
    stored = store_readings(conn, agent_id, batch.readings, body.decode(), now, client)
    return Stored(len(batch.readings), stored)


# One statement per batch: the database takes the readings out of the body's "readings" array itself (no per-row
# round trips, no re-serialisation in Python; the array's text, not the whole body, so PostgreSQL parses it twice
# instead of three times); keys, times and assets come from the validated batch, in order.
_INSERT_PG = text("""
    INSERT INTO readings (agent_id, device_key, collected_at, received_at, document, asset_id)
    SELECT :agent_id, k.key, CAST(t.at AS timestamptz), :now, r.doc, CAST(a.id AS integer)
    FROM json_array_elements(CAST(:readings AS json)) WITH ORDINALITY AS r(doc, n)
    JOIN json_array_elements_text(CAST(:keys AS json)) WITH ORDINALITY AS k(key, n) USING (n)
    JOIN json_array_elements_text(CAST(:times AS json)) WITH ORDINALITY AS t(at, n) USING (n)
    JOIN json_array_elements_text(CAST(:assets AS json)) WITH ORDINALITY AS a(id, n) USING (n)
    ON CONFLICT (agent_id, device_key, collected_at) DO NOTHING
    RETURNING id, device_key, collected_at""").columns(id=Id, device_key=String, collected_at=UTCDateTime)
_INSERT_SQLITE = text("""
    INSERT INTO readings (agent_id, device_key, collected_at, received_at, document, asset_id)
    SELECT :agent_id, k.value, t.value, :now, r.value, a.value
    FROM json_each(:readings) AS r
    JOIN json_each(:keys) AS k ON k.key = r.key
    JOIN json_each(:times) AS t ON t.key = r.key
    JOIN json_each(:assets) AS a ON a.key = r.key
    WHERE true
    ON CONFLICT (agent_id, device_key, collected_at) DO NOTHING
    RETURNING id, device_key, collected_at""").columns(id=Id, device_key=String, collected_at=UTCDateTime)


def store_readings(conn: Connection, agent_id: int, items: list[DeviceReading], body: str, now: datetime,
                   client: tuple[int, int | None] | None = None) -> int:
    """Store `items` (the validated readings of `body`, a JSON object whose "readings" list holds their wire
    documents in the same order) for the agent and derive their assets and history (server_stub.ingest.derive).
    `client`: the agent's (client id, site id) when the caller has read them (else agent_client).
    Readings already stored (same agent, device and time) are skipped. Returns how many were stored."""
    if not items:
        return 0
    client_id, site_id = client or agent_client(conn, agent_id)
    keys = [asset_key(reading) for reading in items]
    found: dict[str, DeviceReading] = {}
    for key, reading in zip(keys, items):
        if key not in found or reading.collected_at > found[key].collected_at:
            found[key] = reading
    asset_ids = resolve_assets(conn, client_id, site_id, agent_id, found, now)
    times = [reading.collected_at.astimezone(timezone.utc) for reading in items]
    position = {}
    for index, (key, at) in enumerate(zip(keys, times)):
        position.setdefault((key, at), index)
    inserted = insert_readings(conn, agent_id, body, keys, times, [asset_ids[key] for key in keys], now)
    stored = [StoredReading(reading_id, asset_ids[key], items[position[(key, at)]]) for reading_id, key, at in inserted]
    derive(conn, agent_id, stored, now)
    return len(stored)


def insert_readings(conn: Connection, agent_id: int, body: str, keys: list[str], times: list[datetime],
                    asset_ids: list[int | None], now: datetime) -> list[tuple[int, str, datetime]]:
    """The raw insert, one statement: (id, device key, collected_at) of each reading that was not there yet."""
    if conn.dialect.name == "postgresql":
        params = {"times": json.dumps([t.isoformat() for t in times]), "now": now}
        statement = _INSERT_PG
    else:
        params = {"times": json.dumps([t.strftime(SQLITE_TIME) for t in times]),
                  "now": now.astimezone(timezone.utc).strftime(SQLITE_TIME)}
        statement = _INSERT_SQLITE
    result = conn.execute(statement, {
        "agent_id": agent_id, "readings": readings_array(body), "keys": json.dumps(keys), "assets": json.dumps(asset_ids),
        **params})
    return [(row.id, row.device_key, row.collected_at) for row in result]


_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def readings_array(body: str) -> str:
    """The exact text of the "readings" array of a validated batch body: a JSON object whose keys are "readings"
    and optionally "agent" (an object), each once. Found without parsing the readings when they are the last key
    (as agents and imports send them: the text up to the closing brace), else by parsing up to their end."""
    position = _SPACE.match(body, _SPACE.match(body).end() + 1).end()  # after the opening brace
    while body.startswith('"', position):
        key, position = scanstring(body, position + 1)
        position = _SPACE.match(body, body.index(":", position) + 1).end()
        if key == "readings":
            rest = body[position:body.rindex("}")].rstrip(" \t\n\r")
            if rest.endswith("]"):  # an "agent" after the readings would end in "}"
                return rest
            return body[position:_DECODER.raw_decode(body, position)[1]]
        position = _SPACE.match(body, _DECODER.raw_decode(body, position)[1]).end()
        position = _SPACE.match(body, position + 1).end()  # the comma
    raise ValueError("a batch body has a readings array")


def agent_client(conn: Connection, agent_id: int) -> tuple[int, int | None]:
    """The agent's client and site ids (a client row is made for an agent that predates clients)."""
    row = conn.execute(select(agents.c.client_id, agents.c.site_id, agents.c.client)
                       .where(agents.c.id == agent_id)).one()
    if row.client_id is not None:
        return row.client_id, row.site_id
    client_id = ensure_client(conn, row.client)
    conn.execute(update(agents).where(agents.c.id == agent_id).values(client_id=client_id))
    return client_id, row.site_id
