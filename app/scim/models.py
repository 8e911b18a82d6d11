"""What SCIM provisioning keeps: tokens, the link of a provisioned person, groups."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.kernel.clock import utcnow
from app.kernel.types import UTCDateTime, str_enum
from app.orgs.models import Role


def new_scim_id() -> str:
    """A SCIM `id`: opaque, never reused (a deleted person's id never comes back)."""
    return str(uuid.uuid4())


def _org_fk() -> Column[int]:
    return Column(
        Integer, ForeignKey("organisation.id", ondelete="CASCADE"), nullable=False, index=True
    )


def _now() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ScimToken(SQLModel, table=True):
    """The bearer token an identity system provisions one organisation with (hash only)."""

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(default=None, sa_column=_org_fk())
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)
    name: str = Field(default="", max_length=80)
    created_at: datetime = _now()
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ScimUser(SQLModel, table=True):
    """A person as the identity system provisioned them: its id and what the app has no
    column for (userName, the name's parts, the e-mail list, the manager).

    The person's own columns (name, e-mail, title, department, externalId, active) stay the
    truth; they are read back into every SCIM answer.
    """

    __table_args__ = (UniqueConstraint("org_id", "user_name_key"),)

    id: str = Field(default_factory=new_scim_id, sa_column=Column(String(36), primary_key=True))
    org_id: int | None = Field(default=None, sa_column=_org_fk())
    person_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("person.id", ondelete="CASCADE"), nullable=False, unique=True
        ),
    )
    user_name: str = Field(max_length=255)
    # userName compared as SCIM does (case-insensitive): what uniqueness and filters use.
    user_name_key: str = Field(max_length=255)
    name: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    emails: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    display_name_set: bool = Field(default=False)
    manager_id: str | None = Field(
        default=None,
        sa_column=Column(
            String(36), ForeignKey("scimuser.id", ondelete="SET NULL"), nullable=True, index=True
        ),
    )
    created_at: datetime = _now()
    updated_at: datetime = _now()


class ScimGroup(SQLModel, table=True):
    """A group of the identity system; the admin may map it to a role (e.g. curators)."""

    __table_args__ = (Index("ix_scimgroup_org_name", "org_id", "display_name"),)

    id: str = Field(default_factory=new_scim_id, sa_column=Column(String(36), primary_key=True))
    org_id: int | None = Field(default=None, sa_column=_org_fk())
    display_name: str = Field(max_length=255)
    external_id: str | None = Field(default=None, max_length=255)
    role: Role | None = Field(default=None, sa_type=str_enum(Role), nullable=True)
    created_at: datetime = _now()
    updated_at: datetime = _now()


class ScimGroupMember(SQLModel, table=True):
    group_id: str | None = Field(
        default=None,
        sa_column=Column(
            String(36), ForeignKey("scimgroup.id", ondelete="CASCADE"), primary_key=True
        ),
    )
    user_id: str | None = Field(
        default=None,
        sa_column=Column(
            String(36), ForeignKey("scimuser.id", ondelete="CASCADE"), primary_key=True, index=True
        ),
    )
