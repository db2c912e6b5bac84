"""The device listing and its CSV export: each asset with its latest state (asset_latest, kept by ingest),
never a scan over readings."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from collections.abc import Iterator
from typing import IO

from sqlalchemy import Text, cast, func, literal_column, select, text
from sqlalchemy.engine import Connection

from server_stub.assets.registry import LISTED_STATES
from server_stub.spreadsheet import neutralise
from server_stub.db.tables import agents, asset_fields, asset_latest, assets, clients, sites

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


def _listing(client: str | None, site: str | None, states: tuple[str, ...], *columns):
    query = (select(*columns)
             .join(clients, clients.c.id == assets.c.client_id)
             .outerjoin(sites, sites.c.id == assets.c.site_id)
             .outerjoin(asset_latest, asset_latest.c.asset_id == assets.c.id)
             .outerjoin(agents, agents.c.id == asset_latest.c.agent_id)
             .where(assets.c.state.in_(states)))
    if client is not None:
        query = query.where(clients.c.name == client)
    if site is not None:
        query = query.where(sites.c.name == site)
    return query


def list_devices(conn: Connection, client: str | None = None, site: str | None = None,
                 states: tuple[str, ...] = LISTED_STATES, with_fields: bool = False) -> list[DeviceRow]:
    """Assets in `states` (default: active and devices to complete) with their latest state, by client, site
    and asset id."""
    query = _listing(client, site, states, assets.c.id, assets.c.state, assets.c.manufacturer, assets.c.model,
                     assets.c.serial, assets.c.last_address, clients.c.name.label("client_name"),
                     sites.c.name.label("site_name"), agents.c.name.label("agent_name"), asset_latest.c.collected_at,
                     asset_latest.c.address, asset_latest.c.readings, asset_latest.c.counters,
                     asset_latest.c.supplies).order_by(clients.c.name, sites.c.name, assets.c.id)
    fields: dict[int, dict[str, str]] = {}
    if with_fields:
        for row in conn.execute(select(asset_fields).order_by(asset_fields.c.key)):
            fields.setdefault(row.asset_id, {})[row.key] = row.value
    return [DeviceRow(r.id, r.client_name, r.site_name, r.state, r.agent_name, r.manufacturer, r.model, r.serial,
                      r.address or r.last_address, r.collected_at, r.readings or 0, r.counters or {}, r.supplies or [],
                      fields.get(r.id, {}) if with_fields else None)
            for r in conn.execute(query)]


def devices_json(conn: Connection, client: str | None = None, site: str | None = None) -> str:
    """`{"devices": [...]}` as DeviceRow.to_json gives it (default states): devices_json_chunks in one string."""
    return "".join(devices_json_chunks(conn, client, site))


def devices_json_chunks(conn: Connection, client: str | None = None, site: str | None = None) -> Iterator[str]:
    """The text of devices_json in pieces, as the database builds and sends it: each asset's JSON object is made
    by the database (PostgreSQL row_to_json over the sorted rows, SQLite json_object), never decoded and
    re-encoded in Python, and the rows are streamed (a server-side cursor), so the first devices are written
    while the database still works on the rest. 10,000 assets: ~14 MB."""
    pg = conn.dialect.name == "postgresql"
    address = func.coalesce(asset_latest.c.address, assets.c.last_address)
    readings = func.coalesce(asset_latest.c.readings, 0)
    if pg:
        at = func.to_char(func.timezone("UTC", asset_latest.c.collected_at), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        counters = func.coalesce(asset_latest.c.counters, literal_column("'{}'::json"))
        supplies = func.coalesce(asset_latest.c.supplies, literal_column("'[]'::json"))
        # The sort handles plain columns; the JSON is built from the sorted rows (as one object per row it
        # costs half of json_build_object, and the sort compares the names, not ~1.4 kB of JSON per row).
        rows = _listing(client, site, LISTED_STATES, assets.c.id.label("asset_id"), clients.c.name.label("client"),
                        sites.c.name.label("site"), assets.c.state, agents.c.name.label("agent"),
                        assets.c.manufacturer, assets.c.model, assets.c.serial, address.label("address"),
                        at.label("latest_reading_at"), readings.label("readings"), counters.label("counters"),
                        supplies.label("supplies")).order_by(clients.c.name, sites.c.name, assets.c.id).subquery("r")
        query = select(cast(func.row_to_json(rows.table_valued()), Text)).order_by(
            rows.c.client, rows.c.site, rows.c.asset_id)  # the order the subquery has: no second sort
        conn.execute(text(f"SET LOCAL work_mem = '{LISTING_WORK_MEM}'"))  # sorted in memory, this transaction only
    else:
        at = func.strftime("%Y-%m-%dT%H:%M:%SZ", asset_latest.c.collected_at)
        row = func.json_object(
            "asset_id", assets.c.id, "client", clients.c.name, "site", sites.c.name, "state", assets.c.state,
            "agent", agents.c.name, "manufacturer", assets.c.manufacturer, "model", assets.c.model,
            "serial", assets.c.serial, "address", address, "latest_reading_at", at, "readings", readings,
            "counters", func.json(func.coalesce(asset_latest.c.counters, "{}")),  # SQLite keeps JSON as text
            "supplies", func.json(func.coalesce(asset_latest.c.supplies, "[]")))
        query = _listing(client, site, LISTED_STATES, row).order_by(clients.c.name, sites.c.name, assets.c.id)
    yield '{"devices":['
    first = True
    streamed = conn.execute(query, execution_options={"stream_results": True, "yield_per": STREAM_ROWS})
    for partition in streamed.partitions():
        chunk = ",".join(device for (device,) in partition)
        yield chunk if first else "," + chunk
        first = False
    yield "]}"


STREAM_ROWS = 1000  # devices fetched and written at a time
LISTING_WORK_MEM = "64MB"  # PostgreSQL sort memory of one devices listing (~12 MB for 10,000 assets; bigger fleets spill to disk)

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
