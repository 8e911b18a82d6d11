"""The admin's provisioning page: tenant URL, tokens shown once and revoked, groups to roles."""

import re

from sqlmodel import select

from app.kernel.audit import AuditEvent
from app.orgs.models import Person, Role
from app.scim.models import ScimGroup, ScimGroupMember, ScimToken, ScimUser
from tests.helpers import login, make_org, make_person, post_form


def _scim(client, slug, raw, path="/Users"):
    return client.get(f"/scim/v2/{slug}{path}", headers={"Authorization": f"Bearer {raw}"})


def test_an_admin_creates_uses_and_revokes_a_token(client, db):
    org = make_org(db, slug="adminby")
    admin = make_person(db, org, role=Role.admin)
    login(client, db, admin)
    page = client.get("/adminby/admin/scim")
    assert page.status_code == 200
    assert "http://testserver/scim/v2/adminby" in page.text or "/scim/v2/adminby" in page.text
    assert "/adminby/admin/scim" in client.get("/adminby/admin").text
    created = post_form(client, "/adminby/admin/scim/tokens", {"name": "Entra ID"})
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    raw = re.search(r'id="raw-token" type="text" value="([^"]+)"', created.text).group(1)
    assert raw.startswith("scim_")
    token = db.exec(select(ScimToken).where(ScimToken.org_id == org.id)).one()
    assert raw not in token.token_hash and token.name == "Entra ID"
    assert raw not in client.get("/adminby/admin/scim").text  # shown once
    assert _scim(client, "adminby", raw).status_code == 200
    revoked = post_form(client, f"/adminby/admin/scim/tokens/{token.id}/revoke")
    assert revoked.status_code == 303
    assert _scim(client, "adminby", raw).status_code == 401
    actions = {e.action for e in db.exec(select(AuditEvent).where(AuditEvent.org_id == org.id))}
    assert {"scim.token.create", "scim.token.revoke"} <= actions


def test_a_bad_token_name_is_explained_and_nothing_is_made(client, db):
    org = make_org(db, slug="navnby")
    login(client, db, make_person(db, org, role=Role.admin))
    response = post_form(client, "/navnby/admin/scim/tokens", {"name": "a\nb"})
    assert response.status_code == 422
    assert "én linje" in response.text  # the admin reads bokmål
    assert db.exec(select(ScimToken)).first() is None


def test_only_admins_see_the_page(client, db):
    org = make_org(db, slug="rolleby")
    login(client, db, make_person(db, org, role=Role.curator))
    assert client.get("/rolleby/admin/scim").status_code == 403
    assert post_form(client, "/rolleby/admin/scim/tokens", {"name": "x"}).status_code == 403
    assert db.exec(select(ScimToken)).first() is None


def test_an_admin_maps_a_group_to_a_role(client, db):
    org = make_org(db, slug="gruppeby")
    admin = make_person(db, org, role=Role.admin)
    member = make_person(db, org, email="kurator@gruppeby.no")
    link = ScimUser(org_id=org.id, person_id=member.id, user_name="k", user_name_key="k")
    group = ScimGroup(org_id=org.id, display_name="Kommunikasjonsavdelingen")
    db.add_all([link, group])
    db.flush()
    db.add(ScimGroupMember(group_id=group.id, user_id=link.id))
    db.flush()
    login(client, db, admin)
    page = client.get("/gruppeby/admin/scim")
    assert "Kommunikasjonsavdelingen" in page.text
    response = post_form(
        client, f"/gruppeby/admin/scim/groups/{group.id}/role", {"role": "curator"}
    )
    assert response.status_code == 303
    db.expire_all()
    assert db.get(ScimGroup, group.id).role == Role.curator
    assert db.get(Person, member.id).role == Role.curator
    bad = post_form(client, f"/gruppeby/admin/scim/groups/{group.id}/role", {"role": "employee"})
    assert bad.status_code == 422
    post_form(client, f"/gruppeby/admin/scim/groups/{group.id}/role", {"role": ""})
    db.expire_all()
    assert db.get(ScimGroup, group.id).role is None
    assert db.get(Person, member.id).role == Role.employee
    assert db.get(Person, admin.id).role == Role.admin
    missing = post_form(client, "/gruppeby/admin/scim/groups/no-such-group/role", {"role": ""})
    assert missing.status_code == 404
