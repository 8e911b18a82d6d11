"""What a card (and the API) shows of a recognition, loaded as plain columns.

A page of the feed used to load 20 `Recognition` objects with their recipients, people,
departments, values and photos as ORM objects (most of a page's CPU time went into building
and then reading them). A card needs a handful of columns: they are read here in one
statement per kind of row (recognitions, recipients, values, photos if any, the viewer's own
reactions), whatever the number of cards, and never lazily.

Who may read a recognition is not decided here: callers pass ids that came out of a query
with `scope.readable_by` (the feeds) or a recognition `scope.recognition_for` returned.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, String, bindparam, case, cast, func
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from app.media.models import MediaImage
from app.orgs.models import Department, Person, Value
from app.recognition.models import (
    Reaction,
    ReactionKind,
    Recognition,
    RecognitionRecipient,
    RecognitionValue,
    Visibility,
)
from app.recognition.reactions import ReactionCount


@dataclass(slots=True)
class CardPerson:
    id: int
    name: str
    department: str | None


@dataclass(slots=True)
class CardValue:
    id: int
    name: str
    colour: str


@dataclass(slots=True)
class Card:
    id: int
    created_at: datetime
    text: str
    visibility: Visibility
    feature_consent: bool
    hidden_by_curator: bool
    hidden_reason: str
    giver_id: int
    giver_name: str
    photo_id: int | None
    recipients: list[CardPerson] = field(default_factory=list)
    values: list[CardValue] = field(default_factory=list)
    reactions: list[ReactionCount] = field(default_factory=list)
    photo: MediaImage | None = None

    @property
    def recipient_names(self) -> str:
        return ", ".join(p.name for p in self.recipients)


# The giver under its own name: the feeds' conditions join `person` for recipients.
Giver = aliased(Person, name="giver")
KINDS = (ReactionKind.clap, ReactionKind.heart, ReactionKind.raise_hands)
# Names, values and colours are single lines without control characters (kernel.forms), so
# these two separate fields and rows inside the aggregated strings below.
UNIT, RECORD = "\x1f", "\x1e"


def _joined(*parts: Any) -> Any:
    out: Any = cast(parts[0], String)
    for part in parts[1:]:
        out = out + UNIT + cast(part, String)
    return out


def _recipients() -> Any:
    return (
        sa_select(
            func.aggregate_strings(
                _joined(Person.id, Person.name, func.coalesce(Department.name, "")), RECORD
            )
        )
        .select_from(RecognitionRecipient)
        .join(Person, col(Person.id) == RecognitionRecipient.person_id)
        .outerjoin(Department, col(Department.id) == Person.department_id)
        .where(col(RecognitionRecipient.recognition_id) == Recognition.id)
        .correlate(Recognition)
        .scalar_subquery()
    )


def _values() -> Any:
    return (
        sa_select(
            func.aggregate_strings(
                _joined(Value.position, Value.id, Value.name, Value.colour), RECORD
            )
        )
        .select_from(RecognitionValue)
        .join(Value, col(Value.id) == RecognitionValue.value_id)
        .where(col(RecognitionValue.recognition_id) == Recognition.id)
        .correlate(Recognition)
        .scalar_subquery()
    )


def _reactions() -> Any:
    # Each reaction's kind, marked "*" when it is the viewer's: "clap*heartheart..." is
    # counted in Python (a recognition has a handful of reactions).
    mine = case((col(Reaction.person_id) == bindparam(VIEWER, type_=Integer), "*"), else_="")
    return (
        sa_select(func.aggregate_strings(cast(Reaction.kind, String) + mine, RECORD))
        .where(col(Reaction.recognition_id) == Recognition.id)
        .correlate(Recognition)
        .scalar_subquery()
    )


# Built once: the statement's shape never changes, the viewer is a parameter (VIEWER) that
# `viewer_params` fills in when the statement runs.
VIEWER = "card_viewer"
_COLUMNS: tuple[Any, ...] = ()


def card_select() -> Select[*tuple[Any, ...]]:
    """One SELECT for whole cards (recognitions with their giver, recipients, values and
    reactions); the caller adds which recognitions, and runs it with `viewer_params`."""
    global _COLUMNS
    if not _COLUMNS:
        _COLUMNS = (
            col(Recognition.id),
            col(Recognition.created_at),
            col(Recognition.text),
            col(Recognition.visibility),
            col(Recognition.feature_consent),
            col(Recognition.hidden_by_curator),
            col(Recognition.hidden_reason),
            col(Recognition.giver_id),
            col(Giver.name),
            col(Recognition.photo_id),
            _recipients(),
            _values(),
            _reactions(),
        )
    return sa_select(*_COLUMNS).join(Giver, col(Giver.id) == Recognition.giver_id)


def viewer_params(viewer: Person) -> dict[str, int]:
    """The parameters `card_select()` runs with: whose reactions are marked as "mine"."""
    return {VIEWER: viewer.id or 0}


def _card(r: Any) -> Card:
    recipients = []
    if r[10]:
        for record in r[10].split(RECORD):
            pid, name, dept = record.split(UNIT)
            recipients.append(CardPerson(int(pid), name, dept or None))
        recipients.sort(key=lambda p: (p.name, p.id))
    values = []
    if r[11]:
        ordered = []
        for record in r[11].split(RECORD):
            position, vid, name, colour = record.split(UNIT)
            ordered.append((int(position), int(vid), name, colour))
        values = [CardValue(vid, name, colour) for _, vid, name, colour in sorted(ordered)]
    reactions = [ReactionCount(kind) for kind in KINDS]
    if r[12]:
        for mark in r[12].split(RECORD):
            rc = reactions[KIND_INDEX[mark.rstrip("*")]]
            rc.count += 1
            rc.mine = rc.mine or mark.endswith("*")
    return Card(
        id=r[0],
        created_at=r[1],
        text=r[2],
        visibility=r[3],
        feature_consent=r[4],
        hidden_by_curator=r[5],
        hidden_reason=r[6],
        giver_id=r[7],
        giver_name=r[8],
        photo_id=r[9],
        recipients=recipients,
        values=values,
        reactions=reactions,
    )


KIND_INDEX = {kind.value: i for i, kind in enumerate(KINDS)}


def cards_from_rows(session: Session, rows: Sequence[Any]) -> list[Card]:
    """Cards for rows of `card_select()`, in their order; photos in one more query if any."""
    cards = [_card(r) for r in rows]
    photo_ids = {c.photo_id for c in cards if c.photo_id is not None}
    if photo_ids:
        photos = {
            p.id: p
            for p in session.exec(select(MediaImage).where(col(MediaImage.id).in_(photo_ids)))
        }
        for c in cards:
            if c.photo_id is not None:
                c.photo = photos.get(c.photo_id)
    return cards


def cards_for(session: Session, viewer: Person, rec_ids: list[int]) -> list[Card]:
    """Cards for recognitions the caller already knows `viewer` may read, in this order."""
    if not rec_ids:
        return []
    stmt = card_select().where(col(Recognition.id).in_(rec_ids))
    rows = session.execute(stmt, viewer_params(viewer)).all()
    order = {rid: i for i, rid in enumerate(rec_ids)}
    return cards_from_rows(session, sorted(rows, key=lambda r: order[r[0]]))


def card_for(session: Session, viewer: Person, rec: Recognition) -> Card:
    """The card of one recognition returned by `scope.recognition_for`."""
    return cards_for(session, viewer, [rec.id or 0])[0]
