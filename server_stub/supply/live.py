"""The supply engine run live: the worker feeds every stored reading, in time order, through the same
`SupplyEngine` the backtest replays, with the engine's state kept in the database between runs.

Per site (its decisions serialised on the `supply_sites` row, locked by an upsert, plus a PostgreSQL advisory
lock a second process skips) a run loads the state of the site's supplies, its devices' page history and the
site's open orders, applies the readings stored since each asset's watermark exactly as `supply backtest`
does (deliver due parcels, observe, decide for the reading's device), then decides for the whole site at
`now` and writes everything back. The fleet's learned pages-per-percent is read once per run. Round trips
are what a run costs on PostgreSQL, so each table is read in one query and written with one multi-row upsert
(about nine statements for a site with no order activity, whatever its number of printers). Orders placed
get a database id; their lines become consumable requests (server_stub.supply.links) and their mails are
queued (server_stub.notify).

Why a worker, not the ingest transaction: ingest stays as fast as before (the engine costs ~1 ms a reading,
more than the whole derive step), and decisions need the site lock anyway.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, literal, or_, select, update
from sqlalchemy.engine import Connection

from server_stub.assets.identity import normalise_serial
from server_stub.db.engine import upsert_insert, utcnow
from server_stub.db.tables import assets, clients, readings
from server_stub.notify.outbox import order_event
from server_stub.supply import events, links, orders as lifecycle, state as codec
from server_stub.supply.engine import SupplyEngine, asset_id as device_of
from server_stub.supply.orders import Order, OrderLine, Status
from server_stub.supply.policy import Policy
from server_stub.supply.policy_store import policy_from_db
from server_stub.supply.replacement import is_premature
from server_stub.supply.tables import (supply_assets, supply_cartridges, supply_fleet, supply_order_lines,
                                       supply_orders, supply_sites, supply_state)

OPEN = tuple(s.value for s in lifecycle.OPEN)
_DAY = timedelta(days=1)


def site_key(site_id: int | None, asset: int) -> str:
    """The engine's site: the asset's site, or the asset alone when it has none."""
    return f"site:{site_id}" if site_id is not None else f"asset:{asset}"


def engine_device(serial: str | None, asset: int) -> str:
    """The engine's name for an asset: its serial as reported (as the backtest names devices) when it is one
    (not a placeholder several printers share), else its id."""
    return serial if normalise_serial(serial) else f"asset-{asset}"


def order_ref(db_id: int) -> str:
    return f"#{db_id}"


def order_db_id(ref: str | None) -> int | None:
    """The database id of an order the engine loaded (None: none, or one not stored yet)."""
    return int(ref[1:]) if ref and ref.startswith("#") else None


# -- locking --------------------------------------------------------------------------------------------------
def lock_site(conn: Connection, key: str, client_id: int, *, wait: bool, decided_at: datetime | None = None) -> bool:
    """Serialise decisions for a site across processes; False when another process holds it (wait=False).
    The site's row is upserted with an update, which locks it (PostgreSQL) as SELECT ... FOR UPDATE would; a
    worker run stamps `decided_at` in the same statement (its transaction commits it with the decisions)."""
    insert = upsert_insert(conn, supply_sites)
    values = {"site_key": key, "client_id": client_id} | ({"decided_at": decided_at} if decided_at else {})
    update_ = {"decided_at": insert.excluded.decided_at} if decided_at else {"site_key": insert.excluded.site_key}
    if conn.dialect.name == "postgresql":
        advisory = zlib.crc32(f"supply:{key}".encode()) - 2**31
        if wait:
            conn.execute(select(func.pg_advisory_xact_lock(advisory)))
        else:  # one round trip: the row is upserted (and locked) only when the advisory lock was free
            rows = select(*(literal(v) for v in values.values())).where(func.pg_try_advisory_xact_lock(advisory))
            got = conn.execute(insert.from_select(list(values), rows).on_conflict_do_update(
                index_elements=["site_key"], set_=update_).returning(supply_sites.c.site_key)).first()
            return got is not None
    conn.execute(insert.values(**values).on_conflict_do_update(index_elements=["site_key"], set_=update_))
    return True


# -- orders in the database -----------------------------------------------------------------------------------
def _order_from_rows(row: Any, lines: list[Any], client: str) -> Order:
    return Order(order_ref(row.id), client, row.site_key, row.placed_at, row.kind, row.rule,
                 tuple(OrderLine(ln.device, ln.supply_key, ln.quantity, ln.part_number, ln.reason, ln.installed)
                       for ln in lines),
                 row.why, Status(row.status), row.blocked, row.shipped_at, row.delivered_at, row.closed_at,
                 row.backordered_at, row.backordered_until, row.backorder_note)


def load_orders(conn: Connection, *where: Any) -> list[tuple[Order, dict[str, int]]]:
    """Orders (and, per line, device -> asset id) matching `where`, oldest first."""
    rows = conn.execute(select(supply_orders, clients.c.name.label("client_name"))
                        .join(clients, clients.c.id == supply_orders.c.client_id)
                        .where(*where).order_by(supply_orders.c.id)).all()
    if not rows:
        return []
    lines: dict[int, list[Any]] = {}
    for ln in conn.execute(select(supply_order_lines).where(supply_order_lines.c.order_id.in_([r.id for r in rows]))
                           .order_by(supply_order_lines.c.order_id, supply_order_lines.c.line_no)):
        lines.setdefault(ln.order_id, []).append(ln)
    return [(_order_from_rows(r, lines.get(r.id, []), r.client_name),
             {ln.device: ln.asset_id for ln in lines.get(r.id, [])}) for r in rows]


def insert_order(conn: Connection, order: Order, client_id: int, asset_of: dict[str, int]) -> int:
    db_id = conn.execute(supply_orders.insert().values(
        client_id=client_id, site_key=order.site, status=order.status.value, blocked=order.blocked, kind=order.kind,
        rule=order.rule, placed_at=order.placed_at, shipped_at=order.shipped_at, delivered_at=order.delivered_at,
        closed_at=order.closed_at, backordered_at=order.backordered_at, backordered_until=order.backordered_until,
        backorder_note=order.backorder_note, why=_plain(order.why)).returning(supply_orders.c.id)).scalar_one()
    conn.execute(supply_order_lines.insert(), [
        {"order_id": db_id, "line_no": n, "asset_id": asset_of[ln.device], "device": ln.device,
         "supply_key": ln.supply, "quantity": ln.quantity, "installed": ln.installed, "part_number": ln.part_number,
         "reason": ln.reason} for n, ln in enumerate(order.lines, 1)])
    for ln in order.lines:
        if ln.installed < ln.quantity:  # a line replaced before the order was first stored needs no request
            links.add_request(conn, asset_of[ln.device], ln.supply, db_id, ln.quantity, order.placed_at)
    return db_id


def save_order(conn: Connection, order: Order) -> None:
    db_id = order_db_id(order.id)
    conn.execute(update(supply_orders).where(supply_orders.c.id == db_id).values(
        status=order.status.value, blocked=order.blocked, shipped_at=order.shipped_at,
        delivered_at=order.delivered_at, closed_at=order.closed_at, backordered_at=order.backordered_at,
        backordered_until=order.backordered_until, backorder_note=order.backorder_note))
    for n, ln in enumerate(order.lines, 1):
        conn.execute(update(supply_order_lines).where(supply_order_lines.c.order_id == db_id,
                                                      supply_order_lines.c.line_no == n).values(installed=ln.installed))


def _plain(value: Any) -> Any:
    """The order's why as JSON (datetimes as ISO text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if dataclasses.is_dataclass(value):
        return _plain(dataclasses.asdict(value))
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def display_status(order: Order) -> str:
    return "blocked" if order.blocked and order.status is lifecycle.Status.NEW else order.status.value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def order_json(order: Order, *, why: bool = False) -> dict[str, Any]:
    doc = {"id": order_db_id(order.id), "client": order.client, "site": order.site, "status": display_status(order),
           "kind": order.kind, "rule": order.rule, "placed_at": _iso(order.placed_at),
           "shipped_at": _iso(order.shipped_at), "delivered_at": _iso(order.delivered_at),
           "closed_at": _iso(order.closed_at),
           "backordered": None if not order.backordered else {
               "at": _iso(order.backordered_at), "until": _iso(order.backordered_until), "note": order.backorder_note},
           "lines": [{"device": ln.device, "supply": ln.supply, "quantity": ln.quantity, "installed": ln.installed,
                      "part_number": ln.part_number, "reason": ln.reason} for ln in order.lines]}
    if why:
        doc["why"] = order.why
    return doc


# -- the engine's state ---------------------------------------------------------------------------------------
class _Serials(dict):
    """engine.cartridge_serials backed by the database: the serials the run's readings name are fetched at
    once (`prefetch`), any other looked up on demand; new ones remembered to store."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self.conn, self.new, self.missing = conn, {}, set()

    def prefetch(self, serials: set[str]) -> None:
        if not serials:
            return
        found = dict(self.conn.execute(select(supply_cartridges.c.serial, supply_cartridges.c.device)
                                       .where(supply_cartridges.c.serial.in_(serials))).all())
        for serial in serials:
            if serial in found:
                dict.__setitem__(self, serial, found[serial])
            else:
                self.missing.add(serial)

    def _fetch(self, serial: str) -> None:
        if serial not in self.missing and not dict.__contains__(self, serial):
            device = self.conn.execute(select(supply_cartridges.c.device)
                                       .where(supply_cartridges.c.serial == serial)).scalar()
            if device is None:
                self.missing.add(serial)
            else:
                dict.__setitem__(self, serial, device)

    def __contains__(self, serial: object) -> bool:
        self._fetch(serial)  # type: ignore[arg-type]
        return dict.__contains__(self, serial)

    def get(self, serial: Any, default: Any = None) -> Any:
        self._fetch(serial)
        return dict.get(self, serial, default)

    def __setitem__(self, serial: str, device: str) -> None:
        self.missing.discard(serial)
        self.new[serial] = device
        dict.__setitem__(self, serial, device)


@dataclass
class SiteRun:
    key: str
    client_id: int
    client: str
    now: datetime
    readings: int = 0
    placed: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    alarms: list[Any] = field(default_factory=list)
    replacements: list[tuple[int, Any, str | None, bool]] = field(default_factory=list)  # asset, event, order, premature
    order_ids: dict[str, int] = field(default_factory=dict)  # the engine's order id -> database id


def _load(conn: Connection, engine: SupplyEngine, key: str, asset_ids: set[int],
          fleet: dict[str, list[float]]) -> tuple[dict[str, int], dict[int, str | None]]:
    """Fill `engine` with the site's state (few statements: the supplies, the assets with their page history,
    the open orders); returns device -> asset id and the assets' serials."""
    asset_of: dict[str, int] = {}
    for row in conn.execute(select(supply_state.c.asset_id, supply_state.c.state)
                            .where(or_(supply_state.c.site_key == key, supply_state.c.asset_id.in_(asset_ids)))
                            .order_by(supply_state.c.id)):
        slot = codec.load(row.state)
        slot.site = key
        engine.slots[(slot.device, slot.key)] = slot
        engine.by_site.setdefault(key, []).append(slot)
        asset_of[slot.device] = row.asset_id
    serials: dict[int, str | None] = {}
    for row in conn.execute(select(assets.c.id, assets.c.serial, supply_assets.c.state)
                            .outerjoin(supply_assets, supply_assets.c.asset_id == assets.c.id)
                            .where(assets.c.id.in_(set(asset_of.values()) | asset_ids))):
        serials[row.id] = row.serial
        if row.state is None:
            continue
        device = row.state["device"]
        asset_of.setdefault(device, row.id)
        for counter, history in row.state["pages"].items():
            engine.pages[(device, counter)] = codec.load(history)
        for counter, rate in row.state["rates"].items():
            engine._rates[(device, counter)] = codec.load(rate)
    engine.fleet_ppp = {k: list(v) for k, v in fleet.items()}
    engine.cartridge_serials = _Serials(conn)
    for order, lines in load_orders(conn, supply_orders.c.site_key == key, supply_orders.c.status.in_(OPEN)):
        engine.add_order(order)
        asset_of.update(lines)
    return asset_of, serials


def _upsert_many(conn: Connection, table: Any, rows: list[dict[str, Any]], keys: list[str],
                 rising: str | None = None) -> None:
    """One multi-row INSERT ... ON CONFLICT DO UPDATE for `rows` (all with the same columns); the `rising`
    column (a watermark) never goes back: the larger of the stored and the new value is kept."""
    if not rows:
        return
    insert = upsert_insert(conn, table)
    values = {c: insert.excluded[c] for c in rows[0] if c not in keys}
    if rising is not None:
        larger = func.greatest if conn.dialect.name == "postgresql" else func.max
        values[rising] = larger(table.c[rising], insert.excluded[rising])
    # executemany: SQLAlchemy sends it as multi-row VALUES (PostgreSQL) from one cached compilation
    conn.execute(insert.on_conflict_do_update(index_elements=keys, set_=values), rows)


def _save(conn: Connection, engine: SupplyEngine, run: SiteRun, asset_of: dict[str, int],
          watermarks: dict[int, int], fleet: dict[str, list[float]], loaded: dict[str, Order]) -> None:
    """Write the site's state back: one multi-row statement per table (the watermark of an asset with nothing
    new is passed as 0 and stays as stored)."""
    slots: dict[tuple[int, str], dict[str, Any]] = {}
    for (device, key), slot in engine.slots.items():
        aid, f = asset_of[device], slot.forecast
        slots[(aid, key)] = {
            "asset_id": aid, "supply_key": key, "site_key": run.key, "state": codec.dump(slot),
            "watermark": watermarks.get(aid, 0), "percent": f and f.percent, "days_left": f and f.days_left,
            "pages_left": f and f.pages_left, "empty_on": f and f.empty_at, "empty_earliest": f and f.earliest,
            "empty_latest": f and f.latest, "method": f and f.method, "supply_class": slot.supply_class,
            "updated_at": run.now}
    _upsert_many(conn, supply_state, list(slots.values()), ["asset_id", "supply_key"], rising="watermark")
    devices: dict[str, dict[str, Any]] = {}
    for (device, counter), history in engine.pages.items():
        devices.setdefault(device, {"device": device, "pages": {}, "rates": {}})["pages"][counter] = codec.dump(history)
    for (device, counter), rate in engine._rates.items():
        devices.setdefault(device, {"device": device, "pages": {}, "rates": {}})["rates"][counter] = codec.dump(rate)
    by_asset = {asset_of[device]: doc for device, doc in devices.items() if device in asset_of}
    _upsert_many(conn, supply_assets, [  # also assets whose readings had no counters or supplies
        {"asset_id": aid, "state": by_asset.get(aid, {"device": "", "pages": {}, "rates": {}}),
         "watermark": watermarks.get(aid, 0)} for aid in sorted(by_asset.keys() | watermarks.keys())],
        ["asset_id"], rising="watermark")
    learned = [{"fleet_key": k, "pages_per_percent": v} for k, v in engine.fleet_ppp.items()
               if len(v) != len(fleet.get(k, ()))]
    _upsert_many(conn, supply_fleet, learned, ["fleet_key"])
    fleet.update({row["fleet_key"]: list(row["pages_per_percent"]) for row in learned})
    if engine.cartridge_serials.new:
        conn.execute(upsert_insert(conn, supply_cartridges).values(
            [{"serial": s, "device": d} for s, d in engine.cartridge_serials.new.items()])
            .on_conflict_do_nothing(index_elements=["serial"]))
    for order in engine.orders.values():
        if order.id.startswith("#"):
            if order != loaded.get(order.id):  # only what this run changed
                save_order(conn, order)
                run.changed.append(order_db_id(order.id))
        else:
            db_id = insert_order(conn, order, run.client_id, asset_of)
            run.placed.append(db_id)
            run.order_ids[order.id] = db_id
            order_event(conn, run.client_id, order_json(dataclasses.replace(order, id=order_ref(db_id))),
                        "order_placed")


def _pending(conn: Connection) -> dict[str, tuple[int, str, set[int]]]:
    """Sites with readings not applied yet: site key -> (client id, client name, asset ids)."""
    floor = conn.execute(select(func.min(supply_assets.c.watermark))).scalar() or 0
    rows = conn.execute(
        select(assets.c.id, assets.c.site_id, assets.c.client_id, clients.c.name).distinct()
        .select_from(readings.join(assets, assets.c.id == readings.c.asset_id)
                     .join(clients, clients.c.id == assets.c.client_id)
                     .outerjoin(supply_assets, supply_assets.c.asset_id == readings.c.asset_id))
        .where(readings.c.id > floor, readings.c.id > func.coalesce(supply_assets.c.watermark, 0))).all()
    sites: dict[str, tuple[int, str, set[int]]] = {}
    for aid, site_id, client_id, client in rows:
        sites.setdefault(site_key(site_id, aid), (client_id, client, set()))[2].add(aid)
    return sites


def _new_readings(conn: Connection, asset_ids: set[int]) -> Iterator[Any]:
    return iter(conn.execute(
        select(readings.c.id, readings.c.asset_id, readings.c.collected_at, readings.c.document, assets.c.serial)
        .join(assets, assets.c.id == readings.c.asset_id)
        .outerjoin(supply_assets, supply_assets.c.asset_id == readings.c.asset_id)
        .where(readings.c.asset_id.in_(asset_ids), readings.c.id > func.coalesce(supply_assets.c.watermark, 0))
        .order_by(readings.c.collected_at, readings.c.id)).all())


def fleet_learning(conn: Connection) -> dict[str, list[float]]:
    """The fleet's learned pages per percent (read once per worker run, kept up to date by its sites)."""
    return {r.fleet_key: list(r.pages_per_percent) for r in conn.execute(select(supply_fleet))}


def run_site(conn: Connection, policy: Policy, key: str, client_id: int, client: str, asset_ids: set[int],
             now: datetime, *, wait: bool = False, fleet: dict[str, list[float]] | None = None) -> SiteRun | None:
    """Apply the site's new readings and decide; None when another process is deciding for it now.
    `fleet`: the fleet's learning as this run knows it (read here when not given; updated with what the site
    learned)."""
    if not lock_site(conn, key, client_id, wait=wait, decided_at=now):
        return None
    run = SiteRun(key, client_id, client, now)
    engine = SupplyEngine(policy)
    fleet = fleet_learning(conn) if fleet is None else fleet
    asset_of, serials = _load(conn, engine, key, asset_ids, fleet)
    engine.policy = policy.with_devices(links.contract_levels(  # the assets' contracts, as device levels
        conn, {engine_device(serial, aid): aid for aid, serial in serials.items()}))
    loaded = dict(engine.orders)
    watermarks: dict[int, int] = {}
    new = list(_new_readings(conn, asset_ids))  # read after the lock: nothing is applied twice
    engine.cartridge_serials.prefetch({s["serial"] for row in new for s in row.document.get("supplies") or []
                                       if isinstance(s, dict) and isinstance(s.get("serial"), str)})
    for row in new:
        doc, device = row.document, engine_device(row.serial, row.asset_id)
        if device_of(doc) != device:  # no usable serial: the engine follows the asset ingest matched it to
            doc = doc | {"identity": (doc.get("identity") or {}) | {"serial": device}}
        asset_of.setdefault(device, row.asset_id)
        engine.deliver_due(row.collected_at)  # as `supply backtest` replays a reading
        observed = engine.observe(client, key, doc)
        run.alarms.extend(observed.alarms)
        for event, order_id in observed.replacements:  # the one replacement rule also completes consumable requests
            links.replaced(conn, row.asset_id, event.supply, event.at)
            run.replacements.append((row.asset_id, event, order_id,
                                     is_premature(event, engine.policy.rules(client, device).alarms)))
        _, flags = engine.decide(key, row.collected_at, {device})
        run.alarms.extend(flags)
        watermarks[row.asset_id] = row.id
        run.readings += 1
    engine.deliver_due(now)
    _, flags = engine.decide(key, now)
    run.alarms.extend(flags)
    _save(conn, engine, run, asset_of, watermarks, fleet, loaded)
    events.record_replacements(conn, [  # orders placed in this run have their ids now
        (aid, event, run.order_ids.get(order_id or "") or order_db_id(order_id), premature)
        for aid, event, order_id, premature in run.replacements])
    events.record_alarms(conn, run.alarms, asset_of)
    return run


def run_pending(conn: Connection, now: datetime | None = None) -> list[SiteRun]:
    """The worker task: every site with new readings, plus every followed site once a day (forecasts age)."""
    now = now or utcnow()
    policy = policy_from_db(conn)
    sites = _pending(conn)
    stale = conn.execute(select(supply_sites.c.site_key, supply_sites.c.client_id, clients.c.name)
                         .join(clients, clients.c.id == supply_sites.c.client_id)
                         .where(or_(supply_sites.c.decided_at.is_(None),
                                    supply_sites.c.decided_at < now - _DAY))).all()
    for key, client_id, client in stale:
        sites.setdefault(key, (client_id, client, set()))
    done = []
    fleet = fleet_learning(conn) if sites else {}
    for key, (client_id, client, asset_ids) in sorted(sites.items()):
        result = run_site(conn, policy, key, client_id, client, asset_ids, now, fleet=fleet)
        if result is not None:
            done.append(result)
    return done

