"""Choosing the language from the header menu."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import log_in_as

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

LANGUAGES = [("nn", "Norsk nynorsk"), ("en", "English"), ("sv", "Svenska")]


def choose_language(page: Page, code: str) -> None:
    page.locator("details.lang-menu > summary").click()
    page.locator(f'details.lang-menu button[value="{code}"]').click()
    page.wait_for_load_state()


def test_language_menu_changes_the_page_language_and_remembers_it(page):
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "nb")
    for code, label in LANGUAGES:
        choose_language(page, code)
        expect(page).to_have_url(re.compile(r"/login$"))
        expect(page.locator("html")).to_have_attribute("lang", code)
        expect(page.locator("details.lang-menu > summary")).to_contain_text(label)
        page.reload()
        expect(page.locator("html")).to_have_attribute("lang", code)
    page.goto("/accessibility")
    expect(page.locator("html")).to_have_attribute("lang", "sv")


def test_signed_in_choice_is_kept_on_the_person(page, live_server):
    log_in_as(page, live_server.person("asnes", "leader").email)
    for code, _label in LANGUAGES:
        page.goto("/asnes/me")
        choose_language(page, code)
        expect(page).to_have_url(re.compile(r"/asnes/me$"))
        expect(page.locator("html")).to_have_attribute("lang", code)
        expect(page.locator("#me-lang")).to_have_value(code)
        page.reload()
        expect(page.locator("#me-lang")).to_have_value(code)

    # The me page's own setting, back to following the browser (bokmål here).
    page.locator("#me-lang").select_option("")
    page.locator('form[action="/asnes/me/language"] button[type="submit"]').click()
    expect(page.locator("#me-lang")).to_have_value("")
