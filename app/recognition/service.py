"""The people picker of the give form: colleagues by name or department, recent ones first."""

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.orgs import people
from app.orgs.models import Person
from app.recognition.models import Recognition, RecognitionRecipient


def search_colleagues(session: Session, viewer: Person, q: str, limit: int = 8) -> list[Person]:
    """Active colleagues matching `q` (accent-insensitive), the ones you recognised lately first."""
    recent = (
        select(
            RecognitionRecipient.person_id.label("pid"),  # type: ignore[union-attr]
            func.max(Recognition.created_at).label("last"),
        )
        .join(Recognition, col(Recognition.id) == RecognitionRecipient.recognition_id)
        .where(Recognition.giver_id == viewer.id)
        .group_by(col(RecognitionRecipient.person_id))
        .subquery()
    )
    stmt = (
        people.matching(session, viewer.org_id or 0, q)
        .outerjoin(recent, recent.c.pid == Person.id)
        .where(Person.id != viewer.id)
    )
    if not people.search_terms(q):
        stmt = stmt.where(recent.c.last.is_not(None))
    stmt = stmt.order_by(recent.c.last.desc().nulls_last(), *people.ranking(q)).limit(limit)
    return list(session.exec(stmt))
