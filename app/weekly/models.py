"""Ukens ESS: the weekly feature, the recipients' consent, and webhook deliveries."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, Relationship, SQLModel

from app.contests.models import ContestEntry
from app.kernel.clock import utcnow
from app.kernel.types import UTCDateTime, str_enum
from app.media.models import MediaImage
from app.orgs.models import Organisation, Person
from app.recognition.models import Recognition
from app.stories.models import Story

Subject = Recognition | ContestEntry | Story  # what a feature tells about


def _fk(target: str, *, nullable: bool = False, ondelete: str = "CASCADE") -> Column[int]:
    return Column(Integer, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=True)


class FeatureStatus(StrEnum):
    draft = "draft"  # drafted by the weekly pick or a curator; not public
    approved = "approved"  # a curator approved it; goes live at the publish time
    published = "published"  # live on the widget, archive, feed and webhooks
    withdrawn = "withdrawn"  # taken down after publishing


class Feature(SQLModel, table=True):
    """One feature per organisation and ISO week: the unique key makes a second one impossible."""

    __table_args__ = (
        UniqueConstraint("org_id", "iso_year", "iso_week"),
        Index("ix_feature_org_published", "org_id", "published_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(default=None, sa_column=_fk("organisation.id"))
    iso_year: int
    iso_week: int
    status: FeatureStatus = Field(
        default=FeatureStatus.draft, sa_type=str_enum(FeatureStatus), nullable=False
    )
    # What is featured: a recognition, a photo competition's winning entry or a story (one).
    recognition_id: int | None = Field(
        default=None, sa_column=_fk("recognition.id", nullable=True, ondelete="SET NULL")
    )
    entry_id: int | None = Field(
        default=None, sa_column=_fk("contestentry.id", nullable=True, ondelete="SET NULL")
    )
    # ... or a leader's story from the relay (stafettpinnen).
    story_id: int | None = Field(
        default=None, sa_column=_fk("story.id", nullable=True, ondelete="SET NULL")
    )
    # The photo the curator chose (the recognition's or the entry's, or one uploaded for it).
    image_id: int | None = Field(
        default=None, sa_column=_fk("mediaimage.id", nullable=True, ondelete="SET NULL")
    )
    headline: str = Field(default="", max_length=120)
    body: str = Field(default="", max_length=1200)
    # Why the ranking proposed it: [{"code": "reactions", "value": 7}, ...] (translated on render)
    reasons: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    approved_by_id: int | None = Field(
        default=None, sa_column=_fk("person.id", nullable=True, ondelete="SET NULL")
    )
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    org: Organisation = Relationship()
    recognition: Recognition | None = Relationship()
    entry: ContestEntry | None = Relationship()
    story: Story | None = Relationship()
    image: MediaImage | None = Relationship()
    consents: list["FeatureConsent"] = Relationship(
        back_populates="feature",
        sa_relationship_kwargs={"cascade": "all, delete-orphan", "lazy": "selectin"},
    )


class ConsentAnswer(StrEnum):
    pending = "pending"
    yes = "yes"
    no = "no"


class FeatureConsent(SQLModel, table=True):
    """A recipient's answer to being named in a feature (one-click by e-mail or in the app)."""

    __table_args__ = (UniqueConstraint("feature_id", "person_id"),)

    id: int | None = Field(default=None, primary_key=True)
    feature_id: int | None = Field(default=None, sa_column=_fk("feature.id"))
    person_id: int | None = Field(default=None, sa_column=_fk("person.id"))
    answer: ConsentAnswer = Field(
        default=ConsentAnswer.pending, sa_type=str_enum(ConsentAnswer), nullable=False
    )
    token_hash: str = Field(max_length=64, unique=True)  # the e-mail's one-click link
    asked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # What the person was shown when they answered, in their language (question and headline):
    # the record of what they agreed to, kept even if the feature is edited afterwards.
    answered_text: str = Field(default="", max_length=1000)

    feature: Feature = Relationship(back_populates="consents")
    person: Person = Relationship()


class WebhookKind(StrEnum):
    teams = "teams"  # Microsoft Teams workflow: an Adaptive Card payload
    generic = "generic"  # JSON signed with HMAC-SHA256


class Webhook(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(default=None, sa_column=_fk("organisation.id"))
    kind: WebhookKind = Field(sa_type=str_enum(WebhookKind), nullable=False)
    name: str = Field(default="", max_length=80)
    url: str = Field(max_length=1000)
    secret: str = Field(default="", max_length=100)  # for the generic kind's signature
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    org: Organisation = Relationship()


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"  # gave up after the last retry; shown to admins


class WebhookDelivery(SQLModel, table=True):
    """Outbox: written in the same transaction as the publication, sent by a job."""

    __table_args__ = (
        UniqueConstraint("webhook_id", "feature_id", "event"),
        Index("ix_delivery_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int | None = Field(default=None, sa_column=_fk("webhook.id"))
    feature_id: int | None = Field(default=None, sa_column=_fk("feature.id"))
    event: str = Field(max_length=20)  # "published" or "withdrawn"
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: DeliveryStatus = Field(
        default=DeliveryStatus.pending, sa_type=str_enum(DeliveryStatus), nullable=False
    )
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_status: int | None = Field(default=None)
    last_error: str = Field(default="", max_length=300)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    webhook: Webhook = Relationship()
    feature: Feature = Relationship()
