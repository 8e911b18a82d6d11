"""The bearer tokens an identity system provisions an organisation with. Only hashes are kept."""

import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.auth.service import hash_secret
from app.errors import NotFound
from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.kernel.forms import clean_line
from app.orgs.models import Organisation, Person
from app.scim.models import ScimToken

TOKEN_PREFIX = "scim_"  # noqa: S105 - a label, not a secret
USE_RESOLUTION = timedelta(minutes=5)


def create_token(
    session: Session, org: Organisation, name: str = "", actor: Person | None = None
) -> tuple[ScimToken, str]:
    """A new token for `org`; the raw secret is returned only here. ValueError for a bad name."""
    name = clean_line(name, max_length=80) or "SCIM"
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ScimToken(org_id=org.id, token_hash=hash_secret(raw), prefix=raw[:12], name=name)
    session.add(token)
    session.flush()
    audit(session, org, actor, "scim.token.create", name, prefix=token.prefix)
    return token, raw


def token_for(session: Session, raw: str) -> ScimToken | None:
    """The token if it exists and is not revoked."""
    token = session.exec(select(ScimToken).where(ScimToken.token_hash == hash_secret(raw))).first()
    if token is None or token.revoked_at is not None:
        return None
    return token


def org_tokens(session: Session, org: Organisation) -> list[ScimToken]:
    return list(
        session.exec(
            select(ScimToken)
            .where(ScimToken.org_id == org.id)
            .order_by(col(ScimToken.created_at).desc(), col(ScimToken.id).desc())
        )
    )


def token_in_org(session: Session, org: Organisation, token_id: int) -> ScimToken:
    token = session.get(ScimToken, token_id)
    if token is None or token.org_id != org.id:
        raise NotFound()
    return token


def revoke_token(
    session: Session, org: Organisation, token: ScimToken, actor: Person | None = None
) -> None:
    if token.revoked_at is not None:
        return
    token.revoked_at = utcnow()
    session.add(token)
    audit(session, org, actor, "scim.token.revoke", token.name, prefix=token.prefix)


def stale(token: ScimToken, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return token.last_used_at is None or token.last_used_at < now - USE_RESOLUTION


def record_use(session: Session, token_id: int, now: datetime | None = None) -> None:
    """Remember when a token was last used (at most every few minutes: it is a write)."""
    now = now or utcnow()
    session.execute(
        update(ScimToken)
        .where(
            col(ScimToken.id) == token_id,
            (col(ScimToken.last_used_at).is_(None))
            | (col(ScimToken.last_used_at) < now - USE_RESOLUTION),
        )
        .values(last_used_at=now)
    )
