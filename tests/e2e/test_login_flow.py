"""Logging in with the demo login and out again, with and without JavaScript."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, log_in_as, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]


def test_demo_login_lands_home_and_logout_returns_to_login(page, live_server):
    page.goto("/login")
    screenshot(page, "login-phone", readme=True)
    employee = live_server.person("asnes", "employee")

    log_in_as(page, employee.email)

    expect(page).to_have_url(re.compile(r"/asnes/$"))
    expect(page.locator("nav.bottom-nav")).to_be_visible()
    screenshot(page, "home-phone", readme=True)

    page.locator('nav.bottom-nav a[href="/asnes/me"]').click()
    expect(page).to_have_url(re.compile(r"/asnes/me$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(employee.name)
    expect(page.get_by_text(employee.first_name).first).to_be_visible()
    page.locator('form[action="/auth/logout"] button[type="submit"]').click()

    expect(page).to_have_url(re.compile(r"/login\?org=asnes&out=1$"))
    expect(page.locator(".flash")).to_be_visible()
    page.goto("/asnes/")
    expect(page).to_have_url(re.compile(r"/login\?next=/asnes/$"))


def test_admin_reaches_administration_from_the_me_page(new_context, live_server):
    page = new_context(viewport=DESKTOP).new_page()
    log_in_as(page, live_server.person("asnes", "admin").email)
    page.locator('nav.bottom-nav a[href="/asnes/me"]').click()
    page.locator('main a[href="/asnes/admin"]').click()
    expect(page).to_have_url(re.compile(r"/asnes/admin$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    screenshot(page, "admin-desktop", readme=True)


def test_employee_has_no_administration(page, live_server):
    log_in_as(page, live_server.person("asnes", "employee").email)
    page.goto("/asnes/me")
    expect(page.locator('a[href^="/asnes/admin"]')).to_have_count(0)
    response = page.goto("/asnes/admin")
    assert response is not None and response.status == 403


def test_swedish_organisation_home(new_context, live_server):
    page = new_context(locale="sv-SE").new_page()
    employee = live_server.person("avesta", "employee")
    log_in_as(page, employee.email)
    expect(page).to_have_url(re.compile(r"/avesta/$"))
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    screenshot(page, "avesta-home-phone", readme=True)


def test_works_without_javascript(new_context, live_server):
    page = new_context(java_script_enabled=False).new_page()
    employee = live_server.person("asnes", "employee")

    log_in_as(page, employee.email)
    expect(page).to_have_url(re.compile(r"/asnes/$"))
    expect(page.locator('nav.bottom-nav a[href="/asnes/me"]')).to_be_visible()

    # <details> opens without JavaScript; the language buttons are a plain form.
    page.locator("details.lang-menu > summary").click()
    page.locator('details.lang-menu button[value="en"]').click()
    expect(page).to_have_url(re.compile(r"/asnes/$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.goto("/asnes/me")
    expect(page.locator("#me-lang")).to_have_value("en")
    page.locator("#me-lang").select_option("")  # leave the shared demo person as it was
    page.locator('form[action="/asnes/me/language"] button[type="submit"]').click()
    expect(page.locator("#me-lang")).to_have_value("")
    page.locator('form[action="/auth/logout"] button[type="submit"]').click()
    expect(page).to_have_url(re.compile(r"/login\?org=asnes&out=1$"))
