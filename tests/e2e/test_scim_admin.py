"""The provisioning page in the browser: axe-clean on a phone and a desktop, and a token made
through the form is shown once."""

import pytest
from sqlmodel import Session, select

from app.orgs.models import Organisation
from app.scim.models import ScimGroup
from tests.e2e.conftest import DESKTOP, PHONE, format_violations, log_in_as, run_axe, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]


def test_the_provisioning_page_is_accessible_and_makes_a_token(live_server, new_context):
    with Session(live_server.engine) as session:
        org = session.exec(select(Organisation).where(Organisation.slug == "asnes")).one()
        if session.exec(select(ScimGroup).where(ScimGroup.org_id == org.id)).first() is None:
            session.add(ScimGroup(org_id=org.id, display_name="Kommunikasjonsavdelingen"))
            session.commit()
    admin = live_server.person("asnes", "admin")
    violations = {}
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = new_context(bypass_csp=True, viewport=viewport).new_page()
        log_in_as(page, admin.email)
        page.goto("/asnes/admin/scim")
        assert page.get_by_role("heading", level=1).inner_text() == "Provisjonering (SCIM)"
        assert page.locator("#tenant-url").input_value().endswith("/scim/v2/asnes")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{name}: scrolls sideways ({width} px)"
        if found := run_axe(page):
            violations[f"{name} /asnes/admin/scim"] = found
        if name == "phone":
            screenshot(page, "scim-admin-phone")
            page.get_by_label("Hva skal den brukes til?").fill("Entra ID")
            page.get_by_role("button", name="Opprett nøkkel").click()
            page.wait_for_load_state()
            raw = page.locator("#raw-token").input_value()
            assert raw.startswith("scim_")
            if found := run_axe(page):
                violations["phone token created"] = found
            screenshot(page, "scim-token-created-phone")
            page.goto("/asnes/admin/scim")
            assert raw not in page.content()
            assert (
                page.get_by_role("cell", name="Entra ID").count()
                or page.get_by_role("rowheader", name="Entra ID").count()
            )
    assert not violations, format_violations(violations)
