"""Consumables delivered to a client's assets in a billing period: what per-consumable billing prices.

The one place that decides what counts as delivered, and when:
- A supply order line (server_stub.supply) is delivered when its order is shipped (`shipped_at`: the order left
  for the customer; Focalist's "installation in progress"), with the line's quantity and the part number the
  printer reports. An order never shipped delivers nothing; a cancelled order is left out altogether (its
  request's job line, if the dealer still sent it, stands alone).
- A consumable job line (server_stub.jobs) is delivered when its job is completed: the first time it reached
  ready_to_invoice or invoiced (`completed_at`), one consumable per line, the stock item the job chose.
- An order line and the job line of the request it was queued as (server_stub.supply.links records it) are the
  same shipment: counted once, at the earlier of the two events, with the order line's quantity and the job's
  stock code (the part that went out) beside the printer's part number.
- A shipment already on a stored bill of the client is never counted again (an event recorded late, a job
  completed a second time after going back to in progress).

Each Delivery names its order (and line) and job (and job line): `billing run --json` and the bill document
show them. Type and colour come from the job line (else the stock item's class), else from the supply as the
printer last reported it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection

from server_stub.billing.periods import Period
from server_stub.billing.rules import Delivery
from server_stub.billing.tables import bills
from server_stub.db.tables import asset_latest, assets
from server_stub.jobs.tables import consumable_jobs, job_lines, stock_items
from server_stub.supply.links import supply_pair
from server_stub.supply.orders import Status
from server_stub.supply.tables import supply_order_lines, supply_order_requests, supply_orders


@dataclass(frozen=True)
class _OrderLine:
    order_id: int
    line_no: int
    asset_id: int
    supply_key: str
    quantity: int
    part_number: str | None
    shipped_at: datetime | None   # None: not shipped yet (cancelled orders are left out)
    request_id: int | None


@dataclass(frozen=True)
class _JobLine:
    id: int
    job_id: int
    asset_id: int
    request_id: int | None
    colour: str | None
    supply_type: str | None
    part_code: str | None
    completed_at: datetime | None


def _order_lines(conn: Connection, *where: Any) -> list[_OrderLine]:
    rows = conn.execute(
        select(supply_order_lines, supply_orders.c.shipped_at, supply_orders.c.status,
               supply_order_requests.c.request_id)
        .join(supply_orders, supply_orders.c.id == supply_order_lines.c.order_id)
        .outerjoin(supply_order_requests, and_(supply_order_requests.c.order_id == supply_order_lines.c.order_id,
                                               supply_order_requests.c.asset_id == supply_order_lines.c.asset_id,
                                               supply_order_requests.c.supply_key == supply_order_lines.c.supply_key))
        .where(supply_orders.c.status != Status.CANCELLED.value, *where))
    return [_OrderLine(r.order_id, r.line_no, r.asset_id, r.supply_key, r.quantity, r.part_number, r.shipped_at,
                       r.request_id) for r in rows]


def _job_lines(conn: Connection, *where: Any) -> list[_JobLine]:
    rows = conn.execute(
        select(job_lines, consumable_jobs.c.asset_id, consumable_jobs.c.completed_at, stock_items.c.supply_class)
        .join(consumable_jobs, consumable_jobs.c.id == job_lines.c.job_id)
        .outerjoin(stock_items, stock_items.c.part_code == job_lines.c.part_code)
        .where(*where))
    return [_JobLine(r.id, r.job_id, r.asset_id, r.request_id, r.colour, r.supply_type or r.supply_class,
                     r.part_code, r.completed_at) for r in rows]


def _billed_sources(conn: Connection, client: int) -> set[str]:
    out: set[str] = set()
    for doc in conn.execute(select(bills.c.document).where(bills.c.client_id == client)).scalars():
        for line in doc.get("consumables", []):
            out.update(line.get("sources", []))
    return out


def _reported_supplies(conn: Connection, asset_ids: set[int]) -> dict[tuple[int, int, int], dict]:
    """(asset, device index, supply index) -> the supply as the printer last reported it."""
    out = {}
    if asset_ids:
        for asset_id, supplies in conn.execute(select(asset_latest.c.asset_id, asset_latest.c.supplies)
                                               .where(asset_latest.c.asset_id.in_(asset_ids))):
            for supply in supplies or []:
                out[(asset_id, supply.get("device_index") or 1, supply.get("index"))] = supply
    return out


def _pair(key: str) -> tuple[int, int] | None:
    try:
        return supply_pair(key)
    except ValueError:
        return None


def period_deliveries(conn: Connection, client: int, period: Period) -> list[Delivery]:
    """The consumables delivered to `client`'s assets within `period`, one Delivery per shipment (see the module
    docstring), oldest first."""
    in_period = lambda column: and_(column >= period.start, column < period.end)  # noqa: E731
    orders = {(o.order_id, o.line_no): o for o in _order_lines(
        conn, supply_orders.c.client_id == client, in_period(supply_orders.c.shipped_at))}
    jobs = {j.id: j for j in _job_lines(
        conn, consumable_jobs.c.asset_id.in_(select(assets.c.id).where(assets.c.client_id == client)),
        in_period(consumable_jobs.c.completed_at))}
    # the other half of each shipment, whenever it happened (an earlier half moves the shipment out of the period)
    requests = {o.request_id for o in orders.values()} | {j.request_id for j in jobs.values()}
    requests.discard(None)
    if requests:
        orders |= {(o.order_id, o.line_no): o for o in _order_lines(conn, supply_order_requests.c.request_id.in_(requests))}
        jobs |= {j.id: j for j in _job_lines(conn, job_lines.c.request_id.in_(requests))}

    by_request: dict[int, tuple[list[_OrderLine], list[_JobLine]]] = defaultdict(lambda: ([], []))
    shipments: list[tuple[_OrderLine | None, _JobLine | None]] = []
    for o in sorted(orders.values(), key=lambda o: (o.order_id, o.line_no)):
        if o.request_id is None:
            shipments.append((o, None))
        else:
            by_request[o.request_id][0].append(o)
    for j in sorted(jobs.values(), key=lambda j: j.id):
        if j.request_id is None or j.request_id not in by_request:
            shipments.append((None, j))
        else:
            by_request[j.request_id][1].append(j)
    for ords, jbs in by_request.values():  # a request several orders were queued as: each order line is a parcel
        for n in range(max(len(ords), len(jbs))):
            shipments.append((ords[n] if n < len(ords) else None, jbs[n] if n < len(jbs) else None))

    sites = dict(conn.execute(select(assets.c.id, assets.c.site_id).where(assets.c.client_id == client)).all())
    reported = _reported_supplies(conn, {o.asset_id for o, _ in shipments if o is not None})
    billed = _billed_sources(conn, client)
    out = []
    for order, job in shipments:
        events = [t for t in (order and order.shipped_at, job and job.completed_at) if t is not None]
        if not events or not period.start <= min(events) < period.end:
            continue
        supply = {}
        if order is not None and (pair := _pair(order.supply_key)) is not None:
            supply = reported.get((order.asset_id, *pair), {})
        asset_id = order.asset_id if order else job.asset_id
        refs = [*([f"order {order.order_id} line {order.line_no}"] if order else []),
                *([f"job {job.job_id} line {job.id}"] if job else [])]
        delivery = Delivery(
            asset_id, min(events), order.quantity if order else 1,
            part_number=order.part_number if order else None,
            type=(job and job.supply_type) or supply.get("type"), color=(job and job.colour) or supply.get("color"),
            reference=" + ".join(refs), stock_code=job.part_code if job else None, site_id=sites.get(asset_id),
            order_id=order and order.order_id, order_line=order and order.line_no,
            job_id=job and job.job_id, job_line=job and job.id)
        if not billed.intersection(delivery.sources):
            out.append(delivery)
    return sorted(out, key=lambda d: (d.delivered_at, d.asset_id, d.reference or ""))
