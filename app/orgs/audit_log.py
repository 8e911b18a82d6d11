"""An organisation's audit log, as its admins read it."""

from collections.abc import Iterable

from sqlmodel import Session, col, select

from app.kernel.audit import AuditEvent
from app.kernel.paging import Page, paginate
from app.orgs.models import Organisation, Person


def audit_page(session: Session, org: Organisation, page: int = 1) -> Page[AuditEvent]:
    """The organisation's audit events, newest first."""
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.org_id == org.id)
        .order_by(col(AuditEvent.created_at).desc(), col(AuditEvent.id).desc())
    )
    return paginate(session, stmt, page)


def actor_names(session: Session, events: Iterable[AuditEvent]) -> dict[int, str]:
    """The names of the people behind some audit events, by person id."""
    ids = {e.actor_id for e in events if e.actor_id is not None}
    if not ids:
        return {}
    rows = session.exec(select(Person.id, Person.name).where(col(Person.id).in_(ids)))
    return {pid: name for pid, name in rows if pid is not None}
