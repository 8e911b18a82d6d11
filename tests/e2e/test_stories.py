"""Stafettpinnen in the browser, on a phone: a curator starts a relay, the first leader writes a
story and passes the baton, the next leader sees the notice on home and writes theirs; the
chain shows both; axe-core finds nothing on any of the pages at phone and desktop size.

Elements are found by id, name or href, never by their (translated) wording.
"""

from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, col, select

from app.orgs.models import Organisation, Person, Role
from tests.e2e.conftest import DESKTOP, PHONE, format_violations, log_in_as, run_axe, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

STORY = (
    "Da to av bilene sto i snøværet, la hjemmetjenesten om alle rutene på en formiddag. "
    "Ingen brukere ble glemt, og kollegene i Flisa stilte opp med egne biler."
)


def check(page: Page, name: str, found: dict[str, list[dict[str, Any]]]) -> None:
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        if violations := run_axe(page):
            found[f"{name} @{size['width']}"] = violations
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} scrolls sideways at 390 px ({width} px)"


def two_leaders(live_server) -> list[tuple[int, str]]:
    with Session(live_server.engine) as session:
        rows = session.exec(
            select(Person.id, Person.email)
            .join(Organisation, col(Organisation.id) == Person.org_id)
            .where(
                Organisation.slug == "asnes",
                Person.role == Role.leader,
                col(Person.active).is_(True),
                col(Person.locale).is_(None),
            )
            .order_by(col(Person.name))
        ).all()
    return [(pid, email) for pid, email in rows[:2] if pid is not None]


def write_story(page: Page, title: str) -> None:
    page.fill("#f-title", title)
    page.fill("#f-text", STORY)
    page.locator('input[name="values"]').first.check()
    page.locator('form[action$="/write"] button.primary').click()
    page.wait_for_load_state()
    expect(page.locator(".flash")).to_have_count(1)


def test_a_leader_passes_the_baton_and_the_next_one_writes(new_context, live_server):
    found: dict[str, list[dict[str, Any]]] = {}
    (first_id, first_email), (next_id, next_email) = two_leaders(live_server)

    curator = new_context(bypass_csp=True).new_page()
    log_in_as(curator, live_server.person("asnes", "curator").email)
    curator.goto("/asnes/stories")
    check(curator, "stories (curator)", found)
    curator.fill("#f-title", "Lederforum våren")
    curator.select_option("#f-to", str(first_id))
    curator.locator('form[action="/asnes/stories/relays"] button[type="submit"]').click()
    curator.wait_for_load_state()
    assert "/asnes/stories/relays/" in curator.url
    relay_url = curator.url.split("?")[0].removeprefix(live_server.url)
    check(curator, "relay (curator)", found)

    first = new_context(bypass_csp=True).new_page()
    log_in_as(first, first_email)
    first.goto("/asnes/")
    expect(first.locator(".baton-notice")).to_have_count(1)
    check(first, "home with the baton", found)
    first.locator(f'.baton-notice a[href="{relay_url}"]').click()
    first.wait_for_load_state()
    first.locator(f'a[href="{relay_url}/write"]').click()
    first.wait_for_load_state()
    check(first, "write", found)
    screenshot(first, "stories-write-phone")
    # An empty form is refused next to its fields, with nothing written.
    first.locator('form[action$="/write"] button.primary').click()
    first.wait_for_load_state()
    expect(first.locator(".error-summary")).to_have_count(1)
    check(first, "write with errors", found)
    write_story(first, "Snøværet i Flisa")
    first.select_option("#f-to", str(next_id))
    first.locator(f'form[action="{relay_url}/pass"] button[type="submit"]').click()
    first.wait_for_load_state()
    expect(first.locator(".flash")).to_have_count(1)
    expect(first.locator(".baton-notice")).to_have_count(0)

    second = new_context(bypass_csp=True).new_page()
    log_in_as(second, next_email)
    second.goto("/asnes/me")
    expect(second.locator(".baton-notice")).to_have_count(1)
    check(second, "me with the baton", found)
    second.goto(relay_url)
    second.locator(f'a[href="{relay_url}/write"]').click()
    second.wait_for_load_state()
    write_story(second, "Rektor på vakt")
    expect(second.locator(f'form[action="{relay_url}/pass"]')).to_have_count(1)

    # The chain: both leaders, in order, each with their story, readable on a phone.
    second.goto(relay_url)
    legs = second.locator(".relay-chain > li")
    expect(legs).to_have_count(2)
    expect(legs.nth(0).locator(".relay-leg-story a")).to_have_count(1)
    expect(legs.nth(1).locator(".relay-leg-story a")).to_have_count(1)
    check(second, "relay chain", found)
    screenshot(second, "stories-chain-phone", readme=True)
    legs.nth(0).locator(".relay-leg-story a").click()
    second.wait_for_load_state()
    expect(second.locator("article.story h1")).to_have_count(1)
    check(second, "story", found)

    assert not found, "axe-core violations:\n" + format_violations(found)
