"""Logging in with an OpenID provider (Microsoft Entra ID): authorization code flow with PKCE.

`begin` makes the one-time `state`, `nonce` and PKCE verifier and the provider's address;
`claim_attempt` uses the attempt exactly once; `exchange` swaps the code for tokens and checks
the ID token (signature against the provider's JWKS, `iss`, `aud`, `exp`, `iat`, `nonce`, and
for Entra the tenant); `person_for_claims` finds, or links once, the person it belongs to.

Every network call shares one deadline (`TOD_OIDC_TIMEOUT_SECONDS`, 7 s): a provider that is
down or slow gives a clear page in time, and nothing here ever lets a person in on an error.
The provider's metadata and keys are cached per process (they are public and the same for
every process); an unknown key id fetches the keys again, once.
"""

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from sqlalchemy import update
from sqlmodel import Session, col, delete, func, select

from app.auth.models import OidcIdentity, OidcLogin, OidcProvider
from app.auth.oidc_config import unseal
from app.auth.service import hash_secret
from app.config import get_settings
from app.errors import N_
from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.orgs.models import Organisation, Person

ATTEMPT_MINUTES = 10
CACHE_SECONDS = 3600
LEEWAY_SECONDS = 60
MAX_TOKEN_AGE_SECONDS = 600  # an ID token issued longer ago than this is not a fresh login
ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
TENANT_PLACEHOLDER = "{tenantid}"


class LoginFailed(Exception):
    """The login did not happen; `reason` says why, as a message id for the page."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason} {detail}".strip())
        self.reason = reason
        self.detail = detail


UNAVAILABLE = N_(
    "We could not reach the login service. Try again in a few minutes, or use the e-mail link."
)
REJECTED = N_("The login service's answer could not be trusted, so you are not logged in.")
ATTEMPT_INVALID = N_(
    "This login attempt is not valid any more: it has been used, it expired, or it was started "
    "in another browser. Start again."
)
CANCELLED = N_("The login was cancelled at the login service. You are not logged in.")
UNKNOWN_PERSON = N_(
    "Your account is not known to %(org)s. Ask your administrator to add you, then try again."
)
INACTIVE_PERSON = N_("Your account in %(org)s is deactivated. Ask your administrator.")
MISCONFIGURED = N_(
    "The login with Microsoft is not set up completely. Ask your administrator to check it."
)


# --- talking to the provider ---------------------------------------------------------------


class Deadline:
    """One time budget for all the calls of a login step."""

    def __init__(self, seconds: float | None = None) -> None:
        self.ends = time.monotonic() + (seconds or get_settings().oidc_timeout_seconds)

    def timeout(self) -> httpx.Timeout:
        left = self.ends - time.monotonic()
        if left <= 0.05:
            raise LoginFailed(UNAVAILABLE, "deadline passed")
        return httpx.Timeout(left)


def _get_json(url: str, deadline: Deadline) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=deadline.timeout(), follow_redirects=False)
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise LoginFailed(UNAVAILABLE, f"{url}: {exc!r}") from exc
    if not isinstance(data, dict):
        raise LoginFailed(UNAVAILABLE, f"{url}: not a JSON object")
    return data


class _Cache:
    """Public provider documents (metadata, keys) by URL, kept for an hour in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._docs: dict[str, tuple[float, dict[str, Any]]] = {}

    def get(self, url: str, deadline: Deadline, *, fresh: bool = False) -> dict[str, Any]:
        with self._lock:
            hit = self._docs.get(url)
        if hit and not fresh and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1]
        doc = _get_json(url, deadline)
        with self._lock:
            self._docs[url] = (time.monotonic(), doc)
        return doc

    def clear(self) -> None:
        with self._lock:
            self._docs.clear()


cache = _Cache()


def metadata(issuer: str, deadline: Deadline) -> dict[str, Any]:
    doc = cache.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration", deadline)
    for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(doc.get(key), str):
            raise LoginFailed(UNAVAILABLE, f"metadata lacks {key}")
    return doc


def expected_issuer(provider: OidcProvider, meta: dict[str, Any]) -> str:
    """The `iss` the provider's tokens must carry.

    Entra's multi-tenant metadata ("organizations", "common") publishes the issuer with a
    `{tenantid}` placeholder: it becomes the configured tenant, so another tenant's token, whose
    issuer names that tenant, never matches. Otherwise the metadata must name the configured
    issuer exactly (OpenID Connect Discovery 1.0, section 4.3).
    """
    published = str(meta["issuer"]).rstrip("/")
    if TENANT_PLACEHOLDER in published:
        if not provider.tenant_id:
            raise LoginFailed(MISCONFIGURED, "multi-tenant issuer without a tenant")
        return published.replace(TENANT_PLACEHOLDER, provider.tenant_id)
    if published != provider.issuer.rstrip("/"):
        raise LoginFailed(MISCONFIGURED, f"metadata names issuer {published}")
    return published


# --- leaving for the provider ---------------------------------------------------------------


@dataclass(frozen=True)
class Redirect:
    url: str
    state: str  # the browser keeps it in a cookie: the answer must come back to this browser


def begin(session: Session, org: Organisation, provider: OidcProvider, next_url: str) -> Redirect:
    """Remember a new attempt and build the provider's authorization URL (one network call,
    usually cached: the caller should hold no database lock while it runs)."""
    meta = metadata(provider.issuer, Deadline())
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters: RFC 7636 asks for 43 to 128
    now = utcnow()
    session.execute(delete(OidcLogin).where(col(OidcLogin.expires_at) < now - timedelta(days=1)))
    session.add(
        OidcLogin(
            state_hash=hash_secret(state),
            org_id=org.id,
            nonce=nonce,
            code_verifier=verifier,
            next_url=next_url[:500],
            expires_at=now + timedelta(minutes=ATTEMPT_MINUTES),
        )
    )
    query = {
        "client_id": provider.client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri(),
        "response_mode": "query",
        "scope": "openid profile email",
        "state": state,
        "nonce": nonce,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    sep = "&" if "?" in meta["authorization_endpoint"] else "?"
    return Redirect(url=f"{meta['authorization_endpoint']}{sep}{urlencode(query)}", state=state)


def redirect_uri() -> str:
    """The one callback address of the app: what the admin registers at the provider."""
    return f"{get_settings().base_url}/auth/oidc/callback"


# --- coming back ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    org_id: int
    nonce: str
    code_verifier: str
    next_url: str


def claim_attempt(session: Session, state: str) -> Attempt:
    """Use the attempt for `state` exactly once (two tabs or a replayed URL: only one wins)."""
    now = utcnow()
    row = session.exec(select(OidcLogin).where(OidcLogin.state_hash == hash_secret(state))).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise LoginFailed(ATTEMPT_INVALID, "unknown, used or expired state")
    claimed = session.execute(
        update(OidcLogin)
        .where(col(OidcLogin.id) == row.id, col(OidcLogin.used_at).is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise LoginFailed(ATTEMPT_INVALID, "state used concurrently")
    assert row.org_id is not None
    return Attempt(row.org_id, row.nonce, row.code_verifier, row.next_url)


@dataclass(frozen=True)
class Identity:
    """Who the provider says logged in, after every check."""

    issuer_key: str  # "tid:<tenant>" for Entra, the issuer elsewhere
    subject: str  # `oid` for Entra, `sub` elsewhere
    email: str
    name: str


def exchange(provider: OidcProvider, attempt: Attempt, code: str) -> Identity:
    """Swap the code for tokens at the provider and check the ID token; LoginFailed otherwise."""
    secret = unseal(provider.client_secret_sealed)
    if secret is None:
        raise LoginFailed(MISCONFIGURED, "client secret sealed with another TOD_SECRET_KEY")
    deadline = Deadline()
    meta = metadata(provider.issuer, deadline)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri(),
        "code_verifier": attempt.code_verifier,
    }
    auth: tuple[str, str] | None = None
    methods = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if "client_secret_post" in methods:
        form |= {"client_id": provider.client_id, "client_secret": secret}
    else:
        auth = (provider.client_id, secret)
    try:
        response = httpx.post(
            meta["token_endpoint"],
            data=form,
            auth=auth,
            headers={"Accept": "application/json"},
            timeout=deadline.timeout(),
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise LoginFailed(UNAVAILABLE, f"token endpoint: {exc!r}") from exc
    if response.status_code >= 500:
        raise LoginFailed(UNAVAILABLE, f"token endpoint answered {response.status_code}")
    try:
        tokens = response.json()
    except ValueError as exc:
        raise LoginFailed(REJECTED, "token endpoint answered no JSON") from exc
    if response.status_code != 200 or not isinstance(tokens, dict):
        raise LoginFailed(REJECTED, f"token endpoint refused: {response.text[:200]}")
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise LoginFailed(REJECTED, "no id_token")
    claims = validate_id_token(
        provider,
        meta,
        deadline,
        id_token,
        nonce=attempt.nonce,
        access_token=tokens.get("access_token"),
    )
    return identity_from(provider, claims)


def _decode(id_token: str, meta: dict[str, Any], deadline: Deadline) -> Any:
    algorithms = [
        a for a in meta.get("id_token_signing_alg_values_supported", []) if a in ASYMMETRIC
    ]
    registry = JWSRegistry(algorithms=algorithms or ["RS256"])
    jwks_uri = str(meta["jwks_uri"])
    try:
        keys = KeySet.import_key_set(cache.get(jwks_uri, deadline))  # type: ignore[arg-type]
        try:
            return jwt.decode(id_token, keys, registry=registry)
        except InvalidKeyIdError:
            # A key id we have not seen: the provider may have rotated its keys. Ask once.
            keys = KeySet.import_key_set(cache.get(jwks_uri, deadline, fresh=True))  # type: ignore[arg-type]
            return jwt.decode(id_token, keys, registry=registry)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise LoginFailed(REJECTED, f"signature: {exc!r}") from exc


def validate_id_token(
    provider: OidcProvider,
    meta: dict[str, Any],
    deadline: Deadline,
    id_token: str,
    *,
    nonce: str,
    access_token: object = None,
) -> dict[str, Any]:
    token = _decode(id_token, meta, deadline)
    issuer = expected_issuer(provider, meta)
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": provider.client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "nonce": {"essential": True, "value": nonce},
    }
    if provider.tenant_id:
        options["tid"] = {"essential": True, "value": provider.tenant_id}
        options["oid"] = {"essential": True}
    params: dict[str, Any] = {"nonce": nonce, "client_id": provider.client_id}
    if isinstance(access_token, str):
        params["access_token"] = access_token
    claims = CodeIDToken(token.claims, token.header, options, params)
    now = int(utcnow().timestamp())
    try:
        claims.validate(now=now, leeway=LEEWAY_SECONDS)
    except (JoseError, ValueError, TypeError) as exc:
        raise LoginFailed(REJECTED, f"claims: {exc!r}") from exc
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or iat < now - MAX_TOKEN_AGE_SECONDS - LEEWAY_SECONDS:
        raise LoginFailed(REJECTED, "iat too old")
    if provider.tenant_id and str(claims.get("tid", "")).lower() != provider.tenant_id:
        raise LoginFailed(REJECTED, "another tenant")
    return dict(claims)


def identity_from(provider: OidcProvider, claims: dict[str, Any]) -> Identity:
    if provider.tenant_id:
        issuer_key, subject = f"tid:{provider.tenant_id}", str(claims["oid"]).lower()
    else:
        issuer_key, subject = provider.issuer.rstrip("/"), str(claims["sub"])
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        # Entra leaves `email` out for accounts without a mailbox; the sign-in name is the
        # address people use at work.
        email = claims.get("preferred_username")
    email = email.strip().lower() if isinstance(email, str) and "@" in email else ""
    name = claims.get("name") if isinstance(claims.get("name"), str) else ""
    if len(subject) > 255 or not subject:
        raise LoginFailed(REJECTED, "subject empty or too long")
    return Identity(issuer_key=issuer_key, subject=subject, email=email[:254], name=str(name))


# --- whose login is it ----------------------------------------------------------------------


def person_for_identity(
    session: Session, org: Organisation, provider: OidcProvider, who: Identity
) -> Person:
    """The organisation's person for this identity, linked on their first login.

    Linked are only people who have no identity at this provider yet, matched by their
    provisioned id (`external_id` = Entra's object id, or `sub`) or, when the organisation
    allows it, by e-mail address. A person the organisation does not know is refused, never
    created; a deactivated one is refused.
    """
    now = utcnow()
    link = session.exec(
        select(OidcIdentity).where(
            OidcIdentity.org_id == org.id,
            OidcIdentity.issuer_key == who.issuer_key,
            OidcIdentity.subject == who.subject,
        )
    ).first()
    if link is not None:
        person = link.person
        _check_active(org, person)
        link.last_login_at = now
        session.add(link)
    else:
        person, how = _match(session, org, provider, who)
        _check_active(org, person)
        session.add(
            OidcIdentity(
                org_id=org.id,
                person_id=person.id,
                issuer_key=who.issuer_key,
                subject=who.subject,
                linked_by=how,
                last_login_at=now,
            )
        )
        audit(session, org, person, "oidc.link", person.email, linked_by=how)
    provider.last_login_at = now
    session.add(provider)
    session.flush()
    return person


def _check_active(org: Organisation, person: Person) -> None:
    if not person.active:
        raise LoginFailed(INACTIVE_PERSON, f"person {person.id} is deactivated")


def _unlinked(org: Organisation, issuer_key: str) -> Any:
    """The organisation's people who have no identity at this provider yet."""
    linked = select(OidcIdentity.person_id).where(
        OidcIdentity.org_id == org.id, OidcIdentity.issuer_key == issuer_key
    )
    return select(Person).where(Person.org_id == org.id, col(Person.id).not_in(linked))


def _match(
    session: Session, org: Organisation, provider: OidcProvider, who: Identity
) -> tuple[Person, str]:
    query = _unlinked(org, who.issuer_key)
    external = (
        func.lower(col(Person.external_id)) == who.subject.lower()
        if provider.tenant_id  # Entra's object ids are GUIDs: compare them case-insensitively
        else col(Person.external_id) == who.subject
    )
    person = session.exec(query.where(external)).first()
    if person is not None:
        return person, "external_id"
    if provider.link_by_email and who.email:
        person = session.exec(query.where(Person.email == who.email)).first()
        if person is not None:
            return person, "email"
    raise LoginFailed(UNKNOWN_PERSON, f"no person for {who.issuer_key} {who.subject}")


def end_session_url(provider: OidcProvider, after: str) -> str | None:
    """The provider's logout address (RP-initiated logout), or None when it has none or is
    not reachable right now (logging out of the app never waits for it)."""
    try:
        meta = metadata(provider.issuer, Deadline(3))
    except LoginFailed:
        return None
    endpoint = meta.get("end_session_endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        return None
    query = urlencode({"client_id": provider.client_id, "post_logout_redirect_uri": after})
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
