"""The one people search: the type-ahead, the admin people list and the JSON API agree."""

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.auth.service import create_api_token
from app.orgs import people
from app.orgs.models import Organisation
from tests.helpers import World, login, make_department, make_org, make_person

# Everyone the searches below could find; none of them is a part of another's name.
NAMES = [
    "Marianne Ødegård",
    "Odd Ødegård",  # inactive
    "Åse Lie",
    "Per Prosent",
    "Pål Femti",
    "Ola Understrek",
    "Ole Ikkestrek",
    "Siv Tall",
    "Fremmed Ødegård",  # another organisation
    "Ada Admin",  # the one searching
]


@pytest.fixture
def world(db: Session) -> World:
    org = make_org(db)
    admin = make_person(db, org, role="admin", name="Ada Admin", email="ada@asnes.no")
    economy = make_department(db, org, name="Økonomi")
    make_person(db, org, name="Marianne Ødegård", email="marianne@asnes.no", title="NAV-leder")
    make_person(db, org, name="Odd Ødegård", email="odd@asnes.no", active=False)
    make_person(db, org, name="Åse Lie", email="ase.lie@asnes.no")
    make_person(db, org, name="Per Prosent", email="per@asnes.no", title="Rådgiver 50%")
    make_person(db, org, name="Pål Femti", email="pal@asnes.no", title="Rådgiver 500")
    make_person(db, org, name="Ola Understrek", email="a_b@asnes.no")
    make_person(db, org, name="Ole Ikkestrek", email="axb@asnes.no")
    make_person(db, org, name="Siv Tall", email="siv@asnes.no", department_id=economy.id)
    make_person(db, make_org(db), name="Fremmed Ødegård", email="fremmed@asnes.no")
    _token, raw = create_api_token(db, admin, "test")
    db.flush()
    return World(org=org, admin=admin, token=raw)


def names_in(text: str) -> set[str]:
    return {name for name in NAMES if name in text}


def surfaces(client: TestClient, org: Organisation, raw: str, q: str) -> dict[str, set[str]]:
    type_ahead = client.get(
        f"/{org.slug}/give/people", params={"q": q}, headers={"HX-Request": "true"}
    )
    admin = client.get(f"/{org.slug}/admin/people", params={"q": q})
    api = client.get(
        f"/api/v1/orgs/{org.slug}/people",
        params={"q": q},
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert type_ahead.status_code == admin.status_code == api.status_code == 200
    return {
        "type-ahead": names_in(type_ahead.text),
        "admin": set(re.findall(r'<th scope="row"><a [^>]*>([^<]*)</a>', admin.text)),
        "api": {p["name"] for p in api.json()},
    }


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("ODEGARD", {"Marianne Ødegård"}),
        ("ødegård", {"Marianne Ødegård"}),
        ("oedegaard", {"Marianne Ødegård"}),
        ("Aase", {"Åse Lie"}),
        ("ÅSE", {"Åse Lie"}),
        ("50%", {"Per Prosent"}),
        ("a_b", {"Ola Understrek"}),
        ("%", {"Per Prosent"}),  # a plain character, no wildcard
        ("_", {"Ola Understrek"}),
        ("okonomi", {"Siv Tall"}),  # the department, folded on every database
        ("marianne nav", {"Marianne Ødegård"}),  # every word must match
        ("marianne rektor", set()),
    ],
)
def test_the_same_query_finds_the_same_people_everywhere(client, db, world, q, expected):
    org, admin, raw = world.org, world.admin, world.token
    login(client, db, admin)
    found = surfaces(client, org, raw, q)
    assert found == {"type-ahead": expected, "admin": expected, "api": expected}


def test_an_empty_query(client, db, world):
    org, admin, raw = world.org, world.admin, world.token
    login(client, db, admin)
    found = surfaces(client, org, raw, "")
    everyone = {n for n in NAMES if n not in ("Odd Ødegård", "Fremmed Ødegård")}
    assert found["api"] == found["admin"] == everyone
    assert found["type-ahead"] == set()  # nobody given to yet: no suggestions


def test_word_starts_come_before_the_rest(db, world):
    org = world.org
    make_person(db, org, name="Johan Dahl", email="jd@asnes.no")
    make_person(db, org, name="Anne Berg", email="ab@asnes.no")
    found = [p.name for p in people.search(db, org.id, "an")]
    assert found.index("Anne Berg") < found.index("Johan Dahl")
    assert [p.name for p in people.search(db, org.id, "an", limit=1)] == ["Anne Berg"]


def test_status_and_organisation(db, world):
    org = world.org
    assert [p.name for p in people.search(db, org.id, "odegard", status="inactive")] == [
        "Odd Ødegård"
    ]
    assert {p.name for p in people.search(db, org.id, "odegard", status="all")} == {
        "Marianne Ødegård",
        "Odd Ødegård",
    }
