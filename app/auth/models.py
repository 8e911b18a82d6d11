"""Login sessions, magic links, API tokens, rate-limit counters and OpenID Connect logins."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, Relationship, SQLModel

from app.kernel.clock import utcnow
from app.kernel.types import UTCDateTime
from app.orgs.models import Person


def _person_fk() -> Column[int]:
    return Column(Integer, ForeignKey("person.id", ondelete="CASCADE"), nullable=False, index=True)


class LoginSession(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    person_id: int | None = Field(default=None, sa_column=_person_fk())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    user_agent: str = Field(default="", max_length=200)

    person: Person = Relationship()


class MagicLink(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    person_id: int | None = Field(default=None, sa_column=_person_fk())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    person: Person = Relationship()


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)
    name: str = Field(default="", max_length=80)
    person_id: int | None = Field(default=None, sa_column=_person_fk())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    person: Person = Relationship()


class RateLimitHit(SQLModel, table=True):
    """Fixed-window counters kept in the database so every app process shares them."""

    key: str = Field(max_length=200, primary_key=True)
    window: int = Field(primary_key=True)
    count: int = Field(default=0)


# --- OpenID Connect (Microsoft Entra ID or any OpenID provider) -------------------------------


def _org_fk(*, unique: bool = False) -> Column[int]:
    return Column(
        Integer, ForeignKey("organisation.id", ondelete="CASCADE"), nullable=False, unique=unique
    )


class OidcProvider(SQLModel, table=True):
    """An organisation's identity provider: where its people log in (one per organisation)."""

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(default=None, sa_column=_org_fk(unique=True))
    issuer: str = Field(max_length=300)
    # Entra ID's directory (tenant) id: its tokens must carry exactly this `tid`.
    tenant_id: str | None = Field(default=None, max_length=36)
    client_id: str = Field(max_length=200)
    # Encrypted with a key derived from TOD_SECRET_KEY (app.auth.oidc_config): never shown back.
    client_secret_sealed: str = Field(max_length=2000)
    link_by_email: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OidcIdentity(SQLModel, table=True):
    """A person's stable identity at the provider: `tid`+`oid` for Entra, issuer+`sub` elsewhere.

    Never an e-mail address: addresses change and are given to someone else later.
    """

    __table_args__ = (UniqueConstraint("org_id", "issuer_key", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(default=None, sa_column=_org_fk())
    person_id: int | None = Field(default=None, sa_column=_person_fk())
    issuer_key: str = Field(max_length=300)
    subject: str = Field(max_length=255)
    linked_by: str = Field(max_length=16)  # "external_id" or "email": how the first login matched
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    person: Person = Relationship()


class OidcLogin(SQLModel, table=True):
    """One login attempt between leaving for the provider and coming back: used once."""

    id: int | None = Field(default=None, primary_key=True)
    state_hash: str = Field(max_length=64, unique=True)
    org_id: int | None = Field(default=None, sa_column=_org_fk())
    nonce: str = Field(max_length=100)
    code_verifier: str = Field(max_length=128)
    next_url: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
