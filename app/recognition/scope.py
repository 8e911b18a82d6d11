"""Who may read a recognition: one SQL condition for lists and single reads, one loader.

Before this module the rule was written twice, as `can_see()` in Python for single reads and
as the feeds' SQL for lists. Both are kept here as one condition, with every check either of
them made:

- another organisation's recognition is never readable (a 404, as every other row);
- its giver always reads it, also once a curator has hidden it;
- otherwise it is readable when it is shared with the organisation (`Visibility.org`), when the
  viewer is one of its recipients, or when the viewer leads (directly or above) the department
  of one of its recipients;
- a recognition hidden by a curator is readable by no one but its giver and the curators;
- a recipient's "hide" only takes it off the public feeds (`Recognition.listed`): the feeds add
  that, it is not a rule of who may read it.

Where the two versions disagreed, the stricter one is kept: `can_see()` let every curator read
a *private* recognition once a curator had hidden it, although the same curator could not read
it before (and no feed ever listed it to them). A curator now reads a hidden recognition only
where they could read it unhidden. Recognitions are deleted outright (no "deleted" flag), so a
deleted one is simply not found.
"""

from sqlalchemy import CTE, ColumnElement, Exists, and_, exists, false, or_, true
from sqlmodel import Session, col, select

from app.errors import NotFound
from app.orgs.models import Department, DepartmentLeader, Person
from app.recognition.models import Recognition, RecognitionRecipient, Visibility


def led_departments(viewer: Person) -> CTE:
    """Departments a leader leads, with every department below them (a recursive CTE of `id`).

    Build it once per statement: two of these in one statement would clash by name.
    """
    led = (
        select(col(DepartmentLeader.department_id).label("id"))
        .where(DepartmentLeader.person_id == viewer.id)
        .cte("led_departments", recursive=True)
    )
    # UNION, not UNION ALL: a department tree with a loop still ends.
    return led.union(
        select(col(Department.id)).where(
            Department.org_id == viewer.org_id, col(Department.parent_id) == led.c.id
        )
    )


def has_recipient(condition: ColumnElement[bool]) -> Exists:
    """Some recipient of the recognition (joined with their Person row) meets `condition`."""
    return exists(
        select(RecognitionRecipient.recognition_id)
        .join(Person, col(Person.id) == RecognitionRecipient.person_id)
        .where(col(RecognitionRecipient.recognition_id) == Recognition.id, condition)
    )


def readable_by(viewer: Person, led: CTE | None = None) -> ColumnElement[bool]:
    """The SQL condition for the recognitions `viewer` may read (see the module docstring).

    Pass `led` (from `led_departments(viewer)`) when the statement uses it elsewhere too.
    """
    if viewer.id is None or viewer.org_id is None:
        return false()
    led = led if led is not None else led_departments(viewer)
    shared = or_(
        # Cheapest first: most recognitions are shared with the whole organisation.
        col(Recognition.visibility) == Visibility.org,
        has_recipient(col(RecognitionRecipient.person_id) == viewer.id),
        has_recipient(col(Person.department_id).in_(select(led.c.id))),
    )
    not_hidden = true() if viewer.is_curator else col(Recognition.hidden_by_curator).is_(False)
    return and_(
        col(Recognition.org_id) == viewer.org_id,
        or_(col(Recognition.giver_id) == viewer.id, and_(not_hidden, shared)),
    )


def recognition_for(session: Session, viewer: Person, rec_id: int) -> Recognition:
    """The one way to load a recognition: 404 unless the viewer may read it."""
    rec = session.exec(
        select(Recognition).where(Recognition.id == rec_id, readable_by(viewer))
    ).first()
    if rec is None:
        raise NotFound()
    return rec


def photo_visible(session: Session, viewer: Person, image_id: int) -> bool:
    """Whether a recognition that `viewer` may read shows this photo."""
    found = session.exec(
        select(Recognition.id).where(Recognition.photo_id == image_id, readable_by(viewer)).limit(1)
    ).first()
    return found is not None
