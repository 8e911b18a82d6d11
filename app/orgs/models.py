"""Organisations (tenants), their values, departments and people."""

import unicodedata
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Optional

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, UniqueConstraint, event
from sqlmodel import Field, Relationship, SQLModel

from app.kernel.clock import utcnow
from app.kernel.types import UTCDateTime, str_enum


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


# The stand-in giver of the recognitions an erased person gave, when the organisation keeps
# them anonymised: one inactive person per organisation, never listed, never able to log in.
FORMER_COLLEAGUE_EMAIL = "former-colleague@erased.invalid"


class Role(StrEnum):
    employee = "employee"
    leader = "leader"
    curator = "curator"
    admin = "admin"


class EmailFrequency(StrEnum):
    instant = "instant"
    daily = "daily"
    none = "none"


class Organisation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=40, unique=True, index=True)
    name: str = Field(max_length=120)
    locale: str = Field(default="nb", max_length=5)
    timezone: str = Field(default="Europe/Oslo", max_length=64)
    # Whose law applies to the service (the accessibility statement, the supervisory body).
    country: str = Field(default="NO", max_length=2)
    daily_goal: int = Field(default=3)
    feature_name: str = Field(default="", max_length=60)
    theme_primary: str = Field(default="#1d4f73", max_length=7)
    theme_accent: str = Field(default="#b3261e", max_length=7)
    intranet_origins: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    pick_weekday: int = Field(default=3)
    pick_time: str = Field(default="09:00", max_length=5)
    publish_weekday: int = Field(default=0)
    publish_time: str = Field(default="07:00", max_length=5)
    auto_publish: bool = Field(default=False)
    keep_photo_originals: bool = Field(default=False)
    contest_photo_retention_days: int = Field(default=365)
    # Erasing a person: what happens to the recognitions they gave ("anonymise": kept, from
    # "a former colleague"; "delete": removed), and after how many days of deactivation a
    # person is erased automatically (None: only by an admin).
    erase_given: str = Field(default="anonymise", max_length=10)
    erase_after_days: int | None = Field(default=None)
    # Insights: no figure for a group smaller than this (3-10), and the period every figure
    # is compared with (an admin marks it; both or neither).
    insight_min_group: int = Field(default=5)
    insight_baseline_start: date | None = Field(default=None)
    insight_baseline_end: date | None = Field(default=None)
    # Off only when the organisation logs in with its identity provider (app.auth.oidc_config).
    magic_link_login: bool = Field(default=True)
    created_at: datetime = _created()

    values: list["Value"] = Relationship(
        back_populates="org", sa_relationship_kwargs={"order_by": "Value.position"}
    )

    @property
    def display_feature_name(self) -> str:
        """ "Ukens" plus the initials of the active values unless the admin named it."""
        if self.feature_name:
            return self.feature_name
        initials = "".join(v.name[:1].upper() for v in self.values if v.active)
        return f"Ukens {initials}" if initials else "Ukens historie"


class Value(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("organisation.id", ondelete="CASCADE"), nullable=False, index=True
        ),
    )
    name: str = Field(max_length=60)
    description: str = Field(default="", max_length=200)
    colour: str = Field(default="#1d4f73", max_length=7)
    position: int = Field(default=0)
    active: bool = Field(default=True)

    org: Organisation = Relationship(back_populates="values")


class Department(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("organisation.id", ondelete="CASCADE"), nullable=False, index=True
        ),
    )
    name: str = Field(max_length=120)
    parent_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("department.id", ondelete="SET NULL"), nullable=True),
    )

    org: Organisation = Relationship()
    parent: Optional["Department"] = Relationship(
        sa_relationship_kwargs={"remote_side": "Department.id"}
    )


class Person(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("org_id", "email"),
        UniqueConstraint("org_id", "external_id"),
        Index("ix_person_org_name", "org_id", "name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("organisation.id", ondelete="CASCADE"), nullable=False
        ),
    )
    email: str = Field(max_length=254)
    name: str = Field(max_length=120)
    department_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("department.id", ondelete="SET NULL"), nullable=True, index=True
        ),
    )
    title: str = Field(default="", max_length=120)
    # The identity system's stable id for this person (SCIM `externalId`, an HR number): what a
    # provisioned or imported person is matched by, since an e-mail address can change.
    external_id: str | None = Field(default=None, max_length=255)
    role: Role = Field(default=Role.employee, sa_type=str_enum(Role), nullable=False)
    active: bool = Field(default=True)
    locale: str | None = Field(default=None, max_length=5)
    email_frequency: EmailFrequency = Field(
        default=EmailFrequency.instant, sa_type=str_enum(EmailFrequency), nullable=False
    )
    feature_opt_out: bool = Field(default=False)  # "never feature me by name"
    feature_always_agree: bool = Field(default=False)  # a standing yes: no need to ask each time
    # Name and title folded to plain letters ("Øystein Åsheim" -> "oystein asheim ..."),
    # kept up to date by a mapper event, so type-ahead is accent-insensitive on every database.
    search_text: str = Field(default="", max_length=600)
    # When `active` last became false (the clock of automatic erasure); None while active.
    deactivated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = _created()

    org: Organisation = Relationship()
    department: Department | None = Relationship()

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin

    @property
    def is_curator(self) -> bool:
        return self.role in (Role.curator, Role.admin)

    @property
    def is_leader(self) -> bool:
        return self.role in (Role.leader, Role.admin)


class DepartmentLeader(SQLModel, table=True):
    """Which leaders lead which departments (a leader may lead several)."""

    department_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("department.id", ondelete="CASCADE"), primary_key=True
        ),
    )
    person_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("person.id", ondelete="CASCADE"), primary_key=True),
    )


class ImportJob(SQLModel, table=True):
    """A people import started from the admin page; the page polls its progress."""

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("organisation.id", ondelete="CASCADE"), nullable=False, index=True
        ),
    )
    created_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("person.id", ondelete="SET NULL"), nullable=True),
    )
    filename: str = Field(default="", max_length=200)
    status: str = Field(default="queued", max_length=16)
    total: int = Field(default=0)
    processed: int = Field(default=0)
    created: int = Field(default=0)
    updated: int = Field(default=0)
    report: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = _created()
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def fold(text: str) -> str:
    """Lowercase plain letters, in both Nordic spellings: "Åse Ørn" -> "ase orn aase oern"."""
    lowered = text.lower()
    short = lowered.translate(_SHORT)
    long = lowered.translate(_LONG)
    variants = []
    for variant in (short, long):
        plain = "".join(
            ch for ch in unicodedata.normalize("NFKD", variant) if not unicodedata.combining(ch)
        )
        if plain not in variants:
            variants.append(plain)
    return " ".join(variants)


_SHORT = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "ä": "a", "ö": "o"})
_LONG = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "ä": "ae", "ö": "oe"})


@event.listens_for(Person, "before_insert")
@event.listens_for(Person, "before_update")
def _person_search_text(_mapper: Any, _conn: Any, person: Person) -> None:
    person.search_text = fold(f"{person.name} {person.title} {person.email.split('@')[0]}")[:600]


@event.listens_for(Person.active, "set")
def _person_deactivated_at(person: Person, value: bool, old: Any, _initiator: Any) -> None:
    # Every way a person is deactivated (admin page, import, SCIM) goes through this attribute.
    if value is False and old is not False:
        person.deactivated_at = utcnow()
    elif value is True:
        person.deactivated_at = None
