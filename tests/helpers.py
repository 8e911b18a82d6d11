"""Small functions that make test data and drive the app like a browser would."""

import itertools
import re
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session

from app.access import SESSION_COOKIE
from app.auth.service import start_session
from app.orgs.models import Department, Organisation, Person, Role, Value
from app.recognition.models import Recognition

_seq = itertools.count(1)


def make_org(db: Session, **overrides: Any) -> Organisation:
    n = next(_seq)
    org = Organisation(**{"slug": f"org{n}", "name": f"Org {n}", **overrides})
    db.add(org)
    db.flush()
    return org


def make_value(db: Session, org: Organisation, **overrides: Any) -> Value:
    n = next(_seq)
    value = Value(**{"org_id": org.id, "name": f"Value {n}", "position": n, **overrides})
    db.add(value)
    db.flush()
    return value


def make_department(db: Session, org: Organisation, **overrides: Any) -> Department:
    n = next(_seq)
    dept = Department(**{"org_id": org.id, "name": f"Department {n}", **overrides})
    db.add(dept)
    db.flush()
    return dept


def make_person(db: Session, org: Organisation, **overrides: Any) -> Person:
    n = next(_seq)
    data: dict[str, Any] = {
        "org_id": org.id,
        "email": f"person{n}@example.no",
        "name": f"Person {n}",
    }
    data.update(overrides)
    if isinstance(data.get("role"), str):
        data["role"] = Role(data["role"])
    person = Person(**data)
    db.add(person)
    db.flush()
    return person


def login(client: TestClient, db: Session, person: Person) -> None:
    """Sign `person` in on this client, as the magic link would."""
    raw = start_session(db, person)
    db.flush()
    client.cookies.set(SESSION_COOKIE, raw)


def csrf_token(client: TestClient) -> str:
    """The form token for this client's CSRF cookie (fetched from a page, as a browser does)."""
    page = client.get("/login")
    match = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
    assert match, "page has no CSRF token"
    return match.group(1)


def post_form(
    client: TestClient, url: str, data: dict[str, Any] | None = None, **kw: Any
) -> Response:
    """POST a form with the CSRF token a real page would have included."""
    payload = {"csrf_token": csrf_token(client), **(data or {})}
    return client.post(url, data=payload, follow_redirects=kw.pop("follow_redirects", False), **kw)


def give(
    db: Session,
    giver: Person,
    recipients: list[Person],
    values: list[Value],
    text: str = "Takk for hjelpen i dag, det betydde mye!",
    **kw: Any,
) -> Recognition:
    """A recognition made through the service, as the give form would."""
    import secrets

    from app.recognition.giving import give_recognition

    rec, _created = give_recognition(
        db,
        giver=giver,
        recipient_ids=[p.id for p in recipients],  # type: ignore[misc]
        value_ids=[v.id for v in values],  # type: ignore[misc]
        text=text,
        idempotency_key=kw.pop("idempotency_key", secrets.token_urlsafe(12)),
        **kw,
    )
    db.flush()
    return rec
