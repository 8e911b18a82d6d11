"""The person themselves: their profile, logins and tokens, their place in the audit log.

The parts of the organisation's own tables that app/privacy owns (features keep theirs in
their `privacy.py`). The person's row is deleted last, by app/privacy/erasure.py.
"""

from typing import Any

from sqlalchemy import String, cast, delete, or_
from sqlmodel import Session, col, func, select

from app.auth.models import ApiToken, LoginSession, MagicLink, OidcIdentity
from app.kernel.audit import AuditEvent
from app.kernel.types import iso
from app.orgs.models import Department, DepartmentLeader, ImportJob, Person


def export_profile(session: Session, person: Person) -> dict[str, Any]:
    led = session.exec(
        select(Department.name)
        .join(DepartmentLeader, col(DepartmentLeader.department_id) == Department.id)
        .where(DepartmentLeader.person_id == person.id)
        .order_by(col(Department.name))
    ).all()
    return {
        "profile": {
            "name": person.name,
            "email": person.email,
            "title": person.title,
            "department": person.department.name if person.department else None,
            "leads_departments": list(led),
            "role": person.role.value,
            "active": person.active,
            "deactivated_at": iso(person.deactivated_at),
            "external_id": person.external_id,
            "language": person.locale,
            "email_frequency": person.email_frequency.value,
            "never_feature_me": person.feature_opt_out,
            "always_agree_to_be_featured": person.feature_always_agree,
            "created_at": iso(person.created_at),
            "organisation": {"slug": person.org.slug, "name": person.org.name},
        }
    }


def export_logins(session: Session, person: Person) -> dict[str, Any]:
    sessions = session.exec(
        select(LoginSession)
        .where(LoginSession.person_id == person.id)
        .order_by(col(LoginSession.created_at))
    ).all()
    links = session.exec(
        select(MagicLink)
        .where(MagicLink.person_id == person.id)
        .order_by(col(MagicLink.created_at))
    ).all()
    tokens = session.exec(
        select(ApiToken).where(ApiToken.person_id == person.id).order_by(col(ApiToken.created_at))
    ).all()
    identities = session.exec(
        select(OidcIdentity)
        .where(OidcIdentity.person_id == person.id)
        .order_by(col(OidcIdentity.created_at))
    ).all()
    return {
        "login_identities": [
            {
                "provider": i.issuer_key,
                "subject": i.subject,
                "linked_by": i.linked_by,
                "created_at": iso(i.created_at),
            }
            for i in identities
        ],
        "login_sessions": [
            {
                "created_at": iso(s.created_at),
                "expires_at": iso(s.expires_at),
                "revoked_at": iso(s.revoked_at),
                "browser": s.user_agent,
            }
            for s in sessions
        ],
        "login_links": [
            {"created_at": iso(m.created_at), "used_at": iso(m.used_at)} for m in links
        ],
        "api_tokens": [
            {
                "name": t.name,
                "prefix": t.prefix,
                "created_at": iso(t.created_at),
                "last_used_at": iso(t.last_used_at),
                "revoked_at": iso(t.revoked_at),
            }
            for t in tokens
        ],
    }


def erase_logins(session: Session, person: Person) -> dict[str, int]:
    counts = {}
    for name, model in (
        ("login_sessions", LoginSession),
        ("login_links", MagicLink),
        ("api_tokens", ApiToken),
    ):
        counts[name] = session.execute(
            delete(model).where(col(model.person_id) == person.id)
        ).rowcount  # type: ignore[attr-defined]
    session.execute(delete(DepartmentLeader).where(col(DepartmentLeader.person_id) == person.id))
    return counts


def erase_from_imports(session: Session, person: Person) -> dict[str, int]:
    """Import reports list rejected rows by e-mail address: theirs are dropped."""
    email = person.email.lower()
    jobs = session.exec(select(ImportJob).where(ImportJob.org_id == person.org_id)).all()
    scrubbed = 0
    for job in jobs:
        kept = [r for r in job.report if str(r.get("email", "")).strip().lower() != email]
        if len(kept) != len(job.report):
            scrubbed += len(job.report) - len(kept)
            job.report = kept
            session.add(job)
    return {"import_rows": scrubbed}


def _names(event: AuditEvent, person: Person) -> bool:
    if event.target.strip().lower() in (person.email.lower(), f"person {person.id}"):
        return True
    return any(
        key in ("person", "person_id", "email", "name") and value in (person.id, person.email)
        for key, value in event.detail.items()
    )


def export_audit(session: Session, person: Person) -> dict[str, Any]:
    events = session.exec(
        select(AuditEvent)
        .where(AuditEvent.org_id == person.org_id, AuditEvent.actor_id == person.id)
        .order_by(col(AuditEvent.created_at), col(AuditEvent.id))
    ).all()
    return {
        "actions_in_audit_log": [
            {"at": iso(e.created_at), "action": e.action, "target": e.target} for e in events
        ]
    }


def erase_audit(session: Session, person: Person) -> dict[str, int]:
    """Rows that name the person (by address, or their id in the detail) keep only what was
    done and when. Rows they did as an actor lose the actor with their row (SET NULL)."""
    detail = cast(AuditEvent.detail, String)
    candidates = session.exec(
        select(AuditEvent).where(
            AuditEvent.org_id == person.org_id,
            or_(
                func.lower(AuditEvent.target) == person.email.lower(),
                col(AuditEvent.target) == f"person {person.id}",
                detail.contains(str(person.id)),
                func.lower(detail).contains(person.email.lower()),
            ),
        )
    ).all()
    scrubbed = 0
    for event in candidates:
        if _names(event, person):
            event.target = ""
            event.detail = {}
            session.add(event)
            scrubbed += 1
    return {"audit_rows_scrubbed": scrubbed}
