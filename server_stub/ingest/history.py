"""Readings that did not come through live ingest: a dealer's import of another system's history (JSONL),
readings stored before assets existed (backfill after migration 0004), and retention of raw readings.

Imports and backfill go through the same store and derivation as live uploads (server_stub.ingest.store), so
validation, idempotency and derived rows are the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Connection, Engine

from fleetmeter_contract.config import one_line
from fleetmeter_contract.reading import DeviceReading, validate_wire
from server_stub.assets.identity import asset_key
from server_stub.db.engine import utcnow
from server_stub.db.tables import agents, readings
from server_stub.ingest.derive import StoredReading, derive, resolve_assets
from server_stub.ingest.store import agent_client, store_readings

CHUNK = 500  # readings per transaction


class UnknownAgent(LookupError):
    pass


@dataclass
class ImportResult:
    received: int = 0
    stored: int = 0
    rejected: list[dict] = field(default_factory=list)  # {"line": n, "error": "..."}

    @property
    def duplicates(self) -> int:
        return self.received - len(self.rejected) - self.stored

    def to_json(self) -> dict:
        return {"received": self.received, "stored": self.stored, "duplicates": self.duplicates,
                "rejected": self.rejected}


def import_readings(engine: Engine, agent: str, lines: Iterable[bytes],
                    progress: Callable[[int], None] | None = None) -> ImportResult:
    """Store each good `fleetmeter.device/1` line (one JSON document per line) as a reading of `agent`; every
    bad line is named with its number and reason, and loses nothing else. Blank lines are skipped. Each
    chunk of CHUNK readings is one transaction; `progress` gets the bytes consumed so far."""
    with engine.connect() as conn:
        agent_id = conn.execute(select(agents.c.id).where(agents.c.name == agent)).scalar()
    if agent_id is None:
        raise UnknownAgent(agent)
    result, chunk, raw, consumed = ImportResult(), [], [], 0

    def flush() -> None:
        with engine.begin() as conn:
            body = '{"readings":[' + ",".join(raw) + "]}"
            result.stored += store_readings(conn, agent_id, chunk, body, utcnow())
        chunk.clear()
        raw.clear()

    for number, line in enumerate(lines, 1):
        consumed += len(line)
        if not line.strip():
            continue
        result.received += 1
        try:
            text = line.decode("utf-8").strip()
            reading = validate_wire(text)
        except UnicodeDecodeError as exc:
            result.rejected.append({"line": number, "error": f"not UTF-8 text ({exc.reason} at byte {exc.start})"})
            continue
        except ValidationError as exc:
            result.rejected.append({"line": number, "error": one_line(exc)})
            continue
        chunk.append(reading)
        raw.append(text)
        if len(chunk) >= CHUNK:
            flush()
            if progress:
                progress(consumed)
    if chunk:
        flush()
    if progress:
        progress(consumed)
    return result


def backfill(conn: Connection, limit: int = 5000) -> int:
    """Derive assets and history for up to `limit` readings stored without an asset (readings from before
    migration 0004); returns how many were done (call until 0)."""
    rows = conn.execute(select(readings.c.id, readings.c.agent_id, readings.c.document)
                        .where(readings.c.asset_id.is_(None)).order_by(readings.c.id).limit(limit)).all()
    by_agent: dict[int, list] = {}
    for row in rows:
        by_agent.setdefault(row.agent_id, []).append(row)
    now = utcnow()
    for agent_id, group in by_agent.items():
        client_id, site_id = agent_client(conn, agent_id)
        parsed = [(row.id, DeviceReading.model_validate(
            json.loads(row.document) if isinstance(row.document, str) else row.document)) for row in group]
        found: dict[str, DeviceReading] = {}
        for _, reading in parsed:
            key = asset_key(reading)
            if key not in found or reading.collected_at > found[key].collected_at:
                found[key] = reading
        asset_ids = resolve_assets(conn, client_id, site_id, agent_id, found, now)
        stored = [StoredReading(reading_id, asset_ids[asset_key(reading)], reading) for reading_id, reading in parsed]
        conn.execute(update(readings).where(readings.c.id == bindparam("b_id")).values(asset_id=bindparam("asset_id")),
                     [{"b_id": s.reading_id, "asset_id": s.asset_id} for s in stored])
        derive(conn, agent_id, stored, now)
    return len(rows)


def expire_readings(conn: Connection, retention: timedelta, now: datetime | None = None) -> int:
    """Delete raw readings collected longer than `retention` ago; their derived history (meter reads, supply
    observations, alert events) stays. Returns how many were removed."""
    cutoff = (now or utcnow()) - retention
    return conn.execute(delete(readings).where(readings.c.collected_at < cutoff)).rowcount
