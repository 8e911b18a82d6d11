"""Login: magic links over real SMTP, demo login, sessions, API tokens."""

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.access import SESSION_COOKIE
from app.auth import service
from app.auth.models import LoginSession, MagicLink
from app.kernel.clock import utcnow
from tests.helpers import csrf_token, login, make_org, make_person, post_form


def _link_from(message) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"http://testserver(/auth/magic/[\w-]+)", body)
    assert match, body
    return match.group(1)


def test_magic_link_is_sent_by_smtp_and_logs_in_once(client, db, smtp_server, settings_env):
    settings_env(smtp_url=smtp_server.url)
    org = make_org(db, name="Åsnes kommune")
    person = make_person(
        db,
        org,
        email="åse.løkken@example.no".replace("å", "a").replace("ø", "o"),
        name="Åse Løkken",
    )

    response = post_form(client, "/login", {"email": person.email.upper()})
    assert response.status_code == 200
    assert "login link is on its way" in response.text or "innloggingslenke" in response.text

    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == person.email
    path = _link_from(message)

    # Opening the link only shows a button: mail scanners that follow links log nobody in.
    page = client.get(path)
    assert page.status_code == 200
    assert "Åse Løkken" in page.text
    assert SESSION_COOKIE not in client.cookies

    done = post_form(client, path)
    assert done.status_code == 303
    assert done.headers["location"] == f"/{org.slug}/"
    assert client.get(f"/{org.slug}/").status_code == 200

    # Second use of the same link fails and changes nothing.
    client.cookies.clear()
    again = post_form(client, path)
    assert again.status_code == 400
    assert SESSION_COOKIE not in again.cookies


def test_magic_link_expires_after_15_minutes(db):
    org = make_org(db)
    person = make_person(db, org)
    raw = service.create_magic_link(db, person)
    db.flush()
    link = db.exec(select(MagicLink).where(MagicLink.person_id == person.id)).one()
    assert timedelta(minutes=14) < link.expires_at - utcnow() <= timedelta(minutes=15)
    from app.errors import Invalid

    with pytest.raises(Invalid) as exc:
        service.consume_magic_link(db, raw, now=utcnow() + timedelta(minutes=15, seconds=1))
    assert exc.value.errors["token"].code == "expired"
    assert db.get(MagicLink, link.id).used_at is None
    assert service.consume_magic_link(db, raw, now=utcnow() + timedelta(minutes=14)) == person


def test_expired_link_page_says_so(client, db):
    person = make_person(db, make_org(db))
    raw = service.create_magic_link(db, person)
    db.flush()
    link = db.exec(select(MagicLink).where(MagicLink.person_id == person.id)).one()
    link.expires_at = utcnow() - timedelta(seconds=1)
    db.add(link)
    db.flush()
    page = client.get(f"/auth/magic/{raw}", headers={"Accept-Language": "en"})
    assert page.status_code == 400
    assert "expired" in page.text


def test_unknown_address_gets_the_same_answer_and_no_mail(client, db, smtp_server, settings_env):
    settings_env(smtp_url=smtp_server.url)
    response = post_form(
        client, "/login", {"email": "nobody@example.no"}, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 200
    assert "login link is on its way" in response.text
    assert smtp_server.messages == []


def test_login_form_rejects_garbage_in_the_users_language(client):
    response = post_form(
        client, "/login", {"email": "not an address"}, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 422
    assert "Write the e-mail address you use at work" in response.text
    assert 'value="not an address"' in response.text


def test_inactive_people_get_no_link(client, db, smtp_server, settings_env):
    settings_env(smtp_url=smtp_server.url)
    person = make_person(db, make_org(db), active=False)
    post_form(client, "/login", {"email": person.email})
    assert smtp_server.messages == []


def test_login_is_rate_limited(client, db, settings_env):
    settings_env(login_rate_per_hour=2)
    person = make_person(db, make_org(db))
    for _ in range(2):
        assert post_form(client, "/login", {"email": person.email}).status_code == 200
    limited = post_form(client, "/login", {"email": person.email})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0


def test_demo_login_in_dev(client, db):
    org = make_org(db)
    person = make_person(db, org)
    response = post_form(client, "/auth/demo", {"email": person.email})
    assert response.status_code == 303
    assert response.headers["location"] == f"/{org.slug}/"
    assert client.get(f"/{org.slug}/me").status_code == 200


def test_demo_login_is_absent_in_production(client, db, settings_env):
    person = make_person(db, make_org(db))
    settings_env(env="production", secret_key="x" * 48)
    page = client.get("/login")
    assert "/auth/demo" not in page.text
    response = post_form(client, "/auth/demo", {"email": person.email})
    assert response.status_code == 404
    assert SESSION_COOKIE not in client.cookies


def test_session_cookie_flags(app, client, db, settings_env):
    person = make_person(db, make_org(db))
    response = post_form(client, "/auth/demo", {"email": person.email})
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http in tests

    settings_env(base_url="https://tod.example.no")
    with TestClient(app, base_url="https://testserver") as https_client:
        response = post_form(https_client, "/auth/demo", {"email": person.email})
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
    )
    assert "Secure" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_logout_ends_the_session_on_the_server(client, db):
    org = make_org(db)
    person = make_person(db, org)
    post_form(client, "/auth/demo", {"email": person.email})
    raw = client.cookies[SESSION_COOKIE]
    response = post_form(client, "/auth/logout")
    assert response.status_code == 303
    # The old cookie, replayed, no longer works.
    client.cookies.set(SESSION_COOKIE, raw)
    assert (
        client.get(f"/{org.slug}/", follow_redirects=False).headers["location"].startswith("/login")
    )
    row = db.exec(select(LoginSession).where(LoginSession.person_id == person.id)).one()
    assert row.revoked_at is not None


def test_deactivated_person_is_logged_out(client, db):
    org = make_org(db)
    person = make_person(db, org)
    login(client, db, person)
    assert client.get(f"/{org.slug}/").status_code == 200
    person.active = False
    db.add(person)
    db.flush()
    assert client.get(f"/{org.slug}/", follow_redirects=False).status_code == 303


def test_api_token_works_as_bearer_and_can_be_revoked(client, db):
    org = make_org(db)
    person = make_person(db, org, name="Øystein Brænd")
    token, raw = service.create_api_token(db, person, "intranet")
    db.flush()
    assert token.token_hash != raw and raw not in token.token_hash
    headers = {"Authorization": f"Bearer {raw}"}
    me = client.get(f"/api/v1/orgs/{org.slug}/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["name"] == "Øystein Brænd"
    db.refresh(token)
    assert token.last_used_at is not None

    # Bearer calls carry no ambient authority, so they need no CSRF token.
    revoked = client.delete(f"/api/v1/orgs/{org.slug}/me/tokens/{token.id}", headers=headers)
    assert revoked.status_code == 204
    after = client.get(f"/api/v1/orgs/{org.slug}/me", headers=headers)
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "not_authenticated"


def test_unknown_bearer_token_is_401(client, db):
    org = make_org(db)
    response = client.get(
        f"/api/v1/orgs/{org.slug}/me", headers={"Authorization": "Bearer tod_nope"}
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_next_parameter_cannot_leave_the_site(client, db):
    org = make_org(db)
    person = make_person(db, org)
    raw = service.create_magic_link(db, person)
    db.flush()
    token = csrf_token(client)
    response = client.post(
        f"/auth/magic/{raw}",
        data={"csrf_token": token, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == f"/{org.slug}/"
