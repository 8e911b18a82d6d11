"""The phone app in Chromium: installable, the offline page when there is no connection, static
files from the service worker's cache, and nothing cached left after logging out."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import format_violations, log_in_as, run_axe, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

ORG = "asnes"
CACHES = "caches.keys().then(async (keys) => Promise.all(keys.map(async (k) => "
CACHES += "[k, (await (await caches.open(k)).keys()).length])))"


def test_the_app_is_installable_works_offline_and_logout_clears_it(new_context, live_server):
    context = new_context(bypass_csp=True)
    page = context.new_page()
    log_in_as(page, live_server.person(ORG, "employee").email)
    page.goto(f"/{ORG}/me")
    assert page.evaluate("navigator.serviceWorker.ready.then((r) => !!r.active)")
    page.reload()  # now controlled by the worker, which caches the static files
    page.wait_for_function("navigator.serviceWorker.controller !== null")

    cdp = context.new_cdp_session(page)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # A Playwright context is an incognito profile, where Chromium installs nothing; every other
    # check (manifest, icons, service worker, start URL) must pass.
    assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == [], errors
    manifest = cdp.send("Page.getAppManifest")
    assert manifest.get("errors") == [], manifest.get("errors")

    cached = dict(page.evaluate(CACHES))
    assert cached.get("tod-static-1", 0) >= 2 and cached.get("tod-offline-1") == 1, cached

    context.set_offline(True)
    page.goto(f"/{ORG}/feed")
    expect(page.locator("#offline")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "nb"
    violations = run_axe(page)
    assert violations == [], format_violations({"offline": violations})
    screenshot(page, "offline-phone")
    context.set_offline(False)

    page.goto(f"/{ORG}/me")
    page.locator('form[action="/auth/logout"] button[type=submit]').first.click()
    page.wait_for_load_state()
    assert "/login" in page.url
    assert dict(page.evaluate(CACHES)).get("tod-static-1", 0) == 0
