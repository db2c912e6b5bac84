"""The device listing as Python rows and its CSV export: each asset with its latest state (asset_latest, kept by
ingest), never a scan over readings. The query is server_stub.fleet.device_listing's."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from sqlalchemy import select
from sqlalchemy.engine import Connection

from server_stub.db.tables import asset_fields
from server_stub.fleet import device_listing
from server_stub.fleet.device_listing import LISTED_STATES
from server_stub.spreadsheet import neutralise


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None  # whole seconds, as agents send


@dataclass(frozen=True)
class DeviceRow:
    asset_id: int
    client: str
    site: str | None
    state: str
    agent: str | None
    manufacturer: str | None
    model: str | None
    serial: str | None
    address: str | None
    collected_at: datetime | None
    readings: int
    counters: dict
    supplies: list[dict]
    fields: dict[str, str] | None = None

    def to_json(self) -> dict:
        shown = {
            "asset_id": self.asset_id, "client": self.client, "site": self.site, "state": self.state,
            "agent": self.agent, "manufacturer": self.manufacturer, "model": self.model, "serial": self.serial,
            "address": self.address, "latest_reading_at": _iso(self.collected_at), "readings": self.readings,
            "counters": self.counters,
            "supplies": self.supplies,  # each supply's latest state as ingest keeps it
        }
        return shown if self.fields is None else shown | {"fields": self.fields}


def list_devices(conn: Connection, client: str | None = None, site: str | None = None,
                 states: tuple[str, ...] = LISTED_STATES, with_fields: bool = False) -> list[DeviceRow]:
    """Assets in `states` (default: active and devices to complete) with their latest state, by client, site
    and asset id: the rows of the one listing query (server_stub.fleet.device_listing)."""
    query, params = device_listing.rows_query(conn.dialect.name, client, site, states)
    fields: dict[int, dict[str, str]] = {}
    if with_fields:
        for row in conn.execute(select(asset_fields).order_by(asset_fields.c.key)):
            fields.setdefault(row.asset_id, {})[row.key] = row.value
    return [DeviceRow(r.asset_id, r.client, r.site, r.state, r.agent, r.manufacturer, r.model, r.serial, r.address,
                      r.latest_reading_at and datetime.fromisoformat(r.latest_reading_at), r.readings,
                      _json(r.counters), _json(r.supplies), fields.get(r.asset_id, {}) if with_fields else None)
            for r in conn.exec_driver_sql(query, params)]


def _json(value):
    return json.loads(value) if isinstance(value, str) else value  # SQLite keeps JSON as text; psycopg decodes it


def devices_json(conn: Connection, client: str | None = None, site: str | None = None) -> str:
    """`{"devices": [...]}` as `devices list --json` prints it (server_stub.fleet.device_listing), in the
    connection's transaction."""
    return device_listing.devices_json(conn.connection.driver_connection, conn.dialect.name, client, site)


CSV_COLUMNS = ("asset_id", "client", "site", "state", "manufacturer", "model", "serial", "address",
               "latest_reading_at", "total", "mono", "color", "supplies")


def write_devices_csv(stream: IO[str], rows: list[DeviceRow]) -> int:
    """The device listing as CSV; every cell a printer or a person typed is neutralised against spreadsheet
    formulas (server_stub.spreadsheet.neutralise). Returns the rows written."""
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        supplies = " ".join(f"{s.get('color') or s.get('type')}:{'?' if s.get('percent') is None else round(s['percent'])}%"
                            for s in row.supplies)
        cells = (row.asset_id, row.client, row.site, row.state, row.manufacturer, row.model, row.serial, row.address,
                 _iso(row.collected_at), row.counters.get("total"), row.counters.get("mono"), row.counters.get("color"),
                 supplies)
        writer.writerow([neutralise("" if cell is None else str(cell)) for cell in cells])
    return len(rows)
