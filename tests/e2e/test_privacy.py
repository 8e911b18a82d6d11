"""Privacy in the browser: the privacy page, "Last ned mine data", and an admin erasing someone
after typing their name; axe-core on each state at phone and desktop width."""

import json
import zipfile

import pytest
from sqlmodel import Session, select

from app.orgs.models import Organisation, Person, Value
from app.recognition.giving import give_recognition
from tests.e2e.conftest import DESKTOP, PHONE, format_violations, log_in_as, run_axe, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]


def _axe(page, label: str, found: dict) -> None:
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        if violations := run_axe(page):
            found[f"{label} @{size['width']}"] = violations
    page.set_viewport_size(PHONE)


def _leaver(live_server) -> int:
    """Someone only this test knows: erasing a demo person would change other tests' world."""
    with Session(live_server.engine) as session:
        org = session.exec(select(Organisation).where(Organisation.slug == "asnes")).one()
        person = Person(org_id=org.id, email="e2e.slutta@asnes.example", name="Siri Slutta")
        session.add(person)
        session.flush()
        colleague = session.exec(
            select(Person).where(Person.email == live_server.person("asnes", "leader").email)
        ).one()
        value = session.exec(select(Value).where(Value.org_id == org.id)).first()
        give_recognition(
            session,
            giver=person,
            recipient_ids=[colleague.id],
            value_ids=[value.id],
            text="Takk for at du alltid stiller opp for oss",
            idempotency_key="e2e-privacy-leaver",
        )
        session.commit()
        return person.id  # type: ignore[return-value]


def test_privacy_pages_export_and_erasure(new_context, live_server):
    found: dict = {}
    anonymous = new_context(bypass_csp=True).new_page()
    anonymous.goto("/asnes/personvern")
    assert anonymous.locator("h1").inner_text() == "Personvern i Tre om dagen"
    _axe(anonymous, "privacy page", found)
    screenshot(anonymous, "privacy-page-phone")

    employee = new_context(bypass_csp=True, accept_downloads=True).new_page()
    log_in_as(employee, live_server.person("asnes", "employee").email)
    employee.goto("/asnes/me")
    _axe(employee, "me with the data section", found)
    with employee.expect_download() as info:
        employee.get_by_role("link", name="Last ned mine data").click()
    download = info.value
    assert download.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(download.path()) as zf:
        doc = json.loads(zf.read("data.json"))
    assert doc["profile"]["email"] == live_server.person("asnes", "employee").email

    person_id = _leaver(live_server)
    admin = new_context(bypass_csp=True).new_page()
    log_in_as(admin, live_server.person("asnes", "admin").email)
    admin.goto("/asnes/admin/privacy")
    _axe(admin, "privacy settings", found)
    admin.goto(f"/asnes/admin/people/{person_id}")
    admin.get_by_role("link", name="Slett Siri Slutta").click()
    admin.wait_for_load_state()
    _axe(admin, "erase confirmation", found)
    screenshot(admin, "erase-confirmation-phone")
    admin.locator("#f-confirm_name").fill("Siri")
    admin.get_by_role("button", name="Slett for godt").click()
    admin.wait_for_load_state()
    assert admin.locator("#f-confirm_name[aria-invalid=true]").count() == 1
    _axe(admin, "erase with a wrong name", found)
    admin.locator("#f-confirm_name").fill("Siri Slutta")
    admin.get_by_role("button", name="Slett for godt").click()
    admin.wait_for_load_state()
    assert admin.locator("h1").inner_text() == "Siri Slutta er slettet"
    assert admin.locator("table").count() == 1  # what was removed, counted
    _axe(admin, "erased summary", found)
    screenshot(admin, "erased-summary-phone")
    admin.goto("/asnes/admin/audit?action=person.erase")
    assert admin.locator("tbody tr").count() >= 1
    _axe(admin, "audit log filtered", found)
    admin.goto("/asnes/admin/audit?since=i+går")
    _axe(admin, "audit log with a bad date", found)
    screenshot(admin, "audit-filter-phone")
    with Session(live_server.engine) as session:
        assert session.get(Person, person_id) is None
    assert not found, format_violations(found)
