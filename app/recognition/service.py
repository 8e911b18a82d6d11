"""The people picker of the give form: colleagues by name or department, recent ones first."""

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from app.orgs.models import Department, Person, fold
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
        select(Person)
        .outerjoin(recent, recent.c.pid == Person.id)
        .outerjoin(Department, col(Department.id) == Person.department_id)
        .where(
            Person.org_id == viewer.org_id,
            col(Person.active).is_(True),
            Person.id != viewer.id,
        )
    )
    terms = fold(q).split()[: len(q.split()) or 1] if q.strip() else []
    for term in terms[:4]:
        like = f"%{term[:50]}%"
        stmt = stmt.where(
            or_(col(Person.search_text).like(like), func.lower(Department.name).like(like))
        )
    if not terms:
        stmt = stmt.where(recent.c.last.is_not(None))
    stmt = stmt.order_by(recent.c.last.desc().nulls_last(), Person.name).limit(limit)
    return list(session.exec(stmt))
