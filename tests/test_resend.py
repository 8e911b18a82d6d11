"""An expired page or session never loses what a person typed: it is kept and sent by a click."""

import re
import secrets

from sqlmodel import func, select

from app.access import SESSION_COOKIE
from app.recognition.models import Recognition
from app.resend import COOKIE
from tests.helpers import csrf_token, login, make_org, make_person, make_value

TEXT = "Stilte opp på kort varsel da vikaren ble syk, og ordnet alt."


def _world(db):
    org = make_org(db, locale="nb")
    value = make_value(db, org, name="Samarbeid")
    giver = make_person(db, org, name="Kari Nordmann", locale="nb")
    ola = make_person(db, org, name="Ola Hansen")
    return org, value, giver, ola


def _give_fields(value, ola, key="kept-form-1"):
    return {
        "recipients": [str(ola.id)],
        "values": [str(value.id)],
        "text": TEXT,
        "visibility": "org",
        "idempotency_key": key,
    }


def _count(db) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(Recognition)).one()


def _hidden_fields(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)


def test_expired_token_keeps_the_form_and_sends_it_once_on_a_click(client, db):
    org, value, giver, ola = _world(db)
    login(client, db, giver)
    client.get(f"/{org.slug}/")
    data = {**_give_fields(value, ola), "csrf_token": "0" * 64}
    refused = client.post(f"/{org.slug}/give", data=data, follow_redirects=False)

    assert refused.status_code == 303
    assert refused.headers["location"] == f"/{org.slug}/resend"
    assert _count(db) == 0  # nothing of the refused request was written

    page = client.get(f"/{org.slug}/resend")
    assert page.status_code == 200
    assert "Sende på nytt?" in page.text  # in the person's language
    assert TEXT in page.text  # they see what will be sent
    assert page.headers["Cache-Control"] == "private, no-store"
    fields = _hidden_fields(page.text)
    assert ("csrf_token", csrf_token(client)) in fields  # a fresh, valid token
    assert ("text", TEXT) in fields and ("recipients", str(ola.id)) in fields
    assert f'action="/{org.slug}/give"' in page.text

    form = {}
    for name, val in fields:
        form.setdefault(name, []).append(val)
    sent = client.post(f"/{org.slug}/give", data=form, follow_redirects=False)
    assert sent.status_code == 303
    again = client.post(f"/{org.slug}/give", data=form, follow_redirects=False)
    assert again.status_code == 303
    assert _count(db) == 1  # the kept idempotency key: a double click is one recognition


def test_expired_session_goes_through_login_and_back_to_the_kept_form(client, db):
    org, value, giver, ola = _world(db)
    token = csrf_token(client)
    client.cookies.set(SESSION_COOKIE, "expired-or-ended-session")
    refused = client.post(
        f"/{org.slug}/give",
        data={**_give_fields(value, ola), "csrf_token": token},
        follow_redirects=False,
    )
    assert refused.status_code == 303
    assert refused.headers["location"] == f"/{org.slug}/resend"
    assert _count(db) == 0
    to_login = client.get(refused.headers["location"], follow_redirects=False)
    assert to_login.headers["location"] == f"/login?next=/{org.slug}/resend"

    login_page = client.get(to_login.headers["location"])
    assert f'value="/{org.slug}/resend"' in login_page.text  # the login keeps where to go
    login(client, db, giver)
    page = client.get(f"/{org.slug}/resend")
    assert TEXT in page.text


def test_htmx_request_is_sent_to_the_kept_form_by_location(client, db):
    org, value, giver, ola = _world(db)
    login(client, db, giver)
    client.get(f"/{org.slug}/")
    response = client.post(
        f"/{org.slug}/give",
        data=_give_fields(value, ola),
        headers={"HX-Request": "true", "X-CSRF-Token": "f" * 64},
        follow_redirects=False,
    )
    assert response.headers.get("HX-Location") == f"/{org.slug}/resend"
    assert _count(db) == 0


def test_a_tampered_or_foreign_kept_form_is_not_shown(client, db):
    org, value, giver, ola = _world(db)
    other = make_org(db, slug="annen")
    login(client, db, giver)
    client.cookies.set(COOKIE, "tampered.value.here", path="/")
    response = client.get(f"/{org.slug}/resend", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/{org.slug}/"

    # A form kept for another organisation is not shown inside this one.
    login(client, db, make_person(db, other))
    client.post(
        f"/{other.slug}/give",
        data={**_give_fields(value, ola), "csrf_token": "0" * 64},
        follow_redirects=False,
    )
    login(client, db, giver)
    response = client.get(f"/{org.slug}/resend", follow_redirects=False)
    assert response.headers["location"] == f"/{org.slug}/"


def test_a_form_too_large_to_keep_gets_the_translated_expired_page(client, db):
    org, value, giver, ola = _world(db)
    login(client, db, giver)
    # More than a cookie can carry (random text does not compress).
    data = {**_give_fields(value, ola), "photo_alt": secrets.token_urlsafe(3000)}
    data["csrf_token"] = "0" * 64
    response = client.post(f"/{org.slug}/give", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert "Siden var utløpt" in response.text
    assert COOKIE not in response.cookies
    assert _count(db) == 0


def test_a_form_outside_an_organisation_is_not_kept(client, db):
    person = make_person(db, make_org(db))
    client.get("/login")
    for url, data in [("/lang", {"lang": "sv"}), ("/auth/demo", {"email": person.email})]:
        response = client.post(url, data={**data, "csrf_token": "0" * 64})
        assert response.status_code == 403 and COOKIE not in response.cookies


def test_a_form_from_another_site_is_refused_and_never_kept(client, db):
    org, value, giver, ola = _world(db)
    login(client, db, giver)
    client.get(f"/{org.slug}/")
    response = client.post(
        f"/{org.slug}/give",
        data={**_give_fields(value, ola), "csrf_token": "0" * 64},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert COOKIE not in response.cookies
    assert _count(db) == 0
