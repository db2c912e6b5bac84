"""How a consumable request becomes a job line: the one place for the job creation rules (after Jim2's toner
job creation with Happen EKM, ../shared/seeds/000 and 001).

1. The request is about an asset (matched from its serial by server_stub.jobs.matching). An asset with two
   active contracts is a conflict: no job until the dealer finishes one (the request stays Outstanding).
2. A consumable job of the asset that is Booked gets the line (consolidation only ever adds to Booked).
   Otherwise a new Booked job is made; when the asset has a job still In progress or Ready to invoice, both
   jobs get a comment naming the other (freight can still be combined by hand). Invoiced jobs are closed and
   only appear as "last job that supplied" this consumable.
3. The line's stock: the contract's default stock for the supply's colour, else the related stock of the asset
   (or of its model) of that colour and supply type. No stock, or a stock item without a rated yield, adds a
   comment line saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import false, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from server_stub.db.engine import utcnow
from server_stub.db.tables import asset_latest, assets, clients
from server_stub.jobs.matching import active_contracts
from server_stub.supply.outlook import supply_outlook
from server_stub.jobs.tables import contracts as contract_table
from server_stub.jobs.tables import (COLOURS, consumable_jobs, consumable_requests, job_comments, job_lines,
                                    related_stock, stock_items)

STATUSES = ("booked", "in_progress", "ready_to_invoice", "invoiced")
OPEN_OTHER = ("in_progress", "ready_to_invoice")  # jobs still being worked on (cross-commented)
DONE = ("ready_to_invoice", "invoiced")  # the job's consumables went out (completed_at)


class JobConflict(Exception):
    """No job can be made for the request until the dealer resolves this (one line)."""


class JobError(ValueError):
    pass


@dataclass(frozen=True)
class Placement:
    job_id: int
    created: bool  # a new job (False: the line was added to a Booked job)


def forecast_left(conn: Connection, asset_id: int, device_index: int, supply_index: int) -> tuple[float, int] | None:
    """(days left, pages left) of one supply from the live supply forecast, or None while it has none."""
    outlook = supply_outlook(conn, asset_id, f"{device_index}.{supply_index}")
    if outlook is None or outlook["days_left"] is None or outlook["pages_left"] is None:
        return None
    return outlook["days_left"], outlook["pages_left"]


def _comment(conn: Connection, job_id: int, text: str, at: datetime) -> None:
    conn.execute(insert(job_comments).values(job_id=job_id, at=at, text=text))


def _supply(conn: Connection, asset_id: int, device_index: int, supply_index: int) -> dict:
    latest = conn.execute(select(asset_latest.c.supplies).where(asset_latest.c.asset_id == asset_id)).scalar()
    for supply in latest or []:
        if (supply.get("device_index"), supply.get("index")) == (device_index, supply_index):
            return supply
    return {}


def choose_stock(conn: Connection, asset, contract, colour: str | None,
                 supply_type: str | None) -> tuple[str | None, str | None, list[str]]:
    """(part code, where it came from: contract | related | None, comment lines) for one supply."""
    what = f"{colour or 'uncoloured'} {supply_type or 'supply'}"
    part, source = None, None
    if contract is not None and colour in COLOURS:
        part = getattr(contract, f"default_stock_{colour}")
        source = "contract" if part else None
    if part is None:
        query = (select(stock_items.c.part_code).join(related_stock, related_stock.c.part_code == stock_items.c.part_code)
                 .where(or_(related_stock.c.asset_id == asset.id,
                            related_stock.c.model == asset.model if asset.model else false()),
                        stock_items.c.colour == colour if colour else stock_items.c.colour.is_(None),
                        or_(stock_items.c.supply_class.is_(None), stock_items.c.supply_class == supply_type))
                 .order_by(related_stock.c.asset_id.is_(None), stock_items.c.part_code))
        part = conn.execute(query).scalars().first()
        source = "related" if part else None
    if part is None:
        return None, None, [f"no stock for the {what}: set the contract's default stock or the related stock of "
                            f"model {asset.model or '(unknown)'}"]
    item = conn.execute(select(stock_items).where(stock_items.c.part_code == part)).first()
    if item is None:
        return part, source, [f"stock {part} ({what}) is not in the stock list"]
    if item.yield_pages is None:
        return part, source, [f"stock {part} ({what}) has no rated yield: set it in the stock list"]
    return part, source, []


def place_request(conn: Connection, request, now: datetime | None = None) -> Placement:
    """Add the request's line to the asset's Booked job or a new one (see the module docstring)."""
    now = now or utcnow()
    asset = conn.execute(select(assets).where(assets.c.id == request.asset_id).with_for_update()).first()
    contracts = active_contracts(conn, request.asset_id)
    if len(contracts) > 1:
        raise JobConflict(f"asset {request.asset_id} has active contracts "
                          f"{', '.join(c.number for c in contracts)}: finish all but one")
    contract = contracts[0] if contracts else None
    booked = conn.execute(select(consumable_jobs.c.id).where(
        consumable_jobs.c.asset_id == request.asset_id, consumable_jobs.c.status == "booked")
        .order_by(consumable_jobs.c.id.desc())).scalars().first()
    created = booked is None
    if created:
        job_id = conn.execute(insert(consumable_jobs).values(
            asset_id=request.asset_id, contract_id=contract.id if contract else None, status="booked",
            created_at=now, updated_at=now).returning(consumable_jobs.c.id)).scalar_one()
        others = conn.execute(select(consumable_jobs.c.id, consumable_jobs.c.status).where(
            consumable_jobs.c.asset_id == request.asset_id, consumable_jobs.c.status.in_(OPEN_OTHER),
            consumable_jobs.c.id != job_id).order_by(consumable_jobs.c.id)).all()
        for other in others:
            _comment(conn, job_id, f"job {other.id} for this asset is {other.status.replace('_', ' ')}: "
                                   "combine delivery where possible", now)
            _comment(conn, other.id, f"job {job_id} was made for this asset while this job is "
                                     f"{other.status.replace('_', ' ')}", now)
    else:
        job_id = booked
        conn.execute(update(consumable_jobs).where(consumable_jobs.c.id == job_id).values(updated_at=now))
    supply = _supply(conn, request.asset_id, request.device_index, request.supply_index)
    colour, supply_type = supply.get("color"), supply.get("type")
    part, source, notes = choose_stock(conn, asset, contract, colour, supply_type)
    conn.execute(insert(job_lines).values(
        job_id=job_id, request_id=request.id, device_index=request.device_index,
        supply_index=request.supply_index, colour=colour, supply_type=supply_type, part_code=part,
        stock_source=source, created_at=now))
    for note in notes:
        _comment(conn, job_id, note, now)
    return Placement(job_id, created)


def set_status(conn: Connection, job_id: int, status: str, now: datetime | None = None) -> None:
    """A job's status; the first time it reaches ready_to_invoice (or invoiced) is its completion, kept while it
    stays done (billing counts its consumables as delivered then); going back to booked or in_progress clears it."""
    if status not in STATUSES:
        raise JobError(f"status: one of {', '.join(s.replace('_', '-') for s in STATUSES)}")
    now = now or utcnow()
    completed = (func.coalesce(consumable_jobs.c.completed_at, now) if status in DONE else None)
    done = conn.execute(update(consumable_jobs).where(consumable_jobs.c.id == job_id).values(
        status=status, updated_at=now, completed_at=completed)).rowcount
    if not done:
        raise JobError(f"no job {job_id}")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def list_jobs(conn: Connection, client: str | None = None, status: str | None = None,
              job_id: int | None = None) -> list[dict]:
    query = (select(consumable_jobs, assets.c.serial, assets.c.model, clients.c.name.label("client"),
                    contract_table.c.number.label("contract"))
             .join(assets, assets.c.id == consumable_jobs.c.asset_id).join(clients, clients.c.id == assets.c.client_id)
             .outerjoin(contract_table, contract_table.c.id == consumable_jobs.c.contract_id)
             .order_by(consumable_jobs.c.id))
    if client:
        query = query.where(clients.c.name == client)
    if status:
        query = query.where(consumable_jobs.c.status == status)
    if job_id is not None:
        query = query.where(consumable_jobs.c.id == job_id)
    rows = conn.execute(query).all()
    counts: dict[int, int] = {}
    if rows:
        for job_id in conn.execute(select(job_lines.c.job_id).where(
                job_lines.c.job_id.in_([r.id for r in rows]))).scalars():
            counts[job_id] = counts.get(job_id, 0) + 1
    return [{"job": r.id, "status": r.status, "client": r.client, "contract": r.contract, "asset_id": r.asset_id,
             "serial": r.serial, "model": r.model, "lines": counts.get(r.id, 0), "created_at": _iso(r.created_at),
             "updated_at": _iso(r.updated_at)} for r in rows]


def last_supplying_job(conn: Connection, asset_id: int, device_index: int, supply_index: int,
                       before_job: int) -> int | None:
    """The most recent earlier job that supplied this consumable of the asset."""
    return conn.execute(select(job_lines.c.job_id).join(consumable_jobs, consumable_jobs.c.id == job_lines.c.job_id)
                        .where(consumable_jobs.c.asset_id == asset_id, job_lines.c.device_index == device_index,
                               job_lines.c.supply_index == supply_index, job_lines.c.job_id < before_job)
                        .order_by(job_lines.c.job_id.desc())).scalars().first()


def show_job(conn: Connection, job_id: int) -> dict:
    """A job with its lines (stock, current level, days and pages left, last job for that consumable),
    requests and comments."""
    found = list_jobs(conn, job_id=job_id)
    if not found:
        raise JobError(f"no job {job_id}")
    job = found[0]
    lines = []
    for line in conn.execute(select(job_lines, stock_items.c.description, stock_items.c.yield_pages)
                             .outerjoin(stock_items, stock_items.c.part_code == job_lines.c.part_code)
                             .where(job_lines.c.job_id == job_id).order_by(job_lines.c.id)):
        supply = _supply(conn, job["asset_id"], line.device_index, line.supply_index)
        left = forecast_left(conn, job["asset_id"], line.device_index, line.supply_index)
        lines.append({"supply": f"{line.device_index}.{line.supply_index}", "colour": line.colour,
                      "type": line.supply_type, "part_code": line.part_code, "stock_source": line.stock_source,
                      "description": line.description, "yield_pages": line.yield_pages,
                      "level_percent": supply.get("percent"), "level_observed_at": supply.get("observed_at"),
                      "days_left": left[0] if left else None, "pages_left": left[1] if left else None,
                      "last_job": last_supplying_job(conn, job["asset_id"], line.device_index, line.supply_index,
                                                     job_id),
                      "request": line.request_id})
    comments = [{"at": _iso(c.at), "text": c.text} for c in conn.execute(
        select(job_comments).where(job_comments.c.job_id == job_id).order_by(job_comments.c.id))]
    requests = conn.execute(select(consumable_requests.c.id).where(consumable_requests.c.job_id == job_id)
                            .order_by(consumable_requests.c.id)).scalars().all()
    return job | {"lines": lines, "comments": comments, "requests": list(requests)}
