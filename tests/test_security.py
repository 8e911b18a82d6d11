"""CSRF on every unsafe route, security headers, rate limits, tenant isolation."""

import re

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func
from sqlmodel import select

from app.auth.models import ApiToken
from app.auth.service import create_api_token
from app.contests.models import Contest, ContestEntry
from app.live.models import HeldWord, LiveAnswer, LiveSession
from app.media.models import MediaImage
from app.models import (
    AuditEvent,
    Department,
    ImportJob,
    Organisation,
    Person,
    Recognition,
    Value,
)
from app.orgs.models import Role
from app.scim.models import ScimGroup, ScimGroupMember, ScimToken, ScimUser
from app.scim.tokens import create_token as create_scim_token
from app.security import csrf_protect
from app.stories.models import Leg, Relay, Story
from app.weekly.models import (
    DeliveryStatus,
    Feature,
    FeatureConsent,
    Webhook,
    WebhookDelivery,
    WebhookKind,
)
from tests.helpers import (
    PUBLIC_ORG_ROUTES,
    all_routes,
    csrf_token,
    give,
    login,
    make_contest,
    make_department,
    make_entry,
    make_org,
    make_person,
    make_value,
    org_routes,
    post_form,
)

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# SCIM is for identity systems: a bearer token per organisation, never a cookie session. Its
# routes carry the CSRF check too (a bearer request passes it), answer 401 without a token, and
# are tested for isolation with tokens below.
SCIM = "/scim/"


def _unsafe_routes() -> list[tuple[str, str]]:
    return sorted((m, path) for path, r in all_routes() for m in r.methods & UNSAFE)


def test_route_listing_sees_the_routes():
    paths = {path for path, _ in all_routes()}
    assert {"/login", "/{org}/", "/api/v1/orgs/{org}/me"} <= paths


def _dependency_calls(route: APIRoute) -> set:
    seen = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        seen.add(dep.call)
        stack.extend(dep.dependencies)
    return seen


@pytest.mark.parametrize("method,path", _unsafe_routes())
def test_every_unsafe_route_checks_csrf(method, path):
    route = next(r for p, r in all_routes() if p == path and method in r.methods)
    assert csrf_protect in _dependency_calls(route), f"{method} {path} has no CSRF check"


@pytest.mark.parametrize("method,path", _unsafe_routes())
def test_unsafe_request_without_token_is_refused(client, db, method, path):
    org = make_org(db)
    admin = make_person(db, org, role="admin")
    login(client, db, admin)
    client.get("/login")  # the browser has its CSRF cookie, but the form lacks the token
    url = re.sub(r"\{org\}", org.slug, path)
    url = re.sub(r"\{[a-z_]+\}", "1", url)
    response = client.request(method, url, data={"email": admin.email}, follow_redirects=False)
    # Refused: an organisation's page form is kept for the person to send again (app/resend.py);
    # SCIM asks for its bearer token.
    if path.startswith(SCIM):
        assert response.status_code == 401
    elif path.startswith("/{org}/"):
        assert response.status_code == 303, response.text[:300]
        assert response.headers["location"] == f"/{org.slug}/resend"
    else:
        assert response.status_code == 403
    assert db.exec(select(func.count()).select_from(AuditEvent)).one() == 0


def test_wrong_csrf_token_is_refused(client, db):
    person = make_person(db, make_org(db))
    client.get("/login")
    response = client.post("/auth/demo", data={"email": person.email, "csrf_token": "0" * 64})
    assert response.status_code == 403


def test_token_from_another_browser_is_refused(app, client, db):
    from fastapi.testclient import TestClient

    person = make_person(db, make_org(db))
    with TestClient(app, base_url="http://testserver") as other:
        stolen = csrf_token(other)
    client.get("/login")
    response = client.post("/auth/demo", data={"email": person.email, "csrf_token": stolen})
    assert response.status_code == 403


def test_htmx_requests_may_send_the_token_as_a_header(client, db):
    person = make_person(db, make_org(db))
    token = csrf_token(client)
    response = client.post(
        "/auth/demo",
        data={"email": person.email},
        headers={"X-CSRF-Token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303


def test_security_headers_on_every_response(client, db):
    for url in ["/login", "/healthz", "/no-such-page", "/static/css/app.css"]:
        response = client.get(url)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert response.headers["X-Request-ID"]
        assert "Strict-Transport-Security" not in response.headers  # plain http here


def test_writes_are_rate_limited_per_person(client, db, settings_env):
    settings_env(write_rate_per_minute=3)
    org = make_org(db)
    person = make_person(db, org)
    login(client, db, person)
    statuses = [
        post_form(client, f"/{org.slug}/me/language", {"lang": "nn"}).status_code for _ in range(4)
    ]
    assert statuses[:3] == [303, 303, 303]
    assert statuses[3] == 429


def test_user_text_is_escaped(client, db):
    org = make_org(db, name='<script>alert(1)</script> "kommune"')
    person = make_person(db, org, name='<img src=x onerror=alert(1)> hx-get="/x"')
    login(client, db, person)
    page = client.get(f"/{org.slug}/me").text
    assert "<script>alert(1)</script>" not in page
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; hx-get=&#34;/x&#34;" in page


# --- tenant isolation ---------------------------------------------------------------------

PARAM_MODELS = {
    "value_id": Value,
    "department_id": Department,
    "person_id": Person,
    "token_id": ApiToken,
    "job_id": ImportJob,
    "rec_id": Recognition,
    "feature_id": Feature,
    "consent_id": FeatureConsent,
    "image_id": MediaImage,
    "contest_id": Contest,
    "entry_id": ContestEntry,
    "webhook_id": Webhook,
    "delivery_id": WebhookDelivery,
    "relay_id": Relay,
    "story_id": Story,
    "user_id": ScimUser,
    "group_id": ScimGroup,
    "scim_token_id": ScimToken,
    "live_id": LiveSession,
    "answer_id": LiveAnswer,
    "word_id": HeldWord,
}


@pytest.fixture
def two_orgs(db):
    """Org A with an admin signed in; org B with one row of every kind."""
    a = make_org(db, slug="alpha")
    b = make_org(db, slug="beta")
    admin_a = make_person(db, a, role=Role.admin)
    b_person = make_person(db, b, role=Role.admin, name="Beate i Beta")
    b_rows = {
        Value: make_value(db, b, name="Beta-verdi"),
        Department: make_department(db, b, name="Beta-avdeling"),
        Person: b_person,
        ApiToken: create_api_token(db, b_person, "beta")[0],
        ImportJob: ImportJob(org_id=b.id, filename="beta.csv"),
    }
    db.add(b_rows[ImportJob])
    b_other = make_person(db, b, name="Bjarne i Beta")
    b_rows[Recognition] = give(
        db, b_person, [b_other], [b_rows[Value]], text="Beta-tekst som er hemmelig"
    )
    b_rows[MediaImage] = MediaImage(
        org_id=b.id,
        owner_id=b_person.id,
        sha256="b" * 64,
        width=800,
        height=600,
        variants=[{"width": 800, "height": 600, "format": "webp", "key": f"o{b.id}/x.webp"}],
    )
    db.add(b_rows[MediaImage])
    b_rows[Contest] = make_contest(db, b, "voting", title="Beta-konkurranse")
    b_rows[ContestEntry] = make_entry(db, b_rows[Contest], b_other, caption="Beta-bilde")
    b_rows[Feature] = Feature(
        org_id=b.id,
        iso_year=2026,
        iso_week=48,
        recognition_id=b_rows[Recognition].id,
        headline="Beta-overskrift",
        body="Beta-tekst som er hemmelig",
    )
    db.add(b_rows[Feature])
    db.flush()
    b_rows[FeatureConsent] = FeatureConsent(
        feature_id=b_rows[Feature].id, person_id=b_other.id, token_hash="c" * 64
    )
    b_rows[Webhook] = Webhook(
        org_id=b.id, kind=WebhookKind.generic, name="Beta-webhook", url="https://beta.example/hook"
    )
    db.add_all([b_rows[FeatureConsent], b_rows[Webhook]])
    db.flush()
    b_rows[WebhookDelivery] = WebhookDelivery(
        webhook_id=b_rows[Webhook].id,
        feature_id=b_rows[Feature].id,
        event="published",
        status=DeliveryStatus.failed,
    )
    db.add(b_rows[WebhookDelivery])
    db.flush()
    b_rows[Relay] = Relay(org_id=b.id, title="Beta-stafett", started_by_id=b_person.id)
    db.add(b_rows[Relay])
    db.flush()
    b_leg = Leg(org_id=b.id, relay_id=b_rows[Relay].id, holder_id=b_person.id)
    db.add(b_leg)
    db.flush()
    b_rows[Story] = Story(
        org_id=b.id,
        relay_id=b_rows[Relay].id,
        leg_id=b_leg.id,
        author_id=b_person.id,
        title="Beta-historie",
        text="Beta-tekst som er hemmelig",
        idempotency_key="beta-story",
    )
    db.add(b_rows[Story])
    b_rows[ScimUser] = ScimUser(
        org_id=b.id,
        person_id=b_other.id,
        user_name="bjarne@beta.example",
        user_name_key="bjarne@beta.example",
    )
    b_rows[ScimGroup] = ScimGroup(org_id=b.id, display_name="Beta-gruppe")
    b_rows[ScimToken] = create_scim_token(db, b, "Beta-token")[0]
    db.add_all([b_rows[ScimUser], b_rows[ScimGroup]])
    db.flush()
    db.add(ScimGroupMember(group_id=b_rows[ScimGroup].id, user_id=b_rows[ScimUser].id))
    b_rows[LiveSession] = LiveSession(
        org_id=b.id, question="Beta-spørsmål", kind="cloud", code="BETA23", screen_key="k" * 32
    )
    b_rows[HeldWord] = HeldWord(org_id=b.id, locale="nb", word="betaord")
    db.add_all([b_rows[LiveSession], b_rows[HeldWord]])
    db.flush()
    b_rows[LiveAnswer] = LiveAnswer(
        session_id=b_rows[LiveSession].id, participant=f"p{b_other.id}", words=["betaord"]
    )
    db.add(b_rows[LiveAnswer])
    db.flush()
    db.flush()
    return a, b, admin_a, b_rows


def _snapshot(db, org):
    """Everything of `org` that a request could change, as comparable data."""
    rows = []
    for model in (
        Organisation, Value, Department, Person, ImportJob, Feature, Webhook, Contest, ScimUser,
        ScimGroup, ScimToken,
    ):  # fmt: skip
        where = model.id == org.id if model is Organisation else model.org_id == org.id
        rows.extend(
            sorted(str(sorted(r.model_dump().items())) for r in db.exec(select(model).where(where)))
        )
    rows.extend(
        str(sorted(t.model_dump().items()))
        for t in db.exec(select(ApiToken).join(Person).where(Person.org_id == org.id))
    )
    db.expire_all()
    return rows


def test_public_org_routes_reveal_no_names(client, two_orgs):
    _a, b, _admin_a, _ = two_orgs
    css = client.get(f"/{b.slug}/theme.css")
    assert css.status_code == 200
    assert "Beta" not in css.text and "Beate" not in css.text


# Path parameters that are not ids: a valid literal is enough.
LITERAL_PARAMS = {
    "kind": "clap",
    "variant": "800.webp",
    "schema_id": "urn:ietf:params:scim:schemas:core:2.0:User",
    "type_id": "User",
    "rest": "Users",
}


def _fill(path, slug, b_rows):
    def repl(match):
        name = match.group(1)
        if name == "org":
            return slug
        if name in LITERAL_PARAMS:
            return LITERAL_PARAMS[name]
        model = PARAM_MODELS.get(name)
        assert model is not None, f"add {name!r} to PARAM_MODELS so isolation is tested for {path}"
        return str(b_rows[model].id)

    return re.sub(r"\{([a-z_]+)\}", repl, path)


def _isolation_cases(scim: bool = False):
    for method, path in org_routes():
        if (method, path) in PUBLIC_ORG_ROUTES or path.startswith(SCIM) != scim:
            continue
        yield method, path, "other org"
        if re.search(r"\{(?!org\})", path) and not (
            scim and not re.search(r"\{(user|group)_id\}", path)
        ):  # the route takes ids besides the organisation
            yield method, path, "own org with other org's ids"


@pytest.mark.parametrize("method,path,slug_of", list(_isolation_cases()))
def test_nothing_of_another_org_can_be_read_or_changed(client, db, two_orgs, method, path, slug_of):
    a, b, admin_a, b_rows = two_orgs
    login(client, db, admin_a)
    before = _snapshot(db, b)
    url = _fill(path, b.slug if slug_of == "other org" else a.slug, b_rows)
    data = {
        "csrf_token": csrf_token(client),
        "name": "Hacked",
        "email": "hacked@example.no",
        "active": "",
        "role": "admin",
    }
    response = client.request(
        method, url, data=data if method in UNSAFE else None, follow_redirects=False
    )
    assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
    assert "Beate i Beta" not in response.text and "Beta-verdi" not in response.text
    assert _snapshot(db, b) == before


def test_api_token_of_one_org_cannot_read_another(client, db, two_orgs):
    _a, b, admin_a, _ = two_orgs
    _, raw = create_api_token(db, admin_a)
    db.flush()
    for path in ["", "/values", "/people", "/departments", "/me"]:
        response = client.get(
            f"/api/v1/orgs/{b.slug}{path}", headers={"Authorization": f"Bearer {raw}"}
        )
        assert response.status_code == 404, path
        assert "Beate" not in response.text


@pytest.mark.parametrize("method,path,slug_of", list(_isolation_cases(scim=True)))
def test_a_scim_token_reaches_nothing_of_another_org(client, db, two_orgs, method, path, slug_of):
    a, b, _admin_a, b_rows = two_orgs
    _, raw = create_scim_token(db, a, "Entra ID")
    db.flush()
    before = _snapshot(db, b)
    url = _fill(path, b.slug if slug_of == "other org" else a.slug, b_rows)
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
        "userName": "hacked@example.no",
        "displayName": "Hacked",
    }
    response = client.request(
        method,
        url,
        json=body if method in UNSAFE else None,
        headers={"Authorization": f"Bearer {raw}"},
        follow_redirects=False,
    )
    assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert "Beta" not in response.text and "bjarne" not in response.text
    assert _snapshot(db, b) == before


# --- CSRF bound to the session, and the Origin of cookie requests ----------------------------


def test_a_planted_cookie_and_token_pair_is_refused_with_another_persons_session(app, client, db):
    """An attacker gets a valid (CSRF cookie, token) pair in their own browser, plants the cookie
    in the victim's browser (a sibling subdomain can) and sends the victim a form with the token."""
    from fastapi.testclient import TestClient

    org = make_org(db)
    attacker = make_person(db, org)
    victim = make_person(db, org)
    with TestClient(app, base_url="http://testserver") as theirs:
        login(theirs, db, attacker)
        planted_token = csrf_token(theirs)
        planted_cookie = theirs.cookies["tod_csrf"]
    login(client, db, victim)
    client.cookies.set("tod_csrf", planted_cookie)
    response = client.post(
        f"/{org.slug}/me/language",
        data={"lang": "nn", "csrf_token": planted_token},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    # Refused; from the app's own origin the form is kept for the victim to look at and send
    # again by a click of their own (app/resend.py), never applied.
    assert response.status_code == 303
    assert response.headers["location"] == f"/{org.slug}/resend"
    db.refresh(victim)
    assert victim.locale is None
    # The victim's own page token works.
    assert post_form(client, f"/{org.slug}/me/language", {"lang": "nn"}).status_code == 303


def test_an_anonymous_pair_does_not_work_once_logged_in(client, db):
    org = make_org(db)
    person = make_person(db, org)
    anonymous_token = csrf_token(client)
    login(client, db, person)
    response = client.post(
        f"/{org.slug}/me/language",
        data={"lang": "nn", "csrf_token": anonymous_token},
        follow_redirects=False,
    )
    assert response.status_code == 303  # refused, kept to be looked at and sent again
    assert response.headers["location"] == f"/{org.slug}/resend"
    db.refresh(person)
    assert person.locale is None


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "https://testserver"},  # another scheme is another origin
        {"Referer": "https://evil.example/form"},
        {},  # neither Origin nor Referer
    ],
)
def test_cookie_requests_from_another_origin_are_refused(client, db, headers):
    org = make_org(db)
    person = make_person(db, org)
    login(client, db, person)
    token = csrf_token(client)
    client.headers.pop("origin", None)
    response = client.post(
        f"/{org.slug}/me/language",
        data={"lang": "nn", "csrf_token": token},
        headers=headers,
        follow_redirects=False,
    )
    assert response.status_code == 403
    db.refresh(person)
    assert person.locale is None


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://testserver"}, {"Referer": "http://testserver/some/page?x=1"}],
)
def test_cookie_requests_from_the_apps_own_origin_pass(client, db, headers):
    org = make_org(db)
    person = make_person(db, org)
    login(client, db, person)
    token = csrf_token(client)
    client.headers.pop("origin", None)
    response = client.post(
        f"/{org.slug}/me/language",
        data={"lang": "nn", "csrf_token": token},
        headers=headers,
        follow_redirects=False,
    )
    assert response.status_code == 303


def test_bearer_calls_need_no_origin(client, db):
    org = make_org(db)
    person = make_person(db, org)
    _token, raw = create_api_token(db, person)
    other, _ = create_api_token(db, person, "old")
    db.flush()
    client.headers.pop("origin", None)
    response = client.delete(
        f"/api/v1/orgs/{org.slug}/me/tokens/{other.id}",
        headers={"Authorization": f"Bearer {raw}", "Origin": "https://evil.example"},
    )
    assert response.status_code == 204, response.text
