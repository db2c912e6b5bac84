"""The consumable request queue: Outstanding -> Actioned (a job made, or an ERP took it) -> Completed
(the supply engine saw the supply replaced, server_stub.supply.replacement; the loop is closed).

Requests come from the automatic reorder decision (source `reorder`), a dealer (`dealer`) or a portal user
(`portal`), all through `add_request`. A supply has at most one open (Outstanding or Actioned) request: asking
again returns the open one. The sync (`sync`; the worker runs it every `server.jobs_sync_interval`, default 1h;
`fleetmeter-server jobs sync` runs it now) places each Outstanding request on a job (server_stub.jobs.rules)
and writes the job number into its comment. Each request is claimed by a conditional UPDATE, so processes
sharing one database never place a request twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from fleetmeter_contract import durations
from server_stub.db.engine import utcnow
from server_stub.db.tables import asset_latest, assets, clients
from server_stub.fleet.remote_config import server_setting
from server_stub.jobs.matching import match_serial
from server_stub.jobs.rules import JobConflict, place_request
from server_stub.jobs.tables import consumable_requests, job_syncs

SOURCES = ("reorder", "dealer", "portal")
STATUSES = ("outstanding", "actioned", "completed")
OPEN = ("outstanding", "actioned")
_KEY = re.compile(r"(\d{1,6})\.(\d{1,6})")


class RequestError(ValueError):
    pass


def parse_supply_key(key: str | tuple[int, int]) -> tuple[int, int]:
    """`"1.2"` (device index . supply index, as readings number supplies) or a pair."""
    if isinstance(key, tuple):
        return int(key[0]), int(key[1])
    found = _KEY.fullmatch(key.strip())
    if not found:
        raise RequestError(f"supply {key!r}: expected DEVICE.INDEX, e.g. 1.2")
    return int(found[1]), int(found[2])


def add_request(conn: Connection, asset_id: int, supply_key: str | tuple[int, int], source: str, *,
                requested_by: str | None = None, comment: str = "", at: datetime | None = None) -> int:
    """Queue a request for one supply of an asset (Outstanding); returns its id, or the id of the supply's
    request that is already open. A supply the asset's agents never reported is refused (an asset known only
    from an import, with no reading yet, takes any key)."""
    if source not in SOURCES:
        raise RequestError(f"source: one of {', '.join(SOURCES)}")
    device_index, supply_index = parse_supply_key(supply_key)
    if conn.execute(select(assets.c.id).where(assets.c.id == asset_id,
                                              assets.c.state.in_(("to_complete", "active")))).first() is None:
        raise RequestError(f"no asset {asset_id} (or it is deleted or merged)")
    supplies = conn.execute(select(asset_latest.c.supplies).where(asset_latest.c.asset_id == asset_id)).scalar()
    if supplies and (device_index, supply_index) not in {(x.get("device_index"), x.get("index")) for x in supplies}:
        known = ", ".join(f"{x.get('device_index')}.{x.get('index')} {x.get('color') or ''} {x.get('type') or ''}".strip()
                          for x in supplies)
        raise RequestError(f"asset {asset_id} reports no supply {device_index}.{supply_index} (it has: {known})")
    existing = conn.execute(select(consumable_requests.c.id).where(
        consumable_requests.c.asset_id == asset_id, consumable_requests.c.device_index == device_index,
        consumable_requests.c.supply_index == supply_index, consumable_requests.c.status.in_(OPEN))).scalars().first()
    if existing is not None:
        return existing
    return conn.execute(insert(consumable_requests).values(
        asset_id=asset_id, device_index=device_index, supply_index=supply_index, source=source,
        requested_by=requested_by, status="outstanding", comment=comment, created_at=at or utcnow())
        .returning(consumable_requests.c.id)).scalar_one()


def add_request_by_serial(conn: Connection, serial: str, supply_key: str, source: str, *,
                          requested_by: str | None = None) -> int:
    """`requests add --serial S`: S matched as server_stub.jobs.matching decides (serial, custom, suffix)."""
    match = match_serial(conn, serial)
    if match.asset_id is None:
        raise RequestError(match.describe(serial))
    return add_request(conn, match.asset_id, supply_key, source, requested_by=requested_by)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def list_requests(conn: Connection, status: str | None = None) -> list[dict]:
    query = (select(consumable_requests, assets.c.serial, clients.c.name.label("client"))
             .join(assets, assets.c.id == consumable_requests.c.asset_id)
             .join(clients, clients.c.id == assets.c.client_id).order_by(consumable_requests.c.id))
    if status:
        query = query.where(consumable_requests.c.status == status)
    return [{"id": r.id, "status": r.status, "client": r.client, "asset_id": r.asset_id, "serial": r.serial,
             "supply": f"{r.device_index}.{r.supply_index}", "source": r.source, "requested_by": r.requested_by,
             "comment": r.comment, "job": r.job_id, "erp_id": r.erp_id, "created_at": _iso(r.created_at),
             "actioned_at": _iso(r.actioned_at), "completed_at": _iso(r.completed_at)}
            for r in conn.execute(query)]


@dataclass(frozen=True)
class SyncResult:
    actioned: int
    jobs_created: int
    conflicts: list[str]


def sync(conn: Connection, now: datetime | None = None) -> SyncResult:
    """Place every Outstanding request on a job (Actioned, job number in its comment); a request whose asset
    is in conflict stays Outstanding and is reported."""
    now = now or utcnow()
    actioned, created, conflicts = 0, 0, []
    # PostgreSQL: rows another process's sync holds are skipped (it places them), so two syncs never wait on each
    # other's requests while holding an asset (no deadlock); the conditional UPDATE below stays the guard
    for request in conn.execute(select(consumable_requests).where(consumable_requests.c.status == "outstanding")
                                .order_by(consumable_requests.c.id).with_for_update(skip_locked=True)).all():
        claimed = conn.execute(update(consumable_requests).where(
            consumable_requests.c.id == request.id, consumable_requests.c.status == "outstanding")
            .values(status="actioned", actioned_at=now)).rowcount
        if not claimed:
            continue  # another process took it
        try:
            placement = place_request(conn, request, now)
        except JobConflict as exc:
            conn.execute(update(consumable_requests).where(consumable_requests.c.id == request.id)
                         .values(status="outstanding", actioned_at=None))
            conflicts.append(f"request {request.id}: {exc}")
            continue
        comment = f"job {placement.job_id}" + (f"; {request.comment}" if request.comment else "")
        conn.execute(update(consumable_requests).where(consumable_requests.c.id == request.id)
                     .values(job_id=placement.job_id, comment=comment))
        actioned += 1
        created += placement.created
    conn.execute(insert(job_syncs).values(at=now, actioned=actioned, conflicts=len(conflicts)))
    return SyncResult(actioned, created, conflicts)


def sync_if_due(conn: Connection, now: datetime | None = None) -> SyncResult | None:
    """The worker's task: sync when `server.jobs_sync_interval` has passed since the last sync."""
    now = now or utcnow()
    interval = durations.timedelta_of(server_setting(conn, "server.jobs_sync_interval"))
    last = conn.execute(select(func.max(job_syncs.c.at))).scalar()
    if last is not None and now - last < interval:
        return None
    return sync(conn, now)


def action_by_erp(conn: Connection, request_id: int, erp_id: str, now: datetime | None = None) -> bool:
    """An ERP took an Outstanding request (it makes its own job): Actioned, its id in the comment. False when
    the request is not Outstanding (unknown, already actioned or completed)."""
    request = conn.execute(select(consumable_requests).where(consumable_requests.c.id == request_id)).first()
    if request is None or request.status != "outstanding":
        return False
    comment = f"ERP {erp_id}" + (f"; {request.comment}" if request.comment else "")
    return conn.execute(update(consumable_requests).where(
        consumable_requests.c.id == request_id, consumable_requests.c.status == "outstanding")
        .values(status="actioned", erp_id=erp_id, comment=comment, actioned_at=now or utcnow())).rowcount == 1


def complete_requests_for_replacement(conn: Connection, asset_id: int, supply_key: str | tuple[int, int],
                                      at: datetime) -> int:
    """The supply engine saw this supply replaced at `at` (server_stub.supply.live, the one replacement rule):
    its open requests made before then are Completed."""
    device_index, supply_index = parse_supply_key(supply_key)
    return conn.execute(update(consumable_requests).where(
        consumable_requests.c.asset_id == asset_id, consumable_requests.c.device_index == device_index,
        consumable_requests.c.supply_index == supply_index, consumable_requests.c.status.in_(OPEN),
        consumable_requests.c.created_at <= at).values(status="completed", completed_at=at)).rowcount

