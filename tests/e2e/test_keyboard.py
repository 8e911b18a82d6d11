"""Keyboard-only use: skip link, language menu, bottom navigation, visible focus."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import log_in_as

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

FOCUSED = "document.activeElement"


def focused(page: Page, js: str) -> object:
    """Evaluate `js` (an expression over `el`) on the focused element."""
    return page.evaluate(f"(() => {{ const el = {FOCUSED}; return {js}; }})()")


def tab_until(page: Page, js_condition: str, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused(page, js_condition):
            return
    raise AssertionError(f"Tab never reached an element where {js_condition}")


def test_skip_link_moves_focus_to_main(page):
    page.goto("/login")
    page.keyboard.press("Tab")
    assert focused(page, "el.classList.contains('skip-link')")
    box = page.locator(".skip-link").bounding_box()
    assert box is not None and box["y"] >= 0, "the focused skip link is off screen"
    expect(page.locator(".skip-link")).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert focused(page, "el.id") == "main"
    # The next Tab continues inside main, not back in the header.
    page.keyboard.press("Tab")
    assert focused(page, "!!el.closest('main')")


@pytest.mark.parametrize("code", ["nn", "en", "sv"])
def test_language_menu_by_keyboard(page, code):
    page.goto("/login")
    tab_until(page, "el.matches('details.lang-menu > summary')")
    page.keyboard.press("Enter")
    expect(page.locator("details.lang-menu")).to_have_attribute("open", "")
    tab_until(page, f"el.matches('details.lang-menu button[value=\"{code}\"]')", limit=6)
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("lang", code)
    expect(page).to_have_url(re.compile(r"/login$"))


def test_escape_closes_the_menu_and_returns_focus(page):
    page.goto("/login")
    tab_until(page, "el.matches('details.lang-menu > summary')")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert focused(page, "!!el.closest('.menu-panel')")
    page.keyboard.press("Escape")
    expect(page.locator("details.lang-menu")).not_to_have_attribute("open", "")
    assert focused(page, "el.matches('details.lang-menu > summary')")


def test_bottom_navigation_is_reachable_with_visible_focus(page, live_server):
    log_in_as(page, live_server.person("asnes", "admin").email)
    page.goto("/asnes/")
    links = page.eval_on_selector_all(
        "nav.bottom-nav a", "els => els.map(e => e.getAttribute('href'))"
    )
    assert len(links) >= 2
    seen = []
    for _ in range(80):
        page.keyboard.press("Tab")
        if focused(page, "!!el.closest('nav.bottom-nav')"):
            href = focused(page, "el.getAttribute('href')")
            style = focused(page, "getComputedStyle(el).outlineStyle")
            width = focused(page, "parseFloat(getComputedStyle(el).outlineWidth)")
            assert style != "none" and width >= 2, f"{href}: no visible focus ({style}, {width}px)"
            seen.append(href)
            if len(seen) == len(links):
                break
    assert seen == links
    # The last link is not hidden behind anything: it is the topmost element at its centre.
    last = page.locator(f'nav.bottom-nav a[href="{links[-1]}"]')
    box = last.bounding_box()
    assert box is not None
    hit = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y)?.closest('a')?.getAttribute('href')",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert hit == links[-1]
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(links[-1]) + "$"))
