"""Live sessions for a staff day (storskjerm): the question, the participants' answers, and
the words an organisation holds for moderation."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, Relationship, SQLModel

from app.kernel.clock import utcnow
from app.kernel.types import UTCDateTime, str_enum
from app.orgs.models import Organisation, Person, Value


class Kind(StrEnum):
    cloud = "cloud"  # a word cloud: 1-3 words per participant
    choice = "choice"  # one of the curator's options
    scale = "scale"  # 1-5


class State(StrEnum):
    draft = "draft"
    open = "open"
    closed = "closed"


class AnswerStatus(StrEnum):
    shown = "shown"
    hidden = "hidden"  # a curator took it off the screen (it can be restored)
    held = "held"  # a held word: waits for a curator before it is shown


def _org_fk() -> Any:
    return Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("organisation.id", ondelete="CASCADE"), nullable=False, index=True
        ),
    )


class LiveSession(SQLModel, table=True):
    __tablename__ = "livesession"

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = _org_fk()
    created_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("person.id", ondelete="SET NULL"), nullable=True),
    )
    value_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("value.id", ondelete="SET NULL"), nullable=True),
    )
    question: str = Field(max_length=200)
    kind: Kind = Field(sa_type=str_enum(Kind), nullable=False)
    options: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    state: State = Field(default=State.draft, sa_type=str_enum(State), nullable=False)
    # What the phone's camera opens: /live/{code}. Unique across organisations.
    code: str = Field(max_length=8, unique=True)
    # The hall PC's screen link: /{org}/live/{id}/screen?key=... without a login.
    screen_key: str = Field(max_length=64)
    allow_anonymous: bool = Field(default=False)
    # Opened before the day: answers are collected but stay off the screen until revealed.
    revealed: bool = Field(default=True)
    # A closed session's results on the participants' phones.
    results_shared: bool = Field(default=False)
    # Raised with every change the screen shows: the event id of the stream.
    version: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    org: Organisation = Relationship()
    value: Value | None = Relationship()


class LiveAnswer(SQLModel, table=True):
    """One participant's answer to one session (changed in place while the session is open)."""

    __tablename__ = "liveanswer"
    __table_args__ = (
        UniqueConstraint("session_id", "participant"),
        Index("ix_liveanswer_person", "person_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("livesession.id", ondelete="CASCADE"), nullable=False, index=True
        ),
    )
    # "p<person id>" for a member, "d<hash of the device cookie>" for an anonymous phone.
    participant: str = Field(max_length=70)
    person_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("person.id", ondelete="SET NULL"), nullable=True),
    )
    words: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    choice: int | None = Field(default=None)  # 1-based option number
    scale: int | None = Field(default=None)
    status: AnswerStatus = Field(
        default=AnswerStatus.shown, sa_type=str_enum(AnswerStatus), nullable=False
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    person: Person | None = Relationship()


class HeldWord(SQLModel, table=True):
    """A word held for moderation in one language of an organisation (the org edits the list)."""

    __tablename__ = "liveheldword"
    __table_args__ = (UniqueConstraint("org_id", "locale", "word"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = _org_fk()
    locale: str = Field(max_length=5)
    word: str = Field(max_length=40)
