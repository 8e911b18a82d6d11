"""Stafettpinnen: relays, the legs of the baton, stories, their colleagues' consent, e-mails."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, Relationship, SQLModel

from app.kernel.clock import utcnow
from app.kernel.types import UTCDateTime, str_enum
from app.media.models import MediaImage
from app.orgs.models import Organisation, Person, Value


def _fk(
    target: str, *, nullable: bool = False, ondelete: str = "CASCADE", primary_key: bool = False
) -> Column[int]:
    return Column(
        Integer,
        ForeignKey(target, ondelete=ondelete),
        nullable=nullable,
        index=not primary_key,
        primary_key=primary_key,
    )


class Relay(SQLModel, table=True):
    """One run of the baton, started by a curator, open until a curator closes it."""

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(default=None, sa_column=_fk("organisation.id"))
    title: str = Field(max_length=120)
    started_by_id: int | None = Field(
        default=None, sa_column=_fk("person.id", nullable=True, ondelete="SET NULL")
    )
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by_id: int | None = Field(
        default=None, sa_column=_fk("person.id", nullable=True, ondelete="SET NULL")
    )

    org: Organisation = Relationship()
    legs: list["Leg"] = Relationship(
        back_populates="relay",
        sa_relationship_kwargs={
            "order_by": "Leg.received_at, Leg.id",
            "cascade": "all, delete-orphan",
        },
    )


class LegStatus(StrEnum):
    holding = "holding"  # the holder has the baton now
    passed = "passed"  # passed on to the next leader
    returned = "returned"  # handed back to the curators, with a reason
    taken = "taken"  # a curator gave the baton to someone else
    closed = "closed"  # the relay was closed while they held it


class Leg(SQLModel, table=True):
    """One leader's time with the baton: from receiving it to passing it on (or back)."""

    __table_args__ = (
        # At most one holder per relay: a racing double pass fails in the database.
        Index(
            "uq_leg_one_holder",
            "relay_id",
            unique=True,
            sqlite_where=text("status = 'holding'"),
            postgresql_where=text("status = 'holding'"),
        ),
        Index("ix_leg_status_holder", "status", "holder_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(default=None, sa_column=_fk("organisation.id"))
    relay_id: int | None = Field(default=None, sa_column=_fk("relay.id"))
    # None once the holder was erased: the chain keeps its shape without their name.
    holder_id: int | None = Field(
        default=None, sa_column=_fk("person.id", nullable=True, ondelete="SET NULL")
    )
    # Who gave it to them: the previous holder, or the curator who started or re-handed it.
    given_by_id: int | None = Field(
        default=None, sa_column=_fk("person.id", nullable=True, ondelete="SET NULL")
    )
    status: LegStatus = Field(
        default=LegStatus.holding, sa_type=str_enum(LegStatus), nullable=False
    )
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    return_reason: str = Field(default="", max_length=300)
    reminders: int = Field(default=0)  # weekly reminders sent while holding
    last_reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    stalled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # curators told

    relay: Relay = Relationship(back_populates="legs")
    holder: Person | None = Relationship(sa_relationship_kwargs={"foreign_keys": "Leg.holder_id"})
    given_by: Person | None = Relationship(
        sa_relationship_kwargs={"foreign_keys": "Leg.given_by_id"}
    )
    story: "Story" = Relationship(back_populates="leg", sa_relationship_kwargs={"uselist": False})


class Story(SQLModel, table=True):
    """A leader's good story, written while they held the baton (one per leg)."""

    __table_args__ = (UniqueConstraint("author_id", "idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(default=None, sa_column=_fk("organisation.id"))
    relay_id: int | None = Field(default=None, sa_column=_fk("relay.id"))
    leg_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("leg.id", ondelete="SET NULL"), nullable=True, unique=True
        ),
    )
    author_id: int | None = Field(default=None, sa_column=_fk("person.id"))
    title: str = Field(max_length=120)
    text: str = Field(max_length=3000)
    image_id: int | None = Field(
        default=None, sa_column=_fk("mediaimage.id", nullable=True, ondelete="SET NULL")
    )
    # The author agrees that it may be chosen as the weekly feature (on the intranet).
    feature_consent: bool = Field(default=True)
    idempotency_key: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    org: Organisation = Relationship()
    relay: Relay = Relationship()
    leg: Leg | None = Relationship(back_populates="story")
    author: Person = Relationship()
    image: MediaImage | None = Relationship(sa_relationship_kwargs={"lazy": "selectin"})
    value_links: list["StoryValue"] = Relationship(
        back_populates="story",
        sa_relationship_kwargs={"cascade": "all, delete-orphan", "lazy": "selectin"},
    )
    consents: list["StoryConsent"] = Relationship(
        back_populates="story",
        sa_relationship_kwargs={
            "cascade": "all, delete-orphan",
            "lazy": "selectin",
            "order_by": "StoryConsent.position",
        },
    )

    @property
    def values(self) -> list[Value]:
        return sorted((link.value for link in self.value_links), key=lambda v: v.position)

    @property
    def people(self) -> list[Person]:
        return [c.person for c in self.consents]


class StoryValue(SQLModel, table=True):
    story_id: int | None = Field(default=None, sa_column=_fk("story.id", primary_key=True))
    value_id: int | None = Field(default=None, sa_column=_fk("value.id", primary_key=True))

    story: Story = Relationship(back_populates="value_links")
    value: Value = Relationship(sa_relationship_kwargs={"lazy": "joined"})


class StoryAnswer(StrEnum):
    pending = "pending"
    yes = "yes"
    no = "no"


class StoryConsent(SQLModel, table=True):
    """A colleague the story is about, and their answer: the story is public once all say yes."""

    __table_args__ = (Index("ix_storyconsent_person", "person_id", "answer"),)

    story_id: int | None = Field(default=None, sa_column=_fk("story.id", primary_key=True))
    person_id: int | None = Field(default=None, sa_column=_fk("person.id", primary_key=True))
    position: int = Field(default=0)  # the order the author named them in
    answer: StoryAnswer = Field(
        default=StoryAnswer.pending, sa_type=str_enum(StoryAnswer), nullable=False
    )
    asked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    story: Story = Relationship(back_populates="consents")
    person: Person = Relationship(sa_relationship_kwargs={"lazy": "joined"})


class MailKind(StrEnum):
    baton = "baton"  # you have the baton
    reminder = "reminder"  # you still have the baton
    stalled = "stalled"  # to curators: the baton has stalled
    returned = "returned"  # to curators: a leader handed the baton back
    consent = "consent"  # a story is about you: may it be shown?


class StoryMail(SQLModel, table=True):
    """Outbox of the relay's e-mails; `key` makes each one at most once (e.g. reminder 2)."""

    __table_args__ = (Index("ix_storymail_due", "sent_at", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(default=None, sa_column=_fk("organisation.id"))
    person_id: int | None = Field(default=None, sa_column=_fk("person.id"))
    kind: MailKind = Field(sa_type=str_enum(MailKind), nullable=False)
    key: str = Field(max_length=100, unique=True)
    leg_id: int | None = Field(default=None, sa_column=_fk("leg.id", nullable=True))
    story_id: int | None = Field(default=None, sa_column=_fk("story.id", nullable=True))
    due_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = Field(default=0)
    last_error: str = Field(default="", max_length=300)

    person: Person = Relationship()
    leg: Leg | None = Relationship()
    story: Story | None = Relationship()
