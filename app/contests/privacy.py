"""Photo competitions' part of a person's data: their entries and their votes.

Erasing a person deletes their entries (the votes for them go by cascade) and their votes; the
entries' photos lose their last keeper (ON DELETE RESTRICT) and are deleted with every other
photo the person uploaded, by media's part, which runs after this one.
"""

from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from app import i18n
from app.contests.models import Contest, ContestEntry, ContestVote
from app.kernel.types import iso
from app.media.privacy import file_name
from app.orgs.models import Person


def export_person(session: Session, person: Person) -> dict[str, Any]:
    entries = session.exec(
        select(ContestEntry, Contest)
        .join(Contest, col(Contest.id) == ContestEntry.contest_id)
        .where(ContestEntry.author_id == person.id)
        .order_by(col(ContestEntry.created_at), col(ContestEntry.id))
    ).all()
    votes = session.exec(
        select(ContestVote, Contest)
        .join(Contest, col(Contest.id) == ContestVote.contest_id)
        .where(ContestVote.voter_id == person.id)
        .order_by(col(ContestVote.created_at), col(ContestVote.id))
    ).all()
    _ = i18n.catalog(i18n.normalise(person.locale or person.org.locale) or "nb").gettext
    consent_text = _("Everyone recognisable in the photo has agreed to be shown")
    return {
        "contest_entries": [
            {
                "id": entry.id,
                "contest": contest.title,
                "created_at": iso(entry.created_at),
                "caption": entry.caption,
                "status": entry.status.value,
                "reject_reason": entry.reject_reason,
                "jury_place": entry.jury_place,
                "people_consent": {
                    "given": entry.people_consent,
                    "at": iso(entry.created_at),
                    "text": consent_text,
                },
                "photo": file_name(entry.image, person),
            }
            for entry, contest in entries
        ],
        "contest_votes": [
            {
                "contest": contest.title,
                "entry_id": vote.entry_id,
                "slot": vote.slot,
                "created_at": iso(vote.created_at),
            }
            for vote, contest in votes
        ],
    }


def erase_person(session: Session, person: Person) -> dict[str, int]:
    votes = session.execute(
        delete(ContestVote).where(col(ContestVote.voter_id) == person.id)
    ).rowcount  # type: ignore[attr-defined]
    entry_ids = list(
        session.exec(select(ContestEntry.id).where(ContestEntry.author_id == person.id))
    )
    if entry_ids:
        session.execute(delete(ContestVote).where(col(ContestVote.entry_id).in_(entry_ids)))
        session.execute(delete(ContestEntry).where(col(ContestEntry.id).in_(entry_ids)))
    session.expire_all()
    return {"contest_entries": len(entry_ids), "contest_votes": votes}
