"""The device listing and its CSV export: each asset with its latest state (asset_latest, kept by ingest),
never a scan over readings."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from sqlalchemy import Text, cast, func, literal_column, select
from sqlalchemy.engine import Connection

from server_stub.assets.registry import LISTED_STATES
from server_stub.billing.export import neutralise
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
    """`{"devices": [...]}` as DeviceRow.to_json gives it (default states), built by the database in one query:
    for 10,000 assets decoding and re-encoding every row's JSON in Python took most of a second."""
    pg = conn.dialect.name == "postgresql"
    obj, agg = (func.json_build_object, func.json_agg) if pg else (func.json_object, func.json_group_array)
    stored = (lambda column: column) if pg else func.json  # SQLite keeps JSON as text: embed it as JSON

    def empty(document: str):
        return literal_column(f"'{document}'::json" if pg else f"json('{document}')")

    if pg:
        at = func.to_char(func.timezone("UTC", asset_latest.c.collected_at), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    else:
        at = func.strftime("%Y-%m-%dT%H:%M:%SZ", asset_latest.c.collected_at)
    row = obj("asset_id", assets.c.id, "client", clients.c.name, "site", sites.c.name, "state", assets.c.state,
              "agent", agents.c.name, "manufacturer", assets.c.manufacturer, "model", assets.c.model,
              "serial", assets.c.serial, "address", func.coalesce(asset_latest.c.address, assets.c.last_address),
              "latest_reading_at", at, "readings", func.coalesce(asset_latest.c.readings, 0),
              "counters", func.coalesce(stored(asset_latest.c.counters), empty("{}")),
              "supplies", func.coalesce(stored(asset_latest.c.supplies), empty("[]")))
    ordered = _listing(client, site, LISTED_STATES, row.label("device")).order_by(
        clients.c.name, sites.c.name, assets.c.id).subquery()
    devices = conn.execute(select(cast(func.coalesce(agg(stored(ordered.c.device)), empty("[]")), Text))).scalar_one()
    return '{"devices":' + devices + "}"


CSV_COLUMNS = ("asset_id", "client", "site", "state", "manufacturer", "model", "serial", "address",
               "latest_reading_at", "total", "mono", "color", "supplies")


def write_devices_csv(stream: IO[str], rows: list[DeviceRow]) -> int:
    """The device listing as CSV; every cell a printer or a person typed is neutralised against spreadsheet
    formulas (server_stub.billing.export.neutralise). Returns the rows written."""
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
