"""An organisation's identity provider: saving it (admin page, CLI) and keeping its secret.

The client secret is encrypted at rest with a key derived from TOD_SECRET_KEY: a copy of the
database (a backup, a dump handed to support) does not reveal it, and no page ever shows it
again after it was saved.
"""

import base64
import re
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlmodel import Session, col, delete, select

from app.auth.models import OidcIdentity, OidcProvider
from app.config import get_settings
from app.errors import N_, Invalid, Problem
from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.kernel.forms import REQUIRED, TOO_LONG, clean_line
from app.orgs.models import Organisation, Person

GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ENTRA_HOST = "login.microsoftonline.com"
BAD_ISSUER = Problem(
    "issuer",
    N_("Write the issuer as an https address, like https://login.microsoftonline.com/…/v2.0."),
)
BAD_TENANT = Problem(
    "tenant", N_("Write the directory (tenant) id as shown in Entra ID, like 0f1e2d3c-…")
)
TENANT_NEEDED = Problem(
    "tenant_needed", N_("Microsoft Entra ID needs the directory (tenant) id of your organisation.")
)
SECRET_NEEDED = Problem("secret_needed", N_("Write the client secret from Entra ID."))
MAGIC_NEEDS_PROVIDER = Problem(
    "magic_needs_provider",
    N_("Set up the login with Microsoft first: without it nobody could log in."),
)
MAGIC_NEEDS_TRIED = Problem(
    "magic_needs_tried",
    N_("Log in with Microsoft once yourself before you turn the e-mail link off."),
)


# --- the secret -----------------------------------------------------------------------------


def _fernet() -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"tod oidc client secret"
    ).derive(get_settings().secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str | None:
    """The secret, or None when TOD_SECRET_KEY changed since it was saved (enter it again)."""
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        return None


# --- reading and saving ---------------------------------------------------------------------


def provider_for(session: Session, org: Organisation) -> OidcProvider | None:
    return session.exec(select(OidcProvider).where(OidcProvider.org_id == org.id)).first()


def is_entra(issuer: str) -> bool:
    return urlsplit(issuer).hostname == ENTRA_HOST


def _issuer(value: str) -> str:
    text = clean_line(value, max_length=300, required=True).rstrip("/")
    parts = urlsplit(text)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(BAD_ISSUER)
    if parts.scheme == "http" and not (local and get_settings().dev):
        raise ValueError(BAD_ISSUER)  # plain http only for a provider on this machine, in dev
    return text


def _tenant(value: str) -> str | None:
    text = (value or "").strip().lower()
    if not text:
        return None
    if not GUID_RE.match(text):
        raise ValueError(BAD_TENANT)
    return text


def configure_provider(
    session: Session,
    org: Organisation,
    actor: Person | None,
    *,
    issuer: str,
    client_id: str,
    client_secret: str,
    tenant_id: str = "",
    link_by_email: bool = False,
) -> OidcProvider:
    """Create or change the organisation's provider; an empty secret keeps the saved one."""
    errors: dict[str, Problem] = {}
    existing = provider_for(session, org)
    clean: dict[str, object] = {}
    for field, check in (("issuer", _issuer), ("tenant_id", _tenant)):
        try:
            clean[field] = check(issuer if field == "issuer" else tenant_id)
        except ValueError as exc:
            errors[field] = exc.args[0]
    try:
        clean["client_id"] = clean_line(client_id, max_length=200, required=True)
    except ValueError as exc:
        errors["client_id"] = exc.args[0]
    secret = (client_secret or "").strip()
    if len(secret) > 500:
        errors["client_secret"] = TOO_LONG
    elif not secret and (existing is None or unseal(existing.client_secret_sealed) is None):
        errors["client_secret"] = SECRET_NEEDED if existing is None else REQUIRED
    if "issuer" in clean and is_entra(str(clean["issuer"])) and not clean.get("tenant_id"):
        errors.setdefault("tenant_id", TENANT_NEEDED)
    if errors:
        raise Invalid(errors)
    provider = existing or OidcProvider(
        org_id=org.id, issuer="", client_id="", client_secret_sealed=""
    )
    provider.issuer = str(clean["issuer"])
    provider.tenant_id = clean["tenant_id"]  # type: ignore[assignment]
    provider.client_id = str(clean["client_id"])
    if secret:
        provider.client_secret_sealed = seal(secret)
    provider.link_by_email = link_by_email
    provider.updated_at = utcnow()
    session.add(provider)
    audit(
        session,
        org,
        actor,
        "oidc.configure" if existing is None else "oidc.update",
        provider.issuer,
        tenant=provider.tenant_id,
        client_id=provider.client_id,
        link_by_email=link_by_email,
        secret_changed=bool(secret),
    )
    session.flush()
    return provider


def remove_provider(session: Session, org: Organisation, actor: Person | None) -> None:
    """Forget the provider and its identities; the e-mail link is the way in again."""
    provider = provider_for(session, org)
    if provider is None:
        return
    session.execute(delete(OidcIdentity).where(col(OidcIdentity.org_id) == org.id))
    session.delete(provider)
    org.magic_link_login = True
    session.add(org)
    audit(session, org, actor, "oidc.remove", provider.issuer)
    session.flush()


def set_magic_link_login(
    session: Session, org: Organisation, actor: Person | None, enabled: bool
) -> None:
    """Turn the e-mail link on or off; off only when the provider works (the admin used it)."""
    if enabled == org.magic_link_login:
        return
    if not enabled:
        if provider_for(session, org) is None:
            raise Invalid({"magic_link_login": MAGIC_NEEDS_PROVIDER})
        if actor is not None and not has_identity(session, org, actor):
            raise Invalid({"magic_link_login": MAGIC_NEEDS_TRIED})
    org.magic_link_login = enabled
    session.add(org)
    audit(session, org, actor, "oidc.magic_link", org.slug, enabled=enabled)


def has_identity(session: Session, org: Organisation, person: Person) -> bool:
    return (
        session.exec(
            select(OidcIdentity.id).where(
                OidcIdentity.org_id == org.id, OidcIdentity.person_id == person.id
            )
        ).first()
        is not None
    )
