"""The dealer's console pages under `/` (thin: each calls a query of server_stub.console or one domain
function). Guarding, CSRF and sessions: server_stub.web.pages; who may change what: server_stub.console.roles."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.engine import Connection, Engine
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles

from server_stub.assets import registry as asset_registry
from server_stub.console import device as device_view
from server_stub.console import overview
from server_stub.console.chart import ForecastPoint, supply_chart
from server_stub.console.domain_page import page_number
from server_stub.billing.export import write_erp_csv
from server_stub.billing.store import export_entries
from server_stub.console.domains import billing as billing_page
from server_stub.console.domains import jobs as jobs_page
from server_stub.console.domains import orders as orders_page
from server_stub.console.domains import pages as domain_pages
from server_stub.console.domains import supplies as supplies_page
from server_stub.console.export import csv_response
from server_stub.console.roles import may
from server_stub.fleet.clients import FleetError, get_client, link_agent, list_clients
from server_stub.notify import settings as notify_settings
from server_stub.supply import events as supply_events
from server_stub.supply import outlook as supply_outlook
from server_stub.supply import policy_store
from server_stub.supply.policy import PolicyError
from server_stub.fleet.devices import list_devices, write_devices_csv
from server_stub.fleet.state import agent_states
from server_stub.trust import enrolment as agent_registry
from server_stub.web.auth_routes import add_login_routes
from server_stub.web.pages import BadForm, NotFound, Page, WebArea

TIMEOUT = timedelta(hours=8)  # a console session unused this long is over
NOTICES = {"revoked": "Agent revoked: its next upload is refused.", "activated": "Device activated.",
           "deleted": "Device deleted.", "policy": "Policy stored.", "notifications": "Notification settings stored."}
REQUEST_COLUMNS = ("id", "status", "client", "asset_id", "serial", "supply", "source", "requested_by", "comment", "job",
                   "erp_id", "created_at", "actioned_at", "completed_at")
INVOICE_COLUMNS = ("number", "client", "period", "amount", "currency", "issued_on", "due_on", "paid", "balance",
                   "status", "overdue")


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    csrf: str


class AgentForm(_Form):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
    client: Annotated[str, Field(min_length=1, max_length=200)]
    site: Annotated[str, Field(max_length=200)] = ""
    days: Annotated[int, Field(ge=1, le=90)] = 7


class RevokeForm(_Form):
    name: Annotated[str, Field(min_length=1, max_length=100)]


class PolicyForm(_Form):
    level: Literal["global", "client", "device"]
    key: Annotated[str, Field(max_length=200)] = ""
    document: Annotated[str, Field(max_length=60_000)]


class NotifyForm(_Form):
    client: Annotated[str, Field(min_length=1, max_length=200)]
    document: Annotated[str, Field(max_length=60_000)]


def _json_object(text: str) -> dict:
    try:
        document = json.loads(text or "{}")
    except ValueError as exc:
        raise BadForm(f"document: not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise BadForm("document: a JSON object {...}")
    return document


def _parse(model: type[_Form], fields: dict[str, str]) -> _Form:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        raise BadForm(f"{'.'.join(map(str, error['loc'])) or 'form'}: {error['msg']}") from None


REPLACEMENT_COLUMNS = ("at", "supply_key", "cause", "left_percent", "premature", "wasted_pages", "removed_pages",
                       "new_percent", "new_serial", "order_id")


def add_routes(app: FastAPI, engine: Engine) -> WebArea:
    area = WebArea(engine, area="console", kind="dealer", prefix="", title="Dealer console",
                   timeout=lambda conn: TIMEOUT, template_packages=("server_stub.console",))
    area.env.globals.update(domain_pages=domain_pages(), may=may)
    # a raw reading as readable JSON text (autoescaped like everything else; tojson would show \u003c)
    area.env.filters["pretty_json"] = lambda value: json.dumps(value, indent=1, ensure_ascii=False, sort_keys=True)
    app.mount("/static", StaticFiles(packages=[("server_stub.web", "static"), ("server_stub.console", "static")]),
              name="console-static")
    add_login_routes(app, area, home="/")

    def view(request: Request, template: str, build, form: dict | None | bool = False,
             right: str | None = None) -> Response:
        """A console page: `build(conn, page)` returns the template's context (or a Response); `right`: the
        role right a change needs (server_stub.console.roles)."""
        def handler(conn: Connection, page: Page) -> Response:
            if right and not may(page.user, right):
                return area.error(request, 403, "Your role cannot change this.", page)
            context = build(conn, page)
            if isinstance(context, Response):
                return context
            return area.render(request, template, context | {"notice": NOTICES.get(
                request.query_params.get("notice", ""))}, session=page.session, user=page.user)
        return area.guarded(request, handler, form=form)

    def posted(request: Request, fields: dict | None, handler, right: str, **params) -> Response:
        return view(request, "", lambda conn, page: handler(request, conn, page, fields, **params), form=fields,
                    right=right)

    # -- fleet overview --------------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def fleet(request: Request, client: str | None = None, site: str | None = None, silent: str | None = None,
              page: str | None = None) -> Response:
        def build(conn, _page):
            devices = overview.device_page(conn, client=client, site=site, not_reporting=bool(silent),
                                           page=page_number(page))
            return {"summaries": overview.site_summaries(conn), "agents": overview.agent_states_by_client(conn),
                    "devices": devices,
                    "days_left": supply_outlook.days_left(conn, [d.asset_id for d in devices.lines]),
                    "filters": {k: v for k, v in (("client", client), ("site", site), ("silent", silent)) if v}}
        return view(request, "overview.html", build)

    @app.get("/fleet.csv", include_in_schema=False)
    def fleet_csv(request: Request) -> Response:
        return view(request, "", lambda conn, _page: csv_response(
            "fleet.csv", ("client", "site", "devices", "not_reporting"),
            [(s.client, s.site, s.devices, s.not_reporting) for s in overview.site_summaries(conn)]))

    @app.get("/devices.csv", include_in_schema=False)
    def devices_csv(request: Request, client: str | None = None, site: str | None = None) -> Response:
        def build(conn, _page):
            stream = io.StringIO()
            write_devices_csv(stream, list_devices(conn, client or None, site or None, states=("active",)))
            return Response(stream.getvalue(), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": 'attachment; filename="devices.csv"'})
        return view(request, "", build)

    # -- devices to complete ---------------------------------------------------------------------------------
    @app.get("/devices/to-complete", include_in_schema=False)
    def to_complete(request: Request, page: str | None = None) -> Response:
        number = page_number(page)
        return view(request, "to_complete.html", lambda conn, _page: {
            "devices": asset_registry.to_complete(conn, limit=overview.PAGE_SIZE + 1,
                                                  offset=(number - 1) * overview.PAGE_SIZE),
            "page": number, "size": overview.PAGE_SIZE})

    @app.get("/devices/to-complete.csv", include_in_schema=False)
    def to_complete_csv(request: Request) -> Response:
        return view(request, "", lambda conn, _page: csv_response(
            "devices-to-complete.csv", ("asset_id", "client", "site", "manufacturer", "model", "serial", "mac",
                                        "address", "agent", "first_seen_at", "last_seen_at"),
            [(d.asset_id, d.client, d.site, d.manufacturer, d.model, d.serial, d.mac, d.address, d.agent,
              d.first_seen_at, d.last_seen_at) for d in asset_registry.to_complete(conn)]))

    def complete(action):
        def handler(request: Request, conn, page, fields, asset_id: int) -> Response:
            try:
                action(conn, asset_id, actor=page.user.email)
            except asset_registry.AssetError as exc:
                raise BadForm(str(exc)) from None
            done = "activated" if action is asset_registry.activate else "deleted"
            return area.redirect(request, f"/devices/to-complete?notice={done}")
        return handler

    @app.post("/devices/{asset_id}/activate", include_in_schema=False)
    async def activate_post(request: Request, asset_id: int) -> Response:
        return await run_in_threadpool(posted, request, await area.form(request), complete(asset_registry.activate),
                                       "complete_devices", asset_id=asset_id)

    @app.post("/devices/{asset_id}/delete", include_in_schema=False)
    async def delete_post(request: Request, asset_id: int) -> Response:
        return await run_in_threadpool(posted, request, await area.form(request),
                                       complete(asset_registry.delete_asset), "complete_devices", asset_id=asset_id)

    # -- one device ------------------------------------------------------------------------------------------
    @app.get("/devices/{asset_id}", include_in_schema=False)
    def device_page(request: Request, asset_id: int, readings: str | None = None) -> Response:
        def build(conn, _page):
            shown = device_view.device(conn, asset_id)
            history = device_view.supply_history(conn, asset_id)
            number = page_number(readings)
            forecasts = supply_outlook.forecast_lines(conn, asset_id)
            charts = [(s, supply_chart(s.points, [ForecastPoint(*p) for p in
                                                  forecasts.get((s.device_index, s.supply_index), [])]))
                      for s in history]
            return {"device": shown, "charts": charts,
                    "alarms": device_view.alarms(conn, asset_id),
                    "replacements": supply_events.replacements(conn, asset_id),
                    "supply_alarms": supply_events.alarms(conn, asset_id),
                    "readings": device_view.raw_readings(conn, asset_id, number), "readings_page": number,
                    "readings_size": device_view.READINGS_PER_PAGE, "label": device_view.supply_label}
        return view(request, "device.html", build)

    def device_csv(request: Request, asset_id: int, name: str, columns, rows) -> Response:
        """One device's `name` CSV: `rows(conn)` under `columns` (an unknown device: not found)."""
        def build(conn, _page):
            device_view.device(conn, asset_id)
            return csv_response(f"device-{asset_id}-{name}.csv", columns, rows(conn))
        return view(request, "", build)

    @app.get("/devices/{asset_id}/supplies.csv", include_in_schema=False)
    def supplies_csv(request: Request, asset_id: int) -> Response:
        return device_csv(request, asset_id, "supplies",
                          ("supply", "device_index", "supply_index", "observed_at", "percent"),
                          lambda conn: [(s.label, s.device_index, s.supply_index, at, percent)
                                        for s in device_view.supply_history(conn, asset_id)
                                        for at, percent in s.points])

    @app.get("/devices/{asset_id}/alarms.csv", include_in_schema=False)
    def alarms_csv(request: Request, asset_id: int) -> Response:
        return device_csv(request, asset_id, "alarms", ("code", "severity", "description", "opened_at", "cleared_at"),
                          lambda conn: [(a.code, a.severity, a.description, a.opened_at, a.cleared_at)
                                        for a in device_view.alarms(conn, asset_id)])

    @app.get("/devices/{asset_id}/replacements.csv", include_in_schema=False)
    def replacements_csv(request: Request, asset_id: int) -> Response:
        return device_csv(request, asset_id, "replacements", REPLACEMENT_COLUMNS,
                          lambda conn: [tuple(getattr(r, c) for c in REPLACEMENT_COLUMNS)
                                        for r in supply_events.replacements(conn, asset_id)])

    @app.get("/devices/{asset_id}/supply-alarms.csv", include_in_schema=False)
    def supply_alarms_csv(request: Request, asset_id: int) -> Response:
        return device_csv(request, asset_id, "supply-alarms", ("at", "supply_key", "kind", "detail"),
                          lambda conn: [(a.at, a.supply_key, a.kind, json.dumps(a.detail, sort_keys=True))
                                        for a in supply_events.alarms(conn, asset_id)])

    # -- agents ----------------------------------------------------------------------------------------------
    def agent_rows(conn):
        states = agent_states(conn)
        return [(row, states.get(row.name, ("new", []))[0]) for row in agent_registry.list_agents(conn)]

    @app.get("/agents", include_in_schema=False)
    def agents_page(request: Request) -> Response:
        return view(request, "agents.html", lambda conn, _page: {"agents": agent_rows(conn)})

    @app.get("/agents.csv", include_in_schema=False)
    def agents_csv(request: Request) -> Response:
        return view(request, "", lambda conn, _page: csv_response(
            "agents.csv", ("client", "agent", "state", "connection", "last_seen_at", "version", "hostname",
                           "address", "queue", "certificate", "certificate_not_after"),
            [(r.client, r.name, r.state, state, r.last_seen_at, r.version, r.hostname, r.remote_ip, r.queue_depth,
              r.fingerprint, r.cert_not_after) for r, state in agent_rows(conn)]))

    @app.get("/agents/revoke", include_in_schema=False)
    def revoke_confirm(request: Request, name: str = "") -> Response:
        def build(conn, _page):
            agent = next((r for r in agent_registry.list_agents(conn) if r.name == name), None)
            if agent is None:
                raise NotFound()
            return {"agent": agent}
        return view(request, "agent_revoke.html", build, right="manage_agents")

    def do_revoke(request: Request, conn, page, fields) -> Response:
        form = _parse(RevokeForm, fields)
        try:
            agent_registry.revoke_agent(conn, form.name)
        except agent_registry.AgentNotFound:
            raise NotFound() from None
        return area.redirect(request, "/agents?notice=revoked")

    @app.post("/agents/revoke", include_in_schema=False)
    async def revoke_post(request: Request) -> Response:
        return await run_in_threadpool(posted, request, await area.form(request), do_revoke, "manage_agents")

    @app.get("/agents/new", include_in_schema=False)
    def new_agent(request: Request) -> Response:
        return view(request, "agent_new.html", lambda conn, _page: {"clients": list_clients(conn)},
                    right="manage_agents")

    def do_new_agent(request: Request, conn, page, fields) -> Response:
        form = _parse(AgentForm, fields)
        try:
            new = agent_registry.add_agent(conn, form.name, form.client, timedelta(days=form.days))
            link_agent(conn, form.name, form.client, form.site or None)
        except (agent_registry.AgentOfAnotherClient, FleetError) as exc:
            raise BadForm(str(exc)) from None
        # the key is shown on this answer only (not stored, not in a redirect's address)
        return area.render(request, "agent_key.html", {"new": new}, session=page.session, user=page.user)

    @app.post("/agents/new", include_in_schema=False)
    async def new_agent_post(request: Request) -> Response:
        return await run_in_threadpool(posted, request, await area.form(request), do_new_agent, "manage_agents")

    # -- domain pages (server_stub/console/domains: each page's query calls the domain's functions) ------------
    def table_csv(path: str, filename: str, header: tuple[str, ...], rows) -> None:
        """A CSV of a domain page's table: `rows(conn, filters)` -> rows in `header`'s order."""
        @app.get(path, include_in_schema=False)
        def export(request: Request) -> Response:
            return view(request, "", lambda conn, _page: csv_response(
                filename, header, rows(conn, dict(request.query_params))))

    table_csv("/supplies.csv", "supplies.csv",
              ("asset_id", "client", "site", "serial", "model", "supply", "part_number", "percent", "days_left",
               "pages_left", "empty_on", "empty_earliest", "empty_latest", "method", "orders"),
              lambda conn, f: [(s.asset_id, s.client, s.site, s.serial, s.model, s.supply, s.part_number, s.percent,
                                s.days_left, s.pages_left, s.empty_on, s.empty_earliest, s.empty_latest, s.method,
                                " ".join(f"#{n}" for n in q["orders"].get((s.asset_id, s.supply), [])))
                               for q in [supplies_page.query(conn, f, paged=False)] for s in q["supplies"]])
    table_csv("/orders.csv", "orders.csv",
              ("id", "client", "site", "status", "kind", "rule", "placed_at", "shipped_at", "delivered_at",
               "closed_at", "lines", "why"),
              lambda conn, f: [(o["id"], o["client"], o["site"], o["status"], o["kind"], o["rule"], o["placed_at"],
                                o["shipped_at"], o["delivered_at"], o["closed_at"],
                                "; ".join(f"{ln['quantity']} x {ln['supply']} {ln['device']} ({ln['reason']})"
                                          for ln in o["lines"]), json.dumps(o["why"], sort_keys=True))
                               for o in orders_page.rows(conn, f)])
    table_csv("/jobs.csv", "jobs.csv",
              ("job", "status", "client", "contract", "asset_id", "serial", "model", "lines", "created_at",
               "updated_at"),
              lambda conn, f: [tuple(j[k] for k in ("job", "status", "client", "contract", "asset_id", "serial",
                                                    "model", "lines", "created_at", "updated_at"))
                               for j in jobs_page.query(conn, f)["jobs"]])
    table_csv("/jobs/requests.csv", "requests.csv", REQUEST_COLUMNS,
              lambda conn, f: [tuple(r[k] for k in REQUEST_COLUMNS) for r in jobs_page.query(conn, f)["requests"]])
    table_csv("/billing/invoices.csv", "invoices.csv", INVOICE_COLUMNS,
              lambda conn, f: [tuple(i[k] for k in INVOICE_COLUMNS)
                               for i in billing_page.query(conn, f)["invoices"]])

    @app.get("/billing.csv", include_in_schema=False)
    def billing_csv(request: Request, period: str | None = None) -> Response:
        def build(conn, _page):
            chosen, error = billing_page.period_of(period)
            if error:
                raise BadForm(error)
            stream = io.StringIO(newline="")
            write_erp_csv(stream, export_entries(conn, chosen))
            return Response(stream.getvalue(), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="billing-{chosen}.csv"'})
        return view(request, "", build)

    @app.get("/policy/edit", include_in_schema=False)
    def policy_edit(request: Request, level: str = "global", key: str = "") -> Response:
        def build(conn, _page):
            if level not in ("global", "client", "device"):
                raise NotFound()
            return {"level": level, "key": key,
                    "document": json.dumps(policy_store.show(conn, level, key or None)["stored"], indent=1),
                    "error": None}
        return view(request, "policy_edit.html", build, right="set_policy")

    def do_policy(request: Request, conn, page, fields) -> Response:
        form = _parse(PolicyForm, fields)
        try:
            policy_store.set_level(conn, form.level, form.key, _json_object(form.document))
        except PolicyError as exc:
            raise BadForm(str(exc)) from None
        return area.redirect(request, "/policy?notice=policy")

    @app.post("/policy/edit", include_in_schema=False)
    async def policy_post(request: Request) -> Response:
        return await run_in_threadpool(posted, request, await area.form(request), do_policy, "set_policy")

    @app.get("/notifications/edit", include_in_schema=False)
    def notify_edit(request: Request, client: str = "") -> Response:
        def build(conn, _page):
            try:
                found = get_client(conn, client)
            except FleetError:
                raise NotFound() from None
            stored = notify_settings.load(conn, found.id) or notify_settings.NotifySettings()
            return {"client": found.name, "document": json.dumps(stored.model_dump(mode="json"), indent=1)}
        return view(request, "notifications_edit.html", build, right="set_notifications")

    def do_notify(request: Request, conn, page, fields) -> Response:
        form = _parse(NotifyForm, fields)
        try:
            notify_settings.store(conn, get_client(conn, form.client).id, _json_object(form.document))
        except (FleetError, notify_settings.NotifyError) as exc:
            raise BadForm(str(exc)) from None
        return area.redirect(request, "/notifications?notice=notifications")

    @app.post("/notifications/edit", include_in_schema=False)
    async def notify_post(request: Request) -> Response:
        return await run_in_threadpool(posted, request, await area.form(request), do_notify, "set_notifications")

    def domain_route(domain):
        def domain_page(request: Request) -> Response:
            return view(request, domain.template, lambda conn, _page: {"domain": domain} | domain.query(
                conn, dict(request.query_params)))
        return domain_page

    for domain in domain_pages():
        app.get(domain.path, include_in_schema=False)(domain_route(domain))

    return area
