"""The device listing's one query, as SQL text for a plain DB-API driver (psycopg2, psycopg or sqlite3), and the
JSON document `fleetmeter-server devices list --json` prints, built by the database.

Every listing of devices reads these rows: the JSON document below, and the Python rows of
server_stub.fleet.devices.list_devices (the human table, the CSV export, the console's CSV, `assets list`).
This module imports neither SQLAlchemy nor a driver, so the `devices list --json` command starts without them
(bench/devices_list.py: start-up is most of the command's time); a SQLAlchemy caller passes its connection's
DB-API connection (server_stub.fleet.devices.devices_json).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

LISTED_STATES = ("active", "to_complete")  # what a listing shows unless asked for more (deleted, merged)
STREAM_ROWS = 1000  # devices fetched and written at a time
LISTING_WORK_MEM = "64MB"  # PostgreSQL sort memory of one devices listing (~12 MB for 10,000 assets; bigger fleets spill to disk)

# What differs between the two databases: the latest reading's time as the agents send it (UTC, whole seconds),
# the empty JSON values, a query parameter.
_DIALECTS = {
    "postgresql": {"at": "to_char(timezone('UTC', l.collected_at), 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                   "object": "'{}'::json", "array": "'[]'::json", "param": "%({})s"},
    "sqlite": {"at": "strftime('%Y-%m-%dT%H:%M:%SZ', l.collected_at)",
               "object": "'{}'", "array": "'[]'", "param": ":{}"},
}

# The columns of a listed device, in the order of its JSON object (server_stub.fleet.devices.DeviceRow.to_json).
COLUMNS = ("asset_id", "client", "site", "state", "agent", "manufacturer", "model", "serial", "address",
           "latest_reading_at", "readings", "counters", "supplies")


def rows_query(dialect: str, client: str | None = None, site: str | None = None,
               states: tuple[str, ...] = LISTED_STATES) -> tuple[str, dict[str, Any]]:
    """The listing's SQL (the driver's parameter style) and its parameters: one row of COLUMNS per asset in
    `states`, of `client` and `site` when given, by client, site and asset id. The latest state comes from
    asset_latest (kept by ingest), never from a scan over readings."""
    sql = _DIALECTS[dialect]
    params: dict[str, Any] = {f"state{i}": state for i, state in enumerate(states)}
    where = [f"a.state IN ({', '.join(sql['param'].format(name) for name in params)})"]
    for name, column, value in (("client", "c.name", client), ("site", "s.name", site)):
        if value is not None:
            params[name] = value
            where.append(f"{column} = {sql['param'].format(name)}")
    return (f"SELECT a.id AS asset_id, c.name AS client, s.name AS site, a.state AS state, g.name AS agent, "
            f"a.manufacturer AS manufacturer, a.model AS model, a.serial AS serial, "
            f"coalesce(l.address, a.last_address) AS address, {sql['at']} AS latest_reading_at, "
            f"coalesce(l.readings, 0) AS readings, coalesce(l.counters, {sql['object']}) AS counters, "
            f"coalesce(l.supplies, {sql['array']}) AS supplies "
            f"FROM assets a JOIN clients c ON c.id = a.client_id LEFT JOIN sites s ON s.id = a.site_id "
            f"LEFT JOIN asset_latest l ON l.asset_id = a.id LEFT JOIN agents g ON g.id = l.agent_id "
            f"WHERE {' AND '.join(where)} ORDER BY c.name, s.name, a.id"), params


def json_query(dialect: str, client: str | None = None, site: str | None = None) -> tuple[str, dict[str, Any]]:
    """One row per listed device: its JSON object as text, made by the database from rows_query's row (on
    PostgreSQL row_to_json over the sorted rows: the sort compares names, not ~1.4 kB of JSON per row, and as one
    object per row it costs half of json_build_object; SQLite keeps JSON as text, so json() makes it JSON)."""
    rows, params = rows_query(dialect, client, site)
    if dialect == "postgresql":
        device = "row_to_json(r)::text"
    else:
        device = "json_object(" + ", ".join(
            f"'{column}', " + (f"json(r.{column})" if column in ("counters", "supplies") else f"r.{column}")
            for column in COLUMNS) + ")"
    # The outer ORDER BY is the order the subquery has: PostgreSQL does not sort again.
    return f"SELECT {device} FROM ({rows}) r ORDER BY r.client, r.site, r.asset_id", params


def devices_json_chunks(connection, dialect: str, client: str | None = None, site: str | None = None) -> Iterator[str]:
    """`{"devices": [...]}` (each device as DeviceRow.to_json gives it, default states) in pieces, as the database
    builds and sends it, through a DB-API connection (psycopg2, psycopg or sqlite3) of `dialect` ("postgresql",
    "sqlite"), in the connection's transaction: never decoded and re-encoded in Python, and streamed, so the first devices
    are written while the database still works on the rest. The query runs before the first piece is given, so
    a failing query writes nothing. 10,000 assets: ~14 MB."""
    query, params = json_query(dialect, client, site)
    rows = _postgres_rows(connection, query, params) if dialect == "postgresql" else _rows(connection.cursor(), query, params)
    first = next(rows, None)
    if first is None:
        yield '{"devices":[]}'
        return
    yield '{"devices":[' + first
    for chunk in rows:
        yield "," + chunk
    yield "]}"


def _postgres_rows(connection, query: str, params: dict[str, Any]) -> Iterator[str]:
    """The devices of STREAM_ROWS rows at a time, joined, through a server-side cursor (psycopg2's or psycopg's
    named cursor): memory stays bounded however big the fleet, and the database sorts in memory."""
    setup = connection.cursor()
    try:  # sorted in memory, this transaction only
        setup.execute(f"SET LOCAL work_mem = '{LISTING_WORK_MEM}'")
    finally:
        setup.close()
    yield from _rows(connection.cursor(name="fleetmeter_devices_json"), query, params)


def _rows(cursor, query: str, params: dict[str, Any]) -> Iterator[str]:
    """The devices of STREAM_ROWS rows at a time, joined, through the DB-API's fetchmany."""
    try:
        cursor.execute(query, params)
        while partition := cursor.fetchmany(STREAM_ROWS):
            yield ",".join(device for (device,) in partition)
    finally:
        cursor.close()


def devices_json(connection, dialect: str, client: str | None = None, site: str | None = None) -> str:
    """devices_json_chunks in one string."""
    return "".join(devices_json_chunks(connection, dialect, client, site))
