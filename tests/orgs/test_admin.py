"""Organisation administration: access, settings, values, departments, people, tokens, audit."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.auth.models import ApiToken, LoginSession
from app.auth.service import create_api_token
from app.kernel.audit import AuditEvent
from app.orgs.models import (
    Department,
    DepartmentLeader,
    Organisation,
    Person,
    Role,
    Value,
)
from tests.helpers import login, make_department, make_org, make_person, make_value, post_form

PAGES = [
    "",
    "/settings",
    "/values",
    "/departments",
    "/people",
    "/people/new",
    "/people/import",
    "/tokens",
    "/audit",
]


def signed_in_admin(client: TestClient, db: Session) -> tuple[Organisation, Person]:
    org = make_org(db)
    admin = make_person(db, org, role="admin", name="Ada Admin")
    login(client, db, admin)
    return org, admin


def audit_actions(db: Session, org: Organisation) -> list[str]:
    return list(
        db.exec(
            select(AuditEvent.action)
            .where(AuditEvent.org_id == org.id)
            .order_by(col(AuditEvent.id))
        )
    )


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", ["employee", "leader", "curator"])
def test_admin_pages_are_refused_to_other_roles(client, db, role, page):
    org = make_org(db)
    login(client, db, make_person(db, org, role=role))
    response = client.get(f"/{org.slug}/admin{page}")
    assert response.status_code == 403
    assert "You do not have access to this page." in response.text


@pytest.mark.parametrize("page", PAGES)
def test_admin_pages_open_for_admins_with_one_heading(client, db, page):
    org, _admin = signed_in_admin(client, db)
    response = client.get(f"/{org.slug}/admin{page}")
    assert response.status_code == 200
    assert response.text.count("<h1") == 1


@pytest.mark.parametrize("role", ["employee", "leader", "curator"])
def test_non_admins_cannot_change_anything(client, db, role):
    org = make_org(db)
    login(client, db, make_person(db, org, role=role))
    response = post_form(client, f"/{org.slug}/admin/values", {"name": "Mot", "colour": "#1d4f73"})
    assert response.status_code == 403
    assert db.exec(select(Value).where(Value.org_id == org.id)).first() is None


def test_admin_of_another_org_gets_404(client, db):
    _org, _admin = signed_in_admin(client, db)
    other = make_org(db)
    assert client.get(f"/{other.slug}/admin").status_code == 404
    assert client.get(f"/{other.slug}/admin/people").status_code == 404


def test_anonymous_visitors_are_sent_to_login(client, db):
    org = make_org(db)
    response = client.get(f"/{org.slug}/admin/people", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_index_links_to_every_section(client, db):
    org, _admin = signed_in_admin(client, db)
    page = client.get(f"/{org.slug}/admin").text
    for section in PAGES[1:]:
        if section != "/people/new":
            assert f'href="/{org.slug}/admin{section}"' in page


def test_forms_without_csrf_token_are_refused(client, db):
    org, _admin = signed_in_admin(client, db)
    response = client.post(
        f"/{org.slug}/admin/values",
        data={"name": "X", "colour": "#1d4f73"},
        follow_redirects=False,
    )
    # Refused and kept to be sent again by a click (app/resend.py): nothing saved yet.
    assert response.status_code == 303
    assert response.headers["location"] == f"/{org.slug}/resend"
    assert db.exec(select(Value).where(Value.org_id == org.id)).first() is None


# --- settings -------------------------------------------------------------------------------


def settings_form(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Åsnes kommune",
        "locale": "nn",
        "timezone": "Europe/Oslo",
        "country": "NO",
        "daily_goal": "4",
        "feature_name": "",
        "theme_primary": "#123456",
        "theme_accent": "#8a3b12",
        "intranet_origins": "https://intranett.asnes.kommune.no\nhttps://sp.example.no:8443",
        "pick_weekday": "2",
        "pick_time": "10:30",
        "publish_weekday": "4",
        "publish_time": "08:15",
        "auto_publish": "on",
    }
    data.update(overrides)
    return data


TEXT_SETTINGS = {"name", "daily_goal", "theme_primary", "theme_accent", "timezone", "publish_time"}


def test_settings_page_shows_the_current_settings(client, db):
    org, _admin = signed_in_admin(client, db)
    make_value(db, org, name="Engasjement")
    make_value(db, org, name="Samarbeid")
    page = client.get(f"/{org.slug}/admin/settings").text
    assert f'value="{org.name}"' in page
    assert 'placeholder="Ukens ES"' in page  # the default feature name
    assert '<option value="3" selected>' in page  # pick weekday: Thursday


def test_settings_are_saved_with_a_message(client, db):
    org, _admin = signed_in_admin(client, db)
    response = post_form(client, f"/{org.slug}/admin/settings", settings_form())
    assert response.status_code == 303
    assert response.headers["location"] == f"/{org.slug}/admin/settings"
    db.refresh(org)
    assert org.name == "Åsnes kommune"
    assert org.locale == "nn"
    assert org.daily_goal == 4
    assert org.theme_primary == "#123456"
    assert org.intranet_origins == [
        "https://intranett.asnes.kommune.no",
        "https://sp.example.no:8443",
    ]
    assert (org.pick_weekday, org.pick_time) == (2, "10:30")
    assert (org.publish_weekday, org.publish_time, org.auto_publish) == (4, "08:15", True)
    assert "org.settings" in audit_actions(db, org)
    assert "The settings are saved." in client.get(response.headers["location"]).text


def test_the_country_decides_the_law_in_the_accessibility_statement(client, db):
    org, admin = signed_in_admin(client, db)
    en = {"Accept-Language": "en"}
    page = client.get("/accessibility", headers=en).text
    assert "uutilsynet.no" in page and "digg.se" not in page
    post_form(client, f"/{org.slug}/admin/settings", settings_form(country="SE", locale="sv"))
    db.refresh(org)
    assert org.country == "SE"
    admin.locale = "nb"  # a Norwegian-speaking employee of a Swedish municipality
    db.add(admin)
    db.flush()
    page = client.get("/accessibility").text
    assert "2018:1937" in page and "digg.se" in page
    assert "uutilsynet" not in page and "IKT-løsninger krever" not in page


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("name", "", "This field is required."),
        ("name", "x" * 121, "This is too long."),
        ("daily_goal", "many", "Choose a whole number from 1 to 20."),
        ("daily_goal", "99", "Choose a whole number from 1 to 20."),
        ("theme_primary", "blue", "Write the colour as # and six hex digits"),
        ("theme_accent", "#ffff00", "This colour is too light to read on white."),
        ("locale", "de", "Choose one of the languages offered."),
        ("timezone", "Mars/Olympus", "Choose a valid time zone."),
        ("country", "DK", "Choose one of the countries offered."),
        ("intranet_origins", "http://intranet.example.no/path", "Write each intranet address"),
        ("pick_weekday", "7", "Choose a day of the week."),
        ("publish_time", "25:00", "Write the time as HH:MM"),
    ],
)
def test_bad_settings_are_shown_next_to_the_field_and_nothing_changes(
    client, db, field, typed, message
):
    org, _admin = signed_in_admin(client, db)
    before = org.model_dump()
    response = post_form(client, f"/{org.slug}/admin/settings", settings_form(**{field: typed}))
    assert response.status_code == 422
    assert message in response.text
    assert f'id="f-{field}-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    if field in TEXT_SETTINGS and typed:
        assert f'value="{typed}"' in response.text  # what was typed is kept
    db.refresh(org)
    assert org.model_dump() == before
    assert "org.settings" not in audit_actions(db, org)


def test_a_file_in_a_text_field_is_a_clear_error(client, db):
    org, _admin = signed_in_admin(client, db)
    data = settings_form()
    del data["name"]
    response = post_form(
        client,
        f"/{org.slug}/admin/settings",
        data,
        files={"name": ("name.txt", b"Evil", "text/plain")},
    )
    assert response.status_code == 422
    assert "This field is required." in response.text


# --- values ---------------------------------------------------------------------------------


def test_values_are_listed_in_order_with_their_state(client, db):
    org, _admin = signed_in_admin(client, db)
    make_value(db, org, name="Servicefokus", position=2, description="Vi hjelper")
    make_value(db, org, name="Engasjement", position=0)
    make_value(db, org, name="Samarbeid", position=1, active=False)
    page = client.get(f"/{org.slug}/admin/values").text
    assert page.index("Engasjement") < page.index("Samarbeid") < page.index("Servicefokus")
    assert "Vi hjelper" in page
    assert "Inactive" in page


def test_add_a_value(client, db):
    org, _admin = signed_in_admin(client, db)
    response = post_form(
        client,
        f"/{org.slug}/admin/values",
        {"name": "Engasjement", "description": "Vi bryr oss", "colour": "#1D4F73"},
    )
    assert response.status_code == 303
    value = db.exec(select(Value).where(Value.org_id == org.id)).one()
    assert (value.name, value.description, value.colour) == (
        "Engasjement",
        "Vi bryr oss",
        "#1d4f73",
    )
    assert "value.add" in audit_actions(db, org)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "colour": "#1d4f73"}, "This field is required."),
        ({"name": "x" * 61, "colour": "#1d4f73"}, "This is too long."),
        ({"name": "Mot", "colour": "red"}, "Write the colour as # and six hex digits"),
        ({"name": "Mot", "colour": "#eeeeee"}, "This colour is too light to read on white."),
        ({"name": "Samarbeid", "colour": "#1d4f73"}, "A value with this name already exists."),
        ({"name": "Mot", "colour": "#1d4f73", "description": "d" * 201}, "This is too long."),
    ],
)
def test_bad_values_are_refused(client, db, data, message):
    org, _admin = signed_in_admin(client, db)
    make_value(db, org, name="Samarbeid")
    response = post_form(client, f"/{org.slug}/admin/values", data)
    assert response.status_code == 422
    assert message in response.text
    names = db.exec(select(Value.name).where(Value.org_id == org.id)).all()
    assert names == ["Samarbeid"]


def test_edit_a_value(client, db):
    org, _admin = signed_in_admin(client, db)
    value = make_value(db, org, name="Servce", colour="#1d4f73")
    url = f"/{org.slug}/admin/values/{value.id}"
    assert 'value="Servce"' in client.get(url).text
    response = post_form(client, url, {"name": "Service", "description": "Ny", "colour": "#2e6b30"})
    assert response.status_code == 303
    db.refresh(value)
    assert (value.name, value.description, value.colour, value.active) == (
        "Service",
        "Ny",
        "#2e6b30",
        False,  # the active box was not ticked
    )
    assert "value.update" in audit_actions(db, org)


def test_editing_a_value_with_errors_keeps_it(client, db):
    org, _admin = signed_in_admin(client, db)
    value = make_value(db, org, name="Mot", colour="#1d4f73")
    response = post_form(
        client,
        f"/{org.slug}/admin/values/{value.id}",
        {"name": "", "colour": "#1d4f73", "active": "on"},
    )
    assert response.status_code == 422
    db.refresh(value)
    assert value.name == "Mot"


def test_move_values_up_and_down(client, db):
    org, _admin = signed_in_admin(client, db)
    a, b, c = (make_value(db, org, name=n, position=i) for i, n in enumerate("ABC"))
    post_form(client, f"/{org.slug}/admin/values/{c.id}/move", {"direction": "up"})
    db.expire_all()
    order = db.exec(
        select(Value.name).where(Value.org_id == org.id).order_by(col(Value.position))
    ).all()
    assert order == ["A", "C", "B"]
    post_form(client, f"/{org.slug}/admin/values/{a.id}/move", {"direction": "down"})
    db.expire_all()
    order = db.exec(
        select(Value.name).where(Value.org_id == org.id).order_by(col(Value.position))
    ).all()
    assert order == ["C", "A", "B"]
    assert "value.move" in audit_actions(db, org)
    bad = post_form(client, f"/{org.slug}/admin/values/{b.id}/move", {"direction": "sideways"})
    assert bad.status_code == 422


def test_deactivate_a_value_instead_of_deleting_it(client, db):
    org, _admin = signed_in_admin(client, db)
    value = make_value(db, org, name="Mot", colour="#ffff00")  # older light colour still works
    response = post_form(client, f"/{org.slug}/admin/values/{value.id}/active", {})
    assert response.status_code == 303
    db.refresh(value)
    assert value.active is False
    assert "value.deactivate" in audit_actions(db, org)
    post_form(client, f"/{org.slug}/admin/values/{value.id}/active", {"active": "on"})
    db.refresh(value)
    assert value.active is True


def test_another_orgs_value_is_404_and_unchanged(client, db):
    org, _admin = signed_in_admin(client, db)
    foreign = make_value(db, make_org(db), name="Theirs", colour="#1d4f73")
    url = f"/{org.slug}/admin/values/{foreign.id}"
    assert client.get(url).status_code == 404
    assert post_form(client, url, {"name": "Mine", "colour": "#1d4f73"}).status_code == 404
    assert post_form(client, f"{url}/active", {}).status_code == 404
    assert post_form(client, f"{url}/move", {"direction": "up"}).status_code == 404
    db.refresh(foreign)
    assert (foreign.name, foreign.active) == ("Theirs", True)


@pytest.mark.parametrize("bad_id", ["abc", "0", "99999999999999"])
def test_odd_ids_in_the_path_are_a_clear_error(client, db, bad_id):
    org, _admin = signed_in_admin(client, db)
    response = client.get(f"/{org.slug}/admin/values/{bad_id}")
    assert response.status_code == 422
    assert "Some of the input was not valid." in response.text


# --- departments ----------------------------------------------------------------------------


def test_departments_are_shown_as_a_tree(client, db):
    org, _admin = signed_in_admin(client, db)
    helse = make_department(db, org, name="Helse")
    make_department(db, org, name="Hjemmetjenesten", parent_id=helse.id)
    make_department(db, org, name="Administrasjon")
    page = client.get(f"/{org.slug}/admin/departments").text
    assert page.index("Administrasjon") < page.index("Helse") < page.index("Hjemmetjenesten")
    assert 'class="depth-1"' in page


def test_add_a_department_with_a_parent(client, db):
    org, _admin = signed_in_admin(client, db)
    helse = make_department(db, org, name="Helse")
    response = post_form(
        client, f"/{org.slug}/admin/departments", {"name": "Sykehjem", "parent": str(helse.id)}
    )
    assert response.status_code == 303
    dept = db.exec(select(Department).where(Department.name == "Sykehjem")).one()
    assert dept.parent_id == helse.id
    assert dept.org_id == org.id
    assert "department.add" in audit_actions(db, org)


@pytest.mark.parametrize(
    ("name", "parent", "message"),
    [
        ("", "", "This field is required."),
        ("x" * 121, "", "This is too long."),
        ("Helse", "", "A department with this name already exists."),
        ("Ny", "abc", "Choose a department from the list."),
        ("Ny", "foreign", "Choose a department from the list."),
    ],
)
def test_bad_departments_are_refused(client, db, name, parent, message):
    org, _admin = signed_in_admin(client, db)
    make_department(db, org, name="Helse")
    foreign = make_department(db, make_org(db), name="Theirs")
    parent = str(foreign.id) if parent == "foreign" else parent
    response = post_form(client, f"/{org.slug}/admin/departments", {"name": name, "parent": parent})
    assert response.status_code == 422
    assert message in response.text
    names = db.exec(select(Department.name).where(Department.org_id == org.id)).all()
    assert names == ["Helse"]


def test_rename_and_move_a_department(client, db):
    org, _admin = signed_in_admin(client, db)
    helse = make_department(db, org, name="Helse")
    skole = make_department(db, org, name="Skul")
    response = post_form(
        client,
        f"/{org.slug}/admin/departments/{skole.id}",
        {"name": "Skole", "parent": str(helse.id)},
    )
    assert response.status_code == 303
    db.refresh(skole)
    assert (skole.name, skole.parent_id) == ("Skole", helse.id)
    assert "department.update" in audit_actions(db, org)


def test_a_department_cannot_move_below_itself(client, db):
    org, _admin = signed_in_admin(client, db)
    top = make_department(db, org, name="Helse")
    middle = make_department(db, org, name="Omsorg", parent_id=top.id)
    bottom = make_department(db, org, name="Sykehjem", parent_id=middle.id)
    url = f"/{org.slug}/admin/departments/{top.id}"
    page = client.get(url).text
    assert f'<option value="{bottom.id}"' not in page  # not even offered
    for parent in (top, bottom):
        response = post_form(client, url, {"name": "Helse", "parent": str(parent.id)})
        assert response.status_code == 422
        assert "cannot be placed under itself or one of its sub-departments" in response.text
    db.refresh(top)
    assert top.parent_id is None


def test_delete_an_empty_department(client, db):
    org, _admin = signed_in_admin(client, db)
    dept = make_department(db, org, name="Gammel")
    leader = make_person(db, org, role="leader")
    db.add(DepartmentLeader(department_id=dept.id, person_id=leader.id))
    db.flush()
    response = post_form(client, f"/{org.slug}/admin/departments/{dept.id}/delete")
    assert response.status_code == 303
    db.expire_all()
    assert db.get(Department, dept.id) is None
    assert db.exec(select(DepartmentLeader)).first() is None
    assert "department.delete" in audit_actions(db, org)


def test_a_department_in_use_is_not_deleted(client, db):
    org, _admin = signed_in_admin(client, db)
    with_people = make_department(db, org, name="Helse")
    make_person(db, org, department_id=with_people.id, active=False)
    with_child = make_department(db, org, name="Skole")
    make_department(db, org, name="Barneskole", parent_id=with_child.id)
    response = post_form(client, f"/{org.slug}/admin/departments/{with_people.id}/delete")
    assert response.status_code == 422
    assert "People belong to this department." in response.text
    response = post_form(client, f"/{org.slug}/admin/departments/{with_child.id}/delete")
    assert response.status_code == 422
    assert "This department has sub-departments." in response.text
    db.expire_all()
    assert db.get(Department, with_people.id) is not None
    assert db.get(Department, with_child.id) is not None


def test_another_orgs_department_is_404_and_unchanged(client, db):
    org, _admin = signed_in_admin(client, db)
    foreign = make_department(db, make_org(db), name="Theirs")
    url = f"/{org.slug}/admin/departments/{foreign.id}"
    assert client.get(url).status_code == 404
    assert post_form(client, url, {"name": "Mine", "parent": ""}).status_code == 404
    assert post_form(client, f"{url}/delete").status_code == 404
    db.expire_all()
    assert db.get(Department, foreign.id).name == "Theirs"


# --- people ---------------------------------------------------------------------------------


def test_people_are_paginated_50_a_page(client, db):
    org, _admin = signed_in_admin(client, db)
    for i in range(55):
        make_person(db, org, name=f"Person {i:02d}")
    first = client.get(f"/{org.slug}/admin/people").text
    assert first.count('<th scope="row">') == 50
    assert "56 people found" in first
    assert "Page 1 of 2" in first
    assert "page=2" in first
    second = client.get(f"/{org.slug}/admin/people?page=2").text
    assert second.count('<th scope="row">') == 6
    assert "Page 2 of 2" in second
    odd = client.get(f"/{org.slug}/admin/people?page=abc")
    assert odd.status_code == 200
    assert "Page 1 of 2" in odd.text


def test_people_search_and_filter(client, db):
    org, _admin = signed_in_admin(client, db)
    make_person(db, org, name="Kari Nordmann", email="kari@asnes.no", title="Sykepleier")
    make_person(db, org, name="Ola Hansen", email="ola@asnes.no", title="Rektor")
    make_person(db, org, name="Per Sluttet", email="per@asnes.no", active=False)
    make_person(make_org_db := db, make_org(make_org_db), name="Kari Annenorg")
    base = f"/{org.slug}/admin/people"
    by_name = client.get(base, params={"q": "kari"}).text
    assert "Kari Nordmann" in by_name
    assert "Ola Hansen" not in by_name
    assert "Kari Annenorg" not in by_name
    assert "Ola Hansen" in client.get(base, params={"q": "REKTOR"}).text
    assert "Kari Nordmann" in client.get(base, params={"q": "kari@asnes"}).text
    assert "Per Sluttet" not in client.get(base).text
    inactive = client.get(base, params={"status": "inactive"}).text
    assert "Per Sluttet" in inactive
    assert "Kari Nordmann" not in inactive
    assert "1 person found" in inactive
    assert "0 people found" in client.get(base, params={"q": "%"}).text  # no wildcard
    assert client.get(base, params={"q": "x" * 101}).status_code == 422


def person_form(**overrides: str | list[str]) -> dict[str, str | list[str]]:
    data: dict[str, str | list[str]] = {
        "name": "Kari Nordmann",
        "email": "Kari.Nordmann@Asnes.kommune.no",
        "title": "Sykepleier",
        "department": "",
        "role": "employee",
        "active": "on",
    }
    data.update(overrides)
    return data


def test_add_a_person(client, db):
    org, _admin = signed_in_admin(client, db)
    dept = make_department(db, org, name="Helse")
    response = post_form(client, f"/{org.slug}/admin/people", person_form(department=str(dept.id)))
    assert response.status_code == 303
    person = db.exec(select(Person).where(Person.name == "Kari Nordmann")).one()
    assert person.email == "kari.nordmann@asnes.kommune.no"
    assert (person.org_id, person.department_id, person.role) == (org.id, dept.id, Role.employee)
    assert "person.add" in audit_actions(db, org)


def test_the_same_email_may_exist_in_another_org(client, db):
    org, _admin = signed_in_admin(client, db)
    make_person(db, make_org(db), email="kari.nordmann@asnes.kommune.no")
    response = post_form(client, f"/{org.slug}/admin/people", person_form())
    assert response.status_code == 303


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "x" * 121}, "name", "This is too long."),
        ({"email": ""}, "email", "This field is required."),
        ({"email": "not-an-address"}, "email", "Write a valid e-mail address."),
        ({"email": "KARI@asnes.no"}, "email", "already has this e-mail address"),
        ({"title": "t" * 121}, "title", "This is too long."),
        ({"role": "boss"}, "role", "Role must be employee, leader, curator or admin."),
        ({"department": "abc"}, "department", "Choose a department from the list."),
        ({"department": "foreign"}, "department", "Choose a department from the list."),
        ({"leads": ["own"]}, "leads", "Only leaders and admins lead departments."),
    ],
)
def test_bad_people_are_refused(client, db, overrides, field, message):
    org, _admin = signed_in_admin(client, db)
    make_person(db, org, email="kari@asnes.no", name="Kari First")
    own = make_department(db, org, name="Helse")
    foreign = make_department(db, make_org(db), name="Theirs")
    ids = {"foreign": str(foreign.id), "own": str(own.id)}
    overrides = {
        key: [ids[v] for v in value] if isinstance(value, list) else ids.get(value, value)
        for key, value in overrides.items()
    }
    count = len(db.exec(select(Person).where(Person.org_id == org.id)).all())
    response = post_form(
        client, f"/{org.slug}/admin/people", person_form(email="new@asnes.no") | overrides
    )
    assert response.status_code == 422
    assert message in response.text
    assert f'id="f-{field}-error"' in response.text
    assert len(db.exec(select(Person).where(Person.org_id == org.id)).all()) == count


def test_edit_a_person_and_the_departments_they_lead(client, db):
    org, _admin = signed_in_admin(client, db)
    helse, skole, kultur = (make_department(db, org, name=n) for n in ("Helse", "Skole", "Kultur"))
    person = make_person(db, org, name="Ola", email="ola@asnes.no")
    db.add(DepartmentLeader(department_id=kultur.id, person_id=person.id))
    db.flush()
    url = f"/{org.slug}/admin/people/{person.id}"
    assert 'value="ola@asnes.no"' in client.get(url).text
    response = post_form(
        client,
        url,
        person_form(
            name="Ola Hansen",
            email="ola.hansen@asnes.no",
            title="Enhetsleder",
            department=str(helse.id),
            role="leader",
            leads=[str(helse.id), str(skole.id)],
        ),
    )
    assert response.status_code == 303
    db.expire_all()
    person = db.get(Person, person.id)
    assert (person.name, person.email, person.title) == (
        "Ola Hansen",
        "ola.hansen@asnes.no",
        "Enhetsleder",
    )
    assert (person.department_id, person.role) == (helse.id, Role.leader)
    led = db.exec(
        select(DepartmentLeader.department_id).where(DepartmentLeader.person_id == person.id)
    ).all()
    assert sorted(led) == sorted([helse.id, skole.id])
    assert "person.update" in audit_actions(db, org)


def test_deactivating_a_person_ends_their_sessions_at_once(app, client, db):
    org, _admin = signed_in_admin(client, db)
    person = make_person(db, org, email="kari@asnes.no")
    _token, raw = create_api_token(db, person, "integration")
    with TestClient(app, base_url="http://testserver") as theirs:
        login(theirs, db, person)
        assert theirs.get(f"/{org.slug}/", follow_redirects=False).status_code == 200
        response = post_form(
            client,
            f"/{org.slug}/admin/people/{person.id}",
            person_form(email=person.email, active=""),
        )
        assert response.status_code == 303
        after = theirs.get(f"/{org.slug}/", follow_redirects=False)
        assert after.status_code == 303
        assert after.headers["location"].startswith("/login")
    db.expire_all()
    assert db.get(Person, person.id).active is False
    sessions = db.exec(select(LoginSession).where(LoginSession.person_id == person.id)).all()
    assert sessions and all(s.revoked_at is not None for s in sessions)
    token = db.exec(select(ApiToken).where(ApiToken.person_id == person.id)).one()
    assert token.revoked_at is None  # nothing else is revoked
    assert "person.deactivate" in audit_actions(db, org)
    # Back again: the token works again without a new one.
    post_form(client, f"/{org.slug}/admin/people/{person.id}", person_form(email=person.email))
    api = client.get(f"/api/v1/orgs/{org.slug}/me", headers={"Authorization": f"Bearer {raw}"})
    assert api.status_code == 200


@pytest.mark.parametrize(
    ("change", "field"), [({"role": "curator"}, "role"), ({"active": ""}, "active")]
)
def test_the_last_active_admin_cannot_demote_or_deactivate_themselves(client, db, change, field):
    org, admin = signed_in_admin(client, db)
    make_person(db, org, role="admin", active=False)  # an inactive admin does not count
    response = post_form(
        client,
        f"/{org.slug}/admin/people/{admin.id}",
        person_form(email=admin.email, name=admin.name, role="admin") | change,
    )
    assert response.status_code == 422
    assert "There must be at least one active admin." in response.text
    assert f'id="f-{field}-error"' in response.text
    db.expire_all()
    admin = db.get(Person, admin.id)
    assert (admin.role, admin.active) == (Role.admin, True)


def test_an_admin_may_step_down_when_another_admin_remains(client, db):
    org, admin = signed_in_admin(client, db)
    make_person(db, org, role="admin")
    response = post_form(
        client,
        f"/{org.slug}/admin/people/{admin.id}",
        person_form(email=admin.email, name=admin.name, role="employee"),
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/{org.slug}/"
    db.expire_all()
    assert db.get(Person, admin.id).role == Role.employee
    assert client.get(f"/{org.slug}/admin").status_code == 403


def test_another_orgs_person_is_404_and_unchanged(client, db):
    org, _admin = signed_in_admin(client, db)
    foreign = make_person(db, make_org(db), name="Theirs", email="theirs@example.no")
    url = f"/{org.slug}/admin/people/{foreign.id}"
    assert client.get(url).status_code == 404
    response = post_form(client, url, person_form(email="theirs@example.no", active=""))
    assert response.status_code == 404
    db.expire_all()
    foreign = db.get(Person, foreign.id)
    assert (foreign.name, foreign.active) == ("Theirs", True)


# --- API tokens -----------------------------------------------------------------------------


def test_create_a_token_use_it_and_revoke_it(client, db):
    org, _admin = signed_in_admin(client, db)
    robot = make_person(db, org, name="Intranett", email="intranett@asnes.no")
    response = post_form(
        client, f"/{org.slug}/admin/tokens", {"person": str(robot.id), "name": "Nyheter"}
    )
    assert response.status_code == 200
    assert "It will not be shown again." in response.text
    assert response.headers["cache-control"] == "no-store"
    token = db.exec(select(ApiToken).where(ApiToken.person_id == robot.id)).one()
    raw = response.text.split('id="raw-token" type="text" value="')[1].split('"')[0]
    assert raw.startswith(token.prefix)
    assert "token.create" in audit_actions(db, org)

    anonymous = TestClient(client.app, base_url="http://testserver")
    api = anonymous.get(f"/api/v1/orgs/{org.slug}/me", headers={"Authorization": f"Bearer {raw}"})
    assert api.status_code == 200
    assert api.json()["email"] == "intranett@asnes.no"

    listing = client.get(f"/{org.slug}/admin/tokens").text
    assert "Nyheter" in listing
    assert raw not in listing

    response = post_form(client, f"/{org.slug}/admin/tokens/{token.id}/revoke")
    assert response.status_code == 303
    api = anonymous.get(f"/api/v1/orgs/{org.slug}/me", headers={"Authorization": f"Bearer {raw}"})
    assert api.status_code == 401
    assert "token.revoke" in audit_actions(db, org)


@pytest.mark.parametrize(
    ("who", "name", "field"),
    [
        ("inactive", "Nyheter", "person"),
        ("foreign", "Nyheter", "person"),
        ("nobody", "Nyheter", "person"),
        ("active", "", "name"),
        ("active", "n" * 81, "name"),
    ],
)
def test_bad_token_requests_create_nothing(client, db, who, name, field):
    org, _admin = signed_in_admin(client, db)
    people = {
        "active": make_person(db, org),
        "inactive": make_person(db, org, active=False),
        "foreign": make_person(db, make_org(db)),
    }
    person_id = str(people[who].id) if who in people else "abc"
    response = post_form(client, f"/{org.slug}/admin/tokens", {"person": person_id, "name": name})
    assert response.status_code == 422
    assert f'id="f-{field}-error"' in response.text
    assert db.exec(select(ApiToken)).first() is None


def test_another_orgs_token_cannot_be_revoked(client, db):
    org, _admin = signed_in_admin(client, db)
    token, _raw = create_api_token(db, make_person(db, make_org(db)), "theirs")
    db.flush()
    response = post_form(client, f"/{org.slug}/admin/tokens/{token.id}/revoke")
    assert response.status_code == 404
    db.refresh(token)
    assert token.revoked_at is None
    assert "theirs" not in client.get(f"/{org.slug}/admin/tokens").text


# --- audit log ------------------------------------------------------------------------------


def test_audit_log_newest_first_in_the_orgs_time_zone(client, db):
    org, admin = signed_in_admin(client, db)
    other = make_org(db)
    for day, action, target in ((10, "value.add", "Eldst"), (12, "person.add", "Nyest")):
        db.add(
            AuditEvent(
                org_id=org.id,
                actor_id=admin.id,
                action=action,
                target=target,
                created_at=datetime(2026, 1, day, 12, 0, tzinfo=UTC),
            )
        )
    db.add(AuditEvent(org_id=other.id, action="value.add", target="Hemmelig"))
    db.flush()
    page = client.get(f"/{org.slug}/admin/audit").text
    assert page.index("Nyest") < page.index("Eldst")
    assert "Person added" in page
    assert "Ada Admin" in page
    assert "13:00" in page  # 12:00 UTC is 13:00 in Oslo in January
    assert "Hemmelig" not in page


def test_audit_log_is_paginated(client, db):
    org, _admin = signed_in_admin(client, db)
    for i in range(51):
        db.add(AuditEvent(org_id=org.id, action="value.add", target=f"target-{i}"))
    db.flush()
    first = client.get(f"/{org.slug}/admin/audit").text
    assert first.count('<th scope="row">') == 50
    assert "Page 1 of 2" in first
    second = client.get(f"/{org.slug}/admin/audit?page=2").text
    assert second.count('<th scope="row">') == 1


def test_admin_changes_are_in_the_audit_log(client, db):
    org, _admin = signed_in_admin(client, db)
    post_form(client, f"/{org.slug}/admin/values", {"name": "Mot", "colour": "#1d4f73"})
    post_form(client, f"/{org.slug}/admin/departments", {"name": "Helse", "parent": ""})
    page = client.get(f"/{org.slug}/admin/audit").text
    assert page.index("Department added") < page.index("Value added")
    assert "Helse" in page


@pytest.fixture(autouse=True)
def _english(client):
    """These tests read English messages; the organisations default to bokmål."""
    client.headers["Accept-Language"] = "en"
