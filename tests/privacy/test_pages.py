"""The privacy page, the admins' privacy settings and audit log, and the way to "Meg"'s export."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from app.kernel.audit import AuditEvent, audit
from app.orgs.models import Organisation, Role
from tests.helpers import World, login, make_org, make_person, post_form

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.time_machine(NOW, tick=False)


@pytest.fixture
def world(db):
    org = make_org(db, name="Vågå kommune", locale="nn", contest_photo_retention_days=180)
    admin = make_person(db, org, role=Role.admin, name="Astrid Admin")
    curator = make_person(db, org, role=Role.curator, name="Kurt Kurator")
    employee = make_person(db, org, name="Eli Ansatt", locale="nn")
    return World(org=org, admin=admin, curator=curator, employee=employee)


@pytest.mark.parametrize(
    "locale,words",
    [
        ("nb", ["Personvern i Tre om dagen", "180 dager"]),
        ("nn", ["Personvern i Tre om dagen", "180 dagar"]),
        ("sv", ["Integritet i Tre om dagen", "180 dagar"]),
        ("en", ["Privacy in Tre om dagen", "180 days"]),
    ],
)
def test_privacy_page_is_public_and_in_the_readers_language(client, world, locale, words):
    page = client.get(f"/{world.org.slug}/personvern", headers={"Accept-Language": locale})
    assert page.status_code == 200
    for word in words:
        assert word in page.text
    assert "Vågå kommune" in page.text


def test_privacy_page_follows_the_organisations_choices(client, db, world):
    world.org.erase_after_days = 90
    world.org.erase_given = "delete"
    db.add(world.org)
    db.flush()
    page = client.get(f"/{world.org.slug}/personvern", headers={"Accept-Language": "en"})
    assert "erased 90 days after" in page.text and "are deleted too" in page.text
    assert client.get("/nobody-here/personvern").status_code == 404


def test_me_links_the_export_and_the_privacy_page(client, db, world):
    login(client, db, world.employee)
    page = client.get(f"/{world.org.slug}/me")
    assert f'href="/{world.org.slug}/me/export"' in page.text
    assert f'href="/{world.org.slug}/personvern"' in page.text


def test_admin_sets_erasure_choices_with_clear_errors(client, db, world):
    login(client, db, world.admin)
    url = f"/{world.org.slug}/admin/privacy"
    assert client.get(url).status_code == 200
    for bad in [
        {"erase_given": "shred", "erase_after": ""},
        {"erase_given": "delete", "erase_after": "-3"},
        {"erase_given": "delete", "erase_after": "ti"},
        {"erase_given": "delete", "erase_after": "99999"},
    ]:
        response = post_form(client, url, bad)
        assert response.status_code == 422
        assert 'aria-invalid="true"' in response.text or 'class="error"' in response.text
        db.expire_all()
        assert db.get(Organisation, world.org.id).erase_given == "anonymise"
    done = post_form(client, url, {"erase_given": "delete", "erase_after": "60"})
    assert done.status_code == 303
    db.expire_all()
    org = db.get(Organisation, world.org.id)
    assert (org.erase_given, org.erase_after_days) == ("delete", 60)
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "privacy.settings")).one()
    assert event.actor_id == world.admin.id
    post_form(client, url, {"erase_given": "anonymise", "erase_after": ""})
    db.expire_all()
    assert db.get(Organisation, world.org.id).erase_after_days is None
    login(client, db, world.curator)
    assert client.get(url).status_code == 403


def _events(db, world):
    audit(db, world.org, world.admin, "person.add", "ny@vaga.example")
    audit(db, world.org, world.curator, "contest.create", "contest 1")
    audit(db, world.org, None, "contest.results", "contest 1")
    old = AuditEvent(
        org_id=world.org.id,
        actor_id=world.admin.id,
        action="value.add",
        target='=HYPERLINK("x")',
        created_at=NOW - timedelta(days=40),
    )
    db.add(old)
    other = make_org(db)
    audit(db, other, make_person(db, other), "person.add", "hemmelig@annen.example")
    db.flush()


def test_audit_log_filters_by_actor_action_and_period(client, db, world):
    _events(db, world)
    login(client, db, world.admin)
    base = f"/{world.org.slug}/admin/audit"
    everything = client.get(base, headers={"Accept-Language": "en"})
    assert "ny@vaga.example" in everything.text and "hemmelig" not in everything.text
    mine = client.get(f"{base}?actor={world.curator.id}")
    assert "contest 1" in mine.text and "ny@vaga.example" not in mine.text
    system = client.get(f"{base}?actor=0", headers={"Accept-Language": "en"})
    assert "Competition results announced" in system.text
    assert "<td>Competition created</td>" not in system.text
    kind = client.get(f"{base}?action=person.add")
    assert "ny@vaga.example" in kind.text and "contest 1" not in kind.text
    period = client.get(f"{base}?since=2026-10-01&until=2026-10-31")
    assert "HYPERLINK" in period.text and "ny@vaga.example" not in period.text
    bad = client.get(f"{base}?since=31.10.2026", headers={"Accept-Language": "en"})
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text
    backwards = client.get(f"{base}?since=2026-11-02&until=2026-11-01")
    assert backwards.status_code == 422
    login(client, db, world.curator)
    assert client.get(base).status_code == 403
    assert client.get(f"{base}.csv").status_code == 403


def test_audit_log_as_csv_for_excel(client, db, world):
    _events(db, world)
    login(client, db, world.admin)
    response = client.get(
        f"/{world.org.slug}/admin/audit.csv?since=2026-10-01", headers={"Accept-Language": "en"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0] == ["Time", "Who", "Action", "What", "Target"]
    body = rows[1:]
    assert len(body) == 4 and all("hemmelig" not in ";".join(r) for r in body)
    assert ["Astrid Admin", "person.add", "Person added", "ny@vaga.example"] in [
        r[1:] for r in body
    ]
    assert any(r[1] == "The system" and r[2] == "contest.results" for r in body)
    assert any(r[4] == '\'=HYPERLINK("x")' for r in body)  # never a formula
    assert client.get(f"/{world.org.slug}/admin/audit.csv?until=x").status_code == 422
