"""The customer portal in real Chromium (Debian's `chromium`, driven by Playwright, no browser download):
log in, open a device whose printer sent script in its location and model (none of it runs), file a fault
report and see it listed, log out. Screenshots of each page go to build/screenshots/portal/ (or
$FLEETMETER_SCREENSHOTS/portal) for a person to look at."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from portal_peers import PASSWORD, PLANTED_LOCATION, start_portal, stop_portal

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("FLEETMETER_SCREENSHOTS", ROOT / "build" / "screenshots")) / "portal"


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing; scripts/setup-env.sh installs it (apt-get install -y chromium)")
    portal = start_portal("sqlite", tmp_path_factory.mktemp("portal-browser"))
    yield portal
    stop_portal(portal)


def test_customer_logs_in_files_a_report_and_sees_it(portal):
    from playwright.sync_api import sync_playwright

    email = portal.account("browser@acme.example", "Acme", ["North"])
    device = portal.ids["acme_device"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    dialogs: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1024, "height": 768})  # a tablet in landscape
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(portal.url + "/")
            assert page.url.endswith("/portal/login")
            page.screenshot(path=str(SHOTS / "01-login.png"), full_page=True)
            page.fill("input[name=email]", email)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(portal.url + "/")
            assert page.get_by_role("link", name="North").is_visible()
            page.screenshot(path=str(SHOTS / "02-overview.png"), full_page=True)

            page.click("text=North")
            assert page.locator("td.location").first.inner_text() == PLANTED_LOCATION  # shown as text
            page.screenshot(path=str(SHOTS / "03-site.png"), full_page=True)
            page.goto(f"{portal.url}/devices/{device}")
            assert page.evaluate("window.__pwned") is None  # neither the <script> nor the <img onerror> ran
            page.screenshot(path=str(SHOTS / "04-device.png"), full_page=True)

            page.click("text=Report a fault on this device")
            page.fill("textarea[name=description]", "Paper jam in tray 2 <b>again</b>")
            page.fill("input[name=contact]", "Eva, ext. 214")
            page.screenshot(path=str(SHOTS / "05-report-form.png"), full_page=True)
            page.click("button:has-text('Send report')")
            page.wait_for_url("**/portal/reports?notice=*")
            row = page.locator("tr.report", has_text="Paper jam in tray 2")
            assert row.count() == 1 and "queued" in row.inner_text()
            assert row.locator("td.description").inner_text() == "Paper jam in tray 2 <b>again</b>"
            page.screenshot(path=str(SHOTS / "06-reports.png"), full_page=True)

            page.set_viewport_size({"width": 768, "height": 1024})  # a tablet upright: nothing cut off
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
            page.screenshot(path=str(SHOTS / "07-reports-tablet.png"), full_page=True)

            page.click("button:has-text('Log out')")
            page.wait_for_url("**/portal/login")
            page.goto(portal.url + "/reports")
            assert page.url.endswith("/portal/login")
        finally:
            browser.close()
    assert dialogs == []
    print(f"screenshots: {SHOTS}")
