"""The dealer console over HTTP on a real server (uvicorn on 127.0.0.1), on SQLite and PostgreSQL: every
console route (collected from the app, so a new one is covered) refuses anonymous visitors, customer portal
users and roles without the right, and every form needs the session's CSRF token; login/logout, secure
cookies behind a TLS proxy, escaping of what printers send, CSV exports that neutralise formulas, devices to
complete, the one-time agent key, and the `users` commands."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from fastapi.routing import APIRoute
from sqlalchemy import select

from console_peers import (CUSTOMER, PASSWORD, PLANTED_FORMULA, PLANTED_LOCATION, PLANTED_SUPPLY, ROLES, Browser,
                           logged_in, replaced_history, run_supply_worker, start_console, stop_console)
from fleet_peers import add_agent, ingest
from server_stub.db.tables import agents, asset_audit, assets
from server_stub.web import sessions
from server_stub.web.tables import web_users
from server_stub.billing import store as billing_store
from server_stub.billing.periods import Period
from server_stub.billing.plans import load_plan_file
from server_stub.console.domains import supplies as supplies_page
from server_stub.supply import policy_store
from server_stub.supply.tables import supply_alarms, supply_order_lines, supply_replacements
from test_supply_live_cli import history as supply_history
from trust_peers import DATABASES, environment

NOT_CONSOLE = ("/portal", "/v1/", "/healthz", "/docs", "/redoc", "/openapi.json", "/static",
               "/metrics")  # /metrics: for the monitoring system, no login (README: reach it through the proxy only)
LOGIN_ROUTES = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout")}
ADMIN_ONLY = {"/agents/new", "/agents/revoke", "/policy/edit"}  # what server_stub.console.roles gives admins only
CHANGE_PAGES = ADMIN_ONLY | {"/notifications/edit"}  # forms a read-only user may not even open
SERVER = [sys.executable, "-m", "server_stub.cli"]
ROOT = Path(__file__).resolve().parent.parent
PAST = Period.containing(datetime.now(timezone.utc).replace(day=1) - timedelta(days=1))  # last month


@pytest.fixture(scope="module", params=DATABASES)
def console(request, tmp_path_factory):
    work = tmp_path_factory.mktemp(f"console-{request.param}")
    console = start_console(request.param, work)
    seed_domains(console, work)
    yield console
    stop_console(console)


def seed_domains(console, work) -> None:
    """The supply, jobs, notification and policy data through the dealer's own commands on the console's
    database: readings import, `worker --once` (forecasts and an order), a request, settings and a policy."""
    env = environment(work / "home", FLEETMETER_DB=console.site.db.url)

    def run(*args: str) -> str:
        done = subprocess.run(SERVER + list(args), env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{args} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    run("clients", "add", "Initech")
    run("sites", "add", "Initech", "HQ")
    run("agents", "add", "hq-1", "--client", "Initech", "--site", "HQ")
    supply_history(work / "history.jsonl")
    run("readings", "import", str(work / "history.jsonl"), "--agent", "hq-1")
    found = json.loads(run("devices", "to-complete", "--client", "Initech", "--json"))
    run("devices", "activate", *[str(d["asset_id"]) for d in next(iter(found.values()))])
    run("worker", "--once")
    run("requests", "add", "--serial", "PX0000002A", "--supply", "1.1")
    run("notify", "set", "--client", "Initech", "--recipients", "ops@initech.example", "--off", "agent")
    (work / "initech.toml").write_text("lead_days = 9\n")
    run("policy", "set", "--client", "Initech", str(work / "initech.toml"))
    # last month's bill: a plan set back then (past periods never change, so through the domain with that clock)
    start = datetime(PAST.year, PAST.month, 1, tzinfo=timezone.utc)
    with console.site.engine.begin() as conn:
        billing_store.store_plan(conn, billing_store.client_id(conn, "Initech"),
                                 load_plan_file(ROOT / "server_stub/billing/plan.example.toml"), start)
    run("billing", "run", "--client", "Initech", "--period", str(PAST), "--estimate")
    console.ids["erp_csv"] = run("billing", "export", "--period", str(PAST), "--csv")


def console_routes(console) -> list[tuple[str, str]]:
    app = console.site.live.server.config.app
    found = [(method, route.path) for route in app.routes if isinstance(route, APIRoute)
             and not route.path.startswith(NOT_CONSOLE) for method in route.methods]
    return sorted(set(found) - LOGIN_ROUTES)


def concrete(console, path: str) -> str:
    return path.replace("{asset_id}", str(console.ids["new_device"]))


def test_routes_are_collected_from_the_app(console):
    paths = {path for _, path in console_routes(console)}
    for expected in ("/", "/devices/{asset_id}", "/agents", "/agents/revoke", "/devices/to-complete", "/supplies",
                     "/orders", "/jobs", "/billing", "/notifications", "/policy", "/devices.csv"):
        assert expected in paths


def test_anonymous_visitors_are_sent_to_the_login_page_everywhere(console):
    anonymous = Browser(console)
    for method, path in console_routes(console):
        answer = anonymous.http.request(method, console.url + concrete(console, path), allow_redirects=False,
                                        data={"csrf": "x"}, timeout=30)
        assert answer.status_code == 303 and answer.headers["location"] == "/login", (method, path)


def test_a_customer_portal_user_never_reaches_a_dealer_page(console):
    refused = Browser(console).login(CUSTOMER)
    assert refused.status_code == 401  # the console's login does not take portal accounts
    # and a console session that somehow belonged to a portal user is refused on every route
    with console.site.engine.begin() as conn:
        customer = conn.execute(select(web_users.c.id).where(web_users.c.email == CUSTOMER)).scalar_one()
        forged = sessions.open_session(conn, "console", customer)
    http = requests.Session()
    http.trust_env = False
    http.cookies.set("fm_console", forged.token)
    for method, path in console_routes(console):
        answer = http.request(method, console.url + concrete(console, path), allow_redirects=False,
                              data={"csrf": forged.csrf_token}, timeout=30)
        assert answer.status_code == 403, (method, path)
        assert "ACME-N-1" not in answer.text


def test_a_dealer_user_cannot_use_the_portal(console):
    dealer = logged_in(console, "admin")
    assert dealer.http.get(console.url + "/portal/", allow_redirects=False, timeout=30).headers["location"] \
        == "/portal/login"
    portal_login = requests.Session()
    portal_login.trust_env = False
    page = portal_login.get(console.url + "/portal/login", timeout=30)
    token = re.search(r'name="csrf" value="([^"]*)"', page.text).group(1)
    refused = portal_login.post(console.url + "/portal/login", data={"csrf": token, "email": ROLES["admin"],
                                                                     "password": PASSWORD}, allow_redirects=False)
    assert refused.status_code == 401


def test_read_only_sees_every_page_and_changes_nothing(console):
    viewer = logged_in(console, "read_only")
    for method, path in console_routes(console):
        url = concrete(console, path)
        if method == "GET":
            answer = viewer.get(url)
            assert answer.status_code == (403 if path in CHANGE_PAGES else 200), path
        else:
            viewer.get("/")
            assert viewer.post(url, {"name": "acme-north", "client": "Acme"}).status_code == 403, path
    with console.site.engine.connect() as conn:
        assert conn.execute(select(agents.c.state).where(agents.c.name == "acme-north")).scalar_one() != "revoked"
        assert conn.execute(select(assets.c.state).where(assets.c.id == console.ids["new_device"])).scalar_one() \
            == "to_complete"
    to_complete = viewer.get("/devices/to-complete").text
    assert "ACME-NEW-1" in to_complete and "/activate" not in to_complete
    assert "Revoke" not in viewer.get("/agents").text


def test_staff_completes_devices_but_does_not_manage_agents(console):
    staff = logged_in(console, "staff")
    staff.get("/agents")
    assert staff.post("/agents/revoke", {"name": "globex-main"}).status_code == 403
    assert staff.post("/agents/new", {"name": "x", "client": "Acme"}).status_code == 403
    assert staff.post("/policy/edit", {"level": "global", "document": "{}"}).status_code == 403
    assert staff.get("/notifications/edit?client=Acme").status_code == 200


def test_every_form_needs_the_sessions_csrf_token(console):
    admin = logged_in(console, "admin")
    for method, path in console_routes(console):
        if method != "POST":
            continue
        for data in ({}, {"csrf": "forged-token"}):
            answer = admin.post(concrete(console, path), dict(data, name="globex-main", client="Acme"), csrf=False)
            assert answer.status_code == 403, path
    with console.site.engine.connect() as conn:
        assert conn.execute(select(agents.c.state).where(agents.c.name == "globex-main")).scalar_one() != "revoked"


def test_login_cookie_logout_and_secure_cookie_behind_a_tls_proxy(console):
    browser = Browser(console)
    page = browser.get("/login")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert browser.post("/login", {"email": ROLES["admin"], "password": "not the password"}).status_code == 401
    ok = browser.post("/login", {"email": ROLES["admin"], "password": PASSWORD})
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie and "secure" not in cookie
    assert browser.get("/").status_code == 200
    old = browser.http.cookies.get("fm_console")
    assert browser.post("/logout", {}).headers["location"] == "/login"
    browser.http.cookies.set("fm_console", old)
    assert browser.get("/").status_code == 303  # the old session is over
    proxied = requests.get(console.url + "/login", headers={"X-Forwarded-Proto": "https"}, timeout=30)
    assert "secure" in proxied.headers["set-cookie"].lower()  # uvicorn trusts the proxy on 127.0.0.1


def test_what_printers_send_is_escaped_on_every_page(console):
    admin = logged_in(console, "admin")
    device = admin.get(f"/devices/{console.ids['acme_device']}").text
    assert "&lt;script&gt;window.__pwned=1" in device and "&lt;img src=x onerror" in device
    for path in ("/", f"/devices/{console.ids['acme_device']}", "/devices/to-complete", "/agents"):
        page = admin.get(path).text
        for planted in (PLANTED_LOCATION, PLANTED_SUPPLY):
            assert planted not in page, path
        assert "<script" not in page.lower() and "<img" not in page.lower(), path


def test_csv_exports_neutralise_formulas(console):
    admin = logged_in(console, "admin")
    for path in ("/devices.csv", "/devices/to-complete.csv", "/fleet.csv", "/agents.csv", "/supplies.csv",
                 "/orders.csv", "/jobs/requests.csv",
                 f"/devices/{console.ids['acme_device']}/supplies.csv", f"/devices/{console.ids['acme_device']}/alarms.csv"):
        answer = admin.get(path)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv"), path
        rows = list(csv.reader(io.StringIO(answer.text)))
        assert len(rows) > 1, path
        assert not any(cell[:1] in ("=", "+", "-", "@") for row in rows for cell in row), path
    devices = list(csv.DictReader(io.StringIO(admin.get("/devices.csv").text)))
    assert "'" + PLANTED_FORMULA in {row["model"] for row in devices}


def test_overview_lists_sites_devices_and_worst_supply(console):
    admin = logged_in(console, "admin")
    page = admin.get("/?client=Acme&site=North").text
    assert "ACME-N-1" in page and "GLOBEX-1" not in page
    assert re.search(r'<meter[^>]*value="25\.0"', page)  # 90 % falling 5 points a day for 14 days
    assert "1 alert(s)" in page
    assert "GLOBEX-1" in admin.get("/?client=Globex").text


def test_device_page_shows_meters_chart_alarms_and_readings(console):
    admin = logged_in(console, "admin")
    page = admin.get(f"/devices/{console.ids['acme_device']}").text
    points = re.search(r'<polyline class="level" points="([^"]+)"', page).group(1).split()
    assert len(points) == 14  # one observation a day
    ys = [float(p.split(",")[1]) for p in points]
    assert ys == sorted(ys)  # the level falls: y grows downwards
    assert "paper_jam" in page
    assert page.count("<details>") == 14
    assert admin.get("/devices/999999").status_code == 404


def test_domain_pages_are_wired(console):
    admin = logged_in(console, "admin")
    for path in ("/supplies", "/orders", "/jobs", "/billing", "/notifications", "/policy"):
        page = admin.get(path)
        assert page.status_code == 200 and "Not available in this build" not in page.text, path


def test_supplies_due_with_the_orders_they_caused_and_filters(console):
    admin = logged_in(console, "admin")
    [order] = [o for o in csv.DictReader(io.StringIO(admin.get("/orders.csv?client=Initech").text))]
    supplies = list(csv.DictReader(io.StringIO(admin.get("/supplies.csv?client=Initech").text)))
    soon = {row["serial"]: row for row in supplies}
    assert set(soon) == {"PX0000001A", "PX0000002A"}
    assert float(soon["PX0000001A"]["days_left"]) < 4 < float(soon["PX0000002A"]["days_left"])
    assert {row["orders"] for row in supplies} == {f"#{order['id']}"}  # one consolidated order for the site
    page = admin.get("/supplies?days=4").text
    assert "PX0000001A" in page and "PX0000002A" not in page and f'href="/orders#order-{order["id"]}"' in page
    level = float(soon["PX0000001A"]["percent"])
    assert "PX0000001A" not in admin.get(f"/supplies?client=Initech&level={level - 1:.1f}").text
    assert "PX0000001A" in admin.get(f"/supplies?client=Initech&level={level + 1:.1f}").text
    assert "needs --client" in admin.get("/supplies?site=HQ").text  # the domain's own one-line error


def test_orders_show_lifecycle_and_the_why_escaped(console):
    admin = logged_in(console, "admin")
    page = admin.get("/orders?client=Initech").text
    assert re.search(r'<tr class="order" id="order-\d+">', page) and "PX0000001A" in page
    assert "&#34;consolidated&#34;" in page or "&quot;consolidated&quot;" in page  # the why as escaped JSON
    [row] = list(csv.DictReader(io.StringIO(admin.get("/orders.csv?client=Initech").text)))
    assert json.loads(row["why"])["consolidated"] and row["status"] == re.search(
        r'class="status state-([a-z_]+)"', page).group(1)
    assert "No orders." in admin.get("/orders?client=Initech&status=cancelled").text


def test_device_chart_has_the_forecast_and_the_overview_days_left(console):
    admin = logged_in(console, "admin")
    asset = console.asset_id("PX0000001A")
    page = admin.get(f"/devices/{asset}").text
    forecast = re.search(r'<polyline class="forecast" points="([^"]+)"', page).group(1).split()
    assert float(forecast[-1].split(",")[1]) > float(forecast[0].split(",")[1])  # falls to empty (y grows down)
    assert '<polygon class="range"' in page
    [row] = [r for r in csv.DictReader(io.StringIO(admin.get("/supplies.csv?client=Initech").text))
             if r["serial"] == "PX0000001A"]
    overview = admin.get("/?client=Initech").text
    assert f"{row['supply']}: {float(row['days_left']):.1f} d" in overview


def test_jobs_page_shows_the_request_queue(console):
    admin = logged_in(console, "admin")
    page = admin.get("/jobs").text
    assert re.search(r'<tr class="request">.*?PX0000002A.*?</tr>', page, re.S)
    requests_csv = list(csv.DictReader(io.StringIO(admin.get("/jobs/requests.csv").text)))
    pairs = [(r["serial"], r["supply"]) for r in requests_csv]
    assert ("PX0000002A", "1.1") in pairs  # the dealer's request by hand
    # else only the reorders' (order lines): ACME-N-1's cartridge lasts 20 days and is five days from empty after
    # two weeks, so the first month's Level rule orders it at a window's share (35 %), not at 20 %
    assert {serial for serial, _ in pairs} <= {"PX0000001A", "PX0000002A", "ACME-N-1"}
    assert admin.get("/jobs.csv").text.startswith("job,status,client")


def test_notifications_are_shown_and_edited_with_csrf(console):
    staff = logged_in(console, "staff")
    assert "ops@initech.example" in staff.get("/notifications").text
    form = staff.get("/notifications/edit?client=Initech").text
    document = json.loads(html.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", form, re.S).group(1)))
    assert document["recipients"] == ["ops@initech.example"] and document["categories"]["agent"]["enabled"] is False
    document["recipients"].append("<b>x</b>@initech.example")
    bad = staff.post("/notifications/edit", {"client": "Initech", "document": json.dumps(document)})
    assert bad.status_code == 400 and "<b>x" not in bad.text
    document["recipients"][-1] = "stores@initech.example"
    assert staff.post("/notifications/edit", {"client": "Initech", "document": json.dumps(document)}).status_code == 303
    assert "stores@initech.example" in staff.get("/notifications").text


def test_policy_levels_shown_and_set_by_an_admin(console):
    admin = logged_in(console, "admin")
    page = admin.get("/policy").text
    initech = re.search(r'<tr class="level"><td>client <strong>Initech</strong>.*?</tr>', page, re.S).group(0)
    assert "&#34;lead_days&#34;: 9" in initech or "&quot;lead_days&quot;: 9" in initech
    assert admin.post("/policy/edit", {"level": "client", "key": "Initech",
                                       "document": '{"lead_days": 400}'}).status_code == 400
    assert admin.post("/policy/edit", {"level": "client", "key": "Initech",
                                       "document": '{"lead_days": 11}'}).status_code == 303
    with console.site.engine.connect() as conn:
        assert policy_store.show(conn, "client", "Initech")["resolved"]["lead_days"] == 11


def test_billing_period_report_and_erp_export(console):
    admin = logged_in(console, "admin")
    assert "not YYYY-MM" in admin.get("/billing?period=2026-13x").text
    assert admin.get("/billing.csv?period=bad").status_code == 400
    page = admin.get(f"/billing?period={PAST}").text
    assert re.search(rf'<tr class="bill"><td>{PAST}</td>.*?<td>Initech</td>.*?<td>tiered</td>', page, re.S)
    export = admin.get(f"/billing.csv?period={PAST}")
    assert export.status_code == 200  # the same file as `billing export` writes
    assert export.text.splitlines() == console.ids["erp_csv"].splitlines()
    assert "No bills for" in admin.get("/billing?period=2001-01").text



def test_devices_to_complete_are_activated_or_deleted_with_the_actor_recorded(console):
    staff = logged_in(console, "staff")
    assert "ACME-NEW-1" in staff.get("/devices/to-complete").text
    answer = staff.post(f"/devices/{console.ids['new_device']}/activate", {})
    assert answer.status_code == 303 and answer.headers["location"] == "/devices/to-complete?notice=activated"
    assert "ACME-NEW-1" not in staff.get("/devices/to-complete").text
    assert staff.post(f"/devices/{console.ids['new_device']}/activate", {}).status_code == 400  # active already
    assert staff.post(f"/devices/{console.ids['new_device']}/delete", {}).status_code == 303
    with console.site.engine.connect() as conn:
        assert conn.execute(select(assets.c.state).where(assets.c.id == console.ids["new_device"])).scalar_one() \
            == "deleted"
        actors = conn.execute(select(asset_audit.c.actor).where(asset_audit.c.asset_id == console.ids["new_device"])
                              ).scalars().all()
    assert actors.count(ROLES["staff"]) == 2
    with console.site.engine.begin() as conn:  # back for the other tests
        conn.execute(assets.update().where(assets.c.id == console.ids["new_device"]).values(state="to_complete"))


def test_new_agent_key_is_shown_once_and_enrols(console, tmp_path):
    from agent.certs.enroll import enrol
    from agent.certs.store import CertStore

    admin = logged_in(console, "admin")
    admin.get("/agents/new")
    refused = admin.post("/agents/new", {"name": "globex-main", "client": "Acme"})
    assert refused.status_code == 400 and "belongs to client" in refused.text
    assert admin.post("/agents/new", {"name": "bad\x01name", "client": "Acme"}).status_code == 400
    made = admin.post("/agents/new", {"name": "acme-south", "client": "Acme", "site": "South", "days": "2"})
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    key = re.search(r'<code class="key">([^<]+)</code>', made.text).group(1)
    assert key not in admin.get("/agents").text
    enrol(CertStore(tmp_path / "certs"), console.url, key, key_type="ed25519")
    with console.site.engine.connect() as conn:
        assert conn.execute(select(agents.c.state).where(agents.c.name == "acme-south")).scalar_one() == "enrolled"


def test_users_commands(console, tmp_path, monkeypatch, capsys):
    """In-process through the command line's main() (FLEETMETER_DB and FLEETMETER_HOME honoured)."""
    from server_stub.cli.main import main

    monkeypatch.setenv("FLEETMETER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLEETMETER_DB", console.site.db.url)

    def server(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            code = main(["users", *args])
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = server("add", "New.Clerk@dealer.example", "--role", "read-only", "--password-stdin", "--json",
                            stdin="a long enough password\n")
    assert code == 0, err
    assert json.loads(out) == {"email": "new.clerk@dealer.example", "role": "read-only", "password": None}
    code, _, err = server("add", "new.clerk@dealer.example", "--role", "staff", "--password-stdin",
                          stdin="another password\n")
    assert code == 1 and err.count("\n") == 1 and "exists already" in err
    assert server("add", "x@dealer.example", "--role", "boss")[0] == 2
    code, _, err = server("add", "y@dealer.example", "--role", "staff", "--password-stdin", stdin="short\n")
    assert code == 1 and "at least" in err
    code, out, _ = server("add", "z@dealer.example", "--role", "admin")
    assert code == 0 and "shown only now" in out
    users = {u["email"]: u for u in json.loads(server("list", "--json")[1])["users"]}
    assert users["new.clerk@dealer.example"]["role"] == "read-only" and CUSTOMER not in users
    assert set(ROLES.values()) <= set(users)
    clerk = Browser(console)
    assert clerk.login("new.clerk@dealer.example", "a long enough password").status_code == 303
    assert server("disable", CUSTOMER)[0] == 1  # portal accounts are not console users
    assert server("disable", "new.clerk@dealer.example")[0] == 0
    assert clerk.get("/").status_code == 303  # its session ended
    assert server("list")[1].count("disabled") == 1


def test_supplies_due_filter_by_class_and_page_by_page(console, monkeypatch):
    admin = logged_in(console, "admin")
    mono = admin.get("/supplies?client=Initech&class=mono_toner").text
    assert "PX0000001A" in mono and "PX0000002A" in mono and '<option value="mono_toner" selected>' in mono
    for other in ("colour_toner", "drum", "maintenance", "waste_toner"):
        page = admin.get(f"/supplies?client=Initech&class={other}").text
        assert "PX0000001A" not in page and "No followed supply matches." in page, other
    monkeypatch.setattr(supplies_page, "PAGE_SIZE", 1)  # two followed supplies: two pages
    first = admin.get("/supplies?client=Initech&class=mono_toner").text
    assert "PX0000001A" in first and "PX0000002A" not in first and 'rel="prev"' not in first
    later = html.unescape(re.search(r'<a rel="next" href="([^"]+)"', first).group(1))
    assert "class=mono_toner" in later and "client=Initech" in later  # the filters stay with the page
    second = admin.get(later).text
    assert "PX0000002A" in second and "PX0000001A" not in second and 'rel="next"' not in second
    exported = list(csv.DictReader(io.StringIO(admin.get("/supplies.csv?client=Initech&class=mono_toner").text)))
    assert {r["serial"] for r in exported} == {"PX0000001A", "PX0000002A"}  # the export is never one page


def test_device_page_lists_the_replacements_and_supply_alarms_the_worker_detected(console):
    engine = console.site.engine
    ingest(engine, add_agent(engine, "globex-annex", "Globex"), replaced_history("SWAP-1"))
    run_supply_worker(engine)
    asset = console.asset_id("SWAP-1")
    with engine.connect() as conn:
        ordered = set(conn.execute(select(supply_order_lines.c.order_id)
                                   .where(supply_order_lines.c.asset_id == asset)).scalars())
        stored = conn.execute(select(supply_replacements).where(supply_replacements.c.asset_id == asset)).all()
        alarms = conn.execute(select(supply_alarms).where(supply_alarms.c.asset_id == asset)).all()
    assert ordered and stored  # the worker ordered at the level and saw the cartridge replaced
    page = logged_in(console, "read_only").get(f"/devices/{asset}").text
    rows = re.findall(r'<tr class="replacement[^"]*">(.*?)</tr>', page, re.S)
    assert len(rows) == len(stored)
    for row in rows:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        left = float(cells[2].rstrip("%"))
        assert 0 <= left < 20 and cells[3] == "no"  # it ran out: nothing premature, little left
        linked = re.search(r'href="/orders#order-(\d+)"', cells[7])
        assert linked is None or int(linked.group(1)) in ordered
    assert any('href="/orders#order-' in row for row in rows)  # a replacement fulfilled the order placed
    exported = list(csv.DictReader(io.StringIO(logged_in(console, "read_only").get(
        f"/devices/{asset}/replacements.csv").text)))
    assert sorted(r["order_id"] for r in exported) == sorted(str(r.order_id or "") for r in stored)
    shown = re.search(r'<table class="supply-alarms">(.*?)</table>', page, re.S).group(1)
    assert shown.count("<tr>") - 1 == max(len(alarms), 1)  # each alarm (or the "none" row) under a header
    for alarm in alarms:
        assert alarm.kind.replace("_", " ") in shown
