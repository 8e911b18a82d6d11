"""The demo data: Åsnes kommune (ESS) and Avesta kommun (Swedish)."""

import random

import pytest
from sqlmodel import Session, col, select

from app.orgs.demo import DEMO_SEED, email_for, email_part, plan_demo, seed_demo
from app.orgs.models import Department, DepartmentLeader, Organisation, Person, Role, Value
from app.orgs.service import contrast_ratio, department_tree
from tests.helpers import post_form


def _org(db: Session, slug: str) -> Organisation:
    org = db.exec(select(Organisation).where(Organisation.slug == slug)).one()
    return org


def _people(db: Session, org: Organisation) -> list[Person]:
    return list(db.exec(select(Person).where(Person.org_id == org.id).order_by(col(Person.id))))


def _values(db: Session, org: Organisation) -> list[Value]:
    return list(db.exec(select(Value).where(Value.org_id == org.id).order_by(col(Value.position))))


@pytest.fixture
def seeded(db: Session) -> str:
    summary = seed_demo(db)
    db.flush()
    return summary


def test_both_organisations_with_their_values_and_languages(db, seeded):
    asnes, avesta = _org(db, "asnes"), _org(db, "avesta")
    assert (asnes.name, asnes.locale, asnes.timezone) == ("Åsnes kommune", "nb", "Europe/Oslo")
    assert asnes.daily_goal == 3
    assert asnes.display_feature_name == "Ukens ESS"
    assert (avesta.name, avesta.locale, avesta.timezone) == (
        "Avesta kommun",
        "sv",
        "Europe/Stockholm",
    )
    assert [v.name for v in _values(db, asnes)] == ["Engasjement", "Samarbeid", "Servicefokus"]
    assert [v.name for v in _values(db, avesta)] == ["Trygghet", "Delaktighet", "Nytänkande"]
    for org in (asnes, avesta):
        values = _values(db, org)
        assert all(v.description and v.active for v in values)
        assert len({v.colour for v in values}) == 3


def test_value_colours_are_readable_on_white(db, seeded):
    colours = [v.colour for v in db.exec(select(Value)).all()]
    assert len(colours) == 6
    for colour in colours:
        assert contrast_ratio(colour, "#ffffff") >= 4.5, colour


def test_asnes_has_many_people_with_norwegian_names(db, seeded):
    people = _people(db, _org(db, "asnes"))
    active = [p for p in people if p.active]
    assert len(people) >= 85
    assert len(active) >= 80
    names = " ".join(p.name for p in active)
    for letter in "æøå":
        assert letter in names.lower(), letter
    for name in ("Åse", "Øystein", "Bjørn", "Kjærstin", "Håkon"):
        assert any(p.name.startswith(name + " ") for p in active), name
    assert 3 <= sum(not p.active for p in people) <= 7
    assert 1 <= sum(p.locale == "nn" for p in people) <= 10
    assert all(p.department_id and p.title for p in people)


def test_avesta_has_swedish_people(db, seeded):
    people = _people(db, _org(db, "avesta"))
    assert sum(p.active for p in people) >= 25
    names = " ".join(p.name for p in people).lower()
    for letter in "åäö":
        assert letter in names, letter
    assert all(p.email.endswith("@avesta.se") for p in people)


def test_every_role_in_each_organisation(db, seeded):
    for slug in ("asnes", "avesta"):
        people = [p for p in _people(db, _org(db, slug)) if p.active]
        roles = [p.role for p in people]
        assert roles.count(Role.admin) == 1, slug
        assert roles.count(Role.curator) == 2, slug
        assert roles.count(Role.leader) >= 4, slug
        assert roles.count(Role.employee) > len(people) // 2, slug


def test_emails_are_unique_ascii_firstname_lastname(db, seeded):
    people = db.exec(select(Person)).all()
    emails = [p.email for p in people]
    assert len(emails) == len(set(emails))
    assert all(e.isascii() and e == e.lower() for e in emails)
    asnes = _org(db, "asnes")
    by_email = {p.email: p for p in people}
    braend = by_email["kjaerstin.braend@asnes.kommune.no"]
    assert (braend.name, braend.org_id, braend.role) == ("Kjærstin Brænd", asnes.id, Role.admin)
    assert by_email["oystein.lokken@asnes.kommune.no"].name == "Øystein Løkken"
    assert by_email["marta.oberg@avesta.se"].name == "Märta Öberg"
    for p in people:
        if p.org_id == asnes.id:
            assert p.email.endswith("@asnes.kommune.no")


def test_email_transliteration():
    assert email_part("Kjærstin") == "kjaerstin"
    assert email_part("Åsheim") == "asheim"
    assert email_part("Hans-Petter") == "hans-petter"
    assert email_part("Linnéa") == "linnea"
    assert email_for("Øystein", "Sæther", "asnes.kommune.no") == (
        "oystein.saether@asnes.kommune.no"
    )
    assert email_for("Göran", "Källström", "avesta.se") == "goran.kallstrom@avesta.se"


def test_department_tree_has_sectors_units_and_deeper(db, seeded):
    asnes = _org(db, "asnes")
    tree = department_tree(db, asnes)
    depth = {d.name: level for d, level in tree}
    assert max(depth.values()) >= 2
    for sector in ("Helse og omsorg", "Oppvekst og kultur", "NAV Åsnes"):
        assert depth[sector] == 0
    for unit in ("Hjemmetjenesten", "Flisa skole", "Vann og avløp", "Servicetorget"):
        assert depth[unit] == 1
    avesta_depths = [level for _d, level in department_tree(db, _org(db, "avesta"))]
    assert max(avesta_depths) >= 1


def test_leaders_lead_departments(db, seeded):
    for slug in ("asnes", "avesta"):
        org = _org(db, slug)
        leaders = [p for p in _people(db, org) if p.role == Role.leader]
        led: dict[int, set[str]] = {}
        rows = db.exec(
            select(DepartmentLeader, Department).where(
                DepartmentLeader.department_id == Department.id, Department.org_id == org.id
            )
        ).all()
        for row, dept in rows:
            led.setdefault(row.person_id, set()).add(dept.name)
        assert leaders
        for leader in leaders:
            assert led.get(leader.id), leader.name  # type: ignore[arg-type]
        assert set(led) == {p.id for p in leaders}
        top = db.exec(
            select(Department).where(
                Department.org_id == org.id, col(Department.parent_id).is_(None)
            )
        ).all()
        assert all(any(d.name in names for names in led.values()) for d in top), slug


def test_plan_is_deterministic():
    first = plan_demo(random.Random(DEMO_SEED))
    again = plan_demo()
    assert [[p.name for p in o.people] for o in first] == [
        [p.name for p in o.people] for o in again
    ]
    assert first == again
    other = plan_demo(random.Random(DEMO_SEED + 1))
    assert [p.name for p in other[0].people] != [p.name for p in first[0].people]


def test_seeding_follows_the_plan(db, seeded):
    plan = plan_demo()
    for org_plan in plan:
        people = _people(db, _org(db, org_plan.spec.slug))
        assert [p.name for p in people] == [p.name for p in org_plan.people]
    assert seeded.startswith("Seeded the demo.")
    assert "kjaerstin.braend@asnes.kommune.no" in seeded
    assert "marta.oberg@avesta.se" in seeded
    for role in ("admin", "curator", "leader", "employee"):
        assert seeded.count(f"{role} ") >= 2, role
    assert "\n" not in seeded


def test_seeding_twice_is_refused(db, seeded):
    with pytest.raises(ValueError, match="already exists"):
        seed_demo(db)
    assert len(db.exec(select(Organisation)).all()) == 2


def test_demo_login_lists_and_logs_in_demo_people(client, db):
    seed_demo(db)
    db.flush()
    page = client.get("/login")
    assert page.status_code == 200
    assert "Kjærstin Brænd" in page.text
    assert "Märta Öberg" in page.text
    response = post_form(client, "/auth/demo", {"email": "kjaerstin.braend@asnes.kommune.no"})
    assert response.status_code == 303
    assert response.headers["location"] == "/asnes/"


def test_demo_has_weeks_of_recognitions_in_bokmal_nynorsk_and_swedish(db):
    from datetime import UTC, datetime

    from sqlmodel import func, select

    from app.recognition.models import Notification, Reaction, Recognition

    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    summary = seed_demo(db, now=now)
    assert "recognitions over the last four weeks" in summary
    texts = db.exec(select(Recognition.text)).all()
    assert len(texts) > 150
    assert any("berga" in t or "skjøna" in t or "då det" in t for t in texts)  # nynorsk
    assert any("reddet" in t or "skjønte" in t for t in texts)  # bokmål
    assert any("Tack" in t for t in texts)  # Swedish, in Avesta
    stamps = db.exec(select(Recognition.created_at)).all()
    assert min(stamps).date() >= datetime(2026, 10, 23).date() and max(stamps) < now
    assert db.exec(select(func.count()).select_from(Reaction)).one() > 50
    assert db.exec(select(func.count()).select_from(Notification)).one() == 0  # history, not news
