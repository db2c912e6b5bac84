"""The dealer console over HTTP on a real server (uvicorn on 127.0.0.1), on SQLite and PostgreSQL: every
console route (collected from the app, so a new one is covered) refuses anonymous visitors, customer portal
users and roles without the right, and every form needs the session's CSRF token; login/logout, secure
cookies behind a TLS proxy, escaping of what printers send, CSV exports that neutralise formulas, devices to
complete, the one-time agent key, and the `users` commands."""

from __future__ import annotations

import csv
import io
import json
import re
import sys

import pytest
import requests
from fastapi.routing import APIRoute
from sqlalchemy import select

from console_peers import (CUSTOMER, PASSWORD, PLANTED_FORMULA, PLANTED_LOCATION, PLANTED_SUPPLY, ROLES, Browser,
                           logged_in, start_console, stop_console)
from server_stub.db.tables import agents, asset_audit, assets
from server_stub.web import sessions
from server_stub.web.tables import web_users
from trust_peers import DATABASES

NOT_CONSOLE = ("/portal", "/v1/", "/healthz", "/docs", "/redoc", "/openapi.json", "/static")
LOGIN_ROUTES = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout")}
ADMIN_ONLY = {"/agents/new", "/agents/revoke"}  # pages and forms server_stub.console.roles gives admins only


@pytest.fixture(scope="module", params=DATABASES)
def console(request, tmp_path_factory):
    console = start_console(request.param, tmp_path_factory.mktemp(f"console-{request.param}"))
    yield console
    stop_console(console)


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
            assert answer.status_code == (403 if path in ADMIN_ONLY else 200), path
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
    for path in ("/devices.csv", "/devices/to-complete.csv", "/fleet.csv", "/agents.csv",
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


def test_pending_domains_say_so_without_data(console):
    admin = logged_in(console, "admin")
    for path in ("/supplies", "/orders", "/jobs", "/billing", "/notifications", "/policy"):
        page = admin.get(path).text
        assert "Not available in this build" in page and "<table" not in page, path


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
