"""Tre om dagen: recognitions, their recipients and values, reactions, notifications."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, Relationship, SQLModel

from app.kernel.clock import utcnow
from app.kernel.types import UTCDateTime, str_enum
from app.media.models import MediaImage
from app.orgs.models import Organisation, Person, Value


def _fk(target: str, *, primary_key: bool = False, index: bool = False) -> Column[int]:
    return Column(
        Integer,
        ForeignKey(target, ondelete="CASCADE"),
        nullable=False,
        primary_key=primary_key,
        index=index,
    )


class Visibility(StrEnum):
    org = "org"  # everyone in the organisation
    private = "private"  # the giver, the recipients and the recipients' leaders


class ReactionKind(StrEnum):
    clap = "clap"
    heart = "heart"
    raise_hands = "raise"


class Recognition(SQLModel, table=True):
    __table_args__ = (
        # Feeds walk this index newest first; the cursor is (created_at, id).
        Index("ix_recognition_feed", "org_id", "created_at", "id"),
        Index("ix_recognition_giver_created", "giver_id", "created_at"),
        # A double tap or a retried request carries the same key: one recognition.
        UniqueConstraint("giver_id", "idempotency_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(default=None, sa_column=_fk("organisation.id"))
    giver_id: int | None = Field(default=None, sa_column=_fk("person.id"))
    text: str = Field(max_length=600)
    visibility: Visibility = Field(
        default=Visibility.org, sa_type=str_enum(Visibility), nullable=False
    )
    feature_consent: bool = Field(default=False)
    # False when private, hidden by a recipient or hidden by a curator: the public feeds
    # need only this flag and the feed index.
    listed: bool = Field(default=True)
    hidden_by_curator: bool = Field(default=False)
    hidden_reason: str = Field(default="", max_length=300)
    idempotency_key: str = Field(max_length=64)
    photo_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("mediaimage.id", ondelete="SET NULL"), nullable=True, index=True
        ),
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    org: Organisation = Relationship()
    giver: Person = Relationship()
    # One query per page of recognitions (selectin), none when no recognition has a photo.
    photo: MediaImage | None = Relationship(sa_relationship_kwargs={"lazy": "selectin"})
    recipients: list["RecognitionRecipient"] = Relationship(
        back_populates="recognition",
        sa_relationship_kwargs={"cascade": "all, delete-orphan", "lazy": "selectin"},
    )
    value_links: list["RecognitionValue"] = Relationship(
        back_populates="recognition",
        sa_relationship_kwargs={"cascade": "all, delete-orphan", "lazy": "selectin"},
    )


class RecognitionRecipient(SQLModel, table=True):
    __table_args__ = (Index("ix_recipient_person", "person_id", "recognition_id"),)

    recognition_id: int | None = Field(
        default=None, sa_column=_fk("recognition.id", primary_key=True)
    )
    person_id: int | None = Field(default=None, sa_column=_fk("person.id", primary_key=True))
    hidden: bool = Field(default=False)  # the recipient took it off the public feeds
    feature_opt_out: bool = Field(default=False)

    recognition: Recognition = Relationship(back_populates="recipients")
    person: Person = Relationship(sa_relationship_kwargs={"lazy": "joined"})


class RecognitionValue(SQLModel, table=True):
    __table_args__ = (Index("ix_recognitionvalue_value", "value_id", "recognition_id"),)

    recognition_id: int | None = Field(
        default=None, sa_column=_fk("recognition.id", primary_key=True)
    )
    value_id: int | None = Field(default=None, sa_column=_fk("value.id", primary_key=True))

    recognition: Recognition = Relationship(back_populates="value_links")
    value: Value = Relationship(sa_relationship_kwargs={"lazy": "joined"})


class Reaction(SQLModel, table=True):
    recognition_id: int | None = Field(
        default=None, sa_column=_fk("recognition.id", primary_key=True)
    )
    person_id: int | None = Field(default=None, sa_column=_fk("person.id", primary_key=True))
    kind: ReactionKind = Field(primary_key=True, sa_type=str_enum(ReactionKind))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Notification(SQLModel, table=True):
    """Outbox for "Du ble sett!" e-mails: written with the recognition, sent by a job."""

    __table_args__ = (
        UniqueConstraint("recognition_id", "person_id"),
        Index("ix_notification_due", "sent_at", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    recognition_id: int | None = Field(default=None, sa_column=_fk("recognition.id"))
    person_id: int | None = Field(default=None, sa_column=_fk("person.id", index=True))
    digest: bool = Field(default=False)
    due_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = Field(default=0)
    last_error: str = Field(default="", max_length=300)

    recognition: Recognition = Relationship()
    person: Person = Relationship()
