"""Organisations, values, departments and people: plain functions over a session."""

import re
from typing import Any
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, col, func, select

from app.errors import N_, Invalid, Problem
from app.i18n import LOCALES
from app.orgs.models import AuditEvent, Department, Organisation, Person, Role, Value

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

REQUIRED = Problem("required", N_("This field is required."))
TOO_LONG = Problem("too_long", N_("This is too long."))


def audit(
    session: Session,
    org: Organisation,
    actor: Person | None,
    action: str,
    target: str = "",
    **detail: Any,
) -> None:
    session.add(
        AuditEvent(
            org=org,
            actor=actor,
            action=action,
            target=target[:200],
            detail=detail,
        )
    )


def clean_text(value: str | None, *, max_length: int, required: bool = False) -> str:
    """Trim, drop control characters; raise the field's Problem as a ValueError."""
    text = "".join(ch for ch in (value or "") if ch in "\n\t" or ord(ch) >= 32).strip()
    if required and not text:
        raise ValueError(REQUIRED)
    if len(text) > max_length:
        raise ValueError(TOO_LONG)
    return text


def normalise_email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(Problem("email", N_("Write a valid e-mail address."))) from exc


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


def move_value(session: Session, org: Organisation, value: Value, delta: int) -> None:
    values = list(
        session.exec(select(Value).where(Value.org_id == org.id).order_by(col(Value.position)))
    )
    i = values.index(value)
    j = max(0, min(len(values) - 1, i + delta))
    values.insert(j, values.pop(i))
    for pos, v in enumerate(values):
        v.position = pos
        session.add(v)


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


# --- people ---------------------------------------------------------------------------------


def parse_role(value: str) -> Role:
    try:
        return Role((value or "employee").strip().lower())
    except ValueError as exc:
        raise ValueError(
            Problem("role", N_("Role must be employee, leader, curator or admin."))
        ) from exc


def upsert_person(
    session: Session,
    org: Organisation,
    *,
    email: str,
    name: str,
    department: str = "",
    title: str = "",
    role: str = "employee",
    actor: Person | None = None,
    create_departments: bool = True,
) -> tuple[Person, bool]:
    """Create or update a person by e-mail; returns (person, created)."""
    errors: dict[str, Problem] = {}
    email = _collect(errors, "email", normalise_email, email or "")
    name = _collect(errors, "name", clean_text, name, max_length=120, required=True)
    title = _collect(errors, "title", clean_text, title, max_length=120)
    dept_name = _collect(errors, "department", clean_text, department, max_length=120)
    role_value = _collect(errors, "role", parse_role, role)
    if errors:
        raise Invalid(errors)
    dept = None
    if dept_name:
        dept = department_by_name(session, org, dept_name)
        if dept is None:
            if not create_departments:
                raise Invalid(
                    {"department": Problem("unknown", N_("Choose a department from the list."))}
                )
            dept = add_department(session, org, name=dept_name, actor=actor)
    person = session.exec(
        select(Person).where(Person.org_id == org.id, Person.email == email)
    ).first()
    created = person is None
    if person is None:
        person = Person(org=org, email=email, name=name)
    person.name, person.title, person.role = name, title, role_value
    person.department_id = dept.id if dept else None
    session.add(person)
    session.flush()
    return person, created
