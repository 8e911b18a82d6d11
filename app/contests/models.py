"""Photo competitions: contests, entries with moderation, and votes the database keeps fair."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, Relationship, SQLModel

from app.kernel.clock import utcnow
from app.kernel.types import UTCDateTime, str_enum
from app.media.models import MediaImage
from app.orgs.models import Organisation, Person, Value


def _fk(target: str, *, nullable: bool = False, ondelete: str = "CASCADE") -> Column[int]:
    return Column(Integer, ForeignKey(target, ondelete=ondelete), nullable=nullable, index=True)


class WinnerRule(StrEnum):
    votes = "votes"
    jury = "jury"


class EntryStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class Contest(SQLModel, table=True):
    __table_args__ = (
        CheckConstraint("submit_opens_at < submit_closes_at", name="submit_window"),
        CheckConstraint("vote_opens_at < vote_closes_at", name="vote_window"),
        CheckConstraint("entries_per_person >= 1", name="entries_per_person_positive"),
        CheckConstraint("votes_per_person >= 1", name="votes_per_person_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(default=None, sa_column=_fk("organisation.id"))
    title: str = Field(max_length=120)
    theme: str = Field(default="", max_length=1000)
    value_id: int | None = Field(
        default=None, sa_column=_fk("value.id", nullable=True, ondelete="SET NULL")
    )
    submit_opens_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    submit_closes_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    vote_opens_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    vote_closes_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    entries_per_person: int = Field(default=1)
    votes_per_person: int = Field(default=1)
    winner_rule: WinnerRule = Field(
        default=WinnerRule.votes, sa_type=str_enum(WinnerRule), nullable=False
    )
    anonymous_voting: bool = Field(default=True)
    created_by_id: int | None = Field(
        default=None, sa_column=_fk("person.id", nullable=True, ondelete="SET NULL")
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    results_announced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    org: Organisation = Relationship()
    value: Value | None = Relationship()


class ContestEntry(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    contest_id: int | None = Field(default=None, sa_column=_fk("contest.id"))
    author_id: int | None = Field(default=None, sa_column=_fk("person.id"))
    image_id: int | None = Field(default=None, sa_column=_fk("mediaimage.id", ondelete="RESTRICT"))
    caption: str = Field(default="", max_length=300)
    # The author confirmed that everyone recognisable in the photo agreed to be shown.
    people_consent: bool = Field(default=False)
    status: EntryStatus = Field(
        default=EntryStatus.pending, sa_type=str_enum(EntryStatus), nullable=False
    )
    reject_reason: str = Field(default="", max_length=300)
    moderated_by_id: int | None = Field(
        default=None, sa_column=_fk("person.id", nullable=True, ondelete="SET NULL")
    )
    moderated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    jury_place: int | None = Field(default=None)  # 1, 2, 3 when the jury picks the winners
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    contest: Contest = Relationship()
    author: Person = Relationship(sa_relationship_kwargs={"foreign_keys": "ContestEntry.author_id"})
    image: MediaImage = Relationship()


class ContestVote(SQLModel, table=True):
    """A person's vote slots: slot 1..votes_per_person. The unique keys make double votes
    impossible even when two clicks race: one row per (contest, voter, slot) and one vote per
    (entry, voter)."""

    __table_args__ = (
        UniqueConstraint("contest_id", "voter_id", "slot"),
        UniqueConstraint("entry_id", "voter_id"),
        CheckConstraint("slot >= 1", name="slot_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contest_id: int | None = Field(default=None, sa_column=_fk("contest.id"))
    entry_id: int | None = Field(default=None, sa_column=_fk("contestentry.id"))
    voter_id: int | None = Field(default=None, sa_column=_fk("person.id"))
    slot: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
