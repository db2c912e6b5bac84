"""The fleet overview: per client and site how many devices, how many not reporting, the agents' states; and
one page of devices with the worst supply of each. Reads assets and asset_latest (kept by ingest), never
readings; the device list is paged in the database."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.engine import Connection

from server_stub.db.engine import utcnow
from server_stub.db.tables import asset_latest, assets, clients, sites
from server_stub.fleet.state import agent_states
from server_stub.trust.enrolment import list_agents

NOT_REPORTING_AFTER = timedelta(days=2)  # an active device without a reading this long is "not reporting"
PAGE_SIZE = 50


@dataclass(frozen=True)
class SiteSummary:
    client: str
    site: str | None
    devices: int
    not_reporting: int


@dataclass(frozen=True)
class DeviceLine:
    asset_id: int
    client: str
    site: str | None
    manufacturer: str | None
    model: str | None
    serial: str | None
    address: str | None
    collected_at: datetime | None
    not_reporting: bool
    worst: dict | None  # the consumed supply with the lowest level (asset_latest's supply entry)
    alerts: int


@dataclass(frozen=True)
class DevicePage:
    lines: list[DeviceLine]
    total: int
    page: int
    pages: int


def _silent(now: datetime):
    return or_(asset_latest.c.collected_at.is_(None), asset_latest.c.collected_at < now - NOT_REPORTING_AFTER)


def site_summaries(conn: Connection) -> list[SiteSummary]:
    now = utcnow()
    query = (select(clients.c.name, sites.c.name.label("site"), func.count().label("devices"),
                    func.sum(case((_silent(now), 1), else_=0)).label("silent"))
             .select_from(assets).join(clients, clients.c.id == assets.c.client_id)
             .outerjoin(sites, sites.c.id == assets.c.site_id)
             .outerjoin(asset_latest, asset_latest.c.asset_id == assets.c.id)
             .where(assets.c.state == "active").group_by(clients.c.name, sites.c.name)
             .order_by(clients.c.name, sites.c.name))
    return [SiteSummary(r.name, r.site, r.devices, int(r.silent or 0)) for r in conn.execute(query)]


def agent_states_by_client(conn: Connection) -> dict[str, Counter]:
    """Client name -> Counter of its agents' connection states (new, connected, ambiguous, ...)."""
    states = agent_states(conn)
    result: dict[str, Counter] = {}
    for agent in list_agents(conn):
        result.setdefault(agent.client, Counter())[states[agent.name][0]] += 1
    return result


def worst_supply(supplies: list[dict]) -> dict | None:
    """The consumed supply with the lowest known percentage (None when no consumed supply reports one)."""
    known = [s for s in supplies if s.get("class") in ("consumed", None) and s.get("percent") is not None]
    return min(known, key=lambda s: s["percent"]) if known else None


def device_page(conn: Connection, *, client: str | None = None, site: str | None = None,
                not_reporting: bool = False, page: int = 1, size: int = PAGE_SIZE) -> DevicePage:
    """Active devices by client, site and id, `size` per page (page 1 first)."""
    now = utcnow()
    where = [assets.c.state == "active"]
    if client:
        where.append(clients.c.name == client)
    if site:
        where.append(sites.c.name == site)
    if not_reporting:
        where.append(_silent(now))

    def joined(query):
        return (query.select_from(assets).join(clients, clients.c.id == assets.c.client_id)
                .outerjoin(sites, sites.c.id == assets.c.site_id)
                .outerjoin(asset_latest, asset_latest.c.asset_id == assets.c.id).where(and_(*where)))

    total = conn.execute(joined(select(func.count()))).scalar_one()
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    order = (clients.c.name, sites.c.name, assets.c.id)
    # the page's ids first (a narrow sort), then only those rows with their latest state: sorting the wide rows
    # (supplies JSON) of the whole fleet made the last page slower than the first
    ids = list(conn.execute(joined(select(assets.c.id)).order_by(*order).limit(size).offset((page - 1) * size))
               .scalars())
    rows = conn.execute(select(
        assets.c.id, clients.c.name.label("client"), sites.c.name.label("site"), assets.c.manufacturer,
        assets.c.model, assets.c.serial, assets.c.last_address, asset_latest.c.address, asset_latest.c.collected_at,
        asset_latest.c.supplies, asset_latest.c.alerts)
        .select_from(assets).join(clients, clients.c.id == assets.c.client_id)
        .outerjoin(sites, sites.c.id == assets.c.site_id)
        .outerjoin(asset_latest, asset_latest.c.asset_id == assets.c.id)
        .where(assets.c.id.in_(ids)).order_by(*order))
    lines = [DeviceLine(r.id, r.client, r.site, r.manufacturer, r.model, r.serial, r.address or r.last_address,
                        r.collected_at, r.collected_at is None or r.collected_at < now - NOT_REPORTING_AFTER,
                        worst_supply(r.supplies or []), len(r.alerts or []))
             for r in rows]
    return DevicePage(lines, total, page, pages)
