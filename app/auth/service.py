"""Sessions, magic links and API tokens. Only hashes of secrets are stored."""

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import joinedload
from sqlmodel import Session, col, select

from app.auth.models import ApiToken, LoginSession, MagicLink
from app.config import get_settings
from app.errors import N_, Invalid, Problem
from app.kernel.clock import utcnow
from app.orgs.models import Organisation, Person

TOKEN_PREFIX = "tod_"  # noqa: S105 - a label, not a secret
_BAD = Problem("invalid", N_("This login link is not valid. Ask for a new one."))
_USED = Problem("used", N_("This login link has already been used. Ask for a new one."))
_EXPIRED = Problem("expired", N_("This login link has expired. Ask for a new one."))


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# --- sessions -------------------------------------------------------------------------------


def start_session(session: Session, person: Person, *, user_agent: str = "") -> str:
    raw = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            token_hash=hash_secret(raw),
            person=person,
            expires_at=utcnow() + timedelta(days=get_settings().session_days),
            user_agent=user_agent[:200],
        )
    )
    return raw


def person_for_session(session: Session, raw: str) -> Person | None:
    # One statement for the session, its person and their organisation (every page needs all
    # three; lazy loads made it three).
    row = session.exec(
        select(LoginSession.revoked_at, LoginSession.expires_at, Person)
        .join(Person, col(Person.id) == LoginSession.person_id)
        .where(LoginSession.token_hash == hash_secret(raw))
        .options(joinedload(Person.org))  # type: ignore[arg-type]
    ).first()
    if row is None:
        return None
    revoked_at, expires_at, person = row
    if revoked_at is not None or expires_at <= utcnow():
        return None
    return person if person.active else None


def end_session(session: Session, raw: str) -> None:
    session.execute(
        update(LoginSession)
        .where(col(LoginSession.token_hash) == hash_secret(raw))
        .values(revoked_at=utcnow())
    )


def end_all_sessions(session: Session, person: Person) -> None:
    session.execute(
        update(LoginSession)
        .where(col(LoginSession.person_id) == person.id, col(LoginSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )


# --- magic links ----------------------------------------------------------------------------


def people_for_email(session: Session, email: str) -> list[Person]:
    """Active people with this address, in any organisation (a person may work for two) that
    lets its people log in with an e-mail link."""
    return list(
        session.exec(
            select(Person)
            .join(Organisation)
            .where(Person.email == email.strip().lower(), col(Person.active).is_(True))
            .where(col(Organisation.magic_link_login).is_(True))
            .order_by(Organisation.name)
        )
    )


def create_magic_link(session: Session, person: Person) -> str:
    raw = secrets.token_urlsafe(32)
    session.add(
        MagicLink(
            token_hash=hash_secret(raw),
            person=person,
            expires_at=utcnow() + timedelta(minutes=get_settings().magic_link_minutes),
        )
    )
    return raw


def find_magic_link(session: Session, raw: str, *, now: datetime | None = None) -> MagicLink:
    """The link if it can still be used; Invalid with the reason otherwise."""
    now = now or utcnow()
    link = session.exec(select(MagicLink).where(MagicLink.token_hash == hash_secret(raw))).first()
    if link is None:
        raise Invalid({"token": _BAD})
    if link.used_at is not None:
        raise Invalid({"token": _USED})
    if link.expires_at <= now:
        raise Invalid({"token": _EXPIRED})
    if not link.person.active or not link.person.org.magic_link_login:
        raise Invalid({"token": _BAD})
    return link


def consume_magic_link(session: Session, raw: str, *, now: datetime | None = None) -> Person:
    """Mark the link used, exactly once even when two tabs race for it."""
    link = find_magic_link(session, raw, now=now)
    claimed = session.execute(
        update(MagicLink)
        .where(col(MagicLink.id) == link.id, col(MagicLink.used_at).is_(None))
        .values(used_at=now or utcnow())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Invalid({"token": _USED})
    return link.person


# --- API tokens -----------------------------------------------------------------------------


def create_api_token(session: Session, person: Person, name: str = "") -> tuple[ApiToken, str]:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(token_hash=hash_secret(raw), prefix=raw[:10], name=name[:80], person=person)
    session.add(token)
    return token, raw


def api_token_for(session: Session, raw: str) -> ApiToken | None:
    """The token if it is valid and its person active."""
    token = session.exec(
        select(ApiToken)
        .where(ApiToken.token_hash == hash_secret(raw))
        .options(joinedload(ApiToken.person).joinedload(Person.org))  # type: ignore[arg-type]
    ).first()
    if token is None or token.revoked_at is not None or not token.person.active:
        return None
    return token


def person_for_api_token(session: Session, raw: str) -> Person | None:
    token = api_token_for(session, raw)
    return token.person if token else None


TOKEN_USE_RESOLUTION = timedelta(minutes=5)


def record_token_use(session: Session, token_id: int, now: datetime | None = None) -> None:
    """Remember when a token was last used (at most every few minutes: it is a write)."""
    now = now or utcnow()
    session.execute(
        update(ApiToken)
        .where(
            col(ApiToken.id) == token_id,
            (col(ApiToken.last_used_at).is_(None))
            | (col(ApiToken.last_used_at) < now - TOKEN_USE_RESOLUTION),
        )
        .values(last_used_at=now)
    )


def revoke_api_token(session: Session, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
