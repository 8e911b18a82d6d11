"""People of an organisation: the one people search, and adding, editing and listing people."""

import operator
from collections.abc import Iterable, Mapping
from functools import reduce
from typing import Any

from sqlalchemy.orm import selectinload
from sqlmodel import Session, case, col, delete, func, or_, select
from sqlmodel.sql.expression import SelectOfScalar

from app.auth import service as auth
from app.errors import N_, Invalid, Problem
from app.kernel.audit import audit
from app.kernel.forms import REQUIRED, clean_line, normalise_email
from app.kernel.paging import Page, paginate
from app.orgs.departments import (
    UNKNOWN_DEPARTMENT,
    add_department,
    department_by_name,
    department_ref,
)
from app.orgs.fields import collect
from app.orgs.models import (
    FORMER_COLLEAGUE_EMAIL,
    Department,
    DepartmentLeader,
    Organisation,
    Person,
    Role,
    fold,
)

PEOPLE_STATUSES = ("active", "inactive", "all")
MAX_TERMS = 4
MAX_TERM_LENGTH = 50
LAST_ADMIN = Problem(
    "last_admin",
    N_("There must be at least one active admin. Make someone else admin first."),
)


# --- the people search ----------------------------------------------------------------------
#
# One rule for the give page's type-ahead, the admin people list and the JSON API: the query is
# folded as `Person.search_text` is (case, accents and both Nordic spellings: "ODEGARD",
# "ødegård" and "oedegaard" all find Ødegård; "Aase" finds Åse), every word of it must match
# the name, title, e-mail address or department, "%" and "_" are plain characters, and people
# whose words start with the query come before those who only contain it.


def search_terms(q: str) -> list[str]:
    """The folded words of a query: as many as it has words (the first spelling of each)."""
    if not q.strip():
        return []
    return [term[:MAX_TERM_LENGTH] for term in fold(q).split()[: len(q.split())][:MAX_TERMS]]


def _escaped(term: str) -> str:
    """`term` for a LIKE pattern with backslash as the escape: "%" and "_" match themselves."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(column: Any, term: str) -> Any:
    return column.like(f"%{_escaped(term)}%", escape="\\")


def _word_starts(term: str) -> Any:
    """A word of the name, title or e-mail name (what search_text holds) starts with `term`."""
    pattern = _escaped(term)
    text = col(Person.search_text)
    return or_(text.like(f"{pattern}%", escape="\\"), text.like(f"% {pattern}%", escape="\\"))


def matching(
    session: Session, org_id: int, q: str, *, status: str = "active"
) -> SelectOfScalar[Person]:
    """The organisation's people matching every word of `q` (everyone for an empty `q`).

    `status` is "active", "inactive" or "all". Unordered: add `ranking(q)` (after an order of
    your own, if you have one).
    """
    stmt = select(Person).where(Person.org_id == org_id, Person.email != FORMER_COLLEAGUE_EMAIL)
    stmt = stmt.options(selectinload(Person.department))  # type: ignore[arg-type]
    if status == "active":
        stmt = stmt.where(col(Person.active).is_(True))
    elif status == "inactive":
        stmt = stmt.where(col(Person.active).is_(False))
    terms = search_terms(q)
    if not terms:
        return stmt
    # An organisation has a few dozen departments: fold their names here, the same way on
    # every database (SQLite's lower() knows no "Ø").
    departments = [
        (dept_id, fold(name))
        for dept_id, name in session.exec(
            select(Department.id, Department.name).where(Department.org_id == org_id)
        )
    ]
    for term in terms:
        in_departments = [dept_id for dept_id, folded in departments if term in folded]
        found = [
            _contains(col(Person.search_text), term),
            _contains(func.lower(Person.email), term),
        ]
        if in_departments:
            found.append(col(Person.department_id).in_(in_departments))
        stmt = stmt.where(or_(*found))
    return stmt


def ranking(q: str) -> list[Any]:
    """The search's order: more words matching at a word's start first, then name."""
    terms = search_terms(q)
    order: list[Any] = []
    if terms:
        misses = [case((_word_starts(term), 0), else_=1) for term in terms]
        order.append(reduce(operator.add, misses))
    return [*order, col(Person.name), col(Person.id)]


def search(
    session: Session, org_id: int, q: str, *, status: str = "active", limit: int = 50
) -> list[Person]:
    """The first `limit` people of the organisation matching `q`, best first."""
    stmt = matching(session, org_id, q, status=status).order_by(*ranking(q)).limit(limit)
    return list(session.exec(stmt))


# --- adding and editing people --------------------------------------------------------------


def parse_role(value: str) -> Role:
    try:
        return Role((value or "employee").strip().lower())
    except ValueError as exc:
        raise ValueError(
            Problem("role", N_("Role must be employee, leader, curator or admin."))
        ) from exc


def _is_last_active_admin(session: Session, org: Organisation, person: Person) -> bool:
    """True when `person` is the organisation's only active admin.

    The admins' rows are locked (PostgreSQL; SQLite holds its write lock already), so two
    admins demoting each other at the same moment cannot leave the organisation with none.
    """
    if person.id is None or person.role != Role.admin or not person.active:
        return False
    ids = session.exec(
        select(Person.id)
        .where(Person.org_id == org.id, Person.role == Role.admin, col(Person.active).is_(True))
        .with_for_update()
    ).all()
    return list(ids) == [person.id]


def upsert_person(
    session: Session,
    org: Organisation,
    *,
    email: str,
    name: str,
    department: str = "",
    title: str = "",
    role: str | None = "employee",
    actor: Person | None = None,
    create_departments: bool = True,
) -> tuple[Person, bool]:
    """Create or update a person by e-mail; returns (person, created).

    An empty `role` keeps an existing person's role (new people become employees): an HR
    export that knows nothing of roles must not demote the admins.
    """
    errors: dict[str, Problem] = {}
    email = collect(errors, "email", normalise_email, email or "")
    name = collect(errors, "name", clean_line, name, max_length=120, required=True)
    title = collect(errors, "title", clean_line, title, max_length=120)
    dept_name = collect(errors, "department", clean_line, department, max_length=120)
    role_value = collect(errors, "role", parse_role, role) if (role or "").strip() else None
    if errors:
        raise Invalid(errors)
    person = session.exec(
        select(Person).where(Person.org_id == org.id, Person.email == email)
    ).first()
    new_role = role_value or (person.role if person else Role.employee)
    if (
        person is not None
        and new_role != Role.admin
        and _is_last_active_admin(session, org, person)
    ):
        raise Invalid({"role": LAST_ADMIN})
    dept = None
    if dept_name:
        dept = department_by_name(session, org, dept_name)
        if dept is None:
            if not create_departments:
                raise Invalid({"department": UNKNOWN_DEPARTMENT})
            dept = add_department(session, org, name=dept_name, actor=actor)
    created = person is None
    if person is None:
        person = Person(org=org, email=email, name=name)
    person.name, person.title, person.role = name, title, new_role
    person.department_id = dept.id if dept else None
    session.add(person)
    session.flush()
    return person, created


def search_people(
    session: Session, org: Organisation, *, q: str = "", status: str = "active", page: int = 1
) -> Page[Person]:
    """People by name, e-mail, title or department; status is "active", "inactive" or "all"."""
    stmt = matching(session, org.id or 0, q, status=status)
    return paginate(session, stmt.order_by(*ranking(q)), page)


def led_department_ids(session: Session, person: Person) -> set[int]:
    rows = session.exec(
        select(DepartmentLeader.department_id).where(DepartmentLeader.person_id == person.id)
    )
    return {dept_id for dept_id in rows if dept_id is not None}


def _email_field(value: str | None) -> str:
    if not (value or "").strip():
        raise ValueError(REQUIRED)
    return normalise_email(value or "")


def _person_form(
    session: Session,
    org: Organisation,
    data: Mapping[str, str],
    leads: Iterable[str],
    person: Person | None,
) -> dict[str, Any]:
    """Check the person form; all problems at once, nothing changed."""
    errors: dict[str, Problem] = {}
    out: dict[str, Any] = {
        "email": collect(errors, "email", _email_field, data.get("email")),
        "name": collect(
            errors, "name", clean_line, data.get("name"), max_length=120, required=True
        ),
        "title": collect(errors, "title", clean_line, data.get("title"), max_length=120),
        "department": collect(
            errors, "department", department_ref, session, org, data.get("department")
        ),
        "role": collect(errors, "role", parse_role, data.get("role") or "employee"),
        "active": person is None or data.get("active") in ("on", "true", "1"),
    }
    led: dict[int, Department] = {}
    for raw in leads:
        dept = collect(errors, "leads", department_ref, session, org, raw)
        if dept is not None and dept.id is not None:
            led[dept.id] = dept
    out["leads"] = list(led.values())
    if led and out["role"] not in (Role.leader, Role.admin, None):
        errors["leads"] = Problem(
            "not_leader",
            N_(
                "Only leaders and admins lead departments. Choose one of those roles or untick the departments."
            ),
        )
    if out["email"]:
        clash = session.exec(
            select(Person).where(Person.org_id == org.id, Person.email == out["email"])
        ).first()
        if clash is not None and clash is not person:
            errors["email"] = Problem(
                "taken", N_("Someone in this organisation already has this e-mail address.")
            )
    if person is not None and "role" not in errors and _is_last_active_admin(session, org, person):
        if out["role"] != Role.admin:
            errors["role"] = LAST_ADMIN
        elif not out["active"]:
            errors["active"] = LAST_ADMIN
    if errors:
        raise Invalid(errors)
    return out


def _set_leads(session: Session, person: Person, departments: list[Department]) -> bool:
    """Make `person` lead exactly `departments`; True when that changed anything."""
    wanted = {d.id for d in departments if d.id is not None}
    current = led_department_ids(session, person)
    if gone := current - wanted:
        session.execute(
            delete(DepartmentLeader).where(
                col(DepartmentLeader.person_id) == person.id,
                col(DepartmentLeader.department_id).in_(gone),
            )
        )
    for dept_id in wanted - current:
        session.add(DepartmentLeader(department_id=dept_id, person_id=person.id))
    return wanted != current


def create_person(
    session: Session,
    org: Organisation,
    data: Mapping[str, str],
    leads: Iterable[str] = (),
    actor: Person | None = None,
) -> Person:
    """Add a person from the admin form; the e-mail must be new in the organisation."""
    form = _person_form(session, org, data, leads, None)
    dept = form["department"]
    person = Person(
        org=org,
        email=form["email"],
        name=form["name"],
        title=form["title"],
        role=form["role"],
        department_id=dept.id if dept else None,
    )
    session.add(person)
    session.flush()
    _set_leads(session, person, form["leads"])
    audit(session, org, actor, "person.add", person.email, role=person.role.value)
    return person


def update_person(
    session: Session,
    org: Organisation,
    person: Person,
    data: Mapping[str, str],
    leads: Iterable[str] = (),
    actor: Person | None = None,
) -> None:
    """Save the person form. Deactivating ends the person's login sessions at once.

    API tokens are left alone: they stop working while the person is inactive and work
    again if the person comes back.
    """
    form = _person_form(session, org, data, leads, person)
    dept = form["department"]
    before = {f: getattr(person, f) for f in ("email", "name", "title", "department_id", "role")}
    was_active = person.active
    person.email, person.name, person.title = form["email"], form["name"], form["title"]
    person.role, person.active = form["role"], form["active"]
    person.department_id = dept.id if dept else None
    session.add(person)
    session.flush()
    leads_changed = _set_leads(session, person, form["leads"])
    if was_active and not person.active:
        auth.end_all_sessions(session, person)
        action = "person.deactivate"
    elif person.active and not was_active:
        action = "person.activate"
    else:
        action = "person.update"
    changed = sorted(f for f, v in before.items() if getattr(person, f) != v)
    if leads_changed:
        changed.append("leads")
    audit(session, org, actor, action, person.email, changed=changed)


def active_people(session: Session, org: Organisation) -> list[Person]:
    return list(
        session.exec(
            select(Person)
            .where(Person.org_id == org.id, col(Person.active).is_(True))
            .order_by(col(Person.name))
        )
    )
