"""A person's live answers in their data export, and erasing them.

Only a member's answers are theirs: an anonymous phone's answers were never linked to a person.
"""

from typing import Any

from sqlmodel import Session, col, select

from app.live import service
from app.live.models import LiveAnswer, LiveSession
from app.orgs.models import Person


def _answers(session: Session, person: Person) -> list[tuple[LiveAnswer, LiveSession]]:
    return list(
        session.exec(
            select(LiveAnswer, LiveSession)
            .join(LiveSession, col(LiveSession.id) == col(LiveAnswer.session_id))
            .where(LiveAnswer.person_id == person.id, LiveSession.org_id == person.org_id)
            .order_by(col(LiveAnswer.created_at), col(LiveAnswer.id))
        )
    )


def export_person(session: Session, person: Person) -> dict[str, Any]:
    """{"live_answers": [...]}: every answer the person gave as a member, with its question."""
    items = []
    for row, live in _answers(session, person):
        items.append(
            {
                "question": live.question,
                "kind": live.kind.value,
                "words": list(row.words),
                "choice": live.options[row.choice - 1] if row.choice else None,
                "scale": row.scale,
                "status": row.status.value,
                "answered_at": row.created_at.isoformat(),
                "changed_at": row.updated_at.isoformat(),
            }
        )
    return {"live_answers": items}


def erase_person(session: Session, person: Person) -> None:
    """Delete the person's answers (the tallies shrink; the screens render again)."""
    touched: dict[int | None, LiveSession] = {}
    for row, live in _answers(session, person):
        touched[live.id] = live
        session.delete(row)
    session.flush()
    for live in touched.values():
        service.bump(session, live)
