"""One device for the console: identity (with what its latest reading said about itself), meters, supplies,
each supply's level history (supply_observations), alarms (alert_events) and its raw readings. Every query
goes through an index on the asset id (the readings table has none on asset_id: the readings listed are those
its history rows point at, newest first)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import desc, select, union
from sqlalchemy.engine import Connection

from server_stub.assets.registry import AssetError, show
from server_stub.db.engine import utcnow
from server_stub.db.tables import agents, asset_latest, alert_events, meter_reads, readings, supply_observations
from server_stub.web.pages import NotFound

HISTORY = timedelta(days=90)
READINGS_PER_PAGE = 20
ALARMS_SHOWN = 100


@dataclass(frozen=True)
class SupplySeries:
    device_index: int
    supply_index: int
    label: str
    points: list[tuple[datetime, float]]  # (observed_at, percent), oldest first


def device(conn: Connection, asset_id: int) -> dict:
    """registry.show's view of the asset plus `identity`: what its latest reading said about itself (name,
    location, description...: hostile text)."""
    try:
        shown = show(conn, asset_id)
    except AssetError:
        raise NotFound() from None
    reading_id = conn.execute(select(asset_latest.c.reading_id).where(asset_latest.c.asset_id == asset_id)).scalar()
    return shown | {"identity": latest_identity(conn, reading_id)}


def latest_identity(conn: Connection, reading_id: int | None) -> dict:
    if reading_id is None:
        return {}
    document = conn.execute(select(readings.c.document).where(readings.c.id == reading_id)).scalar()
    return (document or {}).get("identity") or {}


def supply_label(entry: dict) -> str:
    return " ".join(str(x) for x in (entry.get("color"), entry.get("type")) if x) or entry.get("description") \
        or f"supply {entry.get('supply_index', entry.get('index'))}"


def supply_history(conn: Connection, asset_id: int, since: datetime | None = None) -> list[SupplySeries]:
    """Each supply's known percentages over the last 90 days (or since `since`), oldest first."""
    since = since or utcnow() - HISTORY
    series: dict[tuple[int, int], SupplySeries] = {}
    rows = conn.execute(select(supply_observations.c.device_index, supply_observations.c.supply_index,
                               supply_observations.c.observed_at, supply_observations.c.percent,
                               supply_observations.c.type, supply_observations.c.color,
                               supply_observations.c.description)
                        .where(supply_observations.c.asset_id == asset_id, supply_observations.c.observed_at >= since)
                        .order_by(supply_observations.c.device_index, supply_observations.c.supply_index,
                                  supply_observations.c.observed_at))
    for r in rows:
        key = (r.device_index, r.supply_index)
        if key not in series:
            series[key] = SupplySeries(r.device_index, r.supply_index,
                                       supply_label({"color": r.color, "type": r.type, "description": r.description,
                                                     "supply_index": r.supply_index}), [])
        if r.percent is not None:
            series[key].points.append((r.observed_at, r.percent))
    return list(series.values())


def alarms(conn: Connection, asset_id: int, limit: int = ALARMS_SHOWN) -> list:
    return conn.execute(select(alert_events).where(alert_events.c.asset_id == asset_id)
                        .order_by(desc(alert_events.c.opened_at), desc(alert_events.c.id)).limit(limit)).all()


def raw_readings(conn: Connection, asset_id: int, page: int = 1,
                 size: int = READINGS_PER_PAGE) -> list:
    """The device's readings newest first (id, collected_at, received_at, agent name, document), `size` a page:
    the page's reading ids come from its history rows (indexed by asset), then those readings by primary key."""
    pairs = union(select(meter_reads.c.reading_id, meter_reads.c.read_at.label("at"))
                  .where(meter_reads.c.asset_id == asset_id, meter_reads.c.reading_id.is_not(None)),
                  select(supply_observations.c.reading_id, supply_observations.c.observed_at)
                  .where(supply_observations.c.asset_id == asset_id, supply_observations.c.reading_id.is_not(None))
                  ).subquery()
    ids = list(dict.fromkeys(conn.execute(select(pairs.c.reading_id).order_by(desc(pairs.c.at), desc(pairs.c.reading_id))
                                          .limit(size).offset((max(1, page) - 1) * size)).scalars()))
    if not ids:
        return []
    return conn.execute(select(readings.c.id, readings.c.collected_at, readings.c.received_at,
                               agents.c.name.label("agent"), readings.c.document)
                        .join(agents, agents.c.id == readings.c.agent_id)
                        .where(readings.c.id.in_(ids), readings.c.asset_id == asset_id)
                        .order_by(desc(readings.c.collected_at), desc(readings.c.id))).all()
