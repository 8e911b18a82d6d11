"""SCIM as Microsoft Entra ID speaks it: Microsoft's documented requests, both PATCH shapes,
deactivation, departments and managers, groups mapped to roles, and bad input."""

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, func, select

from app.auth.models import LoginSession
from app.kernel.audit import AuditEvent
from app.orgs.models import Department, DepartmentLeader, Person, Role
from app.recognition.models import Recognition
from app.scim import groups as scim_groups
from app.scim.models import ScimGroup, ScimGroupMember, ScimUser
from app.scim.tokens import create_token, revoke_token
from tests.helpers import give, login, make_org, make_person, make_value

ENTRA = Path(__file__).parent / "entra"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class Scim:
    """A SCIM client for one organisation's endpoint, with its bearer token."""

    def __init__(self, client: Any, slug: str, token: str) -> None:
        self.client, self.base, self.token = client, f"/scim/v2/{slug}", token

    def __call__(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if body is not None:
            headers["Content-Type"] = "application/scim+json"
            kw["content"] = body if isinstance(body, bytes | str) else json.dumps(body)
        return self.client.request(method, self.base + path, headers=headers, **kw)

    def user(self, user_name: str, email: str | None = None, **extra: Any) -> dict[str, Any]:
        body = {
            "schemas": [USER, ENTERPRISE],
            "userName": user_name,
            "active": True,
            "emails": [{"primary": True, "type": "work", "value": email or user_name}],
            "displayName": extra.pop("displayName", user_name.split("@")[0].title()),
            **extra,
        }
        response = self("POST", "/Users", body)
        assert response.status_code == 201, response.text
        return response.json()

    def patch(self, path: str, *operations: dict[str, Any]) -> Any:
        return self("PATCH", path, {"schemas": [PATCH], "Operations": list(operations)})


@pytest.fixture
def world(db, client):
    org = make_org(db, slug="entraby")
    other = make_org(db, slug="andreby")
    _, raw = create_token(db, org, "Entra ID")
    _, other_raw = create_token(db, other, "Entra ID")
    db.flush()

    class World:
        pass

    w = World()
    w.org, w.other, w.raw, w.other_raw = org, other, raw, other_raw
    w.scim = Scim(client, org.slug, raw)
    w.other_scim = Scim(client, other.slug, other_raw)
    return w


def _substitute(value: Any, saved: dict[str, str]) -> Any:
    text = json.dumps(value)
    for key, replacement in saved.items():
        text = text.replace("{" + key + "}", replacement)
    return json.loads(text)


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _contains(actual[k], v) for k, v in expected.items()
        )
    return actual == expected


def test_microsofts_documented_requests_in_order(world, db):
    """Every request of Microsoft's "Develop a SCIM endpoint" tutorial, as it documents it."""
    saved: dict[str, str] = {}
    for step_file in sorted(ENTRA.glob("*.json")):
        step = json.loads(step_file.read_text(encoding="utf-8"))
        path = _substitute(step["path"], saved)
        body = _substitute(step.get("body"), saved) if "body" in step else None
        response = world.scim(step["method"], path, body)
        assert response.status_code == step["status"], f"{step_file.name}: {response.text}"
        if response.status_code == 204:
            assert response.content == b""
            continue
        assert response.headers["content-type"].startswith("application/scim+json")
        data = response.json()
        expected = _substitute(step.get("expect", {}), saved)
        assert _contains(data, expected), f"{step_file.name}: {data}"
        if key := step.get("save"):
            saved[key] = data["id"]
            assert response.headers["location"].endswith(f"/{data['id']}")
    # The person came, changed and went: nothing of them is left.
    assert db.exec(select(func.count()).select_from(ScimUser)).one() == 0
    assert db.exec(select(Person).where(Person.org_id == world.org.id)).first() is None
    actions = [e.action for e in db.exec(select(AuditEvent).order_by(col(AuditEvent.id)))]
    for action in ["scim.user.create", "scim.user.update", "scim.user.deactivate"]:
        assert action in actions
    assert "scim.group.create" in actions and "scim.group.delete" in actions
    assert actions[-1] == "scim.user.delete"


def test_the_connection_test_finds_nobody_for_a_random_id(world):
    for path in (
        f'/Users?filter=userName eq "{uuid.uuid4()}"',
        f'/Users?filter=id eq "{uuid.uuid4()}"',
        f'/Groups?filter=displayName eq "{uuid.uuid4()}"&excludedAttributes=members',
    ):
        response = world.scim("GET", path)
        assert response.status_code == 200, response.text
        assert response.json()["totalResults"] == 0 and response.json()["Resources"] == []


def test_a_user_is_found_by_username_externalid_and_email(world):
    created = world.scim.user("Kari.Nordmann@entraby.no", externalId="hr-1001")
    world.scim.user("ola@entraby.no", externalId="hr-1002")
    for expression in (
        'userName eq "kari.nordmann@ENTRABY.no"',  # userName is case-insensitive
        'externalId eq "hr-1001"',
        'externalId eq "hr-1001" and userName eq "Kari.Nordmann@entraby.no"',
        'emails[type eq "work"].value eq "Kari.Nordmann@entraby.no"',
        'displayName eq "Kari.Nordmann"',
    ):
        found = world.scim("GET", "/Users", params={"filter": expression}).json()
        assert [u["id"] for u in found["Resources"]] == [created["id"]], expression
    nobody = world.scim("GET", "/Users", params={"filter": 'externalId eq "HR-1001"'}).json()
    assert nobody["totalResults"] == 0  # externalId is case-exact


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "Replace", "path": "active", "value": "False"},  # the older Entra shape
        {"op": "replace", "path": "active", "value": False},  # the newer one
        {"op": "replace", "value": {"active": False}},  # no path: an object of attributes
    ],
    ids=["Replace-string", "replace-boolean", "replace-object"],
)
def test_deactivation_ends_the_sessions_and_keeps_the_person_readable(world, db, client, operation):
    created = world.scim.user("turid@entraby.no")
    person = db.exec(select(Person).where(Person.email == "turid@entraby.no")).one()
    login(client, db, person)
    assert client.get("/entraby/", follow_redirects=False).status_code == 200
    response = world.scim.patch(f"/Users/{created['id']}", operation)
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    db.expire_all()
    assert person.active is False
    sessions = db.exec(select(LoginSession).where(LoginSession.person_id == person.id)).all()
    assert sessions and all(s.revoked_at is not None for s in sessions)
    assert client.get("/entraby/", follow_redirects=False).status_code == 303
    again = world.scim("GET", f"/Users/{created['id']}")
    assert again.status_code == 200 and again.json()["active"] is False
    listed = world.scim("GET", "/Users", params={"filter": 'userName eq "turid@entraby.no"'})
    assert listed.json()["totalResults"] == 1
    reactivated = world.scim.patch(
        f"/Users/{created['id']}", {"op": "Replace", "path": "active", "value": "True"}
    )
    assert reactivated.json()["active"] is True


def test_lowercase_ops_with_dotted_paths_department_and_manager(world, db):
    boss = world.scim.user("sjef@entraby.no", displayName="Sigrid Sjef")
    worker = world.scim.user("arbeider@entraby.no")
    response = world.scim.patch(
        f"/Users/{worker['id']}",
        {"op": "replace", "path": "name.givenName", "value": "Anne"},
        {"op": "replace", "path": "name.familyName", "value": "Arbeider"},
        {"op": "add", "path": "title", "value": "Sykepleier"},
        {"op": "add", "path": f"{ENTERPRISE}:department", "value": "Hjemmetjenesten"},
        {"op": "add", "path": f"{ENTERPRISE}:manager", "value": boss["id"]},
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["name"] == {"givenName": "Anne", "familyName": "Arbeider"}
    assert data["title"] == "Sykepleier"
    assert data[ENTERPRISE]["department"] == "Hjemmetjenesten"
    assert data[ENTERPRISE]["manager"]["value"] == boss["id"]
    db.expire_all()
    person = db.exec(select(Person).where(Person.email == "arbeider@entraby.no")).one()
    manager = db.exec(select(Person).where(Person.email == "sjef@entraby.no")).one()
    department = db.exec(select(Department).where(Department.org_id == world.org.id)).one()
    assert department.name == "Hjemmetjenesten" and person.department_id == department.id
    assert person.title == "Sykepleier"
    assert db.get(DepartmentLeader, (department.id, manager.id)) is not None
    assert manager.role == Role.leader
    # The older Entra shape for the manager: an object with the id, and removing it.
    other_boss = world.scim.user("sjef2@entraby.no")
    moved = world.scim.patch(
        f"/Users/{worker['id']}",
        {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": {"value": other_boss["id"]}},
    )
    assert moved.json()[ENTERPRISE]["manager"]["value"] == other_boss["id"]
    removed = world.scim.patch(
        f"/Users/{worker['id']}", {"op": "Remove", "path": f"{ENTERPRISE}:manager"}
    )
    assert "manager" not in removed.json()[ENTERPRISE]
    # A department that exists is reused, not duplicated.
    world.scim.patch(
        f"/Users/{boss['id']}",
        {"op": "replace", "value": {f"{ENTERPRISE}:department": "Hjemmetjenesten"}},
    )
    count = db.exec(
        select(func.count()).select_from(Department).where(Department.org_id == world.org.id)
    ).one()
    assert count == 1


def test_a_put_replaces_the_user(world, db):
    created = world.scim.user("per@entraby.no", title="Lærer")
    body = {
        "schemas": [USER],
        "userName": "per@entraby.no",
        "name": {"givenName": "Per", "familyName": "Persen"},
        "emails": [{"type": "work", "value": "per.persen@entraby.no", "primary": True}],
        "active": True,
    }
    response = world.scim("PUT", f"/Users/{created['id']}", body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert "title" not in data and "displayName" not in data
    db.expire_all()
    person = db.exec(select(Person).where(Person.email == "per.persen@entraby.no")).one()
    assert person.name == "Per Persen" and person.title == ""


def test_groups_mapped_to_a_role_give_and_take_it(world, db):
    admin = make_person(db, world.org, role=Role.admin, email="admin@entraby.no")
    kari = world.scim.user("kari@entraby.no")
    ola = world.scim.user("ola@entraby.no")
    group = world.scim(
        "POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                            "displayName": "Kommunikasjon"},
    ).json()  # fmt: skip
    row = db.get(ScimGroup, group["id"])
    scim_groups.map_role(db, world.org, row, Role.curator, admin)
    added = world.scim.patch(
        f"/Groups/{group['id']}",
        {"op": "Add", "path": "members", "value": [{"value": kari["id"]}, {"value": ola["id"]}]},
    )
    assert added.status_code == 204
    db.expire_all()

    def role(email: str) -> Role:
        return db.exec(select(Person.role).where(Person.email == email)).one()

    assert role("kari@entraby.no") == Role.curator and role("ola@entraby.no") == Role.curator
    listed = world.scim("GET", f"/Groups/{group['id']}").json()
    assert sorted(m["value"] for m in listed["members"]) == sorted([kari["id"], ola["id"]])
    user = world.scim("GET", f"/Users/{kari['id']}").json()
    assert [g["display"] for g in user["groups"]] == ["Kommunikasjon"]
    world.scim.patch(
        f"/Groups/{group['id']}", {"op": "remove", "path": f'members[value eq "{kari["id"]}"]'}
    )
    db.expire_all()
    assert role("kari@entraby.no") == Role.employee and role("ola@entraby.no") == Role.curator
    # Mapping only curators never touches an admin the organisation made by hand.
    assert role("admin@entraby.no") == Role.admin
    scim_groups.map_role(db, world.org, db.get(ScimGroup, group["id"]), None, admin)
    db.expire_all()
    assert role("ola@entraby.no") == Role.employee
    assert world.scim("DELETE", f"/Groups/{group['id']}").status_code == 204
    assert db.exec(select(func.count()).select_from(ScimGroupMember)).one() == 0


def test_a_person_the_organisation_has_is_adopted_not_duplicated(world, db):
    imported = make_person(db, world.org, email="lise@entraby.no", name="Lise fra CSV")
    created = world.scim.user("lise@entraby.no", displayName="Lise Li", externalId="hr-7")
    db.expire_all()
    assert db.get(ScimUser, created["id"]).person_id == imported.id
    assert imported.name == "Lise Li" and imported.external_id == "hr-7"
    again = world.scim("POST", "/Users", {"schemas": [USER], "userName": "lise@entraby.no"})
    assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"


def test_delete_erases_a_person_with_recognitions_as_the_organisation_chose(world, db):
    """DELETE removes the person: through the erasure, so a colleague's recognition stays."""
    created = world.scim.user("gunn@entraby.no")
    person = db.exec(select(Person).where(Person.email == "gunn@entraby.no")).one()
    person_id = person.id
    colleague = make_person(db, world.org)
    other = make_person(db, world.org)
    value = make_value(db, world.org)
    give(db, colleague, [person], [value], text="Takk for hjelpa i dag!")
    shared = give(db, colleague, [person, other], [value], text="Takk begge to for i dag!")
    login(world.scim.client, db, person)
    assert world.scim("DELETE", f"/Users/{created['id']}").status_code == 204
    db.expire_all()
    assert db.get(Person, person_id) is None
    assert db.get(ScimUser, created["id"]) is None
    assert not db.exec(select(LoginSession).where(LoginSession.person_id == person_id)).all()
    # The recognition also given to someone else stays, without them; theirs alone is gone.
    kept = db.get(Recognition, shared.id)
    assert kept is not None and [r.person_id for r in kept.recipients] == [other.id]
    assert world.scim("GET", f"/Users/{created['id']}").status_code == 404
    actions = [e.action for e in db.exec(select(AuditEvent))]
    assert "scim.user.delete" in actions and "person.erase" in actions
    assert not any("gunn@entraby.no" in str(e.target) for e in db.exec(select(AuditEvent)))


# --- bad input: SCIM errors, nothing half-written -----------------------------------------


def _error(response: Any, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    data = response.json()
    assert data["schemas"] == [ERROR] and data["status"] == str(status)
    if scim_type is not None:
        assert data.get("scimType") == scim_type, data
    assert "<html" not in response.text.lower()
    return data


def _nothing_written(db, world) -> None:
    db.expire_all()
    assert db.exec(select(func.count()).select_from(ScimUser)).one() == 0
    assert db.exec(select(Person).where(Person.org_id == world.org.id)).first() is None


@pytest.mark.parametrize(
    "body,scim_type",
    [
        (b"{not json", "invalidSyntax"),
        (b"[1, 2]", "invalidSyntax"),
        ({"schemas": [USER]}, None),  # no userName
        ({"schemas": [USER], "userName": 12345, "emails": [{"value": "a@b.no"}]}, None),
        ({"schemas": [USER], "userName": "x@entraby.no", "active": "kanskje"}, None),
        ({"schemas": [USER], "userName": "x" * 300 + "@entraby.no"}, "invalidValue"),
        ({"schemas": [USER], "userName": "x@entraby.no", "displayName": "N" * 121}, "invalidValue"),
        ({"schemas": [USER], "userName": "x@entraby.no", "title": "a\nb"}, "invalidValue"),
        ({"schemas": [USER], "userName": "no-address"}, "invalidValue"),
        ({"schemas": [USER], "userName": "x@entraby.no", "emails": [{"value": "nope"}]}, None),
        (
            {
                "schemas": [USER, ENTERPRISE],
                "userName": "x@entraby.no",
                ENTERPRISE: {"manager": {"value": str(uuid.uuid4())}},
            },
            "invalidValue",
        ),
    ],
    ids=[
        "malformed",
        "not-an-object",
        "no-username",
        "number-username",
        "active-word",
        "long-username",
        "long-displayname",
        "two-line-title",
        "no-email",
        "bad-email",
        "unknown-manager",
    ],
)
def test_bad_users_are_scim_errors_and_write_nothing(world, db, body, scim_type):
    _error(world.scim("POST", "/Users", body), 400, scim_type)
    _nothing_written(db, world)


def test_a_bad_patch_changes_nothing(world, db):
    created = world.scim.user("hilde@entraby.no", title="Leder")
    for ops in (
        [{"op": "replace", "path": "title", "value": "Ny"}, {"op": "jump", "path": "title"}],
        [{"op": "replace", "path": "title", "value": "Ny"}, {"op": "replace", "path": "title",
                                                              "value": "x" * 500}],
        [{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ikke-epost"}],
        [{"op": "remove"}],
    ):  # fmt: skip
        response = world.scim.patch(f"/Users/{created['id']}", *ops)
        _error(response, 400)
        db.expire_all()
        assert world.scim("GET", f"/Users/{created['id']}").json()["title"] == "Leder"
    _error(world.scim("PATCH", f"/Users/{created['id']}", b"nope"), 400, "invalidSyntax")


def test_uniqueness_is_a_409(world):
    world.scim.user("a@entraby.no", externalId="hr-1")
    second = world.scim.user("b@entraby.no")
    _error(
        world.scim("POST", "/Users", {"schemas": [USER], "userName": "A@ENTRABY.NO"}), 409,
        "uniqueness",
    )  # fmt: skip
    _error(
        world.scim.patch(f"/Users/{second['id']}", {"op": "replace", "path": "externalId",
                                                     "value": "hr-1"}),
        409, "uniqueness",
    )  # fmt: skip


def test_invalid_filters_and_paging(world):
    world.scim.user("c@entraby.no")
    for expression in ("userName eq", 'userName xx "a"', "((", 'nosuch eq "a"'):
        _error(world.scim("GET", "/Users", params={"filter": expression}), 400, "invalidFilter")
    _error(world.scim("GET", "/Users", params={"count": "many"}), 400, "invalidValue")
    paged = world.scim("GET", "/Users", params={"startIndex": "0", "count": "0"}).json()
    assert paged["totalResults"] == 1 and paged["Resources"] == []


def test_tokens_and_organisations(world, db, client):
    created = world.scim.user("d@entraby.no")
    # No token, a wrong one, a revoked one: 401 with SCIM's error and a challenge.
    for token in ("", "scim_not-a-token"):
        response = Scim(client, "entraby", token)("GET", "/Users")
        _error(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
    # A cookie session is not a SCIM credential.
    admin = make_person(db, world.org, role=Role.admin)
    login(client, db, admin)
    _error(Scim(client, "entraby", "")("GET", "/Users"), 401)
    # Another organisation's token on this organisation's URL, or its ids: a 404, nothing read.
    foreign = Scim(client, "entraby", world.other_raw)
    _error(foreign("GET", f"/Users/{created['id']}"), 404)
    _error(foreign("DELETE", f"/Users/{created['id']}"), 404)
    _error(world.other_scim("GET", f"/Users/{created['id']}"), 404)
    _error(world.other_scim.patch(f"/Users/{created['id']}", {"op": "replace",
                                  "path": "active", "value": False}), 404)  # fmt: skip
    assert world.other_scim("GET", "/Users").json()["totalResults"] == 0
    db.expire_all()
    assert db.get(ScimUser, created["id"]) is not None
    token = db.exec(select(ScimUser)).first()
    assert token is not None
    from app.scim.models import ScimToken

    row = db.exec(select(ScimToken).where(ScimToken.org_id == world.org.id)).one()
    assert row.token_hash != world.raw and world.raw not in row.token_hash
    revoke_token(db, world.org, row)
    db.flush()
    _error(world.scim("GET", "/Users"), 401)


def test_discovery_and_unknown_endpoints(world):
    config = world.scim("GET", "/ServiceProviderConfig").json()
    assert config["patch"]["supported"] is True and config["bulk"]["supported"] is False
    schemas = world.scim("GET", "/Schemas").json()
    ids = [s["id"] for s in schemas["Resources"]]
    assert ids == [USER, ENTERPRISE, "urn:ietf:params:scim:schemas:core:2.0:Group"]
    user_schema = world.scim("GET", f"/Schemas/{USER}").json()
    names = [a["name"] for a in user_schema["attributes"]]
    assert "phoneNumbers" not in names and "userName" in names
    types = world.scim("GET", "/ResourceTypes").json()
    assert [t["endpoint"] for t in types["Resources"]] == ["/Users", "/Groups"]
    assert world.scim("GET", "/ResourceTypes/User").json()["schemaExtensions"][0]["schema"] == (
        ENTERPRISE
    )
    _error(world.scim("GET", "/Nothing"), 404)
    _error(world.scim("GET", "/Schemas/urn:nothing"), 404)
    _error(world.scim("POST", "/ServiceProviderConfig", {}), 405)
    _error(world.scim("DELETE", "/Users"), 405)
    _error(world.scim("POST", "/.search", {}), 501)


def test_search_by_post(world):
    created = world.scim.user("e@entraby.no")
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName eq "e@entraby.no"',
        "attributes": ["userName"],
    }
    found = world.scim("POST", "/Users/.search", body)
    assert found.status_code == 200, found.text
    resources = found.json()["Resources"]
    assert [r["id"] for r in resources] == [created["id"]]
    assert "emails" not in resources[0] and resources[0]["userName"] == "e@entraby.no"


def test_writes_are_rate_limited_per_token(world, monkeypatch):
    from app.scim import routes

    monkeypatch.setattr(routes, "SCIM_WRITES_PER_MINUTE", 2)
    statuses = [
        world.scim(
            "POST", "/Users", {"schemas": [USER], "userName": f"r{n}@entraby.no"}
        ).status_code
        for n in range(3)
    ]
    assert statuses == [201, 201, 429]
    assert re.fullmatch(r"\d+", world.scim("POST", "/Users", {}).headers["retry-after"])
