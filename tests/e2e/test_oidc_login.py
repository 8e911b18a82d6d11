"""Logging in with Microsoft on a phone: the login page, a real OpenID provider, back home.

The provider is oidc-provider-mock on loopback (the `oidc_provider` fixture), configured as
Entra sends its claims (`tid`, `oid`); the demo employee is matched by their provisioned id.
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from app.auth import oidc
from app.auth.models import OidcIdentity, OidcProvider
from app.config import get_settings
from app.orgs.models import Organisation, Person
from tests.e2e.conftest import DESKTOP, PHONE, format_violations, run_axe, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

TENANT = "11111111-2222-4333-8444-555555555555"
OID = "6f1b2c3d-0000-4000-8000-0000000000e2"


@pytest.fixture
def entra_asnes(live_server, oidc_provider, monkeypatch) -> Iterator[Person]:
    """Åsnes logs in with the provider; the demo employee carries Entra's object id."""
    from app.auth.oidc_config import configure_provider

    # The redirect URI is built from the base URL: the browser must come back to this server.
    monkeypatch.setenv("TOD_BASE_URL", live_server.url)
    get_settings.cache_clear()
    oidc.cache.clear()
    employee = live_server.person("asnes", "employee")
    with Session(live_server.engine) as session:
        org = session.exec(select(Organisation).where(Organisation.slug == "asnes")).one()
        person = session.exec(select(Person).where(Person.email == employee.email)).one()
        person.external_id = OID
        session.add(person)
        configure_provider(
            session,
            org,
            None,
            issuer=oidc_provider.url,
            client_id="tre-om-dagen",
            client_secret="e2e-secret",
            tenant_id=TENANT,
        )
        session.commit()
        session.refresh(person)
    oidc_provider.user("e2e-employee", tid=TENANT, oid=OID, email=employee.email)
    try:
        yield person
    finally:
        with Session(live_server.engine) as session:
            for row in session.exec(select(OidcIdentity)).all():
                session.delete(row)
            for row in session.exec(select(OidcProvider)).all():
                session.delete(row)
            p = session.get(Person, person.id)
            assert p is not None
            p.external_id = None
            session.add(p)
            session.commit()
        monkeypatch.undo()
        get_settings.cache_clear()
        oidc.cache.clear()


def _axe_clean(page: Page, where: str) -> None:
    violations = run_axe(page)
    assert not violations, format_violations({where: violations})


def test_an_employee_logs_in_with_microsoft_on_a_phone(new_context, entra_asnes):
    page = new_context(bypass_csp=True).new_page()
    page.goto("/asnes/give")
    expect(page).to_have_url(re.compile(r"/login\?next=/asnes/give$"))
    microsoft = page.get_by_role("link", name="Logg inn med Microsoft")
    expect(microsoft).to_be_visible()
    # Microsoft first, the e-mail link second.
    box = microsoft.bounding_box()
    email_box = page.get_by_label("E-post på jobben").bounding_box()
    assert box and email_box and box["y"] < email_box["y"]
    screenshot(page, "login-microsoft-phone", readme=True)
    _axe_clean(page, "login (phone)")
    page.set_viewport_size(DESKTOP)
    _axe_clean(page, "login (desktop)")
    page.set_viewport_size(PHONE)

    microsoft.click()
    # The provider's own login form (the mock's stands in for Microsoft's).
    page.locator('input[name="sub"]').fill("e2e-employee")
    page.get_by_role("button", name="Authorize").click()

    expect(page).to_have_url(re.compile(r"/asnes/give$"))
    expect(page.locator("nav.bottom-nav")).to_be_visible()
    screenshot(page, "after-microsoft-login-phone")

    # Log out: the app's session ends, and the provider's logout is offered.
    page.goto("/asnes/me")
    page.locator('form[action="/auth/logout"] button[type="submit"]').click()
    expect(page).to_have_url(re.compile(r"/login\?org=asnes&out=1$"))
    expect(page.get_by_role("link", name="Logg ut av Microsoft også")).to_be_visible()
    _axe_clean(page, "logged out (phone)")
    page.goto("/asnes/")
    expect(page).to_have_url(re.compile(r"/login\?next=/asnes/$"))


def test_an_unknown_account_gets_a_clear_page(new_context, entra_asnes, oidc_provider):
    oidc_provider.user("e2e-stranger", tid=TENANT, oid="00000000-0000-4000-8000-00000000dead")
    page = new_context(bypass_csp=True).new_page()
    page.goto("/login?org=asnes")
    page.get_by_role("link", name="Logg inn med Microsoft").click()
    page.locator('input[name="sub"]').fill("e2e-stranger")
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Du er ikke logget inn")
    expect(page.get_by_role("alert")).to_contain_text("ikke kjent i Åsnes kommune")
    screenshot(page, "oidc-unknown-phone")
    _axe_clean(page, "oidc refused (phone)")
    page.set_viewport_size(DESKTOP)
    _axe_clean(page, "oidc refused (desktop)")
