"""Organisations, values, departments and people: plain functions over a session."""

import re
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import available_timezones

from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, delete, func, select

from app.auth import service as auth
from app.auth.models import ApiToken
from app.errors import N_, Invalid, NotFound, Problem
from app.i18n import LOCALES
from app.kernel.audit import AuditEvent, audit
from app.kernel.forms import REQUIRED, clean_text, normalise_email, parse_id
from app.kernel.paging import Page, paginate
from app.orgs import people
from app.orgs.models import (
    Department,
    DepartmentLeader,
    Organisation,
    Person,
    Role,
    Value,
)

RESERVED_SLUGS = frozenset(
    {
        "api",
        "embed",
        "static",
        "media",
        "auth",
        "login",
        "logout",
        "healthz",
        "readyz",
        "oembed",
        "consent",
        "lang",
        "accessibility",
        "admin",
        "robots.txt",
        "favicon.ico",
        "docs",
        "openapi.json",
        "well-known",
        ".well-known",
    }
)
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
DEFAULT_COLOURS = ["#1d4f73", "#8a3b12", "#2e6b30", "#6a2c70", "#7a5c00"]


UNKNOWN_DEPARTMENT = Problem("unknown", N_("Choose a department from the list."))
UNKNOWN_PERSON = Problem("unknown", N_("Choose a person from the list."))
LAST_ADMIN = Problem(
    "last_admin",
    N_("There must be at least one active admin. Make someone else admin first."),
)


def contrast_ratio(hex_a: str, hex_b: str) -> float:
    def luminance(hex_colour: str) -> float:
        rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    la, lb = sorted((luminance(hex_a), luminance(hex_b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_on(background: str) -> str:
    """White or near-black, whichever reads better on `background`."""
    return (
        "#ffffff"
        if contrast_ratio(background, "#ffffff") >= contrast_ratio(background, "#111111")
        else "#111111"
    )


def _collect(errors: dict[str, Problem], field: str, fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except ValueError as exc:
        problem = (
            exc.args[0]
            if exc.args and isinstance(exc.args[0], Problem)
            else Problem("invalid", N_("This value is not valid."))
        )
        errors[field] = problem
        return None


def _colour(value: str) -> str:
    value = (value or "").strip()
    if not COLOUR_RE.match(value):
        raise ValueError(
            Problem("colour", N_("Write the colour as # and six hex digits, like #1d4f73."))
        )
    if contrast_ratio(value, "#ffffff") < 4.5:
        raise ValueError(
            Problem(
                "contrast", N_("This colour is too light to read on white. Choose a darker one.")
            )
        )
    return value.lower()


def _slug(value: str) -> str:
    value = (value or "").strip().lower()
    if not SLUG_RE.match(value):
        raise ValueError(Problem("slug", N_("Use 1–40 lowercase letters a–z, digits and hyphens.")))
    if value in RESERVED_SLUGS:
        raise ValueError(Problem("reserved", N_("This address is reserved. Choose another.")))
    return value


# --- organisations --------------------------------------------------------------------------


def create_org(
    session: Session,
    *,
    slug: str,
    name: str,
    locale: str = "nb",
    values: list[str] | None = None,
    admin_email: str | None = None,
    admin_name: str | None = None,
    timezone: str = "Europe/Oslo",
) -> Organisation:
    errors: dict[str, Problem] = {}
    slug = _collect(errors, "slug", _slug, slug)
    name = _collect(errors, "name", clean_text, name, max_length=120, required=True)
    if locale not in LOCALES:
        errors["locale"] = Problem("locale", N_("Choose one of the languages offered."))
    if timezone not in available_timezones():
        errors["timezone"] = Problem("timezone", N_("Choose a valid time zone."))
    if slug and session.exec(select(Organisation).where(Organisation.slug == slug)).first():
        errors["slug"] = Problem("taken", N_("This address is already in use."))
    email = _collect(errors, "admin", normalise_email, admin_email) if admin_email else None
    if errors:
        raise Invalid(errors)
    org = Organisation(slug=slug, name=name, locale=locale, timezone=timezone)
    session.add(org)
    session.flush()
    for i, value_name in enumerate(v.strip() for v in values or [] if v.strip()):
        add_value(session, org, name=value_name, colour=DEFAULT_COLOURS[i % len(DEFAULT_COLOURS)])
    if email:
        session.add(
            Person(org=org, email=email, name=admin_name or email.split("@")[0], role=Role.admin)
        )
    audit(session, org, None, "org.create", slug)
    session.flush()
    return org


def update_org_settings(
    session: Session, org: Organisation, actor: Person, data: dict[str, str]
) -> None:
    """Apply the settings form; all fields are checked before anything changes."""
    errors: dict[str, Problem] = {}
    name = _collect(errors, "name", clean_text, data.get("name"), max_length=120, required=True)
    feature_name = _collect(
        errors, "feature_name", clean_text, data.get("feature_name"), max_length=60
    )
    locale = data.get("locale", "")
    if locale not in LOCALES:
        errors["locale"] = Problem("locale", N_("Choose one of the languages offered."))
    timezone = data.get("timezone", "")
    if timezone not in available_timezones():
        errors["timezone"] = Problem("timezone", N_("Choose a valid time zone."))
    try:
        goal = int(data.get("daily_goal", ""))
        if not 1 <= goal <= 20:
            raise ValueError
    except ValueError:
        goal = 0
        errors["daily_goal"] = Problem("range", N_("Choose a whole number from 1 to 20."))
    primary = _collect(errors, "theme_primary", _colour, data.get("theme_primary", ""))
    accent = _collect(errors, "theme_accent", _colour, data.get("theme_accent", ""))
    origins = _collect(errors, "intranet_origins", parse_origins, data.get("intranet_origins", ""))
    schedule: dict[str, Any] = {}
    for key in ("pick_weekday", "publish_weekday"):
        try:
            schedule[key] = int(data.get(key, ""))
            if not 0 <= schedule[key] <= 6:
                raise ValueError
        except ValueError:
            errors[key] = Problem("weekday", N_("Choose a day of the week."))
    for key in ("pick_time", "publish_time"):
        if not TIME_RE.match(data.get(key, "")):
            errors[key] = Problem("time", N_("Write the time as HH:MM, like 09:00."))
        else:
            schedule[key] = data[key]
    if errors:
        raise Invalid(errors)
    org.name, org.feature_name, org.locale, org.timezone = name, feature_name, locale, timezone
    org.daily_goal, org.theme_primary, org.theme_accent = goal, primary, accent
    org.intranet_origins = origins
    org.auto_publish = data.get("auto_publish") in ("on", "true", "1")
    for key, value in schedule.items():
        setattr(org, key, value)
    session.add(org)
    audit(session, org, actor, "org.settings", org.slug)


def parse_origins(text: str) -> list[str]:
    """One https origin a line (scheme, host, optional port; no path)."""
    origins: list[str] = []
    for raw in re.split(r"[\s,]+", text or ""):
        if not raw:
            continue
        m = re.fullmatch(r"(https?)://([a-z0-9.-]+)(:\d{1,5})?/?", raw.strip().lower())
        if not m or (m.group(1) == "http" and m.group(2) not in ("localhost", "127.0.0.1")):
            raise ValueError(
                Problem("origin", N_("Write each intranet address as https://host, one a line."))
            )
        origin = f"{m.group(1)}://{m.group(2)}{m.group(3) or ''}"
        if origin not in origins:
            origins.append(origin)
    if len(origins) > 20:
        raise ValueError(Problem("too_many", N_("At most 20 addresses.")))
    return origins


# --- values ---------------------------------------------------------------------------------


def add_value(
    session: Session,
    org: Organisation,
    *,
    name: str,
    description: str = "",
    colour: str = "#1d4f73",
    actor: Person | None = None,
) -> Value:
    errors: dict[str, Problem] = {}
    name = _collect(errors, "name", clean_text, name, max_length=60, required=True)
    description = _collect(errors, "description", clean_text, description, max_length=200)
    colour = _collect(errors, "colour", _colour, colour)
    if (
        name
        and session.exec(select(Value).where(Value.org_id == org.id, Value.name == name)).first()
    ):
        errors["name"] = Problem("taken", N_("A value with this name already exists."))
    if errors:
        raise Invalid(errors)
    position = (
        session.exec(
            select(func.coalesce(func.max(Value.position), -1)).where(Value.org_id == org.id)
        ).one()
        + 1
    )
    value = Value(org=org, name=name, description=description, colour=colour, position=position)
    session.add(value)
    session.flush()
    audit(session, org, actor, "value.add", name)
    return value


def update_value(
    session: Session,
    org: Organisation,
    value: Value,
    *,
    name: str,
    description: str,
    colour: str,
    active: bool,
    actor: Person | None = None,
) -> None:
    errors: dict[str, Problem] = {}
    name = _collect(errors, "name", clean_text, name, max_length=60, required=True)
    description = _collect(errors, "description", clean_text, description, max_length=200)
    colour = _collect(errors, "colour", _colour, colour)
    clash = session.exec(
        select(Value).where(Value.org_id == org.id, Value.name == name, Value.id != value.id)
    ).first()
    if name and clash:
        errors["name"] = Problem("taken", N_("A value with this name already exists."))
    if errors:
        raise Invalid(errors)
    value.name, value.description, value.colour, value.active = name, description, colour, active
    session.add(value)
    audit(session, org, actor, "value.update", name, active=active)


def set_value_active(
    session: Session, org: Organisation, value: Value, active: bool, actor: Person | None = None
) -> None:
    """Values are never deleted (recognitions refer to them); they are switched off instead."""
    if value.active == active:
        return
    value.active = active
    session.add(value)
    audit(session, org, actor, "value.activate" if active else "value.deactivate", value.name)


def move_value(
    session: Session,
    org: Organisation,
    value: Value,
    delta: int,
    actor: Person | None = None,
) -> None:
    values = list(
        session.exec(select(Value).where(Value.org_id == org.id).order_by(col(Value.position)))
    )
    i = values.index(value)
    j = max(0, min(len(values) - 1, i + delta))
    values.insert(j, values.pop(i))
    for pos, v in enumerate(values):
        v.position = pos
        session.add(v)
    if i != j:
        audit(session, org, actor, "value.move", value.name, position=j + 1)


def list_values(session: Session, org: Organisation) -> list[Value]:
    """All values, inactive ones too, in the order people see them."""
    return list(
        session.exec(select(Value).where(Value.org_id == org.id).order_by(col(Value.position)))
    )


# --- departments ----------------------------------------------------------------------------


def department_by_name(session: Session, org: Organisation, name: str) -> Department | None:
    return session.exec(
        select(Department).where(Department.org_id == org.id, Department.name == name)
    ).first()


def add_department(
    session: Session,
    org: Organisation,
    *,
    name: str,
    parent: Department | None = None,
    actor: Person | None = None,
) -> Department:
    errors: dict[str, Problem] = {}
    name = _collect(errors, "name", clean_text, name, max_length=120, required=True)
    if name and department_by_name(session, org, name):
        errors["name"] = Problem("taken", N_("A department with this name already exists."))
    if errors:
        raise Invalid(errors)
    dept = Department(org=org, name=name, parent_id=parent.id if parent else None)
    session.add(dept)
    session.flush()
    audit(session, org, actor, "department.add", name)
    return dept


def department_tree(session: Session, org: Organisation) -> list[tuple[Department, int]]:
    """Departments in tree order with their depth, for indented lists and selects."""
    depts = list(
        session.exec(
            select(Department).where(Department.org_id == org.id).order_by(Department.name)
        )
    )
    children: dict[int | None, list[Department]] = {}
    for d in depts:
        children.setdefault(d.parent_id, []).append(d)
    out: list[tuple[Department, int]] = []
    seen: set[int] = set()

    def walk(parent_id: int | None, depth: int) -> None:
        for d in children.get(parent_id, []):
            if d.id in seen:
                continue
            seen.add(d.id)  # type: ignore[arg-type]
            out.append((d, depth))
            walk(d.id, depth + 1)

    walk(None, 0)
    out.extend((d, 0) for d in depts if d.id not in seen)  # orphans of a broken cycle
    return out


def _department_ref(session: Session, org: Organisation, raw: str | None) -> Department | None:
    """The organisation's department chosen in a select; empty means none."""
    if not (raw or "").strip():
        return None
    id_ = parse_id(raw)
    dept = session.get(Department, id_) if id_ is not None else None
    if dept is None or dept.org_id != org.id:
        raise ValueError(UNKNOWN_DEPARTMENT)
    return dept


def department_choice(
    session: Session, org: Organisation, raw: str | None, *, field: str = "department"
) -> Department | None:
    """Like _department_ref, for routes: Invalid on `field` for an id not in the list."""
    errors: dict[str, Problem] = {}
    dept = _collect(errors, field, _department_ref, session, org, raw)
    if errors:
        raise Invalid(errors)
    return dept


def department_people_counts(session: Session, org: Organisation) -> dict[int, int]:
    """How many people (active or not) belong to each department."""
    rows = session.exec(
        select(Person.department_id, func.count())
        .where(Person.org_id == org.id, col(Person.department_id).is_not(None))
        .group_by(col(Person.department_id))
    )
    return {dept_id: count for dept_id, count in rows if dept_id is not None}


def update_department(
    session: Session,
    org: Organisation,
    dept: Department,
    *,
    name: str,
    parent: Department | None,
    actor: Person | None = None,
) -> None:
    """Rename and move a department; it may not end up below itself."""
    errors: dict[str, Problem] = {}
    name = _collect(errors, "name", clean_text, name, max_length=120, required=True)
    clash = department_by_name(session, org, name) if name else None
    if clash is not None and clash.id != dept.id:
        errors["name"] = Problem("taken", N_("A department with this name already exists."))
    seen: set[int | None] = set()
    node = parent
    while node is not None and node.id not in seen:
        if node.id == dept.id:
            errors["parent"] = Problem(
                "cycle",
                N_("A department cannot be placed under itself or one of its sub-departments."),
            )
            break
        seen.add(node.id)
        node = node.parent
    if errors:
        raise Invalid(errors)
    old_name, old_parent = dept.name, dept.parent_id
    dept.name, dept.parent_id = name, parent.id if parent else None
    session.add(dept)
    if (old_name, old_parent) != (dept.name, dept.parent_id):
        audit(
            session,
            org,
            actor,
            "department.update",
            name,
            old_name=old_name,
            parent=parent.name if parent else None,
        )


def delete_department(
    session: Session, org: Organisation, dept: Department, actor: Person | None = None
) -> None:
    """Delete an empty department: no people in it and no sub-departments below it."""
    people = session.exec(
        select(func.count()).select_from(Person).where(Person.department_id == dept.id)
    ).one()
    children = session.exec(
        select(func.count()).select_from(Department).where(Department.parent_id == dept.id)
    ).one()
    errors: dict[str, Problem] = {}
    if people:
        errors["delete"] = Problem(
            "in_use", N_("People belong to this department. Move them to another one first.")
        )
    elif children:
        errors["delete"] = Problem(
            "has_children",
            N_("This department has sub-departments. Move or delete them first."),
        )
    if errors:
        raise Invalid(errors)
    session.execute(delete(DepartmentLeader).where(col(DepartmentLeader.department_id) == dept.id))
    session.delete(dept)
    audit(session, org, actor, "department.delete", dept.name)


# --- people ---------------------------------------------------------------------------------


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
    email = _collect(errors, "email", normalise_email, email or "")
    name = _collect(errors, "name", clean_text, name, max_length=120, required=True)
    title = _collect(errors, "title", clean_text, title, max_length=120)
    dept_name = _collect(errors, "department", clean_text, department, max_length=120)
    role_value = _collect(errors, "role", parse_role, role) if (role or "").strip() else None
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
    stmt = people.matching(session, org.id or 0, q, status=status)
    return paginate(session, stmt.order_by(*people.ranking(q)), page)


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
        "email": _collect(errors, "email", _email_field, data.get("email")),
        "name": _collect(
            errors, "name", clean_text, data.get("name"), max_length=120, required=True
        ),
        "title": _collect(errors, "title", clean_text, data.get("title"), max_length=120),
        "department": _collect(
            errors, "department", _department_ref, session, org, data.get("department")
        ),
        "role": _collect(errors, "role", parse_role, data.get("role") or "employee"),
        "active": person is None or data.get("active") in ("on", "true", "1"),
    }
    led: dict[int, Department] = {}
    for raw in leads:
        dept = _collect(errors, "leads", _department_ref, session, org, raw)
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


# --- API tokens -----------------------------------------------------------------------------


def active_people(session: Session, org: Organisation) -> list[Person]:
    return list(
        session.exec(
            select(Person)
            .where(Person.org_id == org.id, col(Person.active).is_(True))
            .order_by(col(Person.name))
        )
    )


def org_tokens(session: Session, org: Organisation) -> list[ApiToken]:
    """Every API token of the organisation's people, newest first."""
    return list(
        session.exec(
            select(ApiToken)
            .join(Person)
            .where(Person.org_id == org.id)
            .options(selectinload(ApiToken.person))  # type: ignore[arg-type]
            .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
        )
    )


def token_in_org(session: Session, org: Organisation, token_id: int) -> ApiToken:
    """A token whose owner belongs to `org`; NotFound otherwise (tokens have no org_id)."""
    token = session.get(ApiToken, token_id)
    if token is None or token.person.org_id != org.id:
        raise NotFound()
    return token


def create_token(
    session: Session, org: Organisation, *, person_id: str, name: str, actor: Person | None
) -> tuple[ApiToken, str]:
    """A new API token for an active person; the raw secret is returned only here."""
    errors: dict[str, Problem] = {}
    name = _collect(errors, "name", clean_text, name, max_length=80, required=True)
    id_ = parse_id(person_id)
    person = session.get(Person, id_) if id_ is not None else None
    if person is None or person.org_id != org.id or not person.active:
        errors["person"] = UNKNOWN_PERSON
    if errors:
        raise Invalid(errors)
    assert person is not None
    token, raw = auth.create_api_token(session, person, name)
    session.flush()
    audit(session, org, actor, "token.create", person.email, name=name, prefix=token.prefix)
    return token, raw


def revoke_token(
    session: Session, org: Organisation, token: ApiToken, actor: Person | None = None
) -> None:
    if token.revoked_at is not None:
        return
    auth.revoke_api_token(session, token)
    audit(session, org, actor, "token.revoke", token.person.email, prefix=token.prefix)


# --- audit log ------------------------------------------------------------------------------


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
