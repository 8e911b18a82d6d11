"""Erasing a person: every part removes what it holds, then the person's row goes.

What stays is that an erasure happened (one audit event without the name) and, if the
organisation chose so, the recognitions they gave, from "a former colleague".
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.contests.models import ContestEntry, ContestVote
from app.errors import N_, Invalid, PermissionDenied, Problem
from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.media.models import MediaImage
from app.orgs.models import FORMER_COLLEAGUE_EMAIL, Organisation, Person
from app.privacy.parts import AGGREGATES, PARTS
from app.recognition.models import Reaction, Recognition, RecognitionRecipient
from app.weekly.models import FeatureConsent

ERASE_ACTION = "person.erase"


@dataclass
class Summary:
    """What an erasure removed, counted by kind, for the admin's confirmation page."""

    counts: Counter[str] = field(default_factory=Counter)


def _days(session: Session, person: Person) -> set[date]:
    """The local days of the recognitions the person gave or received."""
    tz = ZoneInfo(person.org.timezone)
    received = select(RecognitionRecipient.recognition_id).where(
        RecognitionRecipient.person_id == person.id
    )
    times = session.exec(
        select(Recognition.created_at).where(
            (col(Recognition.giver_id) == person.id) | col(Recognition.id).in_(received)
        )
    ).all()
    return {t.astimezone(tz).date() for t in times}


def check_name(person: Person, typed: str) -> None:
    """The admin confirms by typing the person's name (spaces and case do not matter)."""
    if " ".join(typed.split()).casefold() != " ".join(person.name.split()).casefold():
        raise Invalid(
            {
                "confirm_name": Problem(
                    "mismatch", N_("Type the person's name exactly as shown to confirm.")
                )
            }
        )


def erase_person(
    session: Session,
    person: Person,
    *,
    actor: Person | None,
    now: datetime | None = None,
) -> Summary:
    """Erase `person` from their organisation; never commits (the caller does, once).

    `actor` is the admin (None: the CLI or the automatic erasure). An admin cannot erase
    themselves: another admin must, so that an organisation never loses its last admin by
    accident and the audit event names someone else.
    """
    now = now or utcnow()
    if person.email == FORMER_COLLEAGUE_EMAIL:
        raise PermissionDenied()
    if actor is not None and (actor.id == person.id or actor.org_id != person.org_id):
        raise PermissionDenied()
    org: Organisation = person.org
    days = _days(session, person)
    summary = Summary()
    for part in PARTS:
        if part.erase is None:
            continue
        done = part.erase(session, person)
        if done:
            summary.counts.update({k: v for k, v in done.items() if v})
    session.flush()
    session.delete(person)
    session.flush()
    # That it happened, by whom and when; not whom, nor what (GDPR art. 17 and the log's use).
    audit(session, org, actor, ERASE_ACTION)
    assert org.id is not None
    for refresh in AGGREGATES:
        refresh(session, org.id, days)
    return summary


def due_for_erasure(session: Session, now: datetime) -> list[int]:
    """People deactivated longer ago than their organisation erases automatically."""
    rows = session.exec(
        select(Person.id, Person.deactivated_at, Organisation.erase_after_days)
        .join(Organisation, col(Organisation.id) == Person.org_id)
        .where(
            col(Person.active).is_(False),
            col(Person.deactivated_at).is_not(None),
            col(Organisation.erase_after_days).is_not(None),
            Person.email != FORMER_COLLEAGUE_EMAIL,
        )
        .order_by(col(Person.id))
    ).all()
    return [
        pid
        for pid, deactivated, days in rows
        if pid is not None
        and deactivated is not None
        and days is not None
        and deactivated <= now - timedelta(days=days)
    ]


def preview(session: Session, person: Person) -> dict[str, int]:
    """What an erasure of `person` would remove, counted, for the confirmation page."""

    def count(model: type, column: object) -> int:
        return int(
            session.exec(select(func.count()).select_from(model).where(column == person.id)).one()
        )

    return {
        "given": count(Recognition, Recognition.giver_id),
        "received": count(RecognitionRecipient, RecognitionRecipient.person_id),
        "reactions": count(Reaction, Reaction.person_id),
        "entries": count(ContestEntry, ContestEntry.author_id),
        "votes": count(ContestVote, ContestVote.voter_id),
        "photos": count(MediaImage, MediaImage.owner_id),
        "consents": count(FeatureConsent, FeatureConsent.person_id),
    }
