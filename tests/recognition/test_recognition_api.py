"""JSON API v1 for tre om dagen: give, feeds, visibility, reactions, hiding, today's progress."""

import base64
import secrets
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from app.auth.service import create_api_token
from app.kernel.clock import utcnow
from app.kernel.forms import clean_paragraphs
from app.orgs.models import DepartmentLeader, Organisation, Person, Role
from app.recognition import giving
from app.recognition.models import (
    Notification,
    Reaction,
    Recognition,
    RecognitionRecipient,
    Visibility,
)
from tests.helpers import (
    World,
    csrf_token,
    login,
    make_department,
    make_org,
    make_person,
    make_value,
)

FEEDS = ("all", "department", "to_me", "from_me")


def bearer(db: Session, person: Person) -> dict[str, str]:
    _token, raw = create_api_token(db, person)
    db.flush()
    return {"Authorization": f"Bearer {raw}"}


def api(org: Organisation, path: str = "") -> str:
    return f"/api/v1/orgs/{org.slug}{path}"


def make_world(db: Session) -> World:
    """An organisation with two departments, three values and people in both departments."""
    org = make_org(db, name="Åsnes kommune")
    helse = make_department(db, org, name="Helse")
    skole = make_department(db, org, name="Skole")
    return World(
        org=org,
        helse=helse,
        skole=skole,
        e=make_value(db, org, name="Engasjement", colour="#aa0000", position=1),
        s=make_value(db, org, name="Samarbeid", colour="#00aa00", position=2),
        sf=make_value(db, org, name="Servicefokus", colour="#0000aa", position=3),
        me=make_person(db, org, name="Mari Meg", department_id=helse.id),
        nurse=make_person(db, org, name="Nora Sykepleier", department_id=helse.id),
        teacher=make_person(db, org, name="Tor Lærer", department_id=skole.id),
    )


def give(
    db: Session,
    giver: Person,
    recipients: list[Person],
    values: list[Any],
    *,
    text: str = "Takk for at du tok vakten i helgen!",
    visibility: str = "org",
    now: datetime | None = None,
) -> Recognition:
    rec, created = giving.give_recognition(
        db,
        giver=giver,
        recipient_ids=[p.id for p in recipients],
        value_ids=[v.id for v in values],
        text=text,
        visibility=visibility,
        idempotency_key=secrets.token_urlsafe(16),
        now=now,
    )
    assert created
    db.flush()
    return rec


def count(db: Session, model: Any) -> int:
    return db.exec(select(func.count()).select_from(model)).one()


def feed_ids(client: Any, w: World, headers: dict[str, str], **params: Any) -> list[int]:
    response = client.get(api(w.org, "/recognitions"), params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


# --- giving -------------------------------------------------------------------------------


def test_give_with_emails_and_names(client, db):
    w = make_world(db)
    response = client.post(
        api(w.org, "/recognitions"),
        json={
            "recipients": [w.nurse.email.upper(), w.teacher.email],
            "values": ["samarbeid", "Engasjement"],
            "text": "  Takk for at dere tok vakten i helgen!  ",
            "visibility": "org",
            "feature_consent": True,
        },
        headers=bearer(db, w.me),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["giver"] == {"id": w.me.id, "name": "Mari Meg"}
    assert sorted(body["recipients"], key=lambda r: r["id"]) == [
        {"id": w.nurse.id, "name": "Nora Sykepleier", "department": "Helse"},
        {"id": w.teacher.id, "name": "Tor Lærer", "department": "Skole"},
    ]
    assert body["values"] == [
        {"id": w.e.id, "name": "Engasjement", "colour": "#aa0000"},
        {"id": w.s.id, "name": "Samarbeid", "colour": "#00aa00"},
    ]
    assert body["text"] == "Takk for at dere tok vakten i helgen!"
    assert body["visibility"] == "org"
    assert body["feature_consent"] is True
    assert body["hidden_reason"] is None
    assert body["reactions"] == [
        {"kind": "clap", "count": 0, "mine": False},
        {"kind": "heart", "count": 0, "mine": False},
        {"kind": "raise", "count": 0, "mine": False},
    ]
    created = datetime.fromisoformat(body["created_at"])
    assert created.utcoffset() == timedelta(0)
    assert abs(utcnow() - created) < timedelta(minutes=1)
    assert "@" not in response.text  # nobody's e-mail address comes back

    rec = db.get(Recognition, body["id"])
    assert rec is not None and rec.org_id == w.org.id and rec.giver_id == w.me.id
    assert {r.person_id for r in rec.recipients} == {w.nurse.id, w.teacher.id}
    assert count(db, Notification) == 2  # the service queued the "Du ble sett!" e-mails


def test_give_with_ids_and_mixed_references(client, db):
    w = make_world(db)
    response = client.post(
        api(w.org, "/recognitions"),
        json={
            "recipients": [w.nurse.id, w.teacher.email],
            "values": [w.sf.id, "Samarbeid"],
            "text": "Godt samarbeid om elevene i dag.",
            "visibility": "private",
        },
        headers=bearer(db, w.me),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert {r["id"] for r in body["recipients"]} == {w.nurse.id, w.teacher.id}
    assert [v["id"] for v in body["values"]] == [w.s.id, w.sf.id]
    assert body["visibility"] == "private"
    assert body["feature_consent"] is False
    rec = db.get(Recognition, body["id"])
    assert rec is not None and rec.visibility == Visibility.private and rec.listed is False


def test_same_idempotency_key_gives_one_recognition(client, db):
    w = make_world(db)
    headers = bearer(db, w.me)
    payload = {"recipients": [w.nurse.email], "values": [w.e.id], "text": "Takk for i dag, Nora!"}
    first = client.post(
        api(w.org, "/recognitions"),
        json=payload,
        headers={**headers, "Idempotency-Key": "tap-1234"},
    )
    again = client.post(
        api(w.org, "/recognitions"),
        json=payload,
        headers={**headers, "Idempotency-Key": "tap-1234"},
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert count(db, Recognition) == 1
    assert count(db, Notification) == 1

    other = client.post(
        api(w.org, "/recognitions"),
        json=payload,
        headers={**headers, "Idempotency-Key": "tap-5678"},
    )
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]
    assert count(db, Recognition) == 2


def test_without_a_key_every_request_is_a_new_recognition(client, db):
    w = make_world(db)
    headers = bearer(db, w.me)
    payload = {"recipients": [w.nurse.id], "values": [w.e.id], "text": "Takk for i dag, Nora!"}
    first = client.post(api(w.org, "/recognitions"), json=payload, headers=headers)
    second = client.post(api(w.org, "/recognitions"), json=payload, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    keys = db.exec(select(Recognition.idempotency_key)).all()
    assert len(set(keys)) == 2 and all(giving.KEY_RE.match(k) for k in keys)


def _outsiders(db: Session, w: World) -> SimpleNamespace:
    other = make_org(db, name="Beta kommune")
    return SimpleNamespace(
        person=make_person(db, other, name="Beate i Beta", email="beate@beta.no"),
        value=make_value(db, other, name="Beta-verdi"),
        inactive=make_person(db, w.org, name="Sluttet Person", active=False),
        inactive_value=make_value(db, w.org, name="Gammel verdi", active=False),
    )


INVALID_CASES = {
    # name: (change to a valid payload, field, code)
    "no recipients": (lambda w, o: {"recipients": []}, "recipients", "required"),
    "self by e-mail": (lambda w, o: {"recipients": [w.me.email]}, "recipients", "self"),
    "self by id": (lambda w, o: {"recipients": [w.nurse.id, w.me.id]}, "recipients", "self"),
    "other org's person by e-mail": (
        lambda w, o: {"recipients": [o.person.email]},
        "recipients",
        "unknown",
    ),
    "other org's person by id": (
        lambda w, o: {"recipients": [o.person.id]},
        "recipients",
        "unknown",
    ),
    "unknown e-mail": (
        lambda w, o: {"recipients": [w.nurse.id, "nobody@example.no"]},
        "recipients",
        "unknown",
    ),
    "inactive person": (lambda w, o: {"recipients": [o.inactive.email]}, "recipients", "unknown"),
    "inactive person by id": (
        lambda w, o: {"recipients": [o.inactive.id]},
        "recipients",
        "unknown",
    ),
    "too many recipients": (
        lambda w, o: {"recipients": [f"p{i}@example.no" for i in range(11)]},
        "recipients",
        "too_many",
    ),
    "no values": (lambda w, o: {"values": []}, "values", "required"),
    "other org's value by id": (lambda w, o: {"values": [o.value.id]}, "values", "unknown"),
    "other org's value by name": (lambda w, o: {"values": ["Beta-verdi"]}, "values", "unknown"),
    "inactive value": (lambda w, o: {"values": [o.inactive_value.id]}, "values", "unknown"),
    "text of 9 characters": (lambda w, o: {"text": "x" * 9}, "text", "too_short"),
    "text of 9 characters and spaces": (
        lambda w, o: {"text": "   123456789 \n"},
        "text",
        "too_short",
    ),
    "text of 601 characters": (lambda w, o: {"text": "x" * 601}, "text", "too_long"),
    "unknown visibility": (lambda w, o: {"visibility": "public"}, "visibility", "enum"),
    "recipients as a string": (
        lambda w, o: {"recipients": w.nurse.email},
        "recipients",
        "list_type",
    ),
    "recipient as an object": (
        lambda w, o: {"recipients": [{"id": w.nurse.id}]},
        "recipients.0",
        "ref_type",
    ),
    "recipient id as a float": (
        lambda w, o: {"recipients": [1.5]},
        "recipients.0",
        "ref_type",
    ),
    "recipient as true": (lambda w, o: {"recipients": [True]}, "recipients.0", "ref_type"),
    "recipient id 0": (lambda w, o: {"recipients": [0]}, "recipients.0.id", "greater_than_equal"),
    "values as a number": (lambda w, o: {"values": 3}, "values", "list_type"),
    "text as a number": (lambda w, o: {"text": 1234567890123}, "text", "string_type"),
    "text missing": (lambda w, o: {"text": None}, "text", "string_type"),
    "consent as a string": (
        lambda w, o: {"feature_consent": "yes"},
        "feature_consent",
        "bool_type",
    ),
    "unexpected field": (lambda w, o: {"photo": "x.jpg"}, "photo", "extra_forbidden"),
}


@pytest.mark.parametrize("case", list(INVALID_CASES))
def test_invalid_input_is_refused_per_field_and_stores_nothing(client, db, case):
    w = make_world(db)
    o = _outsiders(db, w)
    change, field, code = INVALID_CASES[case]
    payload = {
        "recipients": [w.nurse.email],
        "values": [w.e.id],
        "text": "Takk for at du tok vakten i helgen!",
        **change(w, o),
    }
    response = client.post(api(w.org, "/recognitions"), json=payload, headers=bearer(db, w.me))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"][field]["code"] == code, error["fields"]
    assert error["fields"][field]["message"]
    # Nothing hints that a person or value exists in another organisation.
    assert "Beta" not in response.text and "Beate" not in response.text
    assert count(db, Recognition) == 0
    assert count(db, Notification) == 0


def test_every_problem_is_reported_at_once(client, db):
    w = make_world(db)
    response = client.post(
        api(w.org, "/recognitions"),
        json={"recipients": ["nobody@example.no"], "values": ["Nope"], "text": "kort"},
        headers=bearer(db, w.me),
    )
    assert response.status_code == 422
    fields = response.json()["error"]["fields"]
    assert {f: p["code"] for f, p in fields.items()} == {
        "recipients": "unknown",
        "values": "unknown",
        "text": "too_short",
    }


@pytest.mark.parametrize(
    "key",
    ["short", "has spaces in it", "x" * 65, "æøå-nøkkel-123".encode(), "<script>alert(1)</script>"],
)
def test_bad_idempotency_key_is_refused(client, db, key):
    w = make_world(db)
    response = client.post(
        api(w.org, "/recognitions"),
        json={"recipients": [w.nurse.id], "values": [w.e.id], "text": "Takk for i dag, Nora!"},
        headers={**bearer(db, w.me), "Idempotency-Key": key},
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"]["idempotency_key"]["code"] == "invalid"
    assert count(db, Recognition) == 0


def test_malformed_json_is_422_json(client, db):
    w = make_world(db)
    response = client.post(
        api(w.org, "/recognitions"),
        content=b'{"recipients": [',
        headers={**bearer(db, w.me), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"
    assert count(db, Recognition) == 0


def test_calls_without_credentials_are_401(client, db):
    w = make_world(db)
    rec = give(db, w.nurse, [w.me], [w.e])
    for method, path, headers in [
        ("GET", "/recognitions", {}),
        ("GET", f"/recognitions/{rec.id}", {}),
        ("GET", "/me/today", {}),
        ("GET", "/recognitions", {"Authorization": "Bearer tod_nope"}),
        ("POST", "/recognitions", {"Authorization": "Bearer tod_nope"}),
        ("POST", f"/recognitions/{rec.id}/reactions/clap", {"Authorization": "Bearer tod_nope"}),
    ]:
        response = client.request(method, api(w.org, path), headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "not_authenticated"
    assert count(db, Reaction) == 0


def test_session_cookie_calls_need_the_csrf_header(client, db):
    w = make_world(db)
    login(client, db, w.me)
    token = csrf_token(client)  # the browser now holds its CSRF cookie
    payload = {"recipients": [w.nurse.id], "values": [w.e.id], "text": "Takk for i dag, Nora!"}

    refused = client.post(api(w.org, "/recognitions"), json=payload)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf"
    assert count(db, Recognition) == 0

    accepted = client.post(
        api(w.org, "/recognitions"), json=payload, headers={"X-CSRF-Token": token}
    )
    assert accepted.status_code == 201
    assert count(db, Recognition) == 1
    # Reading needs no token.
    assert client.get(api(w.org, "/recognitions")).status_code == 200


# --- hostile text -------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    'hx-get="/x" hx-on:click="alert(1)"',
    "javascript:alert(1)",
    "x" * 600,
    "Bra jobba \u202egnp.exe i dag",
    "Takk til beste sykepleier 👩\u200d⚕️ i hele kommunen",
    "Linje én\r\n\r\n\r\n\r\nLinje to\x00\x07 slutt",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_round_trips_as_a_plain_string(client, db, text):
    w = make_world(db)
    headers = bearer(db, w.me)
    expected = clean_paragraphs(text)
    response = client.post(
        api(w.org, "/recognitions"),
        json={"recipients": [w.nurse.id], "values": [w.e.id], "text": text},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["text"] == expected
    assert "\u202e" not in response.json()["text"]
    again = client.get(api(w.org, f"/recognitions/{response.json()['id']}"), headers=headers)
    assert again.json()["text"] == expected
    listed = client.get(api(w.org, "/recognitions"), headers=headers).json()["items"]
    assert listed[0]["text"] == expected


def test_text_cleaning_keeps_what_people_wrote():
    # Guards the hostile-text test above: the comparison is only meaningful if cleaning keeps
    # the markup-looking text and the joined emoji, and removes only the bidi override.
    assert clean_paragraphs(HOSTILE[0]) == HOSTILE[0]
    assert clean_paragraphs(HOSTILE[5]) == "Bra jobba gnp.exe i dag"
    assert "👩\u200d⚕️" in clean_paragraphs(HOSTILE[6])


# --- feeds --------------------------------------------------------------------------------


def _feed_world(db: Session) -> tuple[World, dict[str, Recognition]]:
    w = make_world(db)
    base = utcnow() - timedelta(hours=1)
    recs = {
        "to_me": give(db, w.teacher, [w.me], [w.e], now=base),
        "from_me": give(db, w.me, [w.teacher], [w.s], now=base + timedelta(minutes=1)),
        "to_nurse": give(db, w.teacher, [w.nurse], [w.e, w.s], now=base + timedelta(minutes=2)),
        "nurse_to_teacher": give(db, w.nurse, [w.teacher], [w.s], now=base + timedelta(minutes=3)),
    }
    return w, recs


@pytest.mark.parametrize(
    "params,expected",
    [
        ({}, ["nurse_to_teacher", "to_nurse", "from_me", "to_me"]),
        ({"feed": "all"}, ["nurse_to_teacher", "to_nurse", "from_me", "to_me"]),
        ({"feed": "department"}, ["to_nurse", "to_me"]),
        ({"feed": "to_me"}, ["to_me"]),
        ({"feed": "from_me"}, ["from_me"]),
        ({"value": "e"}, ["to_nurse", "to_me"]),
        ({"value": "s"}, ["nurse_to_teacher", "to_nurse", "from_me"]),
        ({"value": "sf"}, []),
        ({"feed": "to_me", "value": "e"}, ["to_me"]),
        ({"feed": "to_me", "value": "s"}, []),
        ({"feed": "department", "value": "s"}, ["to_nurse"]),
    ],
)
def test_feeds_and_value_filter(client, db, params, expected):
    w, recs = _feed_world(db)
    if "value" in params:
        params = {**params, "value": getattr(w, params["value"]).id}
    ids = feed_ids(client, w, bearer(db, w.me), **params)
    assert ids == [recs[name].id for name in expected]


def test_feed_items_carry_no_email_addresses(client, db):
    w, _recs = _feed_world(db)
    response = client.get(api(w.org, "/recognitions"), headers=bearer(db, w.me))
    assert len(response.json()["items"]) == 4
    for person in (w.me, w.nurse, w.teacher):
        assert person.email not in response.text
        assert person.name in response.text


def test_value_filter_of_another_org_is_404(client, db):
    w, _recs = _feed_world(db)
    other_value = make_value(db, make_org(db), name="Beta-verdi")
    headers = bearer(db, w.me)
    for value in (other_value.id, 999_999_999):
        response = client.get(api(w.org, "/recognitions"), params={"value": value}, headers=headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "params,field",
    [
        ({"feed": "everything"}, "feed"),
        ({"limit": 0}, "limit"),
        ({"limit": 51}, "limit"),
        ({"value": "Engasjement"}, "value"),
    ],
)
def test_bad_feed_parameters_are_422(client, db, params, field):
    w = make_world(db)
    response = client.get(api(w.org, "/recognitions"), params=params, headers=bearer(db, w.me))
    assert response.status_code == 422
    assert field in response.json()["error"]["fields"]


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "%%%",
        _b64("not a date|1"),
        _b64("2025-01-01T10:00:00|1"),  # no time zone
        _b64("2025-01-01T10:00:00+00:00|x"),
        _b64("2025-01-01T10:00:00+00:00"),
        base64.urlsafe_b64encode(b"\xff\xfe|1").decode(),
    ],
)
def test_bad_cursor_is_422(client, db, cursor):
    w, _recs = _feed_world(db)
    response = client.get(
        api(w.org, "/recognitions"), params={"cursor": cursor}, headers=bearer(db, w.me)
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["fields"]["cursor"]["code"] == "invalid"


@pytest.mark.parametrize(
    "raw",
    ["2025-01-01T10:00:00+00:00|99999999999999999999999", "0001-01-01T00:00:00+01:00|1"],
)
def test_out_of_range_cursor_is_422(client, db, raw):
    w, _recs = _feed_world(db)
    response = client.get(
        api(w.org, "/recognitions"), params={"cursor": _b64(raw)}, headers=bearer(db, w.me)
    )
    assert response.status_code == 422


def test_pages_have_no_duplicates_and_no_gaps_while_others_give(client, db):
    w = make_world(db)
    headers = bearer(db, w.me)
    base = utcnow() - timedelta(days=2)
    # Pairs share a timestamp, so the id has to break the tie between pages.
    recs = [
        give(
            db,
            w.nurse,
            [w.teacher],
            [w.e],
            text=f"Takk for innsatsen nr {i}",
            now=base + timedelta(minutes=i // 2),
        )
        for i in range(45)
    ]
    expected = [r.id for r in sorted(recs, key=lambda r: (r.created_at, r.id), reverse=True)]

    seen: list[int] = []
    pages = 0
    cursor = None
    while True:
        params = {"limit": 20, **({"cursor": cursor} if cursor else {})}
        body = client.get(api(w.org, "/recognitions"), params=params, headers=headers).json()
        seen.extend(item["id"] for item in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        # Colleagues keep giving while we scroll: new ones appear on top, not in later pages.
        give(db, w.teacher, [w.nurse], [w.s], text="Ny mens vi blar i feeden")
        assert pages < 5, "the feed does not end"
    assert pages == 3
    assert seen == expected
    assert len(set(seen)) == 45
    fresh = feed_ids(client, w, headers, limit=50)
    assert len(fresh) == 47 and fresh[2:] == expected[:45]


# --- visibility ---------------------------------------------------------------------------


def _private_world(db: Session) -> tuple[World, Recognition, dict[str, Person]]:
    w = make_world(db)
    avdeling = make_department(db, w.org, name="Hjemmetjenesten", parent_id=w.helse.id)
    recipient = make_person(db, w.org, name="Rita Mottaker", department_id=avdeling.id)
    viewers = {
        "giver": w.teacher,
        "recipient": recipient,
        "leader": make_person(db, w.org, role=Role.leader, name="Lene Leder"),
        "leader of the parent department": make_person(db, w.org, role=Role.leader),
        "colleague in the same department": make_person(db, w.org, department_id=avdeling.id),
        "colleague elsewhere": w.me,
        "curator": make_person(db, w.org, role=Role.curator),
        "leader of another department": make_person(db, w.org, role=Role.leader),
    }
    db.add(DepartmentLeader(department_id=avdeling.id, person_id=viewers["leader"].id))
    db.add(
        DepartmentLeader(
            department_id=w.helse.id, person_id=viewers["leader of the parent department"].id
        )
    )
    db.add(
        DepartmentLeader(
            department_id=w.skole.id, person_id=viewers["leader of another department"].id
        )
    )
    db.flush()
    rec = give(
        db, w.teacher, [recipient], [w.e], text="Privat takk for en tøff uke.", visibility="private"
    )
    return w, rec, viewers


PRIVATE_SEES = {
    "giver": {"from_me"},
    "recipient": {"to_me"},
    "leader": {"department"},
    "leader of the parent department": {"department"},
    "colleague in the same department": None,
    "colleague elsewhere": None,
    "curator": None,
    "leader of another department": None,
}


@pytest.mark.parametrize("who", list(PRIVATE_SEES))
def test_private_recognition_is_seen_by_giver_recipients_and_their_leaders_only(client, db, who):
    w, rec, viewers = _private_world(db)
    headers = bearer(db, viewers[who])
    expected = PRIVATE_SEES[who]

    by_id = client.get(api(w.org, f"/recognitions/{rec.id}"), headers=headers)
    in_feeds = {kind for kind in FEEDS if rec.id in feed_ids(client, w, headers, feed=kind)}
    in_value_feeds = {
        kind for kind in FEEDS if rec.id in feed_ids(client, w, headers, feed=kind, value=w.e.id)
    }
    react = client.post(api(w.org, f"/recognitions/{rec.id}/reactions/heart"), headers=headers)

    if expected is None:
        assert by_id.status_code == 404
        assert "Privat takk" not in by_id.text
        assert in_feeds == set() and in_value_feeds == set()
        assert react.status_code == 404
        assert count(db, Reaction) == 0
    else:
        assert by_id.status_code == 200
        assert by_id.json()["visibility"] == "private"
        assert in_feeds == expected and in_value_feeds == expected
        assert react.status_code == 200
        assert react.json() == {"kind": "heart", "on": True, "count": 1}


def test_private_recognition_counts_only_for_those_who_see_it(client, db):
    w, rec, viewers = _private_world(db)
    leader = bearer(db, viewers["leader"])
    assert (
        client.post(
            api(w.org, f"/recognitions/{rec.id}/reactions/clap"), headers=leader
        ).status_code
        == 200
    )
    public = give(db, w.teacher, [w.nurse], [w.e])
    outsider = bearer(db, viewers["colleague in the same department"])
    for kind in FEEDS:
        body = client.get(
            api(w.org, "/recognitions"), params={"feed": kind}, headers=outsider
        ).json()
        assert rec.id not in [i["id"] for i in body["items"]]
        assert "Privat takk" not in str(body)
    items = client.get(api(w.org, "/recognitions"), headers=outsider).json()["items"]
    assert [i["id"] for i in items] == [public.id]
    # The reaction on the private one leaks into no count the outsider sees.
    assert all(r["count"] == 0 for r in items[0]["reactions"])


def test_another_orgs_recognition_is_404_on_every_route(client, db):
    w = make_world(db)
    other = make_org(db)
    b1, b2 = make_person(db, other, name="Beate i Beta", role=Role.admin), make_person(db, other)
    rec = give(db, b1, [b2], [make_value(db, other)], text="Beta-takk for hjelpen i dag")
    admin_a = make_person(db, w.org, role=Role.admin)
    headers = bearer(db, admin_a)
    calls = [
        ("GET", f"/recognitions/{rec.id}", None),
        ("DELETE", f"/recognitions/{rec.id}", None),
        ("POST", f"/recognitions/{rec.id}/reactions/clap", None),
        ("POST", f"/recognitions/{rec.id}/hide", {"hidden": True}),
        ("POST", f"/recognitions/{rec.id}/feature-opt-out", {"opt_out": True}),
        ("POST", f"/recognitions/{rec.id}/moderate", {"hidden": True, "reason": "Test"}),
        # A bad body does not turn the 404 into a 422 that confirms the id exists.
        ("POST", f"/recognitions/{rec.id}/hide", {"hidden": "nope"}),
    ]
    for method, path, body in calls:
        response = client.request(method, api(w.org, path), json=body, headers=headers)
        assert response.status_code == 404, (method, path, response.text)
        assert "Beta" not in response.text
        # And the other organisation's own slug is not reachable either.
        response = client.request(method, api(other, path), json=body, headers=headers)
        assert response.status_code == 404, (method, path)
    db.expire_all()
    stored = db.get(Recognition, rec.id)
    assert stored is not None and stored.listed and not stored.hidden_by_curator
    assert count(db, Reaction) == 0
    assert not any(r.hidden or r.feature_opt_out for r in stored.recipients)


def test_unknown_recognition_id_is_404(client, db):
    w = make_world(db)
    headers = bearer(db, w.me)
    assert client.get(api(w.org, "/recognitions/987654321"), headers=headers).status_code == 404
    assert client.get(api(w.org, "/recognitions/0"), headers=headers).status_code == 422


# --- delete -------------------------------------------------------------------------------


def test_giver_deletes_within_24_hours(client, db):
    w = make_world(db)
    rec = give(db, w.me, [w.nurse], [w.e])
    rec_id = rec.id
    response = client.delete(api(w.org, f"/recognitions/{rec_id}"), headers=bearer(db, w.me))
    assert response.status_code == 204
    assert response.content == b""
    db.expire_all()
    assert db.get(Recognition, rec_id) is None
    assert count(db, Notification) == 0


@pytest.mark.parametrize("who", ["recipient", "colleague", "admin"])
def test_only_the_giver_may_delete(client, db, who):
    w = make_world(db)
    rec = give(db, w.me, [w.nurse], [w.e])
    person = {"recipient": w.nurse, "colleague": w.teacher}.get(who) or make_person(
        db, w.org, role=Role.admin
    )
    response = client.delete(api(w.org, f"/recognitions/{rec.id}"), headers=bearer(db, person))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert count(db, Recognition) == 1


def test_delete_after_24_hours_is_too_late(client, db):
    w = make_world(db)
    rec = give(db, w.me, [w.nurse], [w.e], now=utcnow() - timedelta(hours=24, minutes=1))
    response = client.delete(api(w.org, f"/recognitions/{rec.id}"), headers=bearer(db, w.me))
    assert response.status_code == 422
    assert response.json()["error"]["fields"]["recognition"]["code"] == "too_late"
    assert count(db, Recognition) == 1


# --- reactions ----------------------------------------------------------------------------


def test_reactions_toggle_and_count_one_per_kind_per_person(client, db):
    w = make_world(db)
    rec = give(db, w.teacher, [w.nurse], [w.e])
    me, nurse = bearer(db, w.me), bearer(db, w.nurse)
    url = api(w.org, f"/recognitions/{rec.id}/reactions")

    assert client.post(f"{url}/clap", headers=me).json() == {"kind": "clap", "on": True, "count": 1}
    assert client.post(f"{url}/clap", headers=nurse).json() == {
        "kind": "clap",
        "on": True,
        "count": 2,
    }
    assert client.post(f"{url}/heart", headers=me).json() == {
        "kind": "heart",
        "on": True,
        "count": 1,
    }
    assert client.post(f"{url}/clap", headers=me).json() == {
        "kind": "clap",
        "on": False,
        "count": 1,
    }
    assert client.post(f"{url}/clap", headers=me).json() == {"kind": "clap", "on": True, "count": 2}

    rows = db.exec(select(Reaction.person_id, Reaction.kind)).all()
    assert sorted((p, str(k)) for p, k in rows) == sorted(
        [(w.me.id, "clap"), (w.nurse.id, "clap"), (w.me.id, "heart")]
    )
    item = client.get(api(w.org, f"/recognitions/{rec.id}"), headers=me).json()
    assert item["reactions"] == [
        {"kind": "clap", "count": 2, "mine": True},
        {"kind": "heart", "count": 1, "mine": True},
        {"kind": "raise", "count": 0, "mine": False},
    ]
    feed_item = client.get(api(w.org, "/recognitions"), headers=nurse).json()["items"][0]
    assert feed_item["reactions"] == [
        {"kind": "clap", "count": 2, "mine": True},
        {"kind": "heart", "count": 1, "mine": False},
        {"kind": "raise", "count": 0, "mine": False},
    ]


def test_unknown_reaction_kind_is_422(client, db):
    w = make_world(db)
    rec = give(db, w.teacher, [w.nurse], [w.e])
    response = client.post(
        api(w.org, f"/recognitions/{rec.id}/reactions/thumbsdown"), headers=bearer(db, w.me)
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"]["kind"]["code"] == "enum"
    assert count(db, Reaction) == 0


# --- hiding, opting out, moderating -------------------------------------------------------


def test_recipient_hides_from_public_feeds_and_back(client, db):
    w = make_world(db)
    rec = give(db, w.teacher, [w.nurse, w.me], [w.e])
    url = api(w.org, f"/recognitions/{rec.id}/hide")
    colleague = bearer(db, make_person(db, w.org, department_id=w.helse.id))

    response = client.post(url, json={"hidden": True}, headers=bearer(db, w.nurse))
    assert response.status_code == 200 and response.json() == {"hidden": True}
    assert feed_ids(client, w, colleague) == []
    assert feed_ids(client, w, colleague, feed="department") == []
    # Still there for the other recipient and the giver.
    assert feed_ids(client, w, bearer(db, w.me), feed="to_me") == [rec.id]
    assert feed_ids(client, w, bearer(db, w.teacher), feed="from_me") == [rec.id]

    response = client.post(url, json={"hidden": False}, headers=bearer(db, w.nurse))
    assert response.json() == {"hidden": False}
    assert feed_ids(client, w, colleague) == [rec.id]


@pytest.mark.parametrize("who", ["giver", "colleague", "curator"])
def test_only_a_recipient_may_hide_or_opt_out(client, db, who):
    w = make_world(db)
    rec = give(db, w.teacher, [w.nurse], [w.e])
    person = {"giver": w.teacher, "colleague": w.me}.get(who) or make_person(
        db, w.org, role=Role.curator
    )
    headers = bearer(db, person)
    hide = client.post(
        api(w.org, f"/recognitions/{rec.id}/hide"), json={"hidden": True}, headers=headers
    )
    opt_out = client.post(
        api(w.org, f"/recognitions/{rec.id}/feature-opt-out"),
        json={"opt_out": True},
        headers=headers,
    )
    assert (hide.status_code, opt_out.status_code) == (403, 403)
    db.expire_all()
    stored = db.get(Recognition, rec.id)
    assert stored is not None and stored.listed
    assert not any(r.hidden or r.feature_opt_out for r in stored.recipients)


def test_recipient_opts_out_of_being_featured(client, db):
    w = make_world(db)
    rec = give(db, w.teacher, [w.nurse, w.me], [w.e])
    url = api(w.org, f"/recognitions/{rec.id}/feature-opt-out")
    response = client.post(url, json={"opt_out": True}, headers=bearer(db, w.nurse))
    assert response.status_code == 200 and response.json() == {"opt_out": True}

    def flags() -> dict[int | None, bool]:
        db.expire_all()
        rows = db.exec(
            select(RecognitionRecipient).where(RecognitionRecipient.recognition_id == rec.id)
        )
        return {r.person_id: r.feature_opt_out for r in rows}

    assert flags() == {w.nurse.id: True, w.me.id: False}
    assert feed_ids(client, w, bearer(db, w.teacher)) == [rec.id]  # still listed
    client.post(url, json={"opt_out": False}, headers=bearer(db, w.nurse))
    assert flags() == {w.nurse.id: False, w.me.id: False}


@pytest.mark.parametrize("body", [{"hidden": "yes"}, {}, {"opt_out": 1}])
def test_hide_and_opt_out_bodies_are_validated(client, db, body):
    w = make_world(db)
    rec = give(db, w.teacher, [w.nurse], [w.e])
    headers = bearer(db, w.nurse)
    for path in ("hide", "feature-opt-out"):
        response = client.post(
            api(w.org, f"/recognitions/{rec.id}/{path}"), json=body, headers=headers
        )
        assert response.status_code == 422
        assert response.json()["error"]["fields"]
    assert feed_ids(client, w, headers) == [rec.id]


def test_curator_hides_with_a_reason_and_unhides(client, db):
    w = make_world(db)
    rec = give(db, w.teacher, [w.nurse], [w.e])
    curator = bearer(db, make_person(db, w.org, role=Role.curator))
    giver, colleague = bearer(db, w.teacher), bearer(db, w.me)
    url = api(w.org, f"/recognitions/{rec.id}")
    reason = "Nevner en pasient ved navn"

    response = client.post(
        f"{url}/moderate", json={"hidden": True, "reason": reason}, headers=curator
    )
    assert response.status_code == 200
    assert response.json() == {"hidden": True, "reason": reason}
    assert feed_ids(client, w, colleague) == []
    assert feed_ids(client, w, bearer(db, w.nurse), feed="to_me") == []
    assert client.get(url, headers=colleague).status_code == 404
    assert client.get(url, headers=bearer(db, w.nurse)).status_code == 404
    # The giver still sees it, but never the curator's reason.
    own = client.get(url, headers=giver)
    assert own.status_code == 200 and own.json()["hidden_reason"] is None
    assert reason not in own.text
    assert reason not in client.get(api(w.org, "/recognitions?feed=from_me"), headers=giver).text
    assert client.get(url, headers=curator).json()["hidden_reason"] == reason

    response = client.post(f"{url}/moderate", json={"hidden": False}, headers=curator)
    assert response.json() == {"hidden": False, "reason": ""}
    assert feed_ids(client, w, colleague) == [rec.id]
    assert client.get(url, headers=curator).json()["hidden_reason"] is None


@pytest.mark.parametrize("role", [Role.employee, Role.leader])
def test_only_curators_moderate(client, db, role):
    w = make_world(db)
    rec = give(db, w.teacher, [w.nurse], [w.e])
    headers = bearer(db, make_person(db, w.org, role=role))
    response = client.post(
        api(w.org, f"/recognitions/{rec.id}/moderate"),
        json={"hidden": True, "reason": "Liker den ikke"},
        headers=headers,
    )
    assert response.status_code == 403
    assert feed_ids(client, w, headers) == [rec.id]


@pytest.mark.parametrize(
    "reason,code", [("", "required"), ("  x ", "required"), ("x" * 301, "too_long")]
)
def test_moderation_needs_a_short_reason(client, db, reason, code):
    w = make_world(db)
    rec = give(db, w.teacher, [w.nurse], [w.e])
    response = client.post(
        api(w.org, f"/recognitions/{rec.id}/moderate"),
        json={"hidden": True, "reason": reason},
        headers=bearer(db, make_person(db, w.org, role=Role.curator)),
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"]["reason"]["code"] == code
    db.expire_all()
    stored = db.get(Recognition, rec.id)
    assert stored is not None and not stored.hidden_by_curator


# --- today's progress ---------------------------------------------------------------------


def test_today_counts_in_the_organisations_time_zone(client, db, time_machine):
    w = make_world(db)
    w.org.daily_goal = 4
    db.add(w.org)
    db.flush()
    # 00:30 on 11 March in Oslo (CET) is still 10 March in UTC.
    now = datetime(2025, 3, 10, 23, 30, tzinfo=UTC)
    time_machine.move_to(now, tick=False)
    give(db, w.me, [w.nurse], [w.e], now=datetime(2025, 3, 10, 23, 5, tzinfo=UTC))  # 00:05 today
    give(
        db, w.me, [w.teacher], [w.e], now=datetime(2025, 3, 10, 22, 55, tzinfo=UTC)
    )  # 23:55 yesterday
    give(db, w.me, [w.teacher], [w.e], now=datetime(2025, 3, 10, 12, 0, tzinfo=UTC))  # yesterday
    give(
        db, w.nurse, [w.me], [w.e], now=datetime(2025, 3, 10, 23, 10, tzinfo=UTC)
    )  # someone else's

    response = client.get(api(w.org, "/me/today"), headers=bearer(db, w.me))
    assert response.status_code == 200
    assert response.json() == {"given_today": 1, "goal": 4, "streak": 2, "date": "2025-03-11"}


def test_today_counts_private_ones_and_not_other_peoples(client, db, time_machine):
    w = make_world(db)
    now = utcnow()
    time_machine.move_to(now, tick=False)
    give(db, w.me, [w.nurse], [w.e], now=now - timedelta(seconds=2), visibility="private")
    give(db, w.me, [w.teacher], [w.e], now=now - timedelta(seconds=1))
    give(db, w.nurse, [w.me], [w.e], now=now - timedelta(seconds=1))
    body = client.get(api(w.org, "/me/today"), headers=bearer(db, w.me)).json()
    assert (body["given_today"], body["goal"], body["streak"]) == (2, 3, 1)
    assert body["date"] == now.astimezone(ZoneInfo("Europe/Oslo")).date().isoformat()


@pytest.mark.parametrize(
    "days_given,streak",
    [
        ([], 0),
        ([0], 1),
        ([0, 1, 2], 3),
        ([1, 2], 2),  # nothing yet today: yesterday's streak still stands
        ([0, 1, 3, 4], 2),  # a day missed breaks it
        ([2, 3], 0),
    ],
)
def test_streak_of_days_in_a_row(client, db, time_machine, days_given, streak):
    w = make_world(db)
    now = datetime(2025, 6, 12, 10, 0, tzinfo=UTC)  # 12:00 in Oslo (CEST)
    time_machine.move_to(now, tick=False)
    for days in days_given:
        # Late in the evening, local time: a UTC day would put some on the wrong date.
        evening = datetime(2025, 6, 12 - days, 21, 45, tzinfo=UTC) if days else now
        give(db, w.me, [w.nurse], [w.e], now=evening)
    body = client.get(api(w.org, "/me/today"), headers=bearer(db, w.me)).json()
    assert body["streak"] == streak
    assert body["given_today"] == (1 if 0 in days_given else 0)


def test_streak_uses_local_days_around_midnight(client, db, time_machine):
    w = make_world(db)
    # 00:30 on 12 June in Oslo = 22:30 UTC on 11 June.
    time_machine.move_to(datetime(2025, 6, 11, 22, 30, tzinfo=UTC), tick=False)
    give(db, w.me, [w.nurse], [w.e], now=datetime(2025, 6, 11, 22, 10, tzinfo=UTC))  # 00:10 12 June
    give(db, w.me, [w.nurse], [w.e], now=datetime(2025, 6, 10, 22, 20, tzinfo=UTC))  # 00:20 11 June
    body = client.get(api(w.org, "/me/today"), headers=bearer(db, w.me)).json()
    # In UTC both fall on 10 and 11 June but "today" would be 11 June: streak 2 only locally.
    assert body == {"given_today": 1, "goal": 3, "streak": 2, "date": "2025-06-12"}


# --- documentation ------------------------------------------------------------------------


def test_openapi_documents_every_recognition_route(client):
    schema = client.get("/api/v1/openapi.json").json()
    prefix = "/api/v1/orgs/{org}"
    expected = {
        f"{prefix}/recognitions": {"get", "post"},
        f"{prefix}/recognitions/{{rec_id}}": {"get", "delete"},
        f"{prefix}/recognitions/{{rec_id}}/reactions/{{kind}}": {"post"},
        f"{prefix}/recognitions/{{rec_id}}/hide": {"post"},
        f"{prefix}/recognitions/{{rec_id}}/feature-opt-out": {"post"},
        f"{prefix}/recognitions/{{rec_id}}/moderate": {"post"},
        f"{prefix}/me/today": {"get"},
    }
    for path, methods in expected.items():
        assert path in schema["paths"], path
        operations = schema["paths"][path]
        assert set(operations) >= methods, path
        for method in methods:
            op = operations[method]
            assert op["tags"] == ["recognitions"]
            assert op.get("description"), f"{method} {path} is not documented"
            assert "422" in op["responses"] and "404" in op["responses"]
    give = schema["paths"][f"{prefix}/recognitions"]["post"]
    assert {"201", "200"} <= set(give["responses"])
    assert any(p["name"] == "idempotency-key" for p in give["parameters"])
    body = schema["components"]["schemas"]["RecognitionIn"]
    assert body["properties"]["text"]["maxLength"] == 2000
    assert body["properties"]["recipients"]["maxItems"] == 50
    item = schema["components"]["schemas"]["RecognitionOut"]
    assert "email" not in str(item)
    assert set(item["required"]) >= {
        "id",
        "created_at",
        "giver",
        "recipients",
        "values",
        "text",
        "visibility",
        "feature_consent",
        "reactions",
    }
