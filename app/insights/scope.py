"""Who sees which insights: the one place that decides it.

- curators and admins: the whole organisation;
- leaders: the departments they lead and every department below them;
- employees: only their own figures (on "Meg"), never a department's;
- "rarely seen" (people not recognised for 30 days): a leader, for their own units only;
  a curator or admin who leads no department has no such list.
"""

from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.errors import PermissionDenied
from app.orgs.models import Department, Organisation, Person, Role
from app.recognition.scope import led_departments


@dataclass(frozen=True)
class InsightScope:
    org: Organisation
    viewer: Person
    whole_org: bool
    departments: frozenset[int]  # the departments whose figures the viewer may read
    rarely_seen: frozenset[int]  # the departments of the "rarely seen" list; empty: no list

    @property
    def empty(self) -> bool:
        return not self.whole_org and not self.departments


def led_department_ids(session: Session, person: Person) -> frozenset[int]:
    """The departments `person` leads, with everything below them (none unless a leader)."""
    if person.role not in (Role.leader, Role.admin):
        return frozenset()
    led = led_departments(person)
    return frozenset(session.exec(select(led.c.id)).all())


def may_see_insights(person: Person) -> bool:
    return person.role in (Role.leader, Role.curator, Role.admin)


def insight_scope(session: Session, viewer: Person) -> InsightScope:
    """What `viewer` may read of their organisation's insights; employees get PermissionDenied."""
    if not may_see_insights(viewer):
        raise PermissionDenied()
    led = led_department_ids(session, viewer)
    if viewer.is_curator:
        everything = frozenset(
            session.exec(select(col(Department.id)).where(Department.org_id == viewer.org_id))
        )
        return InsightScope(viewer.org, viewer, True, everything, led)  # type: ignore[arg-type]
    return InsightScope(viewer.org, viewer, False, led, led)
