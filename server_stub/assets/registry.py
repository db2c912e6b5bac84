"""The dealer's decisions about assets: activate or delete devices to complete, custom fields, site, merge and
split. Each decision writes one audit line (asset_audit) in the same transaction.

Identity itself is decided in server_stub.assets.identity; ingest creates assets (state `to_complete`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import and_, delete, exists, func, insert, select, update
from sqlalchemy.engine import Connection

from server_stub.db.engine import utcnow
from server_stub.db.tables import (agents, alert_events, asset_audit, asset_fields, asset_identities, asset_latest,
                                   assets, clients, meter_reads, readings, sites, supply_observations)

MAX_FIELD_KEY = 100
MAX_FIELD_VALUE = 4096


class AssetError(Exception):
    """A request about an asset that cannot be done; the message says why."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _asset(conn: Connection, asset_id: int):
    row = conn.execute(select(assets).where(assets.c.id == asset_id)).first()
    if row is None:
        raise AssetError(f"no asset {asset_id}; see: fleetmeter-server assets list")
    return row


def audit(conn: Connection, asset_id: int, action: str, detail: str, actor: str | None = None) -> None:
    conn.execute(insert(asset_audit).values(asset_id=asset_id, at=utcnow(), action=action, detail=detail,
                                            actor=actor))


@dataclass(frozen=True)
class ToComplete:
    asset_id: int
    client: str
    site: str | None
    manufacturer: str | None
    model: str | None
    serial: str | None
    mac: str | None
    address: str | None
    agent: str | None
    first_seen_at: datetime
    last_seen_at: datetime

    def to_json(self) -> dict:
        return asdict(self) | {"first_seen_at": _iso(self.first_seen_at), "last_seen_at": _iso(self.last_seen_at)}


def to_complete(conn: Connection, client: str | None = None, limit: int | None = None,
                offset: int = 0) -> list[ToComplete]:
    """Printers agents found that the dealer has not activated or deleted yet, with where and when seen
    (`limit` rows from `offset`: the console pages them)."""
    query = (select(assets, clients.c.name.label("client_name"), sites.c.name.label("site_name"),
                    agents.c.name.label("agent_name"))
             .join(clients, clients.c.id == assets.c.client_id)
             .outerjoin(sites, sites.c.id == assets.c.site_id)
             .outerjoin(agents, agents.c.id == assets.c.last_agent_id)
             .where(assets.c.state == "to_complete").order_by(clients.c.name, assets.c.first_seen_at, assets.c.id)
             .limit(limit).offset(offset))
    if client is not None:
        query = query.where(clients.c.name == client)
    return [ToComplete(r.id, r.client_name, r.site_name, r.manufacturer, r.model, r.serial, r.mac, r.last_address,
                       r.agent_name, r.first_seen_at, r.last_seen_at) for r in conn.execute(query)]


def activate(conn: Connection, asset_id: int, actor: str | None = None) -> None:
    row = _asset(conn, asset_id)
    if row.state not in ("to_complete", "deleted"):
        raise AssetError(f"asset {asset_id} is {row.state}; only devices to complete or deleted ones are activated")
    conn.execute(update(assets).where(assets.c.id == asset_id).values(state="active", activated_at=utcnow()))
    audit(conn, asset_id, "activate", f"activated (was {row.state})", actor)


def delete_asset(conn: Connection, asset_id: int, actor: str | None = None) -> None:
    """Not billed, not listed; kept so its identity does not come back as a new device to complete."""
    row = _asset(conn, asset_id)
    if row.state == "merged":
        raise AssetError(f"asset {asset_id} was merged into {row.merged_into_id}")
    conn.execute(update(assets).where(assets.c.id == asset_id).values(state="deleted"))
    audit(conn, asset_id, "delete", f"deleted (was {row.state})", actor)


def set_field(conn: Connection, asset_id: int, key: str, value: str | None, actor: str | None = None) -> None:
    """Set (or, with None, remove) one custom field."""
    _asset(conn, asset_id)
    if not 1 <= len(key) <= MAX_FIELD_KEY or not key.isprintable():
        raise AssetError(f"field name {key!r}: 1-{MAX_FIELD_KEY} printable characters")
    if value is not None and (len(value) > MAX_FIELD_VALUE or "\x00" in value):
        raise AssetError(f"field {key}: value longer than {MAX_FIELD_VALUE} characters or containing NUL")
    conn.execute(delete(asset_fields).where(asset_fields.c.asset_id == asset_id, asset_fields.c.key == key))
    if value is None:
        audit(conn, asset_id, "unset", f"field {key} removed", actor)
        return
    conn.execute(insert(asset_fields).values(asset_id=asset_id, key=key, value=value, updated_at=utcnow()))
    audit(conn, asset_id, "set", f"field {key} = {value}", actor)


def set_site(conn: Connection, asset_id: int, site: str | None, actor: str | None = None) -> None:
    row = _asset(conn, asset_id)
    site_id = None
    if site is not None:
        site_id = conn.execute(select(sites.c.id).where(sites.c.client_id == row.client_id,
                                                        sites.c.name == site)).scalar()
        if site_id is None:
            raise AssetError(f"the asset's client has no site named {site!r}")
    conn.execute(update(assets).where(assets.c.id == asset_id).values(site_id=site_id))
    audit(conn, asset_id, "site", f"site set to {site}" if site else "site removed", actor)


def _move_history(conn: Connection, source: int, target: int, reading_ids=None) -> None:
    """History rows of `source` (all, or those derived from `reading_ids`) to `target`; a row `target` has for
    the same meter/supply and time already wins."""
    for table, key in ((meter_reads, ("meter", "read_at")),
                       (supply_observations, ("device_index", "supply_index", "observed_at"))):
        other = table.alias("other")
        chosen = table.c.asset_id == source
        if reading_ids is not None:
            chosen = and_(chosen, table.c.reading_id.in_(reading_ids))
        clash = exists().where(other.c.asset_id == target, *[other.c[k] == table.c[k] for k in key])
        conn.execute(delete(table).where(chosen, clash))
        conn.execute(update(table).where(chosen).values(asset_id=target))
    events = alert_events.c.asset_id == source
    if reading_ids is not None:
        events = and_(events, alert_events.c.opened_reading_id.in_(reading_ids))
    conn.execute(update(alert_events).where(events).values(asset_id=target))


def merge(conn: Connection, keep: int, other: int, actor: str | None = None) -> None:
    """`other` is the same printer as `keep` (e.g. it reported no serial once): its identities, readings and
    history move to `keep`; `other` stays as state `merged` pointing at `keep`."""
    if keep == other:
        raise AssetError("an asset cannot be merged into itself")
    kept, gone = _asset(conn, keep), _asset(conn, other)
    if kept.client_id != gone.client_id:
        raise AssetError(f"assets {keep} and {other} belong to different clients; they cannot be one printer")
    if "merged" in (kept.state, gone.state):
        raise AssetError(f"asset {keep if kept.state == 'merged' else other} was merged already")
    conn.execute(update(asset_identities).where(asset_identities.c.asset_id == other).values(asset_id=keep))
    conn.execute(update(readings).where(readings.c.asset_id == other).values(asset_id=keep))
    _move_history(conn, other, keep)
    latest = {r.asset_id: r for r in conn.execute(select(asset_latest).where(asset_latest.c.asset_id.in_([keep, other])))}
    if other in latest:
        total = sum(r.readings for r in latest.values())
        newer = max(latest.values(), key=lambda r: r.collected_at)
        values = {c: getattr(newer, c) for c in ("collected_at", "reading_id", "agent_id", "address", "counters",
                                                 "supplies", "alerts", "status")}
        conn.execute(delete(asset_latest).where(asset_latest.c.asset_id.in_([keep, other])))
        conn.execute(insert(asset_latest).values(asset_id=keep, readings=total, updated_at=utcnow(), **values))
    missing = {c: getattr(gone, c) for c in ("manufacturer", "model", "serial", "mac", "site_id")
               if getattr(kept, c) is None and getattr(gone, c) is not None}
    conn.execute(update(assets).where(assets.c.id == keep).values(
        first_seen_at=min(kept.first_seen_at, gone.first_seen_at), last_seen_at=max(kept.last_seen_at, gone.last_seen_at),
        **missing))
    conn.execute(update(assets).where(assets.c.id == other).values(state="merged", merged_into_id=keep))
    audit(conn, keep, "merge", f"asset {other} merged into {keep}", actor)
    audit(conn, other, "merge", f"asset {other} merged into {keep}", actor)


def split(conn: Connection, asset_id: int, identity_key: str, actor: str | None = None) -> int:
    """One identity of an asset was another printer after all: it becomes a new asset (same client, site and
    state) with the readings stored under that identity and the history derived from them. Returns its id."""
    row = _asset(conn, asset_id)
    keys = list(conn.execute(select(asset_identities.c.identity_key).where(asset_identities.c.asset_id == asset_id))
                .scalars())
    if identity_key not in keys:
        raise AssetError(f"asset {asset_id} has no identity {identity_key!r}; it has: {', '.join(keys)}")
    if len(keys) == 1:
        raise AssetError(f"{identity_key!r} is the only identity of asset {asset_id}; nothing to split off")
    now = utcnow()
    moved = select(readings.c.id).where(readings.c.asset_id == asset_id, readings.c.device_key == identity_key)
    newest = conn.execute(select(readings.c.id, readings.c.collected_at, readings.c.agent_id, readings.c.document)
                          .where(readings.c.id.in_(moved)).order_by(readings.c.collected_at.desc()).limit(1)).first()
    count = conn.execute(select(func.count()).where(readings.c.id.in_(moved))).scalar_one()
    new_id = conn.execute(insert(assets).values(
        client_id=row.client_id, site_id=row.site_id, state=row.state, first_seen_at=row.first_seen_at,
        last_seen_at=row.last_seen_at, created_at=now, activated_at=row.activated_at,
        **({"manufacturer": row.manufacturer, "model": row.model, "serial": row.serial}
           if identity_key.startswith("serial:") and row.serial and identity_key.endswith(row.serial) else {}))
        .returning(assets.c.id)).scalar_one()
    conn.execute(update(asset_identities).where(asset_identities.c.asset_id == asset_id,
                                                asset_identities.c.identity_key == identity_key)
                 .values(asset_id=new_id))
    reading_ids = list(conn.execute(moved).scalars())
    conn.execute(update(readings).where(readings.c.id.in_(reading_ids)).values(asset_id=new_id))
    _move_history(conn, asset_id, new_id, reading_ids)
    if newest is not None:
        document = newest.document
        conn.execute(insert(asset_latest).values(
            asset_id=new_id, collected_at=newest.collected_at, reading_id=newest.id, agent_id=newest.agent_id,
            address=document.get("address"), readings=count,
            counters={k: v for k, v in (document.get("counters") or {}).items() if v is not None},
            supplies=[], alerts=[], status=document.get("status"), updated_at=now))
        conn.execute(update(asset_latest).where(asset_latest.c.asset_id == asset_id)
                     .values(readings=func.greatest(asset_latest.c.readings - count, 0)
                             if conn.dialect.name == "postgresql" else func.max(asset_latest.c.readings - count, 0)))
    detail = f"identity {identity_key} split from asset {asset_id} into new asset {new_id} ({count} readings)"
    audit(conn, asset_id, "split", detail, actor)
    audit(conn, new_id, "split", detail, actor)
    return new_id


def show(conn: Connection, asset_id: int) -> dict:
    """Everything about one asset: identity, site, custom fields, latest state, open alerts, audit trail."""
    row = conn.execute(select(assets, clients.c.name.label("client_name"), sites.c.name.label("site_name"))
                       .join(clients, clients.c.id == assets.c.client_id)
                       .outerjoin(sites, sites.c.id == assets.c.site_id).where(assets.c.id == asset_id)).first()
    if row is None:
        raise AssetError(f"no asset {asset_id}; see: fleetmeter-server assets list")
    latest = conn.execute(select(asset_latest).where(asset_latest.c.asset_id == asset_id)).first()
    return {
        "id": row.id, "client": row.client_name, "site": row.site_name, "state": row.state,
        "manufacturer": row.manufacturer, "model": row.model, "serial": row.serial, "mac": row.mac,
        "merged_into": row.merged_into_id, "first_seen_at": _iso(row.first_seen_at),
        "last_seen_at": _iso(row.last_seen_at), "address": row.last_address,
        "identities": list(conn.execute(select(asset_identities.c.identity_key).where(
            asset_identities.c.asset_id == asset_id).order_by(asset_identities.c.identity_key)).scalars()),
        "fields": dict(conn.execute(select(asset_fields.c.key, asset_fields.c.value).where(
            asset_fields.c.asset_id == asset_id).order_by(asset_fields.c.key)).all()),
        "latest": None if latest is None else {
            "collected_at": _iso(latest.collected_at), "readings": latest.readings, "counters": latest.counters,
            "supplies": latest.supplies, "alerts": latest.alerts},
        "audit": [{"at": _iso(a.at), "action": a.action, "detail": a.detail, "actor": a.actor}
                  for a in conn.execute(select(asset_audit).where(asset_audit.c.asset_id == asset_id)
                                        .order_by(asset_audit.c.id))],
    }
