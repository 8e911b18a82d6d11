"""Tenant isolation over ids in request bodies and query strings (tests/test_security.py covers
path parameters): another organisation's ids in form fields, JSON bodies and query parameters
are refused exactly like ids that do not exist, and change nothing.

Everything goes through HTTP (and tests/helpers.py), so this module does not depend on where
the app keeps its services. The database is compared before and after with plain SQL.
"""

import io
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response
from PIL import Image
from sqlalchemy import inspect, text
from sqlmodel import Session

from app.weekly.models import DeliveryStatus, WebhookDelivery
from tests.helpers import (
    csrf_token,
    login,
    make_department,
    make_org,
    make_person,
    make_value,
    post_form,
)

MISSING = 2_000_000_000  # an id no row has
SECRET = "Hemmelig"  # in every name and text of organisation B

# Rows that every request may write: sign-in sessions, magic links and rate-limit counters.
VOLATILE_TABLES = {"loginsession", "magiclink", "ratelimithit"}
VOLATILE_COLUMNS = {"apitoken": {"last_used_at"}}


# --- the two organisations ------------------------------------------------------------------


@dataclass
class Tenant:
    """One organisation with one thing of every kind, made through the app's own routes."""

    slug: str
    people: dict[str, Any] = field(default_factory=dict)  # role -> Person
    ids: dict[str, int] = field(default_factory=dict)  # kind -> id
    emails: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # role -> raw API token
    value_name: str = ""
    department_name: str = ""


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, "JPEG", quality=90)
    return buf.getvalue()


# (CSRF cookie, session cookie) -> the form token: a token is bound to both.
_tokens: dict[tuple[str | None, str | None], str] = {}


def _csrf(client: TestClient) -> str:
    """The form token for this client's cookies (a page is fetched once per pair)."""
    key = (client.cookies.get("tod_csrf"), client.cookies.get("tod_session"))
    if key not in _tokens:
        token = csrf_token(client)
        _tokens[(client.cookies["tod_csrf"], client.cookies.get("tod_session"))] = token
        return token
    return _tokens[key]


def _post(client: TestClient, url: str, data: dict[str, Any]) -> Response:
    """POST a form as the page would (helpers.post_form, without a page load every time)."""
    return client.post(url, data={"csrf_token": _csrf(client), **data}, follow_redirects=False)


def _ok(response: Response, *statuses: int) -> Response:
    assert response.status_code in (statuses or (200, 201, 303)), response.text[:2000]
    return response


def _one_id(db: Session, sql: str, **params: Any) -> int:
    return int(db.connection().execute(text(sql), params).scalar_one())


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _build(client: TestClient, db: Session, slug: str, label: str, colour: int) -> Tenant:
    """People, a value, departments, API tokens, a photo, a recognition with it, two contests in
    their voting phase (one decided by votes, one by a jury) with an approved entry each, a
    drafted weekly feature with its consent request, a webhook with a failed delivery."""
    t = Tenant(slug=slug)
    org = make_org(db, slug=slug, name=f"{label} kommune")
    for role in ("admin", "curator", "employee", "colleague"):
        name = f"{label} {role.capitalize()}"
        t.people[role] = make_person(
            db,
            org,
            name=name,
            email=f"{role}@{slug}.example.no",
            role="employee" if role == "colleague" else role,
        )
        t.emails[role] = t.people[role].email
        t.ids[role] = t.people[role].id
    t.value_name = f"{label}-verdi"
    t.department_name = f"{label}-avdeling"
    t.ids["value"] = make_value(db, org, name=t.value_name).id
    t.ids["department"] = make_department(db, org, name=t.department_name).id
    t.ids["other_department"] = make_department(db, org, name=f"{label}-avdeling 2").id
    db.flush()

    # API tokens, as the admin makes them.
    login(client, db, t.people["admin"])
    for role in ("employee", "curator", "admin"):
        page = _ok(
            _post(client, f"/{slug}/admin/tokens", {"person": t.ids[role], "name": "test"}),
            200,
        )
        match = re.search(r'id="raw-token"[^>]*value="([^"]+)"', page.text)
        assert match, "the token page shows no token"
        t.tokens[role] = match.group(1)
    t.ids["token"] = _one_id(
        db, "SELECT max(id) FROM apitoken WHERE person_id = :p", p=t.ids["employee"]
    )

    # A webhook with a test delivery waiting.
    _ok(
        _post(
            client,
            f"/{slug}/admin/webhooks",
            {"kind": "generic", "name": f"{label}-webhook", "url": f"https://{slug}.example/hook"},
        )
    )
    t.ids["webhook"] = _one_id(db, "SELECT max(id) FROM webhook WHERE org_id = :o", o=org.id)

    # A photo and a recognition with it, through the JSON API.
    api = f"/api/v1/orgs/{slug}"
    employee = {"Authorization": f"Bearer {t.tokens['employee']}"}
    curator = {"Authorization": f"Bearer {t.tokens['curator']}"}
    photo = _ok(
        client.post(
            f"{api}/media",
            headers=employee,
            files={"file": ("p.jpg", _jpeg((colour, 90, 40)), "image/jpeg")},
            data={"alt": f"{label} bilde"},
        ),
        201,
    )
    t.ids["photo"] = photo.json()["id"]
    rec = _ok(
        client.post(
            f"{api}/recognitions",
            headers=employee,
            json={
                "recipients": [t.ids["colleague"]],
                "values": [t.ids["value"]],
                "text": f"Takk fra {label} for hjelpen i dag!",
                "feature_consent": True,
                "photo_id": t.ids["photo"],
            },
        ),
        201,
    )
    t.ids["recognition"] = rec.json()["id"]
    spare = _ok(
        client.post(
            f"{api}/media",
            headers=employee,
            files={"file": ("s.jpg", _jpeg((colour, 180, 90)), "image/jpeg")},
        ),
        201,
    )
    t.ids["spare_photo"] = spare.json()["id"]  # uploaded, not used yet

    # Two contests in their voting phase, each with an approved photo by the colleague.
    now = datetime.now(UTC)
    for kind, rule in (("contest", "votes"), ("jury_contest", "jury")):
        contest = _ok(
            client.post(
                f"{api}/contests",
                headers=curator,
                json={
                    "title": f"{label} {kind}",
                    "submit_opens_at": _iso(now - timedelta(days=1)),
                    "submit_closes_at": _iso(now + timedelta(days=1)),
                    "vote_opens_at": _iso(now + timedelta(days=1)),
                    "vote_closes_at": _iso(now + timedelta(days=3)),
                    "winner_rule": rule,
                },
            ),
            201,
        )
        contest_id = contest.json()["id"]
        entry = _ok(
            client.post(
                f"{api}/contests/{contest_id}/entries",
                headers={"Authorization": f"Bearer {_colleague_token(client, db, t)}"},
                files={"file": ("e.jpg", _jpeg((colour, 20, 200)), "image/jpeg")},
                data={"caption": f"{label} bidrag", "people_consent": "true"},
            ),
            201,
        )
        entry_id = entry.json()["id"]
        _ok(
            client.post(
                f"{api}/contests/{contest_id}/entries/{entry_id}/moderate",
                headers=curator,
                json={"approve": True},
            ),
            200,
        )
        login(client, db, t.people["curator"])
        for action in ("close_submissions", "open_voting"):
            _ok(_post(client, f"/{slug}/contests/{contest_id}/phase", {"action": action}))
        t.ids[kind] = contest_id
        t.ids["entry" if kind == "contest" else "jury_entry"] = entry_id

    upcoming = _ok(client.post(f"{api}/contests", headers=curator, json=_contest_json(label)), 201)
    t.ids["upcoming_contest"] = upcoming.json()["id"]

    # This week's feature, drafted from the recognition; the colleague is asked for consent.
    login(client, db, t.people["curator"])
    _ok(_post(client, f"/{slug}/curate/pick", {"recognition_id": t.ids["recognition"]}))
    t.ids["feature"] = _one_id(db, "SELECT max(id) FROM feature WHERE org_id = :o", o=org.id)
    t.ids["consent"] = _one_id(
        db, "SELECT max(id) FROM featureconsent WHERE feature_id = :f", f=t.ids["feature"]
    )
    # A failed delivery of it (publishing is the scheduler's work, not a route's).
    delivery = WebhookDelivery(
        webhook_id=t.ids["webhook"],
        feature_id=t.ids["feature"],
        event="published",
        status=DeliveryStatus.failed,
    )
    db.add(delivery)
    db.flush()
    assert delivery.id is not None
    t.ids["delivery"] = delivery.id

    # Stafettpinnen: the admin (a leader) holds two batons, one with the story written.
    t.ids["leader"] = make_person(db, org, name=f"{label} Leader", role="leader").id
    for kind in ("relay", "written_relay"):
        _ok(
            _post(
                client,
                f"/{slug}/stories/relays",
                {"title": f"{label} {kind}", "first": t.ids["admin"]},
            )
        )
        t.ids[kind] = _one_id(db, "SELECT max(id) FROM relay WHERE org_id = :o", o=org.id)
    login(client, db, t.people["admin"])
    story = {"title": f"{label} historie", "text": TEXT * 2, "idempotency_key": NEW_KEY}
    _ok(
        _post(
            client,
            f"/{slug}/stories/relays/{t.ids['written_relay']}/write",
            {**story, "idempotency_key": secrets.token_urlsafe(12), "feature_consent": "1"},
        )
    )
    t.ids["story"] = _one_id(db, "SELECT max(id) FROM story WHERE org_id = :o", o=org.id)
    client.cookies.clear()
    return t


def _contest_json(label: str, **overrides: Any) -> dict[str, Any]:
    """A competition that opens for photos in five days."""
    now = datetime.now(UTC)
    return {
        "title": f"{label} kommer",
        "submit_opens_at": _iso(now + timedelta(days=5)),
        "submit_closes_at": _iso(now + timedelta(days=6)),
        "vote_opens_at": _iso(now + timedelta(days=6)),
        "vote_closes_at": _iso(now + timedelta(days=7)),
        **overrides,
    }


def _contest_form(**overrides: Any) -> dict[str, Any]:
    """The new/edit competition form for one that opens for photos in five days."""
    now = datetime.now(UTC)

    def local(days: int) -> str:
        return (now + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")

    return {
        "title": "Vinterlys",
        "theme": "",
        "submit_opens_at": local(5),
        "submit_closes_at": local(6),
        "vote_opens_at": local(6),
        "vote_closes_at": local(7),
        "entries_per_person": "1",
        "vote_rule": "one",
        "votes_per_person": "",
        "winner_rule": "votes",
        **overrides,
    }


def _colleague_token(client: TestClient, db: Session, t: Tenant) -> str:
    """The colleague's API token (made once, by the admin)."""
    if "colleague" not in t.tokens:
        login(client, db, t.people["admin"])
        page = _ok(
            _post(
                client, f"/{t.slug}/admin/tokens", {"person": t.ids["colleague"], "name": "test"}
            ),
            200,
        )
        match = re.search(r'id="raw-token"[^>]*value="([^"]+)"', page.text)
        assert match
        t.tokens["colleague"] = match.group(1)
    return t.tokens["colleague"]


@pytest.fixture
def tenants(client: TestClient, db: Session) -> tuple[Tenant, Tenant]:
    a = _build(client, db, "alfa", "Alfa", 200)
    b = _build(client, db, "beta", f"Beta {SECRET}", 30)
    return a, b


def _snapshot(db: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (but sessions and counters), as comparable data."""
    conn = db.connection()
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in sorted(inspect(conn).get_table_names()):
        if table in VOLATILE_TABLES or table == "alembic_version":
            continue
        skip = VOLATILE_COLUMNS.get(table, set())
        quote = conn.dialect.identifier_preparer.quote
        columns = [quote(c["name"]) for c in inspect(conn).get_columns(table)]
        columns = [c for c in columns if c.strip('"') not in skip]
        rows = conn.execute(text(f"SELECT {', '.join(columns)} FROM {quote(table)}"))  # noqa: S608
        out[table] = sorted((tuple(str(v) for v in row) for row in rows), key=repr)
    return out


# --- the cases ------------------------------------------------------------------------------

ID = "<id>"  # where a case puts the id under test: A's own, one that does not exist, or B's
NEW_KEY = "<new idempotency key>"  # a fresh one for every request
TEXT = "Takk for at du tok vakta mi i går, det reddet helgen!"
PERSON = {"email": "ny@alfa.example.no", "name": "Ny Person", "title": "", "role": "employee"}


@dataclass(frozen=True)
class Case:
    """One request of A's `role` with one id of kind `kind` in a form, JSON body or query."""

    role: str  # admin, curator or employee of organisation A
    method: str
    url: str  # {org} and {kind} are A's slug and ids
    kind: str  # "photo", ...; "email:colleague" and "name:value" are looked up by text
    form: dict[str, Any] | None = None
    json: Any = None
    bearer: bool = False  # the API token instead of the session cookie
    own_works: bool = True  # with A's own id the request succeeds (a control of the case)
    shows: bool = False  # it only shows a page (like a GET): it need not refuse, only not leak

    @property
    def refused(self) -> bool:
        """Requests that change something answer 4xx; a page that shows an id may also leave it
        out, as it does one that does not exist."""
        return self.method != "GET" and not self.shows


def C(role: str, method: str, url: str, kind: str, **kw: Any) -> Case:
    return Case(role, method, url, kind, **kw)


API = "/api/v1/orgs/{org}"
GIVE = {"recipients": "{colleague}", "values": "{value}", "text": TEXT, "idempotency_key": NEW_KEY}
GIVE_JSON = {"recipients": ["{colleague}"], "values": ["{value}"], "text": TEXT}
JURY = "{org}/contests/{jury_contest}"
STORY = {"title": "Vakta i helga", "text": TEXT * 2, "idempotency_key": NEW_KEY}

# One line per case (the formatter would spread them over many).
# fmt: off
CASES = {
    # Giving: the page form and the JSON API, by id and (API) by e-mail address or name.
    "give form: recipient": C("employee", "POST", "/{org}/give", "colleague", form={**GIVE, "recipients": ID}),
    "give form: value": C("employee", "POST", "/{org}/give", "value", form={**GIVE, "values": ID}),
    "give form search: recipient": C("employee", "POST", "/{org}/give", "colleague", form={**GIVE, "recipients": ID, "search": "1", "q": "Beta"}, shows=True),
    "give page: ?to=": C("employee", "GET", "/{org}/give?to=<id>", "colleague"),
    "give page: ?recipients=": C("employee", "GET", "/{org}/give?recipients=<id>", "colleague"),
    "give page: ?values=": C("employee", "GET", "/{org}/give?values=<id>", "value"),
    "give people: ?recipients=": C("employee", "GET", "/{org}/give/people?q=a&recipients=<id>", "colleague"),
    "api give: recipient id": C("employee", "POST", API + "/recognitions", "colleague", json={**GIVE_JSON, "recipients": [ID]}, bearer=True),
    "api give: recipient e-mail": C("employee", "POST", API + "/recognitions", "email:colleague", json={**GIVE_JSON, "recipients": [ID]}, bearer=True),
    "api give: value id": C("employee", "POST", API + "/recognitions", "value", json={**GIVE_JSON, "values": [ID]}, bearer=True),
    "api give: value name": C("employee", "POST", API + "/recognitions", "name:value", json={**GIVE_JSON, "values": [ID]}, bearer=True),
    "api give: photo_id": C("employee", "POST", API + "/recognitions", "spare_photo", json={**GIVE_JSON, "photo_id": ID}, bearer=True),
    "api give (cookie): recipient id": C("employee", "POST", API + "/recognitions", "colleague", json={**GIVE_JSON, "recipients": [ID]}),
    "api give (cookie): photo_id": C("employee", "POST", API + "/recognitions", "spare_photo", json={**GIVE_JSON, "photo_id": ID}),
    # Feeds filtered by a value.
    "home: ?value=": C("employee", "GET", "/{org}/?value=<id>", "value"),
    "feed: ?value=": C("employee", "GET", "/{org}/feed?value=<id>", "value"),
    "api feed: ?value=": C("employee", "GET", API + "/recognitions?value=<id>", "value", bearer=True),
    # Competitions: their value, votes and the jury (A's competition, B's photo).
    "contest new: value_id": C("curator", "POST", "/{org}/contests/new", "value", form=_contest_form(value_id=ID)),
    "contest edit: value_id": C("curator", "POST", "/{org}/contests/{upcoming_contest}/edit", "value", form=_contest_form(value_id=ID)),
    "api contest create: value_id": C("curator", "POST", API + "/contests", "value", json=_contest_json("Alfa", value_id=ID), bearer=True),
    "api contest update: value_id": C("curator", "PUT", API + "/contests/{upcoming_contest}", "value", json=_contest_json("Alfa", value_id=ID), bearer=True),
    # Storskjerm: a live session belongs to one of the organisation's values.
    "live new: value_id": C("curator", "POST", "/{org}/live", "value", form={"question": "Hva gjør deg stolt?", "kind": "cloud", "value_id": ID}),
    "api live create: value_id": C("curator", "POST", API + "/live", "value", json={"question": "Hva gjør deg stolt?", "kind": "cloud", "value_id": ID}, bearer=True),
    "vote form: entry": C("employee", "POST", "/{org}/contests/{contest}/entries/<id>/vote", "entry"),
    "api vote: entry": C("employee", "POST", API + "/contests/{contest}/entries/<id>/vote", "entry", bearer=True),
    "api unvote: entry": C("employee", "DELETE", API + "/contests/{contest}/entries/<id>/vote", "entry", bearer=True),
    "moderate form: entry": C("curator", "POST", "/{org}/contests/{contest}/entries/<id>/moderate", "entry", form={"decision": "approve"}),
    "api moderate: entry": C("curator", "POST", API + "/contests/{contest}/entries/<id>/moderate", "entry", json={"approve": True}, bearer=True),
    "jury form: place-<entry>": C("curator", "POST", "/{org}/contests/{jury_contest}/jury", "jury_entry", form={"place-<id>": "1"}),
    "api jury: places": C("curator", "PUT", API + "/contests/{jury_contest}/jury", "jury_entry", json={"places": {ID: 1}}, bearer=True),
    # Ukens ESS: the curator's pick and the consent requests of A's feature.
    "curate pick: recognition_id": C("curator", "POST", "/{org}/curate/pick", "recognition", form={"recognition_id": ID}, own_works=False),
    "curate pick: entry_id": C("curator", "POST", "/{org}/curate/pick", "entry", form={"entry_id": ID}, own_works=False),
    "curate ask again: consent": C("curator", "POST", "/{org}/curate/{feature}/ask/<id>", "consent", own_works=False),
    # Admin forms: a person's department and led departments, a parent, a token's person.
    "person add: department": C("admin", "POST", "/{org}/admin/people", "department", form={**PERSON, "active": "on", "department": ID}),
    "person add: leads": C("admin", "POST", "/{org}/admin/people", "department", form={**PERSON, "role": "leader", "active": "on", "leads": ID}),
    "person save: department": C("admin", "POST", "/{org}/admin/people/{colleague}", "department", form={**PERSON, "active": "on", "department": ID}),
    "person save: leads": C("admin", "POST", "/{org}/admin/people/{colleague}", "department", form={**PERSON, "role": "leader", "active": "on", "leads": ID}),
    "department add: parent": C("admin", "POST", "/{org}/admin/departments", "department", form={"name": "Ny avdeling", "parent": ID}),
    "department save: parent": C("admin", "POST", "/{org}/admin/departments/{other_department}", "department", form={"name": "Omdøpt", "parent": ID}),
    "token create: person": C("admin", "POST", "/{org}/admin/tokens", "colleague", form={"person": ID, "name": "Intranett"}),
    # Stafettpinnen: the leader a relay starts with, is passed or handed to; a story's values
    # and colleagues.
    "relay start: first leader": C("curator", "POST", "/{org}/stories/relays", "leader", form={"title": "Ny stafett", "first": ID}),
    "relay hand: leader": C("curator", "POST", "/{org}/stories/relays/{relay}/hand", "leader", form={"to": ID}),
    "relay pass: leader": C("admin", "POST", "/{org}/stories/relays/{written_relay}/pass", "leader", form={"to": ID}),
    "curate pick: story": C("curator", "POST", "/{org}/curate/pick", "story", form={"story_id": ID}),
    "story write: value": C("admin", "POST", "/{org}/stories/relays/{relay}/write", "value", form={**STORY, "values": ID}),
    "story write: colleague": C("admin", "POST", "/{org}/stories/relays/{relay}/write", "colleague", form={**STORY, "people": ID}),
    "story write search: colleague": C("admin", "POST", "/{org}/stories/relays/{relay}/write", "colleague", form={**STORY, "people": ID, "search": "1", "q": "Beta"}, shows=True),
    # The audit log filtered by who did it.
    "audit log: ?actor=": C("admin", "GET", "/{org}/admin/audit?actor=<id>", "colleague"),
    "audit csv: ?actor=": C("admin", "GET", "/{org}/admin/audit.csv?actor=<id>", "colleague"),
    # Webhooks: A's webhook, B's delivery.
    "webhook retry: delivery": C("admin", "POST", "/{org}/admin/webhooks/{webhook}/deliveries/<id>/retry", "delivery"),
}
# fmt: on


def _the_id(t: Tenant | None, a: Tenant, kind: str) -> str:
    """The id (or e-mail address, or name) of `kind` in `t`; None: one that does not exist."""
    how, _, what = kind.rpartition(":")
    if how == "email":
        return t.emails[what] if t else f"ingen@{a.slug}.example.no"
    if how == "name":
        return {"value": t.value_name}[what] if t else "Ingen slik verdi"
    return str(t.ids[kind] if t else MISSING)


def _fill(item: Any, a: Tenant, the_id: str, as_int: bool) -> Any:
    """The case's request with A's ids in it and `the_id` where it says ID."""
    if isinstance(item, dict):
        return {_fill(k, a, the_id, False): _fill(v, a, the_id, as_int) for k, v in item.items()}
    if isinstance(item, list):
        return [_fill(v, a, the_id, as_int) for v in item]
    if item == NEW_KEY:
        return secrets.token_urlsafe(12)
    if item == ID:
        return int(the_id) if as_int and the_id.isdigit() else the_id
    if as_int and isinstance(item, str) and re.fullmatch(r"\{\w+\}", item):
        return a.ids[item[1:-1]]
    if isinstance(item, str):
        item = item.replace(ID, the_id)
        return re.sub(r"\{(\w+)\}", lambda m: a.slug if m[1] == "org" else str(a.ids[m[1]]), item)
    return item


def _send(client: TestClient, db: Session, a: Tenant, case: Case, the_id: str) -> Response:
    url = _fill(case.url, a, the_id, False)
    headers = {"Accept-Language": "en"}
    if case.bearer:
        client.cookies.clear()
        headers["Authorization"] = f"Bearer {a.tokens[case.role]}"
    else:
        login(client, db, a.people[case.role])
        headers["X-CSRF-Token"] = _csrf(client)
    if case.form is not None:
        data = {"csrf_token": headers["X-CSRF-Token"], **_fill(case.form, a, the_id, False)}
        return client.request(case.method, url, data=data, headers=headers, follow_redirects=False)
    body = _fill(case.json, a, the_id, True) if case.json is not None else None
    return client.request(case.method, url, json=body, headers=headers, follow_redirects=False)


def _messages(response: Response) -> list[str]:
    """What the response says went wrong: the form's error texts, or the API's problem."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return [re.sub(r"\d+", "N", response.text)]
    summary = re.findall(r'<li><a href="#f-([\w-]+)">([^<]+)</a>', response.text)
    return [*map(": ".join, summary), *re.findall(r'class="error"[^>]*>([^<]+)<', response.text)]


@pytest.mark.parametrize("name", list(CASES))
def test_another_orgs_id_is_refused_like_a_missing_one(
    client: TestClient, db: Session, tenants: tuple[Tenant, Tenant], name: str
) -> None:
    a, b = tenants
    case = CASES[name]
    before = _snapshot(db)
    missing = _send(client, db, a, case, _the_id(None, a, case.kind))
    assert _snapshot(db) == before, "a request with an id that does not exist changed something"
    theirs = _send(client, db, a, case, _the_id(b, a, case.kind))
    said = (theirs.status_code, _messages(theirs) or theirs.text[:3000])
    assert theirs.status_code == missing.status_code, said
    if case.refused:
        assert theirs.status_code in (404, 422), said
    assert _messages(theirs) == _messages(missing)
    leak = theirs.text.find(SECRET)
    assert leak < 0, theirs.text[max(0, leak - 300) : leak + 100]
    assert _snapshot(db) == before, f"{name}: another organisation's id changed something"
    if case.own_works:  # the control: the same request with A's own id does what it is for
        own = _send(client, db, a, case, _the_id(a, a, case.kind))
        assert own.status_code < 400, (own.status_code, _messages(own) or own.text[:3000])


ID_FIELDS = re.compile(r".*_ids?|recipients|values|entry|places")


def _shape(url: str) -> str:
    """A path with its parameters blanked, to match an OpenAPI path with a case's URL."""
    return re.sub(r"\{\w+\}|<id>|\d+", "{}", url.split("?")[0])


def test_every_id_field_of_the_json_api_has_a_case(app: Any) -> None:
    schema = app.openapi()
    components = schema["components"]["schemas"]
    fields = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                ref = content["schema"].get("$ref", "")
                body = components[ref.rsplit("/", 1)[-1]] if ref else content["schema"]
                for name in body.get("properties", {}):
                    if ID_FIELDS.fullmatch(name):
                        fields.add((method.upper(), _shape(path), name))
    assert fields, "the schema has no id fields: is this test still looking in the right place?"
    covered = {
        (case.method, _shape(case.url), name)
        for case in CASES.values()
        if isinstance(case.json, dict)
        for name, value in case.json.items()
        if ID in json.dumps(value)
    }
    assert fields - covered == set(), "add a case to CASES for each of these"


def test_every_declared_id_form_field_of_the_pages_has_a_case(app: Any) -> None:
    """Form fields a route declares (admin forms read theirs by name: they are listed above)."""
    routes = []  # (path, route); routers are included lazily, as in tests/test_security.py
    for r in app.routes:
        if isinstance(r, APIRoute):
            routes.append((r.path, r))
        elif hasattr(r, "effective_route_contexts"):
            routes.extend((c.path, c.original_route) for c in r.effective_route_contexts())
    fields = set()
    for path, route in routes:
        if not isinstance(route, APIRoute) or path.startswith("/api/"):
            continue
        for param in route.dependant.body_params:
            if ID_FIELDS.fullmatch(param.name):
                fields.update((m, _shape(path), param.name) for m in route.methods)
    assert ("POST", "/{}/curate/pick", "recognition_id") in fields
    covered = {
        (case.method, _shape(case.url), name)
        for case in CASES.values()
        for name, value in (case.form or {}).items()
        if ID in str(value)
    }
    assert fields - covered == set(), "add a case to CASES for each of these"


def _rows_of(db: Session, org_slug: str) -> list[tuple[Any, ...]]:
    """The people and departments of one organisation."""
    conn = db.connection()
    rows: list[tuple[Any, ...]] = []
    for sql in (
        "SELECT p.* FROM person p JOIN organisation o ON o.id = p.org_id WHERE o.slug = :slug",
        "SELECT d.* FROM department d JOIN organisation o ON o.id = d.org_id WHERE o.slug = :slug",
    ):
        rows.extend(sorted(tuple(r) for r in conn.execute(text(sql), {"slug": org_slug})))
    return rows


def test_an_import_with_another_orgs_people_and_departments_touches_only_its_own(
    client: TestClient, db: Session, tenants: tuple[Tenant, Tenant]
) -> None:
    """The CSV names people by e-mail address and departments by name: B's become A's own."""
    a, b = tenants
    before = _rows_of(db, b.slug)
    login(client, db, a.people["admin"])
    csv = f"email,name,department,title,role\n{b.emails['colleague']},Ny,{b.department_name},,\n"
    response = post_form(
        client,
        f"/{a.slug}/admin/people/import",
        files={"file": ("folk.csv", csv.encode(), "text/csv")},
    )
    assert response.status_code == 303
    assert client.get(response.headers["location"]).status_code == 200
    assert _rows_of(db, b.slug) == before
    conn = db.connection()
    [(org_id, dept_org_id)] = conn.execute(
        text(
            "SELECT p.org_id, d.org_id FROM person p JOIN department d ON d.id = p.department_id"
            " WHERE p.email = :email AND p.id != :theirs"
        ),
        {"email": b.emails["colleague"], "theirs": b.ids["colleague"]},
    )
    a_id = _one_id(db, "SELECT id FROM organisation WHERE slug = :s", s=a.slug)
    assert org_id == dept_org_id == a_id
