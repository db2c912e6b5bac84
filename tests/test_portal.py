"""Customer portal through the real server on 127.0.0.1 (SQLite and PostgreSQL), with real session cookies:
login, logout, inactivity, throttling, CSRF, fault reports (order directly, dealer queue through the CLI),
isolation of every portal URL, per-account and general options, hostile strings escaped, e-mail through a
real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

from portal_peers import PASSWORD, PLANTED_LOCATION, PLANTED_MODEL, Browser, start_portal, stop_portal
from server_stub.db.engine import utcnow
from server_stub.jobs.tables import consumable_requests
from server_stub.portal.tables import fault_reports, service_orders
from server_stub.web.tables import web_sessions
from server_stub.web.users import MAX_FAILURES
from trust_peers import DATABASES, environment, free_tcp_port


@pytest.fixture(scope="module", params=DATABASES)
def portal(request, tmp_path_factory):
    portal = start_portal(request.param, tmp_path_factory.mktemp(f"portal-{request.param}"))
    yield portal
    stop_portal(portal)


_serial = iter(range(10_000))


def user(portal, sites=("North",), client="Acme", **options) -> str:
    return portal.account(f"user{next(_serial)}@{client.lower()}.example", client, list(sites), **options)


def logged_in(portal, **options) -> Browser:
    browser = Browser(portal)
    assert browser.login(user(portal, **options)).status_code == 303
    return browser


def count(portal, table, *where) -> int:
    with portal.begin() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_login_sets_a_fresh_httponly_lax_cookie_and_logout_ends_the_session(portal):
    browser = Browser(portal)
    first = browser.get("/")
    assert first.status_code == 303 and first.headers["location"].endswith("/portal/login")
    page = browser.get("/login")
    anonymous = browser.cookie
    for header, value in (("x-frame-options", "DENY"), ("referrer-policy", "no-referrer")):
        assert page.headers[header] == value
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    email = user(portal)
    wrong = browser.post("/login", {"email": email, "password": "not the password"})
    assert wrong.status_code == 401 and "wrong e-mail or password" in wrong.text
    ok = browser.post("/login", {"email": email, "password": PASSWORD})
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie  # plain HTTP on loopback
    assert browser.cookie != anonymous  # a new session id at login (no fixation)
    home = browser.get("/")
    assert home.status_code == 200 and "North" in home.text and "South" not in home.text
    old = browser.cookie
    assert browser.post("/logout", {}).status_code == 303
    browser.http.cookies.set("fm_portal", old, path="/portal")
    assert browser.get("/").status_code == 303  # the old cookie is worth nothing now


def test_secure_cookie_behind_a_tls_proxy(portal):
    """uvicorn trusts X-Forwarded-Proto from 127.0.0.1 only when told to; the test server is not, so it is
    checked on the scheme it sees: a request through a TLS-terminating proxy arrives as https."""
    import threading

    import requests
    import uvicorn

    from server_stub.api.app import create_app

    app = create_app(portal.site.engine, portal.site.ca, portal.site.limits)
    port = free_tcp_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           proxy_headers=True, forwarded_allow_ips="127.0.0.1"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        page = requests.get(f"http://127.0.0.1:{port}/portal/login", headers={"X-Forwarded-Proto": "https"},
                            timeout=30)
        assert "secure" in page.headers["set-cookie"].lower()
    finally:
        server.should_exit = True
        thread.join(10)


def test_inactivity_logs_out_after_the_configured_time(portal):
    browser = logged_in(portal)
    portal.setting("portal_timeout", "5m")
    try:
        with portal.begin() as conn:
            conn.execute(update(web_sessions).values(last_seen_at=utcnow() - timedelta(minutes=4)))
        assert browser.get("/").status_code == 200  # 4 minutes idle: still in (and touched now)
        with portal.begin() as conn:
            conn.execute(update(web_sessions).values(last_seen_at=utcnow() - timedelta(minutes=6)))
        gone = browser.get("/")
        assert gone.status_code == 303 and gone.headers["location"].endswith("/portal/login")
    finally:
        portal.setting("portal_timeout", "30m")


def test_repeated_failures_throttle_even_the_right_password(portal):
    email, browser = user(portal), Browser(portal)
    browser.get("/login")
    for _ in range(MAX_FAILURES):
        assert browser.post("/login", {"email": email, "password": "guess-guess-guess"}).status_code == 401
    refused = browser.post("/login", {"email": email, "password": PASSWORD})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert Browser(portal).login(user(portal)).status_code == 303  # another account is not locked out


def test_state_changing_forms_need_the_sessions_csrf_token(portal):
    browser = logged_in(portal)
    device = portal.ids["acme_device"]
    before = count(portal, fault_reports)
    form = {"asset_id": str(device), "description": "paper jam"}
    assert browser.post("/reports", form, csrf=False).status_code == 403
    assert browser.post("/reports", dict(form, csrf="x" * 43), csrf=False).status_code == 403
    other = logged_in(portal)  # another session's valid token is not this session's
    assert browser.post("/reports", dict(form, csrf=other.csrf), csrf=False).status_code == 403
    assert browser.post(f"/devices/{device}/consumables", {"supply_key": "1"}, csrf=False).status_code == 403
    assert browser.post("/logout", {}, csrf=False).status_code == 403
    assert count(portal, fault_reports) == before
    assert browser.get("/").status_code == 200  # still logged in: the logout without a token did nothing
    anonymous = Browser(portal)
    anonymous.get("/login")
    assert anonymous.post("/login", {"email": "x@y.example", "password": PASSWORD}, csrf=False).status_code == 403
    assert browser.post("/reports", form).status_code == 303  # the same form with the token goes through


def test_order_directly_makes_a_planned_order_on_the_devices_site(portal):
    browser = logged_in(portal, order_directly=True)
    device = portal.ids["acme_device"]
    assert browser.get(f"/reports/new?asset_id={device}").status_code == 200
    done = browser.post("/reports", {"asset_id": str(device), "description": "streaks on every page"})
    assert done.status_code == 303
    with portal.begin() as conn:
        report = conn.execute(select(fault_reports).order_by(fault_reports.c.id.desc())).first()
        order = conn.execute(select(service_orders).where(service_orders.c.id == report.order_id)).one()
    assert (order.status, order.site_id, order.asset_id) == ("planned", portal.ids["acme_north"], device)
    assert order.description == "streaks on every page" and report.status == "accepted"
    assert f"/portal/orders/{order.id}" in browser.get("/orders").text


def cli(portal, *args: str) -> subprocess.CompletedProcess:
    env = environment(portal.site.paths.data.parent / "home", FLEETMETER_DB=portal.site.db.url)
    return subprocess.run([sys.executable, "-m", "server_stub.cli", "portal", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_without_order_directly_the_report_waits_for_the_dealer_who_accepts_or_rejects(portal):
    browser = logged_in(portal)
    site = portal.ids["acme_north"]
    for text in ("toner smears", "noise from the duplexer"):
        assert browser.post("/reports", {"site_id": str(site), "description": text}).status_code == 303
    queued = json.loads(cli(portal, "reports", "list", "--json").stdout)["reports"]
    mine = {r["description"]: r for r in queued if r["description"] in ("toner smears", "noise from the duplexer")}
    assert len(mine) == 2 and all(r["status"] == "queued" and r["order_id"] is None for r in mine.values())
    accept, reject = mine["toner smears"]["id"], mine["noise from the duplexer"]["id"]
    orders_before = count(portal, service_orders)
    done = cli(portal, "reports", "accept", str(accept))
    assert done.returncode == 0, done.stderr
    assert count(portal, service_orders) == orders_before + 1
    again = cli(portal, "reports", "accept", str(accept))
    assert again.returncode == 1 and "accepted already" in again.stderr and count(portal, service_orders) == orders_before + 1
    assert cli(portal, "reports", "reject", str(reject), "--reason", "duplicate of 12").returncode == 0
    with portal.begin() as conn:
        order = conn.execute(select(service_orders).join(fault_reports, fault_reports.c.order_id == service_orders.c.id)
                             .where(fault_reports.c.id == accept)).one()
    assert (order.status, order.site_id) == ("planned", site)
    page = browser.get("/reports").text
    assert "duplicate of 12" in page and f"/portal/orders/{order.id}" in page
    left = json.loads(cli(portal, "reports", "list", "--json").stdout)["reports"]
    assert not {accept, reject} & {r["id"] for r in left}
    portal.setting("portal_hide_cancelled", True)
    try:
        assert "duplicate of 12" not in browser.get("/reports").text
    finally:
        portal.setting("portal_hide_cancelled", False)


def portal_routes(portal) -> list:
    app = portal.site.live.server.config.app
    return [r for r in app.routes if getattr(r, "path", "").startswith("/portal")
            and hasattr(r, "methods") and r.path not in ("/portal/login",)]


FOREIGN = {"site_id": "globex_site", "asset_id": "globex_device", "order_id": "globex_order",
           "project_id": "globex_project"}
OTHER_SITE = {"site_id": "acme_south", "asset_id": "south_device", "order_id": "south_order"}
SECRETS = ("Globex", "GlobexSecretModel", "globex_order", "globex_project", "South", "SouthSecretModel", "south_order")


# The fields each form route takes besides csrf; "{site_id}"-style values take the mapping's ids.
FORMS = {"/portal/reports": ({"description": "x", "site_id": "{site_id}"}, {"description": "x", "asset_id": "{asset_id}"}),
         "/portal/devices/{asset_id}/consumables": ({"supply_key": "1"},),
         "/portal/logout": ({},)}


def _calls(route, ids: dict, mapping: dict) -> list[tuple[str, str, dict]]:
    """(method, path, form) for the route with each of its ids (path, query, form) taken from `mapping`."""
    params = list(route.param_convertors)
    missing = [p for p in params if p not in mapping]
    assert not missing, f"{route.path}: add the foreign id for {missing} to the isolation test"

    def fill(text: str) -> str:
        for name, key in mapping.items():
            text = text.replace("{" + name + "}", str(ids[key]))
        return text

    path = fill(route.path.removeprefix("/portal"))
    calls = []
    for method in sorted(route.methods - {"HEAD"}):
        if method == "GET":
            calls.append(("GET", path, {}))
            queries = {q.name for q in route.dependant.query_params}
            calls += [("GET", f"{path}?{k}={ids[v]}", {}) for k, v in mapping.items() if k in queries]
        else:
            assert route.path in FORMS, f"{route.path}: add its form to the isolation test"
            calls += [(method, path, {k: fill(v) for k, v in form.items()}) for form in FORMS[route.path]]
    return calls


def test_every_portal_url_keeps_other_clients_and_sites_out(portal):
    portal.setting("portal_statistics", True)
    portal.setting("portal_calendar", True)
    try:
        routes = portal_routes(portal)
        assert {"/portal/sites/{site_id}", "/portal/devices/{asset_id}", "/portal/orders/{order_id}",
                "/portal/reports"} <= {r.path for r in routes}
        browser = logged_in(portal, order_directly=True)
        reports_before, orders_before = count(portal, fault_reports), count(portal, service_orders)
        requests_before = count(portal, consumable_requests)
        tried = 0
        for route in routes:
            if route.path == "/portal/logout":
                continue
            for mapping in (FOREIGN, OTHER_SITE):
                if mapping is OTHER_SITE and not set(route.param_convertors) <= set(OTHER_SITE):
                    continue  # projects are the client's, not a site's: FOREIGN covers them
                for method, path, form in _calls(route, portal.ids, mapping):
                    answer = browser.get(path) if method == "GET" else browser.post(path, form)
                    tried += 1
                    leaked = [s for s in SECRETS if s in answer.text]
                    assert not leaked, f"{method} {path} shows {leaked}"
                    if route.param_convertors or "?" in path or method != "GET":
                        assert answer.status_code == 404, f"{method} {path}: {answer.status_code}"
                    else:
                        assert answer.status_code in (200, 303), f"{method} {path}: {answer.status_code}"
        assert tried > 20
        assert (count(portal, fault_reports), count(portal, service_orders),
                count(portal, consumable_requests)) == (reports_before, orders_before, requests_before)
        nobody = Browser(portal)
        for route in routes + [r for r in portal.site.live.server.config.app.routes if getattr(r, "path", "") == "/portal/logout"]:
            for method, path, form in _calls(route, portal.ids, FOREIGN):
                answer = nobody.get(path) if method == "GET" else nobody.post(path, form, csrf=False)
                target = "/portal/" if route.path == "/portal" else "/portal/login"  # the bare prefix adds its slash
                assert answer.status_code == 303 and answer.headers["location"].endswith(target), \
                    f"{method} {path} without a session: {answer.status_code}"
    finally:
        portal.setting("portal_statistics", False)
        portal.setting("portal_calendar", False)


def test_a_dealer_user_cannot_use_the_portal(portal):
    from server_stub.web.users import add_user
    with portal.begin() as conn:
        add_user(conn, "dealer", "boss@dealer.example", PASSWORD, role="admin")
    refused = Browser(portal).login("boss@dealer.example")
    assert refused.status_code == 401  # the portal's login does not accept dealer accounts


def test_hostile_strings_from_printers_and_customers_are_escaped(portal):
    browser = logged_in(portal)
    device = portal.ids["acme_device"]
    browser.post("/reports", {"asset_id": str(device), "description": "<script>alert('r')</script>"})
    for path in (f"/sites/{portal.ids['acme_north']}", f"/devices/{device}", "/reports", f"/reports/new?asset_id={device}"):
        page = browser.get(path).text
        for planted in (PLANTED_LOCATION, PLANTED_MODEL, "<script>alert('r')</script>"):
            assert planted not in page, path
        assert "<script" not in page.lower(), path
    assert "&lt;script&gt;window.__pwned=1" in browser.get(f"/devices/{device}").text


def test_account_and_general_options_shape_the_order_pages(portal):
    order = portal.ids["acme_order"]
    plain = logged_in(portal, hide_performed_actions=True)
    page = plain.get(f"/orders/{order}").text
    assert "Replaced fuser unit" not in page and "acme_order toner" not in page  # order lines off by default
    portal.setting("portal_show_order_lines", True)
    portal.setting("portal_statistics", True)
    try:
        page = plain.get(f"/orders/{order}").text
        assert "acme_order toner" in page and "7.10" not in page
        buyer = logged_in(portal, show_order_purchase_prices=True)
        page = buyer.get(f"/orders/{order}").text
        assert "Replaced fuser unit" in page and "7.10" in page
        expected = Decimal("2") * Decimal("12.50") + Decimal("1") * Decimal("0.10")  # seed's acme_order lines
        stats = plain.get("/statistics").text
        assert f'<td class="num total">{expected}</td>' in stats and "South" not in stats
        assert plain.get("/calendar").status_code == 404  # the calendar tab is off
    finally:
        portal.setting("portal_show_order_lines", False)
        portal.setting("portal_statistics", False)


def test_project_lines_show_purchase_prices_only_when_the_account_may(portal):
    project = portal.ids["acme_project"]
    hidden = Browser(portal)
    hidden.login(portal.account("proj-a@acme.example", "Acme", ["North"], ["acme_project-Name"]))
    shown = Browser(portal)
    shown.login(portal.account("proj-b@acme.example", "Acme", ["North"], ["acme_project-Name"],
                               show_project_purchase_prices=True))
    assert "61.25" not in hidden.get(f"/projects/{project}").text
    page = shown.get(f"/projects/{project}").text
    assert "61.25" in page and str(Decimal("3") * Decimal("100.00")) in page
    assert logged_in(portal).get(f"/projects/{project}").status_code == 404  # not linked to this account


def test_a_consumable_request_by_hand_is_recorded_for_the_request_queue(portal):
    browser = logged_in(portal)
    device = portal.ids["acme_device"]
    page = browser.get(f"/devices/{device}").text
    assert 'name="supply_key"' in page
    before = count(portal, consumable_requests)
    import re
    key = re.search(r'<option value="([^"]+)">Black Toner', page).group(1)  # the device's reported toner
    assert browser.post(f"/devices/{device}/consumables", {"supply_key": key, "note": "two please"}).status_code == 303
    assert browser.post(f"/devices/{device}/consumables", {"supply_key": "99"}).status_code == 400
    assert count(portal, consumable_requests) == before + 1
    with portal.begin() as conn:  # in the dealer's request queue, as the jobs domain keeps it
        queued = conn.execute(consumable_requests.select().order_by(consumable_requests.c.id.desc())).first()
    assert (queued.asset_id, queued.source, queued.status) == (device, "portal", "outstanding")
    assert "two please" in queued.comment and queued.requested_by


class Inbox:
    def __init__(self) -> None:
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


def test_each_fault_report_is_mailed_with_a_copy_to_the_clients_reference(portal):
    inbox = Inbox()
    port = free_tcp_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    portal.setting("smtp_host", "127.0.0.1")
    portal.setting("smtp_port", port)
    portal.setting("portal_report_email", "service@dealer.example")
    portal.setting("portal_copy_reference", True)
    try:
        browser = logged_in(portal)
        assert browser.post("/reports", {"asset_id": str(portal.ids["acme_device"]),
                                         "description": "display shows SC542\nplease come"}).status_code == 303
        deadline = time.monotonic() + 10
        while not inbox.envelopes and time.monotonic() < deadline:
            time.sleep(0.05)
        [mail] = inbox.envelopes
        assert sorted(mail.rcpt_tos) == ["ref@acme.example", "service@dealer.example"]
        text = mail.content.decode()
        assert "display shows SC542" in text and "Acme / North" in text and "ACME-N-1" in text
    finally:
        controller.stop()
    # the relay is down now: the report is still stored, the customer still gets the confirmation
    before = count(portal, fault_reports)
    assert browser.post("/reports", {"site_id": str(portal.ids["acme_north"]), "description": "again"}).status_code == 303
    assert count(portal, fault_reports) == before + 1
    portal.setting("portal_report_email", "")
    portal.setting("portal_copy_reference", False)


def test_dealer_cli_creates_lists_and_disables_portal_accounts(portal):
    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        env = environment(portal.site.paths.data.parent / "home", FLEETMETER_DB=portal.site.db.url)
        return subprocess.run([sys.executable, "-m", "server_stub.cli", "portal", *args], env=env, input=stdin,
                              capture_output=True, text=True, timeout=120)

    made = run("users", "add", "Cli@Acme.example", "--client", "Acme", "--site", "North", "--order-directly",
               "--password-stdin", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    listed = {u["email"]: u for u in json.loads(run("users", "list", "--json").stdout)["users"]}
    assert listed["cli@acme.example"]["sites"] == ["North"] and listed["cli@acme.example"]["order_directly"]
    generated = json.loads(run("users", "add", "gen@acme.example", "--client", "Acme", "--site", "South",
                               "--json").stdout)
    assert Browser(portal).login("gen@acme.example", generated["password"]).status_code == 303
    for args, needle in ((("users", "add", "x@globex.example", "--client", "Globex", "--site", "North"), "North"),
                         (("users", "add", "cli@acme.example", "--client", "Acme", "--site", "North"), "exists"),
                         (("users", "add", "short@acme.example", "--client", "Acme", "--site", "North",
                           "--password-stdin"), "at least")):
        refused = run(*args, stdin="short\n")
        assert refused.returncode == 1 and needle in refused.stderr and len(refused.stderr.splitlines()) == 1
    browser = Browser(portal)
    assert browser.login("cli@acme.example").status_code == 303
    assert run("users", "disable", "cli@acme.example").returncode == 0
    assert browser.get("/").status_code == 303  # its session ended at once
    assert Browser(portal).login("cli@acme.example").status_code == 401
