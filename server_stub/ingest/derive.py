"""What ingest derives from stored readings, in the same transaction: assets, meter reads, supply observations,
alert events and the latest state per asset.

Set-based: per batch one look-up of the assets' identities (within the agent's client), one insert of new
assets, one read (locked) of the assets' latest state, then one bulk insert per history table, one bulk update
of the latest states read and one bulk insert of new ones. No statement per reading.

Rules decided here (one place):
- meter reads: every non-null counter of a reading, with the source (OID, origin) the reading gives for it;
- supply observations: a supply is (device_index, index); a row is written when any recorded field differs
  from the supply's previous observation, or a day has passed since it (an hourly agent writes one a day);
- alert events: per asset and alert code (the printer's code, else group/index): opened by the first reading
  showing it, cleared by the first later reading without it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from pydantic_core import from_json
from sqlalchemy import Text, cast, insert, select
from sqlalchemy.engine import Connection

from fleetmeter_contract.reading import DeviceReading
from server_stub.assets.identity import normalise_mac, normalise_manufacturer, normalise_serial
from server_stub.db.bulk import among, insert_rows, joined_among, update_rows
from server_stub.db.engine import upsert_insert
from server_stub.db.tables import (alert_events, asset_identities, asset_latest, assets, meter_reads,
                                   supply_observations)

OBSERVATION_EVERY = timedelta(days=1)
LAST_SEEN_STEP = timedelta(minutes=10)  # assets.last_seen_at is written at most this often (row churn)
SUPPLY_FIELDS = ("type", "color", "description", "part_number", "serial", "class", "unit", "level", "max_capacity",
                 "percent", "state")


@dataclass(frozen=True)
class StoredReading:
    reading_id: int
    asset_id: int
    reading: DeviceReading


def resolve_assets(conn: Connection, client_id: int, site_id: int | None, agent_id: int,
                   found: dict[str, DeviceReading], now: datetime) -> dict[str, int]:
    """Identity key -> asset id within the client, creating `to_complete` assets for keys seen for the first
    time (`found` holds one reading per key, for the asset's manufacturer, model, serial and MAC)."""
    keys = sorted(found)  # new identities claimed in one order: concurrent uploads do not deadlock
    known = dict(conn.execute(joined_among(
        conn, select(asset_identities.c.identity_key, asset_identities.c.asset_id)
        .where(asset_identities.c.client_id == client_id), asset_identities.c.identity_key, keys)).all())
    missing = [key for key in keys if key not in known]
    if not missing:
        return known
    rows = []
    for key in missing:
        identity, reading = found[key].identity, found[key]
        rows.append({"client_id": client_id, "site_id": site_id, "state": "to_complete",
                     "manufacturer": normalise_manufacturer(identity.manufacturer), "model": identity.model,
                     "serial": identity.serial.strip() if normalise_serial(identity.serial) else None,  # as reported
                     "mac": normalise_mac(identity.mac),
                     "first_seen_at": now, "last_seen_at": now, "last_agent_id": agent_id,
                     "last_address": reading.address, "created_at": now})
    ids = conn.execute(insert(assets).returning(assets.c.id, sort_by_parameter_order=True), rows).scalars().all()
    claimed = conn.execute(
        upsert_insert(conn, asset_identities).on_conflict_do_nothing().returning(asset_identities.c.identity_key),
        [{"client_id": client_id, "identity_key": key, "asset_id": asset_id, "created_at": now}
         for key, asset_id in zip(missing, ids)]).scalars().all()
    lost = set(missing) - set(claimed)
    if lost:  # another transaction created these identities meanwhile: use its assets, drop ours
        conn.execute(assets.delete().where(assets.c.id.in_([a for k, a in zip(missing, ids) if k in lost])))
        known.update(conn.execute(select(asset_identities.c.identity_key, asset_identities.c.asset_id).where(
            asset_identities.c.client_id == client_id, asset_identities.c.identity_key.in_(lost))).all())
    known.update((key, asset_id) for key, asset_id in zip(missing, ids) if key not in lost)
    return known


def _supply_values(supply) -> tuple:
    """The recorded fields of a supply, in SUPPLY_FIELDS order (compared with the previous observation)."""
    return (supply.type, supply.color, supply.description, supply.part_number, supply.serial, supply.class_,
            supply.unit, supply.level, supply.max_capacity, supply.percent, supply.state)


def _alert_code(alert) -> str:
    if alert.code:
        return alert.code[:255]
    if alert.group is not None:
        return f"{alert.group}/{alert.group_index}"[:255]
    return f"alert/{alert.index}"


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat()


@lru_cache(maxsize=4096)
def _last_observations(supplies: str) -> tuple[tuple[tuple[int, int], tuple[tuple, datetime]], ...]:
    """The supplies of a latest state (its JSON text): ((device_index, index), (recorded values, observed_at))
    of each. A pure function of the text, memoised: every upload about a printer reads the same text until its
    supplies are observed again (a change, or a day later), and parsing it cost a quarter of derive's Python."""
    return tuple(((s["device_index"], s["index"]), (tuple(map(s.get, SUPPLY_FIELDS)), datetime.fromisoformat(
        s["observed_at"]))) for s in from_json(supplies))


def derive(conn: Connection, agent_id: int, stored: list[StoredReading], now: datetime) -> None:
    """Write the history rows and the latest state of the assets the stored readings are about."""
    if not stored:
        return
    by_asset: dict[int, list[StoredReading]] = defaultdict(list)
    for row in sorted(stored, key=lambda r: r.asset_id):  # rows locked in asset order: no deadlock between uploads
        by_asset[row.asset_id].append(row)
    # The latest states, locked in asset order (PostgreSQL; SQLite has one writer): uploads about the same printers
    # (two agents of a client reaching one printer) queue here in one order instead of deadlocking in the UPDATE
    # below, and each derives from the state the other committed. The JSON as text, decoded by from_json (2x json).
    latest = {row.asset_id: row for row in conn.execute(
        select(asset_latest.c.asset_id, asset_latest.c.collected_at, cast(asset_latest.c.supplies, Text).label("supplies"),
               cast(asset_latest.c.alerts, Text).label("alerts"), assets.c.last_seen_at, assets.c.last_agent_id,
               assets.c.last_address, assets.c.model)
        .join(assets, assets.c.id == asset_latest.c.asset_id).where(among(conn, asset_latest.c.asset_id, list(by_asset)))
        .order_by(asset_latest.c.asset_id).with_for_update(of=asset_latest))}
    meters: list[tuple] = []
    observations: list[tuple] = []
    opened: list[tuple] = []
    cleared: list[dict] = []
    states: list[dict] = []
    touched: list[dict] = []
    for asset_id, rows in by_asset.items():
        if len(rows) > 1:
            rows.sort(key=lambda r: r.reading.collected_at)
        before = latest.get(asset_id)
        newest_at = before.collected_at if before else None
        # (device_index, index) -> (recorded values, observed_at) of the supply's last observation
        supplies = dict(_last_observations(before.supplies)) if before else {}
        supplies_changed = False  # unchanged: the latest state keeps the list it has (not sent back)
        open_alerts = {a["code"]: a for a in (from_json(before.alerts) if before else [])}
        newest = None
        for row in rows:
            reading, at = row.reading, row.reading.collected_at
            sources = reading.counter_sources
            for meter, value in reading.counters.items():
                if value is not None:
                    source = sources.get(meter)
                    meters.append((asset_id, meter, at, value, source and source.oid[:255],
                                   source and source.origin[:64], row.reading_id))  # METER_COLUMNS
            for supply in reading.supplies:
                key = (supply.device_index, supply.index)
                values = _supply_values(supply)
                previous = supplies.get(key)
                if previous is None or previous[0] != values or abs(at - previous[1]) >= OBSERVATION_EVERY:
                    observations.append((  # OBSERVATION_COLUMNS
                        asset_id, supply.device_index, supply.index, at, supply.type[:64],
                        supply.color and supply.color[:64], supply.description,
                        supply.part_number and supply.part_number[:255], supply.serial and supply.serial[:255],
                        supply.class_ and supply.class_[:32], supply.unit and supply.unit[:64], supply.level,
                        supply.max_capacity, supply.percent, supply.state[:32], row.reading_id, supply.pages_remaining))
                    if previous is None or at >= previous[1]:
                        supplies[key] = (values, at)
                        supplies_changed = True
            if newest_at is not None and at < newest_at:
                continue  # an older reading (import, late delivery): history only, no alert transitions
            newest_at, newest = at, row
            now_open = {}
            for alert in reading.alerts:
                now_open.setdefault(_alert_code(alert), alert)
            for code, alert in now_open.items():
                if code not in open_alerts:
                    opened.append((asset_id, code, alert.severity and alert.severity[:64], alert.description, at,
                                   row.reading_id))  # OPENED_COLUMNS
                    open_alerts[code] = {"code": code, "severity": alert.severity, "opened_at": _iso(at)}
            for code in [c for c in open_alerts if c not in now_open]:
                cleared.append({"asset_id": asset_id, "code": code, "cleared_at": at,
                                "cleared_reading_id": row.reading_id})
                del open_alerts[code]
        shown = newest or rows[-1]  # only older readings: the upsert keeps the newer state there is
        reading = shown.reading
        states.append({"asset_id": asset_id, "readings": len(rows), "supplies": [
                           {"device_index": device_index, "index": index, **dict(zip(SUPPLY_FIELDS, values)),
                            "observed_at": _iso(observed_at)}
                           for (device_index, index), (values, observed_at) in supplies.items()]
                       if supplies_changed or before is None else None,  # None: the row keeps its list
                       "alerts": list(open_alerts.values()), "updated_at": now,
                       "collected_at": reading.collected_at, "reading_id": shown.reading_id, "agent_id": agent_id,
                       "address": reading.address,
                       "counters": {k: v for k, v in reading.counters.items() if v is not None},
                       "status": reading.status.model_dump() if reading.status else None})
        if newest is not None and (before is None or now - before.last_seen_at >= LAST_SEEN_STEP or (
                before.last_agent_id, before.last_address) != (agent_id, reading.address)
                or (reading.identity.model and reading.identity.model != before.model)):
            touched.append({"id": asset_id, "last_seen_at": now, "last_agent_id": agent_id,
                            "last_address": reading.address, "model": reading.identity.model})
    insert_rows(conn, meter_reads, meters, METER_COLUMNS, "ON CONFLICT DO NOTHING")
    insert_rows(conn, supply_observations, observations, OBSERVATION_COLUMNS, "ON CONFLICT DO NOTHING")
    insert_rows(conn, alert_events, opened, OPENED_COLUMNS)
    update_rows(conn, alert_events, cleared, {"asset_id": "asset_id", "code": "code"},
                {"cleared_at": "{cleared_at}", "cleared_reading_id": "{cleared_reading_id}"},
                where="alert_events.cleared_at IS NULL")
    # New latest-state rows are inserted (ON CONFLICT: another upload made the row meanwhile); the rows locked above
    # are updated in place, a plain UPDATE costing PostgreSQL a third of the same rows through ON CONFLICT.
    newer = "excluded.collected_at >= asset_latest.collected_at"
    insert_rows(conn, asset_latest, [tuple(map(s.get, LATEST_COLUMNS)) for s in states if s["asset_id"] not in latest],
                LATEST_COLUMNS,
                "ON CONFLICT (asset_id) DO UPDATE SET readings = asset_latest.readings + excluded.readings, "
                "supplies = excluded.supplies, alerts = excluded.alerts, updated_at = excluded.updated_at, " + ", ".join(
                    f"{c} = CASE WHEN {newer} THEN excluded.{c} ELSE asset_latest.{c} END" for c in NEWEST_COLUMNS))
    update_rows(conn, asset_latest, [s for s in states if s["asset_id"] in latest], {"asset_id": "asset_id"}, {
        "readings": "asset_latest.readings + {readings}", "supplies": "COALESCE({supplies}, asset_latest.supplies)",
        "alerts": "{alerts}",
        "updated_at": "{updated_at}", **{c: f"CASE WHEN {{collected_at}} >= asset_latest.collected_at THEN {{{c}}} "
                                            f"ELSE asset_latest.{c} END" for c in NEWEST_COLUMNS}})
    update_rows(conn, assets, touched, {"id": "id"}, {
        "last_seen_at": "{last_seen_at}", "last_agent_id": "{last_agent_id}", "last_address": "{last_address}",
        "model": "COALESCE({model}, assets.model)"})


METER_COLUMNS = ("asset_id", "meter", "read_at", "value", "source_oid", "origin", "reading_id")
OBSERVATION_COLUMNS = ("asset_id", "device_index", "supply_index", "observed_at", "type", "color", "description",
                       "part_number", "supply_serial", "supply_class", "unit", "level", "max_capacity", "percent",
                       "state", "reading_id", "pages_remaining")
OPENED_COLUMNS = ("asset_id", "code", "severity", "description", "opened_at", "opened_reading_id")
NEWEST_COLUMNS = ("reading_id", "agent_id", "address", "counters", "status", "collected_at")  # from the newest reading
LATEST_COLUMNS = ("asset_id", "collected_at", "reading_id", "agent_id", "address", "readings", "counters",
                  "supplies", "alerts", "status", "updated_at")
