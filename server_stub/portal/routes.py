"""The customer portal's pages under /portal (thin: each reads through server_stub.portal.visible or calls one
domain function). Guarding, CSRF and sessions: server_stub.web.pages."""

from __future__ import annotations

import calendar as month_calendar
import logging
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Annotated

from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.engine import Connection, Engine
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles

from server_stub.notify.mail import MailError, send_mail
from server_stub.portal import visible
from server_stub.portal.accounts import account_of
from server_stub.portal.consumables import request_consumable
from server_stub.portal.reports import MAX_DESCRIPTION, ReportError, file_report, report_mail
from server_stub.portal.settings import portal_settings
from server_stub.web.auth_routes import add_login_routes
from server_stub.web.pages import BadForm, NotFound, Page, WebArea

PREFIX = "/portal"
# Fixed texts a redirect names by key (a link someone sends a customer cannot put its own words on the page).
NOTICES = {"reported": "Your report was sent to the service desk.", "ordered": "Your report is a planned service order.",
           "requested": "Consumable requested."}
log = logging.getLogger("fleetmeter.portal")


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    csrf: str


def _id(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 10 else None


class ReportForm(_Form):
    description: Annotated[str, Field(min_length=1, max_length=MAX_DESCRIPTION)]
    contact: Annotated[str, Field(max_length=200)] = ""
    site_id: Annotated[str, Field(max_length=12)] = ""
    asset_id: Annotated[str, Field(max_length=12)] = ""


class ConsumableForm(_Form):
    supply_key: Annotated[str, Field(min_length=1, max_length=200)]
    note: Annotated[str, Field(max_length=2000)] = ""


def _parse(model: type[_Form], fields: dict[str, str]) -> _Form:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        raise BadForm(f"{'.'.join(map(str, error['loc'])) or 'form'}: {error['msg']}") from None


def supply_key(supply: dict) -> str:
    """The supply's key as the supply and jobs domains spell it ("device_index.index", or the index alone)."""
    index = supply.get("device_index")
    return f"{index}.{supply.get('index')}" if index is not None else str(supply.get("index"))


def add_routes(app: FastAPI, engine: Engine) -> WebArea:
    area = WebArea(engine, area="portal", kind="portal", prefix=PREFIX, title="Customer portal",
                   timeout=lambda conn: portal_settings(conn).timeout, template_packages=("server_stub.portal",))
    app.mount(PREFIX + "/static", StaticFiles(packages=[("server_stub.web", "static")]), name="portal-static")
    add_login_routes(app, area, home="/")

    def view(request: Request, template: str, build, form: dict | None | bool = False) -> Response:
        """A portal page: `build(conn, page, account, settings)` returns the template's context (or a Response)."""
        def handler(conn: Connection, page: Page) -> Response:
            account = account_of(conn, page.user.id)
            if account is None:
                raise NotFound()
            settings = portal_settings(conn)
            context = build(conn, page, account, settings)
            if isinstance(context, Response):
                return context
            return area.render(request, template, context | {"account": account, "settings": settings},
                               session=page.session, user=page.user)
        return area.guarded(request, handler, form=form)

    @app.get(PREFIX, include_in_schema=False)
    def root(request: Request) -> Response:
        return area.redirect(request, "/")

    @app.get(PREFIX + "/", include_in_schema=False)
    def home(request: Request) -> Response:
        def build(conn, page, account, settings):
            sites = visible.sites_of(conn, account)
            return {"sites": sites, "projects": visible.projects_of(conn, account),
                    "counts": {s.id: len(visible.devices_on(conn, account, s.id)) for s in sites},
                    "notice": NOTICES.get(request.query_params.get("notice", ""))}
        return view(request, "home.html", build)

    @app.get(PREFIX + "/sites/{site_id}", include_in_schema=False)
    def site_page(request: Request, site_id: int) -> Response:
        return view(request, "site.html", lambda conn, page, account, settings: {
            "site": visible.site(conn, account, site_id), "devices": visible.devices_on(conn, account, site_id)})

    @app.get(PREFIX + "/devices/{asset_id}", include_in_schema=False)
    def device_page(request: Request, asset_id: int) -> Response:
        def build(conn, page, account, settings):
            device = visible.device(conn, account, asset_id)
            return {"device": device, "site": visible.site(conn, account, device.site_id),
                    "supplies": [(supply_key(s), s) for s in device.supplies]}
        return view(request, "device.html", build)

    @app.get(PREFIX + "/reports/new", include_in_schema=False)
    def new_report(request: Request, site_id: int | None = None, asset_id: int | None = None) -> Response:
        def build(conn, page, account, settings):
            device = visible.device(conn, account, asset_id) if asset_id is not None else None
            site = visible.site(conn, account, device.site_id if device else site_id) if (device or site_id) else None
            return {"device": device, "site": site, "sites": visible.sites_of(conn, account)}
        return view(request, "report_new.html", build)

    def post_report(request: Request, fields: dict | None) -> Response:
        filed: list = []

        def build(conn, page, account, settings):
            form = _parse(ReportForm, fields)
            try:
                done = file_report(conn, account, form.description, site_id=_id(form.site_id),
                                   asset_id=_id(form.asset_id), contact=form.contact)
            except ReportError as exc:
                raise BadForm(str(exc)) from None
            filed.append((done, report_mail(conn, settings, done.report_id), settings.mail))
            return area.redirect(request, f"/reports?notice={'ordered' if done.order_id else 'reported'}")
        response = view(request, "", build, form=fields)
        if filed and filed[0][1]:  # after the commit: a relay that is down loses no report
            done, mail, mail_settings = filed[0]
            try:
                send_mail(mail_settings, mail.to, mail.subject, mail.body, mail.cc)
            except MailError as exc:
                log.warning("fault report %s saved, e-mail not sent: %s", done.report_id, exc)
        return response

    @app.post(PREFIX + "/reports", include_in_schema=False)
    async def report_post(request: Request) -> Response:
        return await run_in_threadpool(post_report, request, await area.form(request))

    @app.get(PREFIX + "/reports", include_in_schema=False)
    def reports_page(request: Request) -> Response:
        return view(request, "reports.html", lambda conn, page, account, settings: {
            "reports": visible.reports(conn, account, settings),
            "notice": NOTICES.get(request.query_params.get("notice", ""))})

    @app.get(PREFIX + "/orders", include_in_schema=False)
    def orders_page(request: Request) -> Response:
        return view(request, "orders.html", lambda conn, page, account, settings: {
            "orders": visible.orders(conn, account, settings)})

    @app.get(PREFIX + "/orders/{order_id}", include_in_schema=False)
    def order_page(request: Request, order_id: int) -> Response:
        def build(conn, page, account, settings):
            order, lines = visible.order(conn, account, settings, order_id)
            return {"order": order, "lines": lines,
                    "total": sum((line.amount for line in lines or ()), Decimal("0.00"))}
        return view(request, "order.html", build)

    @app.get(PREFIX + "/projects/{project_id}", include_in_schema=False)
    def project_page(request: Request, project_id: int) -> Response:
        def build(conn, page, account, settings):
            project, lines = visible.project(conn, account, project_id)
            return {"project": project, "lines": lines,
                    "total": sum((line.amount for line in lines), Decimal("0.00"))}
        return view(request, "project.html", build)

    @app.get(PREFIX + "/statistics", include_in_schema=False)
    def statistics_page(request: Request) -> Response:
        def build(conn, page, account, settings):
            if not settings.statistics:
                raise NotFound()
            orders = visible.orders(conn, account, settings)
            values = visible.order_values(conn, account, settings)
            return {"orders": orders, "values": values,
                    "total": sum(values.values(), Decimal("0.00"))}
        return view(request, "statistics.html", build)

    @app.get(PREFIX + "/calendar", include_in_schema=False)
    def calendar_page(request: Request, month: str | None = None) -> Response:
        def build(conn, page, account, settings):
            if not settings.calendar:
                raise NotFound()
            today = datetime.now(timezone.utc).date()
            try:
                first = date.fromisoformat(f"{month}-01") if month else today.replace(day=1)
            except ValueError:
                raise BadForm("month: expected YYYY-MM") from None
            days: dict[int, list] = {}
            for order in visible.orders(conn, account, settings):
                when = (order.planned_for or order.created_at).date()
                if (when.year, when.month) == (first.year, first.month):
                    days.setdefault(when.day, []).append(order)
            previous = (first.replace(day=1) - date.resolution).replace(day=1)
            following = (first.replace(day=28) + 4 * date.resolution).replace(day=1)
            return {"first": first, "weeks": month_calendar.Calendar().monthdayscalendar(first.year, first.month),
                    "days": days, "previous": previous.strftime("%Y-%m"), "following": following.strftime("%Y-%m")}
        return view(request, "calendar.html", build)

    def post_consumable(request: Request, asset_id: int, fields: dict | None) -> Response:
        def build(conn, page, account, settings):
            form = _parse(ConsumableForm, fields)
            device = visible.device(conn, account, asset_id)
            if form.supply_key not in {supply_key(s) for s in device.supplies}:
                raise BadForm("supply_key: not a supply of this device")
            request_consumable(conn, account, asset_id, form.supply_key, form.note)
            return area.redirect(request, "/?notice=requested")
        return view(request, "", build, form=fields)

    @app.post(PREFIX + "/devices/{asset_id}/consumables", include_in_schema=False)
    async def consumable_post(request: Request, asset_id: int) -> Response:
        return await run_in_threadpool(post_consumable, request, asset_id, await area.form(request))

    return area
