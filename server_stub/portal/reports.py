"""Fault reports (SDF KundOnline "Felanmälan"): filed by a portal user on a device or a site of the account;
with "order directly" the report becomes a planned service order at once, otherwise it waits in the dealer's
queue until accepted (making the order) or rejected (with a reason)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from server_stub.db.engine import utcnow
from server_stub.db.tables import assets, clients, coordinators, sites
from server_stub.portal import visible
from server_stub.portal.accounts import Account
from server_stub.portal.orders import create_order
from server_stub.portal.settings import PortalSettings
from server_stub.portal.tables import fault_reports
from server_stub.web.tables import web_users

MAX_DESCRIPTION = 4000


class ReportError(Exception):
    """A report cannot be filed or decided as asked (one line)."""


@dataclass(frozen=True)
class Filed:
    report_id: int
    order_id: int | None


def file_report(conn: Connection, account: Account, description: str, *, site_id: int | None = None,
                asset_id: int | None = None, contact: str | None = None) -> Filed:
    """Raises NotFound for a site or device the account does not see, ReportError for bad text."""
    description = description.strip()
    if not description:
        raise ReportError("describe the fault")
    if len(description) > MAX_DESCRIPTION:
        raise ReportError(f"the description is limited to {MAX_DESCRIPTION} characters")
    if asset_id is not None:
        device = visible.device(conn, account, asset_id)
        if site_id is not None and site_id != device.site_id:
            raise ReportError("that device is not on that site")
        site_id = device.site_id
    elif site_id is not None:
        visible.site(conn, account, site_id)
    else:
        raise ReportError("choose a device or a site")
    now = utcnow()
    order_id = create_order(conn, account.client_id, site_id, asset_id, description) if account.order_directly else None
    report_id = conn.execute(fault_reports.insert().values(
        user_id=account.user_id, client_id=account.client_id, site_id=site_id, asset_id=asset_id,
        description=description, contact=(contact or "").strip()[:200] or None,
        status="accepted" if order_id else "queued", order_id=order_id, created_at=now,
        decided_at=now if order_id else None)).inserted_primary_key[0]
    return Filed(report_id, order_id)


@dataclass(frozen=True)
class QueuedReport:
    id: int
    client: str
    site: str
    asset: str | None
    user: str | None
    description: str
    contact: str | None
    status: str
    order_id: int | None
    reject_reason: str | None
    created_at: str

    def to_json(self) -> dict:
        return self.__dict__.copy()


def list_reports(conn: Connection, include_decided: bool = False) -> list[QueuedReport]:
    """The dealer's queue (queued reports, oldest first); with include_decided every report."""
    query = (select(fault_reports, clients.c.name.label("client"), sites.c.name.label("site"),
                    web_users.c.email, assets.c.model, assets.c.serial)
             .join(clients, clients.c.id == fault_reports.c.client_id)
             .join(sites, sites.c.id == fault_reports.c.site_id)
             .outerjoin(web_users, web_users.c.id == fault_reports.c.user_id)
             .outerjoin(assets, assets.c.id == fault_reports.c.asset_id)
             .order_by(fault_reports.c.created_at, fault_reports.c.id))
    if not include_decided:
        query = query.where(fault_reports.c.status == "queued")
    return [QueuedReport(r.id, r.client, r.site, None if r.asset_id is None else
                         f"{r.model or '?'} {r.serial or ''} (asset {r.asset_id})".strip(),
                         r.email, r.description, r.contact, r.status, r.order_id, r.reject_reason,
                         r.created_at.isoformat().replace("+00:00", "Z")) for r in conn.execute(query)]


def _queued(conn: Connection, report_id: int):
    row = conn.execute(select(fault_reports).where(fault_reports.c.id == report_id)).first()
    if row is None:
        raise ReportError(f"no fault report {report_id}; see: fleetmeter-server portal reports list")
    if row.status != "queued":
        raise ReportError(f"fault report {report_id} is {row.status} already")
    return row


def accept(conn: Connection, report_id: int) -> int:
    """Make the planned service order of a queued report; returns the order id. The conditional update makes
    a second, concurrent accept fail rather than make a second order."""
    row = _queued(conn, report_id)
    order_id = create_order(conn, row.client_id, row.site_id, row.asset_id, row.description)
    done = conn.execute(update(fault_reports).where(fault_reports.c.id == report_id,
                                                    fault_reports.c.status == "queued")
                        .values(status="accepted", order_id=order_id, decided_at=utcnow())).rowcount
    if done != 1:
        raise ReportError(f"fault report {report_id} was decided meanwhile")
    return order_id


def reject(conn: Connection, report_id: int, reason: str) -> None:
    reason = reason.strip()
    if not reason:
        raise ReportError("say why (--reason): the customer sees it")
    _queued(conn, report_id)
    done = conn.execute(update(fault_reports).where(fault_reports.c.id == report_id,
                                                    fault_reports.c.status == "queued")
                        .values(status="rejected", reject_reason=reason[:2000], decided_at=utcnow())).rowcount
    if done != 1:
        raise ReportError(f"fault report {report_id} was decided meanwhile")


@dataclass(frozen=True)
class ReportMail:
    to: list[str]
    cc: list[str]
    subject: str
    body: str


def report_mail(conn: Connection, settings: PortalSettings, report_id: int) -> ReportMail | None:
    """The e-mail of a filed report under the general settings (to the report address, a copy to the client's
    main coordinator), or None when no one is to get it."""
    row = conn.execute(select(fault_reports, clients.c.name.label("client"), sites.c.name.label("site"),
                              web_users.c.email, assets.c.model, assets.c.serial)
                       .join(clients, clients.c.id == fault_reports.c.client_id)
                       .join(sites, sites.c.id == fault_reports.c.site_id)
                       .outerjoin(web_users, web_users.c.id == fault_reports.c.user_id)
                       .outerjoin(assets, assets.c.id == fault_reports.c.asset_id)
                       .where(fault_reports.c.id == report_id)).one()
    to = [settings.report_email] if settings.report_email else []
    cc = []
    if settings.copy_reference:
        reference = conn.execute(select(coordinators.c.email).where(
            coordinators.c.client_id == row.client_id, coordinators.c.is_main)).scalar()
        if reference:
            cc.append(reference)
    if not to and not cc:
        return None
    device = f"{row.model or '?'} serial {row.serial or '?'} (asset {row.asset_id})" if row.asset_id else "-"
    outcome = f"service order {row.order_id} planned" if row.order_id else "waiting in the fault report queue"
    body = (f"Fault report {row.id} from {row.email or '?'} ({row.client})\n"
            f"Site: {row.site}\nDevice: {device}\nContact: {row.contact or '-'}\nStatus: {outcome}\n\n"
            f"{row.description}\n")
    return ReportMail(to or cc[:1], cc if to else [], f"Fault report {row.id}: {row.client} / {row.site}", body)
