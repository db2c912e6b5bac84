"""What a portal account may see: its client's sites linked to the account, their active assets, its projects,
and the service orders and fault reports on those sites. Every portal page reads through here, and each
function answers NotFound for anything outside the account (another client's or another site's ids look
exactly like ids that do not exist)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from server_stub.db.tables import asset_latest, assets, readings, sites
from server_stub.portal.accounts import Account
from server_stub.portal.settings import PortalSettings
from server_stub.portal.tables import (fault_reports, project_lines, projects, service_order_lines, service_orders)
from server_stub.web.pages import NotFound

HIDDEN_ORDER_STATES = ("cancelled",)
HIDDEN_REPORT_STATES = ("rejected",)


@dataclass(frozen=True)
class Device:
    id: int
    site_id: int
    manufacturer: str | None
    model: str | None
    serial: str | None
    location: str | None  # the printer's sysLocation as its latest reading said (hostile text)
    last_seen_at: datetime
    supplies: list[dict]


def sites_of(conn: Connection, account: Account) -> list:
    return conn.execute(select(sites).where(sites.c.id.in_(account.site_ids), sites.c.client_id == account.client_id)
                        .order_by(sites.c.name)).all()


def site(conn: Connection, account: Account, site_id: int):
    if site_id not in account.site_ids:
        raise NotFound()
    row = conn.execute(select(sites).where(sites.c.id == site_id, sites.c.client_id == account.client_id)).first()
    if row is None:
        raise NotFound()
    return row


def _devices(conn: Connection, account: Account, *where) -> list[Device]:
    rows = conn.execute(
        select(assets, asset_latest.c.supplies, readings.c.document)
        .outerjoin(asset_latest, asset_latest.c.asset_id == assets.c.id)
        .outerjoin(readings, readings.c.id == asset_latest.c.reading_id)
        .where(assets.c.client_id == account.client_id, assets.c.site_id.in_(account.site_ids),
               assets.c.state == "active", *where).order_by(assets.c.model, assets.c.serial, assets.c.id)).all()
    devices = []
    for r in rows:
        identity = (r.document or {}).get("identity") or {}
        devices.append(Device(r.id, r.site_id, r.manufacturer, r.model, r.serial, identity.get("location"),
                              r.last_seen_at, list(r.supplies or [])))
    return devices


def devices_on(conn: Connection, account: Account, site_id: int) -> list[Device]:
    site(conn, account, site_id)
    return _devices(conn, account, assets.c.site_id == site_id)


def device(conn: Connection, account: Account, asset_id: int) -> Device:
    found = _devices(conn, account, assets.c.id == asset_id)
    if not found:
        raise NotFound()
    return found[0]


@dataclass(frozen=True)
class Line:
    description: str
    quantity: Decimal
    unit_price: Decimal
    purchase_price: Decimal | None

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(Decimal("0.01"))


def _order_query(account: Account, settings: PortalSettings):
    query = (select(service_orders, sites.c.name.label("site_name"))
             .join(sites, sites.c.id == service_orders.c.site_id)
             .where(service_orders.c.client_id == account.client_id, service_orders.c.site_id.in_(account.site_ids)))
    if settings.hide_cancelled:
        query = query.where(service_orders.c.status.not_in(HIDDEN_ORDER_STATES))
    return query


def orders(conn: Connection, account: Account, settings: PortalSettings) -> list:
    return conn.execute(_order_query(account, settings).order_by(service_orders.c.created_at.desc(),
                                                                 service_orders.c.id.desc())).all()


def order(conn: Connection, account: Account, settings: PortalSettings, order_id: int) -> tuple:
    """(order row, its lines or None when the settings hide order lines)."""
    row = conn.execute(_order_query(account, settings).where(service_orders.c.id == order_id)).first()
    if row is None:
        raise NotFound()
    lines = None
    if settings.show_order_lines:
        lines = [Line(r.description, r.quantity, r.unit_price, r.purchase_price) for r in conn.execute(
            select(service_order_lines).where(service_order_lines.c.order_id == order_id)
            .order_by(service_order_lines.c.id))]
    return row, lines


def order_values(conn: Connection, account: Account, settings: PortalSettings) -> dict[int, Decimal]:
    """Each visible order's value (sum of quantity x unit price of its lines), Decimal."""
    query = (select(service_order_lines.c.order_id,
                    func.sum(service_order_lines.c.quantity * service_order_lines.c.unit_price))
             .where(service_order_lines.c.order_id.in_(_order_query(account, settings)
                                                       .with_only_columns(service_orders.c.id).scalar_subquery()))
             .group_by(service_order_lines.c.order_id))
    return {oid: Decimal(total or 0).quantize(Decimal("0.01")) for oid, total in conn.execute(query)}


def reports(conn: Connection, account: Account, settings: PortalSettings) -> list:
    query = (select(fault_reports, sites.c.name.label("site_name"))
             .join(sites, sites.c.id == fault_reports.c.site_id)
             .where(fault_reports.c.client_id == account.client_id, fault_reports.c.site_id.in_(account.site_ids))
             .order_by(fault_reports.c.created_at.desc(), fault_reports.c.id.desc()))
    if settings.hide_cancelled:
        query = query.where(fault_reports.c.status.not_in(HIDDEN_REPORT_STATES))
    return conn.execute(query).all()


def projects_of(conn: Connection, account: Account) -> list:
    return conn.execute(select(projects).where(projects.c.id.in_(account.project_ids),
                                               projects.c.client_id == account.client_id)
                        .order_by(projects.c.name)).all()


def project(conn: Connection, account: Account, project_id: int) -> tuple:
    if project_id not in account.project_ids:
        raise NotFound()
    row = conn.execute(select(projects).where(projects.c.id == project_id,
                                              projects.c.client_id == account.client_id)).first()
    if row is None:
        raise NotFound()
    lines = [Line(r.description, r.quantity, r.unit_price, r.purchase_price) for r in conn.execute(
        select(project_lines).where(project_lines.c.project_id == project_id).order_by(project_lines.c.id))]
    return row, lines
