"""The main pages log no errors and break no Content-Security-Policy rule."""

import pytest
from playwright.sync_api import ConsoleMessage, expect

from tests.e2e.conftest import log_in_as

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]


def test_no_console_errors_or_csp_violations(page, live_server):
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"{page.url}: console {message.type}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: page error: {error}"))
    # A CSP violation is reported as a console error too; the event also catches report-only.
    page.add_init_script(
        """document.addEventListener('securitypolicyviolation', (e) =>
            console.error(`CSP: ${e.violatedDirective} blocked ${e.blockedURI}`));"""
    )

    page.goto("/login")
    page.goto("/accessibility")
    log_in_as(page, live_server.person("asnes", "admin").email)
    for path in ["/asnes/", "/asnes/me", "/asnes/admin", "/asnes/give"]:
        page.goto(path)
        page.locator("details.lang-menu > summary").click()
        page.keyboard.press("Escape")

    # htmx under the strict CSP: the colleague search on the give page swaps in results.
    with page.expect_response(lambda r: "/asnes/give/people" in r.url) as search:
        page.locator("#give-q").fill("an")
    assert search.value.ok
    expect(page.locator("#people-results input[name=recipients]").first).to_be_attached()
    page.locator("#f-text").fill("Hjalp meg med vaktlista i dag.")
    expect(page.locator("#text-counter")).to_contain_text("30")
    page.wait_for_load_state("networkidle")
    assert not problems, "\n".join(problems)
