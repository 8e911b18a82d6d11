"""Logging in with an OpenID provider, against real providers on loopback.

Two providers:
- `oidc-provider-mock` (PyPI; the `oidc_provider` fixture runs it as a subprocess): a real OpenID provider that issues RS256 ID
  tokens with any claims (`tid`, `oid` as Entra sends them). The whole flow goes through it:
  the app's redirect, the provider's authorization form, the code exchange, the keys. Used for
  logging in and linking, unknown and deactivated people, a replayed or mismatched state,
  another tenant's `tid`, a provider that is down, logout.
- `Signer` below: a small loopback provider whose ID tokens the test writes and signs with its
  own keys. Used for what the mock cannot produce: a wrong audience, an expired or stale token,
  a rotated key, an unknown key, Entra's multi-tenant issuer naming another tenant, a token
  endpoint that hangs.
"""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey
from sqlmodel import func, select

from app.access import SESSION_COOKIE
from app.auth import oidc
from app.auth.models import LoginSession, OidcIdentity, OidcLogin
from app.auth.oidc_config import configure_provider
from app.kernel.audit import AuditEvent
from app.kernel.clock import utcnow
from app.orgs.models import Person
from tests.helpers import World, login, make_org, make_person, post_form
from tests.pg import _free_port

TENANT = "11111111-2222-4333-8444-555555555555"
OTHER_TENANT = "99999999-8888-4777-8666-555555555555"
CLIENT_ID = "tre-om-dagen-test"


@pytest.fixture(autouse=True)
def _fresh_provider_cache() -> Iterator[None]:
    oidc.cache.clear()
    yield
    oidc.cache.clear()


def start(client, org, next_url: str = "") -> str:
    """Press "Log in with Microsoft": the provider's authorization URL the app redirects to."""
    response = client.get(
        "/auth/oidc/start", params={"org": org.slug, "next": next_url}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return response.headers["location"]


def authorize(authorization_url: str, sub: str) -> str:
    """The person logs in at the mock provider: the callback path and query it sends back."""
    response = httpx.post(authorization_url, data={"sub": sub}, timeout=10)
    assert response.status_code == 302, response.text
    back = urlsplit(response.headers["location"])
    assert f"{back.scheme}://{back.netloc}" == "http://testserver"
    return f"{back.path}?{back.query}"


def log_in_with_provider(client, org, sub: str, next_url: str = ""):
    return client.get(authorize(start(client, org, next_url), sub), follow_redirects=False)


def sessions_of(db, person) -> int:
    return db.exec(
        select(func.count()).select_from(LoginSession).where(LoginSession.person_id == person.id)
    ).one()


@pytest.fixture
def entra_org(db, oidc_provider):
    """An organisation whose provider sends Entra's claims (tenant `TENANT`)."""
    org = make_org(db, name="Åsnes kommune")
    configure_provider(
        db,
        org,
        None,
        issuer=oidc_provider.url,
        client_id=CLIENT_ID,
        client_secret="s3cret-from-entra",
        tenant_id=TENANT,
    )
    return org


def entra_user(provider: Any, oid: str, tid: str = TENANT, **claims: Any) -> str:
    return provider.user(f"pairwise-{oid}", tid=tid, oid=oid, **claims)


# --- logging in ------------------------------------------------------------------------------


def test_a_provisioned_person_logs_in_and_is_linked_by_tid_and_oid(
    client, db, oidc_provider, entra_org
):
    person = make_person(db, entra_org, name="Kari Nordmann", external_id="AAAA-0001")
    sub = entra_user(oidc_provider, "aaaa-0001", email="kari@asnes.no", name="Kari Nordmann")

    response = log_in_with_provider(client, entra_org, sub, next_url=f"/{entra_org.slug}/me")

    assert response.status_code == 303
    assert response.headers["location"] == f"/{entra_org.slug}/me"
    assert SESSION_COOKIE in response.cookies
    assert "Kari Nordmann" in client.get(f"/{entra_org.slug}/me").text
    identity = db.exec(select(OidcIdentity).where(OidcIdentity.person_id == person.id)).one()
    assert (identity.issuer_key, identity.subject) == (f"tid:{TENANT}", "aaaa-0001")
    assert identity.linked_by == "external_id"
    # The attempt is used; its cookie is gone.
    assert db.exec(select(OidcLogin)).one().used_at is not None
    assert "tod_oidc" not in client.cookies

    # The next login finds the person by the identity, even after the address changed.
    person.email = "kari.nordmann@asnes.no"
    person.external_id = None
    db.add(person)
    db.flush()
    client.cookies.clear()
    again = log_in_with_provider(client, entra_org, sub)
    assert again.status_code == 303 and again.headers["location"] == f"/{entra_org.slug}/"
    assert sessions_of(db, person) == 2


def test_the_login_page_offers_microsoft_first_and_the_link_second(client, db, entra_org):
    page = client.get("/login", params={"next": f"/{entra_org.slug}/give"}).text
    microsoft = page.index("/auth/oidc/start?org=")
    assert microsoft < page.index('action="/login"')
    assert "Logg inn med Microsoft" in page
    assert f"next=%2F{entra_org.slug}%2Fgive" in page
    # Without an organisation, or for one without a provider: only the link.
    assert "/auth/oidc/start" not in client.get("/login").text
    plain = make_org(db)
    assert "/auth/oidc/start" not in client.get("/login", params={"org": plain.slug}).text


def test_linking_by_email_only_when_the_organisation_allows_it(
    client, db, oidc_provider, entra_org
):
    person = make_person(db, entra_org, email="ola@asnes.no")
    sub = entra_user(oidc_provider, "bbbb-0002", email="Ola@Asnes.no")

    refused = log_in_with_provider(client, entra_org, sub)
    assert refused.status_code == 403
    assert "ikke kjent" in refused.text or "not known" in refused.text
    assert db.exec(select(func.count()).select_from(OidcIdentity)).one() == 0

    configure_provider(
        db,
        entra_org,
        None,
        issuer=oidc_provider.url,
        client_id=CLIENT_ID,
        client_secret="",
        tenant_id=TENANT,
        link_by_email=True,
    )
    assert log_in_with_provider(client, entra_org, sub).status_code == 303
    identity = db.exec(select(OidcIdentity)).one()
    assert identity.person_id == person.id and identity.linked_by == "email"


def test_a_changed_address_does_not_take_over_someone_already_linked(
    client, db, oidc_provider, entra_org
):
    configure_provider(
        db,
        entra_org,
        None,
        issuer=oidc_provider.url,
        client_id=CLIENT_ID,
        client_secret="",
        tenant_id=TENANT,
        link_by_email=True,
    )
    first = make_person(db, entra_org, email="post@asnes.no")
    assert (
        log_in_with_provider(
            client, entra_org, entra_user(oidc_provider, "cccc-0003", email="post@asnes.no")
        ).headers["location"]
        == f"/{entra_org.slug}/"
    )
    # Another account now carries the same address: it does not become `first`.
    client.cookies.clear()
    other = log_in_with_provider(
        client, entra_org, entra_user(oidc_provider, "dddd-0004", email="post@asnes.no")
    )
    assert other.status_code == 403
    assert SESSION_COOKIE not in other.cookies
    assert db.exec(select(OidcIdentity.person_id)).all() == [first.id]


def test_an_unknown_person_is_refused_and_nothing_is_created(client, db, oidc_provider, entra_org):
    people = db.exec(select(func.count()).select_from(Person)).one()
    response = log_in_with_provider(
        client, entra_org, entra_user(oidc_provider, "eeee-0005", email="ny@asnes.no", name="Ny")
    )
    assert response.status_code == 403
    assert "Åsnes kommune" in response.text
    assert SESSION_COOKIE not in response.cookies
    assert db.exec(select(func.count()).select_from(Person)).one() == people
    assert db.exec(select(func.count()).select_from(OidcIdentity)).one() == 0


def test_a_deactivated_person_cannot_come_back_with_the_provider(
    client, db, oidc_provider, entra_org
):
    admin = make_person(db, entra_org, role="admin")
    person = make_person(db, entra_org, email="per@asnes.no", external_id="ffff-0006")
    sub = entra_user(oidc_provider, "ffff-0006")
    assert log_in_with_provider(client, entra_org, sub).status_code == 303
    assert client.get(f"/{entra_org.slug}/", follow_redirects=False).status_code == 200

    from fastapi.testclient import TestClient

    with TestClient(client.app, base_url="http://testserver") as admins:
        login(admins, db, admin)
        saved = post_form(
            admins,
            f"/{entra_org.slug}/admin/people/{person.id}",
            {"email": person.email, "name": person.name, "role": "employee", "active": ""},
        )
        assert saved.status_code == 303, saved.text
    # The session ended at once, and the provider cannot bring them back.
    assert client.get(f"/{entra_org.slug}/", follow_redirects=False).status_code == 303
    again = log_in_with_provider(client, entra_org, sub)
    assert again.status_code == 403
    assert "deaktivert" in again.text or "deactivated" in again.text
    assert SESSION_COOKIE not in again.cookies


def test_another_tenants_token_is_refused(client, db, oidc_provider, entra_org):
    make_person(db, entra_org, external_id="1234-0007")
    sub = entra_user(oidc_provider, "1234-0007", tid=OTHER_TENANT)
    response = log_in_with_provider(client, entra_org, sub)
    assert response.status_code == 400
    assert SESSION_COOKIE not in response.cookies
    assert db.exec(select(func.count()).select_from(OidcIdentity)).one() == 0


def test_a_replayed_callback_is_refused(client, db, oidc_provider, entra_org):
    person = make_person(db, entra_org, external_id="2345-0008")
    callback = authorize(start(client, entra_org), entra_user(oidc_provider, "2345-0008"))
    cookie = client.cookies["tod_oidc"]
    assert client.get(callback, follow_redirects=False).status_code == 303
    client.cookies.clear()
    client.cookies.set("tod_oidc", cookie, path="/auth/oidc")
    replay = client.get(callback, follow_redirects=False)
    assert replay.status_code == 400
    assert SESSION_COOKIE not in replay.cookies
    assert sessions_of(db, person) == 1


def test_a_callback_in_another_browser_or_with_another_state_is_refused(
    app, client, db, oidc_provider, entra_org
):
    """Login CSRF: an attacker's own callback URL sent to a victim logs nobody in."""
    from fastapi.testclient import TestClient

    person = make_person(db, entra_org, external_id="3456-0009")
    callback = authorize(start(client, entra_org), entra_user(oidc_provider, "3456-0009"))
    with TestClient(app, base_url="http://testserver") as victim:
        response = victim.get(callback, follow_redirects=False)
        assert response.status_code == 400
        assert SESSION_COOKIE not in response.cookies
    # The right browser with a state it did not start with.
    query = parse_qs(urlsplit(callback).query)
    mismatched = client.get(
        "/auth/oidc/callback",
        params={"code": query["code"][0], "state": "x" + query["state"][0]},
        follow_redirects=False,
    )
    assert mismatched.status_code == 400
    assert sessions_of(db, person) == 0


def test_a_cancelled_login_says_so(client, db, oidc_provider, entra_org):
    url = start(client, entra_org)
    state = parse_qs(urlsplit(url).query)["state"][0]
    response = client.get("/auth/oidc/callback", params={"state": state, "error": "access_denied"})
    assert response.status_code == 400
    assert "avbrutt" in response.text or "cancelled" in response.text


def test_a_provider_that_is_down_gives_a_clear_page_quickly(client, db):
    org = make_org(db)
    configure_provider(
        db,
        org,
        None,
        issuer=f"http://127.0.0.1:{_free_port()}",
        client_id=CLIENT_ID,
        client_secret="s",
    )
    started = time.monotonic()
    response = client.get("/auth/oidc/start", params={"org": org.slug}, follow_redirects=False)
    assert time.monotonic() - started < 10
    assert response.status_code == 503
    assert "e-postlenken" in response.text or "e-mail link" in response.text
    assert db.exec(select(func.count()).select_from(OidcLogin)).one() == 0


def test_logout_ends_the_session_and_offers_the_providers_logout(
    client, db, oidc_provider, entra_org
):
    person = make_person(db, entra_org, external_id="4567-0010")
    log_in_with_provider(client, entra_org, entra_user(oidc_provider, "4567-0010"))
    assert client.get(f"/{entra_org.slug}/", follow_redirects=False).status_code == 200

    out = post_form(client, "/auth/logout")
    assert out.status_code == 303
    page = client.get(out.headers["location"]).text
    assert f"{oidc_provider.url}/oauth2/end_session?client_id={CLIENT_ID}" in page
    assert "post_logout_redirect_uri=http%3A%2F%2Ftestserver%2Flogin%3Forg%3D" in page
    assert client.get(f"/{entra_org.slug}/", follow_redirects=False).status_code == 303
    assert (
        db.exec(select(LoginSession).where(LoginSession.person_id == person.id)).one().revoked_at
        is not None
    )


def test_the_magic_link_can_be_turned_off_only_after_a_microsoft_login(
    client, db, oidc_provider, entra_org, smtp_server, settings_env
):
    settings_env(smtp_url=smtp_server.url)
    admin = make_person(db, entra_org, role="admin", email="it@asnes.no", external_id="5678-0011")
    login(client, db, admin)
    base = f"/{entra_org.slug}/admin/login"
    refused = post_form(client, f"{base}/magic-link", {"magic_link_login": ""})
    assert refused.status_code == 422
    db.refresh(entra_org)
    assert entra_org.magic_link_login

    log_in_with_provider(client, entra_org, entra_user(oidc_provider, "5678-0011"))
    assert post_form(client, f"{base}/magic-link", {"magic_link_login": ""}).status_code == 303
    db.refresh(entra_org)
    assert not entra_org.magic_link_login

    page = client.get("/login", params={"org": entra_org.slug}).text
    assert "/auth/oidc/start" in page and 'action="/login"' not in page
    client.cookies.clear()
    assert post_form(client, "/login", {"email": admin.email}).status_code == 200
    assert smtp_server.messages == []  # no link is sent for this organisation


# --- faults a test provider signs itself ---------------------------------------------------


class Signer:
    """A loopback OpenID provider whose ID tokens the test writes (and signs) itself."""

    def __init__(self, keys: list[RSAKey]) -> None:
        self.keys = keys
        self.published: list[RSAKey] = [keys[0]]
        self.claims: dict[str, Any] = {}
        self.sign_with: Any = keys[0]
        self.alg = "RS256"
        self.issuer_template: str | None = None  # Entra's "{tenantid}" metadata
        self.hang = threading.Event()
        self.released = threading.Event()
        self.jwks_fetches = 0
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    def token(self) -> str:
        header = {"alg": self.alg, "kid": getattr(self.sign_with, "kid", None) or "k"}
        return jwt.encode(header, self.claims, self.sign_with, algorithms=[self.alg])

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        signer = self

        class Handler(BaseHTTPRequestHandler):
            def _json(self, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    self._json(
                        {
                            "issuer": signer.issuer_template or signer.url,
                            "authorization_endpoint": f"{signer.url}/authorize",
                            "token_endpoint": f"{signer.url}/token",
                            "jwks_uri": f"{signer.url}/jwks",
                            "end_session_endpoint": f"{signer.url}/logout",
                            "id_token_signing_alg_values_supported": ["RS256"],
                            "token_endpoint_auth_methods_supported": ["client_secret_post"],
                        }
                    )
                elif self.path == "/jwks":
                    signer.jwks_fetches += 1
                    self._json(KeySet(signer.published).as_dict(private=False))
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                if signer.hang.is_set():
                    signer.released.wait(20)  # a provider that never answers in time
                    return
                if form.get("client_secret") != ["s3cret"] or form.get("code") != ["good-code"]:
                    self.send_error(400)
                    return
                self._json(
                    {"access_token": "at", "token_type": "Bearer", "id_token": signer.token()}
                )

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def rsa_keys() -> list[RSAKey]:
    return [RSAKey.generate_key(2048, parameters={"kid": f"key-{i}"}) for i in range(3)]


@pytest.fixture
def signer(rsa_keys) -> Iterator[Signer]:
    s = Signer(rsa_keys)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def signed_org(db, signer):
    org = make_org(db, name="Vågå kommune")
    configure_provider(
        db, org, None, issuer=signer.url, client_id=CLIENT_ID, client_secret="s3cret"
    )
    person = make_person(db, org, name="Signe Test", external_id="subject-1")
    return World(org=org, person=person)


def signed_login(client, org, signer: Signer, **overrides: Any):
    """Start, then come back with a token the signer writes from `overrides`."""
    url = start(client, org)
    query = parse_qs(urlsplit(url).query)
    now = int(utcnow().timestamp())
    signer.claims = {
        "iss": signer.url,
        "aud": CLIENT_ID,
        "sub": "subject-1",
        "iat": now,
        "exp": now + 3600,
        "nonce": query["nonce"][0],
        **overrides,
    }
    signer.claims = {k: v for k, v in signer.claims.items() if v is not None}
    return client.get(
        "/auth/oidc/callback",
        params={"state": query["state"][0], "code": "good-code"},
        follow_redirects=False,
    )


def test_a_signed_token_logs_in(client, db, signer, signed_org):
    org = signed_org.org
    response = signed_login(client, org, signer)
    assert response.status_code == 303, response.text
    identity = db.exec(select(OidcIdentity)).one()
    assert (identity.issuer_key, identity.subject) == (signer.url, "subject-1")


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"aud": "another-app"}, id="wrong audience"),
        pytest.param({"aud": ["another-app", "third"]}, id="wrong audience list"),
        pytest.param({"iss": "https://evil.example"}, id="wrong issuer"),
        pytest.param({"nonce": "replayed-nonce"}, id="wrong nonce"),
        pytest.param({"nonce": None}, id="no nonce"),
        pytest.param({"iat": None}, id="no iat"),
        pytest.param({"sub": None}, id="no sub"),
    ],
)
def test_a_token_that_fails_a_check_is_refused(client, db, signer, signed_org, overrides):
    org, person = signed_org.org, signed_org.person
    response = signed_login(client, org, signer, **overrides)
    assert response.status_code == 400, response.text
    assert SESSION_COOKIE not in response.cookies
    assert sessions_of(db, person) == 0
    assert (
        db.exec(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "oidc.link")
        ).one()
        == 0
    )


def test_an_expired_token_is_refused(client, db, signer, signed_org):
    org, person = signed_org.org, signed_org.person
    now = int(utcnow().timestamp())
    response = signed_login(client, org, signer, iat=now - 3600, exp=now - 120)
    assert response.status_code == 400
    assert sessions_of(db, person) == 0


def test_a_token_issued_long_ago_is_refused(client, db, signer, signed_org):
    org, person = signed_org.org, signed_org.person
    now = int(utcnow().timestamp())
    response = signed_login(client, org, signer, iat=now - 3 * 3600, exp=now + 3600)
    assert response.status_code == 400
    assert sessions_of(db, person) == 0


def test_a_rotated_key_is_fetched_once_and_an_unknown_key_is_refused(
    client, db, signer, signed_org, rsa_keys
):
    org, person = signed_org.org, signed_org.person
    assert signed_login(client, org, signer).status_code == 303
    assert signer.jwks_fetches == 1
    # The provider rotates: a new key id appears. The app fetches the keys again, once.
    signer.published = [rsa_keys[1]]
    signer.sign_with = rsa_keys[1]
    client.cookies.clear()
    assert signed_login(client, org, signer).status_code == 303
    assert signer.jwks_fetches == 2
    # A key the provider never published: refused after one more look.
    signer.sign_with = rsa_keys[2]
    client.cookies.clear()
    assert signed_login(client, org, signer).status_code == 400
    assert signer.jwks_fetches == 3
    # An old key id with a signature by another key: refused.
    signer.sign_with = RSAKey.import_key(rsa_keys[2].as_dict(private=True) | {"kid": "key-1"})
    client.cookies.clear()
    assert signed_login(client, org, signer).status_code == 400
    assert sessions_of(db, person) == 2


def test_a_symmetric_or_unsigned_token_is_refused(client, db, signer, signed_org):
    org, person = signed_org.org, signed_org.person
    signer.alg = "HS256"
    signer.sign_with = OctKey.import_key(b"s3cret" * 8)  # a shared secret anyone may know
    assert signed_login(client, org, signer).status_code == 400
    assert sessions_of(db, person) == 0


def test_entra_multi_tenant_metadata_accepts_only_the_configured_tenant(
    client, db, signer, signed_org
):
    org, person = signed_org.org, signed_org.person
    signer.issuer_template = "https://login.microsoftonline.com/{tenantid}/v2.0"
    configure_provider(
        db, org, None, issuer=signer.url, client_id=CLIENT_ID, client_secret="", tenant_id=TENANT
    )
    person.external_id = "0a0a0a0a-0000-4000-8000-000000000001"
    db.add(person)
    db.flush()
    ours = {"iss": f"https://login.microsoftonline.com/{TENANT}/v2.0", "tid": TENANT}
    theirs = {"iss": f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0", "tid": OTHER_TENANT}
    oid = {"oid": person.external_id.upper()}

    # Another tenant, with its own (correct) issuer and tid: refused.
    assert signed_login(client, org, signer, **theirs, **oid).status_code == 400
    # Our issuer with another tenant's tid, or the other way round: refused.
    client.cookies.clear()
    assert (
        signed_login(client, org, signer, **ours | {"tid": OTHER_TENANT}, **oid).status_code == 400
    )
    client.cookies.clear()
    assert signed_login(client, org, signer, **theirs | {"tid": TENANT}, **oid).status_code == 400
    # No oid: refused (the stable id is the key).
    client.cookies.clear()
    assert signed_login(client, org, signer, **ours).status_code == 400
    assert sessions_of(db, person) == 0
    # Our tenant: in, keyed by tid + oid.
    client.cookies.clear()
    assert signed_login(client, org, signer, **ours, **oid).status_code == 303
    identity = db.exec(select(OidcIdentity)).one()
    assert (identity.issuer_key, identity.subject) == (f"tid:{TENANT}", person.external_id)


def test_a_slow_token_endpoint_gives_a_clear_page_within_10_seconds(client, db, signer, signed_org):
    org, person = signed_org.org, signed_org.person
    signer.hang.set()  # the token endpoint never answers
    url = start(client, org)
    query = parse_qs(urlsplit(url).query)
    started = time.monotonic()
    response = client.get(
        "/auth/oidc/callback",
        params={"state": query["state"][0], "code": "good-code"},
        follow_redirects=False,
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert "innloggingstjenesten" in response.text or "login service" in response.text
    assert elapsed < 10, elapsed
    assert sessions_of(db, person) == 0
