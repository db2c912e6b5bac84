"""The dealer console in real Chromium (Debian's `chromium`, driven by Playwright, no browser download) against
the running server on 127.0.0.1: the agent's SNMP poll reads a simulated printer (fleetmeter-sim over UDP on
loopback) whose sysLocation and supply description carry <script> and <img onerror> payloads, and an enrolled
agent uploads that reading and ten days of another printer's (signed HTTP); the dealer logs in, activates the
printer under "To complete", opens the fleet and the devices (the supply chart drawn; none of the payloads run,
their text shown), sees on another printer's page the cartridge replacements the supply engine detected (and
follows one to the order it fulfilled), filters supplies due by class, revokes the agent through the page (its next signed upload is refused with 403), makes a new agent
key, opens a page of a domain not in this build, checks the tablet width, logs out; a customer portal user
cannot open a dealer page.

Screenshots of each page go to build/screenshots/console/ (or $FLEETMETER_SCREENSHOTS/console) for a person
to look at."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

import sim_peer
from console_peers import (CUSTOMER, PASSWORD, PLANTED_LOCATION, PLANTED_SUPPLY, ROLES, batch, history,
                           replaced_history, run_supply_worker, start_console, stop_console)
from fleet_peers import add_agent, ingest
from snmp_helpers import poll
from server_stub.db.tables import assets
from server_stub.fleet.clients import link_agent
from server_stub.supply.tables import supply_order_lines
from server_stub.trust.enrolment import KEY_PREFIX
from trust_peers import send

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("FLEETMETER_SCREENSHOTS", ROOT / "build" / "screenshots")) / "console"
SUPPLY_DESCRIPTION = "1.3.6.1.2.1.43.11.1.1.6.1.1"  # prtMarkerSuppliesDescription of the first supply


def hostile_fleet(count, seed, **layout):
    """sim_peer's fleet with the first printer's sysLocation and first supply description replaced by payloads."""
    devices = plan_fleet(count, seed, **layout)
    first = devices[0]
    rows = tuple(dataclasses.replace(row, value=PLANTED_SUPPLY.encode()) if row.oid == SUPPLY_DESCRIPTION else row
                 for row in first.model.rows)
    model = dataclasses.replace(first.model, rows=rows)
    return [dataclasses.replace(first, location=PLANTED_LOCATION, model=model)] + devices[1:]


plan_fleet = sim_peer.plan_fleet


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing; scripts/setup-env.sh installs it (apt-get install -y chromium)")
    console = start_console("sqlite", tmp_path_factory.mktemp("console-browser"))
    yield console
    stop_console(console)


def test_dealer_works_the_console_in_chromium(console, tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setattr(sim_peer, "plan_fleet", hostile_fleet)
    printers = sim_peer.SimFleet(1)
    try:
        polled = poll(printers.endpoint(0), "public", timeout=1.0).to_json()
    finally:
        printers.stop()
    assert polled["identity"]["location"] == PLANTED_LOCATION
    agent = console.site.enrolled(tmp_path, "lobby-agent")  # client Acme
    with console.site.engine.begin() as conn:
        link_agent(conn, "lobby-agent", "Acme", "South")
    uploaded = send(agent.signed(console.url, batch(history("LOBBY-1", days=10) + [polled])))
    assert uploaded.status_code == 200, uploaded.text
    lobby, hostile = console.asset_id("LOBBY-1"), console.asset_id(polled["identity"]["serial"])
    engine = console.site.engine
    ingest(engine, add_agent(engine, "swap-agent", "Acme"), replaced_history("SWAP-1"))
    run_supply_worker(engine)  # the worker's supply task: orders at the level, then sees the cartridge replaced
    swap = console.asset_id("SWAP-1")
    with engine.connect() as conn:
        ordered = set(conn.execute(select(supply_order_lines.c.order_id)
                                   .where(supply_order_lines.c.asset_id == swap)).scalars())
    SHOTS.mkdir(parents=True, exist_ok=True)
    dialogs: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})  # a laptop
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(console.url + "/")
            assert page.url == console.url + "/login"
            page.screenshot(path=str(SHOTS / "01-login.png"), full_page=True)
            page.fill("input[name=email]", ROLES["admin"])
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(console.url + "/")
            assert page.locator("table.summary").get_by_text("North").is_visible()
            page.screenshot(path=str(SHOTS / "02-fleet.png"), full_page=True)

            page.click("nav >> text=To complete")
            row = page.locator("tr.device", has_text="LOBBY-1")
            assert page.evaluate("window.__pwned") is None
            page.screenshot(path=str(SHOTS / "03-to-complete.png"), full_page=True)
            row.locator("button", has_text="Activate").click()
            page.wait_for_url("**/devices/to-complete?notice=activated")
            assert page.locator("tr.device", has_text="LOBBY-1").count() == 0
            with console.site.engine.connect() as conn:
                assert conn.execute(select(assets.c.state).where(assets.c.id == lobby)).scalar_one() == "active"

            page.goto(console.url + "/?client=Acme&site=South")
            page.locator("tr.device", has_text="LOBBY-1").locator("a").first.click()
            page.wait_for_url(f"{console.url}/devices/{lobby}")
            chart = page.locator("svg.supply-chart").first
            assert chart.is_visible() and chart.bounding_box()["width"] > 300
            assert len(chart.locator("polyline.level").get_attribute("points").split()) == 10
            page.screenshot(path=str(SHOTS / "04-device.png"), full_page=True)

            page.goto(f"{console.url}/devices/{swap}")  # replacements the supply engine detected
            replaced = page.locator("table.replacements tr.replacement")
            assert replaced.count() >= 1
            link = page.locator("table.replacements tr.replacement a").first
            fulfilled = link.locator("xpath=ancestor::tr").locator("td")
            assert float(fulfilled.nth(2).inner_text().rstrip("%")) < 20 and fulfilled.nth(3).inner_text() == "no"
            order = link.inner_text().lstrip("#")
            assert int(order) in ordered  # the order the replacement fulfilled
            page.locator("table.replacements").scroll_into_view_if_needed()
            page.screenshot(path=str(SHOTS / "04c-device-replacements.png"), full_page=True)
            link.click()
            page.wait_for_url(f"**/orders#order-{order}")
            assert page.locator(f"tr#order-{order}").is_visible()

            page.goto(f"{console.url}/devices/{hostile}")  # the simulated printer the agent polled
            assert page.evaluate("window.__pwned") is None  # neither the <script> nor the <img onerror> ran
            assert page.locator("dd.location").inner_text() == PLANTED_LOCATION  # shown as text
            assert page.locator(".supply-description").first.inner_text() == PLANTED_SUPPLY
            page.locator("details summary").first.click()  # the raw reading, opened
            raw = page.locator("details pre").first.inner_text()
            assert '"location": "<script>window.__pwned=1;' in raw and PLANTED_SUPPLY.replace('"', '\\"') in raw
            assert page.evaluate("window.__pwned") is None
            page.screenshot(path=str(SHOTS / "04b-device-hostile.png"), full_page=True)

            page.click("nav >> text=Agents")
            page.screenshot(path=str(SHOTS / "05-agents.png"), full_page=True)
            page.locator("tr.agent", has_text="lobby-agent").locator("text=Revoke").click()
            page.wait_for_url("**/agents/revoke?name=lobby-agent")
            page.screenshot(path=str(SHOTS / "06-revoke-confirm.png"), full_page=True)
            page.click("button:has-text('Revoke lobby-agent')")
            page.wait_for_url("**/agents?notice=revoked")
            assert "revoked" in page.locator("tr.agent", has_text="lobby-agent").inner_text()
            page.screenshot(path=str(SHOTS / "07-agent-revoked.png"), full_page=True)
            refused = send(agent.signed(console.url, batch(history("LOBBY-1", days=1))))
            assert refused.status_code == 403, refused.text

            page.click("text=New agent")
            page.fill("input[name=name]", "acme-annex")
            page.fill("input[name=client]", "Acme")
            page.click("button:has-text('Create key')")
            key = page.locator("code.key").inner_text()
            assert key.startswith(KEY_PREFIX)
            page.screenshot(path=str(SHOTS / "08-new-agent-key.png"), full_page=True)

            page.click("nav >> text=Supplies due")
            assert page.locator("h1").first.inner_text().startswith("Supplies due")
            page.screenshot(path=str(SHOTS / "09-supplies.png"), full_page=True)
            swap_row = page.locator("table.supplies tr.supply", has_text="SWAP-1")
            assert swap_row.count() == 1
            page.select_option("select[name=class]", "colour_toner")
            page.click("form.filters button[type=submit]")
            page.wait_for_url("**/supplies?*class=colour_toner*")
            assert swap_row.count() == 0 and page.get_by_text("No followed supply matches.").is_visible()
            page.screenshot(path=str(SHOTS / "09b-supplies-colour-toner.png"), full_page=True)
            page.select_option("select[name=class]", "mono_toner")
            page.click("form.filters button[type=submit]")
            page.wait_for_url("**/supplies?*class=mono_toner*")
            assert swap_row.locator("td.supply-class").inner_text() == "mono toner"
            assert page.locator("td.supply-class").all_inner_texts() == ["mono toner"] * page.locator(
                "table.supplies tr.supply").count()
            page.screenshot(path=str(SHOTS / "09c-supplies-mono-toner.png"), full_page=True)

            for path, shot in ((f"/devices/{lobby}", "10-device-tablet.png"), ("/", "11-fleet-tablet.png")):
                page.set_viewport_size({"width": 768, "height": 1024})  # a tablet upright: nothing cut off
                page.goto(console.url + path)
                assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
                page.screenshot(path=str(SHOTS / shot), full_page=True)

            page.click("button:has-text('Log out')")
            page.wait_for_url(console.url + "/login")
            page.goto(console.url + "/agents")
            assert page.url == console.url + "/login"

            customer = browser.new_page(viewport={"width": 1024, "height": 768})
            customer.goto(console.url + "/portal/login")
            customer.fill("input[name=email]", CUSTOMER)
            customer.fill("input[name=password]", PASSWORD)
            customer.click("button[type=submit]")
            customer.wait_for_url(console.url + "/portal/")
            customer.goto(console.url + f"/devices/{lobby}")
            assert customer.url == console.url + "/login"  # the dealer's page is not theirs
            customer.fill("input[name=email]", CUSTOMER)
            customer.fill("input[name=password]", PASSWORD)
            customer.click("button[type=submit]")
            assert "wrong e-mail or password" in customer.locator(".problem").inner_text()
            customer.screenshot(path=str(SHOTS / "12-portal-user-refused.png"), full_page=True)
        finally:
            browser.close()
    assert dialogs == []
    print(f"screenshots: {SHOTS}")
