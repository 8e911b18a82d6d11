"""The feeds of recognitions, newest first, keyset-paginated with opaque cursors."""

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import and_, exists, or_
from sqlmodel import Session, col, select

from app.errors import N_, Invalid, Problem
from app.kernel.forms import MAX_ID
from app.orgs.models import Person
from app.recognition.cards import Card, card_select, cards_from_rows, viewer_params
from app.recognition.models import Recognition, RecognitionRecipient, RecognitionValue
from app.recognition.scope import has_recipient, led_departments, readable_by


class FeedKind(StrEnum):
    all = "all"
    department = "department"
    to_me = "to_me"
    from_me = "from_me"


@dataclass
class FeedPage:
    items: list[Card]
    next_cursor: str | None


def encode_cursor(rec: Card | Recognition) -> str:
    raw = f"{rec.created_at.isoformat()}|{rec.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, rid = raw.partition("|")
        at = datetime.fromisoformat(stamp)
        if at.tzinfo is None:
            raise ValueError
        at, rec_id = at.astimezone(UTC), int(rid)
        if not 0 < rec_id <= MAX_ID or at.year < 2000:
            raise ValueError
        return at, rec_id
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise Invalid({"cursor": Problem("invalid", N_("That page link is not valid."))}) from exc


def feed(
    session: Session,
    viewer: Person,
    *,
    kind: FeedKind = FeedKind.all,
    value_id: int | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> FeedPage:
    """Newest first, keyset-paginated on (created_at, id): stable while others give.

    The items are cards (plain columns, see `cards.py`), not ORM objects.
    """
    led = led_departments(viewer)
    # Every feed lists only what the viewer may read; each kind then narrows it down.
    stmt = card_select().where(readable_by(viewer, led))
    if kind == FeedKind.all:
        stmt = stmt.where(col(Recognition.listed).is_(True))
    elif kind == FeedKind.to_me:
        stmt = stmt.where(
            col(Recognition.hidden_by_curator).is_(False),
            has_recipient(col(RecognitionRecipient.person_id) == viewer.id),
        )
    elif kind == FeedKind.from_me:
        stmt = stmt.where(col(Recognition.giver_id) == viewer.id)
    elif kind == FeedKind.department:
        public_here = and_(
            col(Recognition.listed).is_(True),
            has_recipient(col(Person.department_id) == viewer.department_id),
        )
        conditions = [public_here] if viewer.department_id else []
        conditions.append(
            and_(
                col(Recognition.hidden_by_curator).is_(False),
                has_recipient(col(Person.department_id).in_(select(led.c.id))),
            )
        )
        stmt = stmt.where(or_(*conditions))
    if value_id is not None:
        stmt = stmt.where(
            exists(
                select(RecognitionValue.recognition_id).where(
                    RecognitionValue.recognition_id == Recognition.id,
                    RecognitionValue.value_id == value_id,
                )
            )
        )
    if cursor:
        at, rid = decode_cursor(cursor)
        # The first condition bounds the index scan; the OR alone would be a filter that
        # reads every newer row first (deep pages got slower with depth).
        stmt = stmt.where(
            col(Recognition.created_at) <= at,
            or_(
                col(Recognition.created_at) < at,
                and_(col(Recognition.created_at) == at, col(Recognition.id) < rid),
            ),
        )
    stmt = stmt.order_by(col(Recognition.created_at).desc(), col(Recognition.id).desc()).limit(
        limit + 1
    )
    rows = session.execute(stmt, viewer_params(viewer)).all()
    items = cards_from_rows(session, rows[:limit])
    next_cursor = encode_cursor(items[-1]) if len(rows) > limit else None
    return FeedPage(items=items, next_cursor=next_cursor)
