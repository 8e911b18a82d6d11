"""SCIM Users: a provisioned person read as a `User[EnterpriseUser]` and written back.

The person's own columns are the truth (name, e-mail, title, department, externalId, active);
`ScimUser` keeps what the app has no column for. Every answer is built from the database, so
what a client reads is what the app will use. Errors are SCIM's own exceptions (the routes turn
them into `urn:ietf:params:scim:api:messages:2.0:Error` answers).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scim2_models import (
    Email,
    EnterpriseUser,
    GroupMembership,
    InvalidFilterException,
    InvalidValueException,
    Manager,
    Meta,
    Name,
    NotFoundException,
    Path,
    SCIMException,
    UniquenessException,
    default_comparison_key,
)
from scim2_models.path import (
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    ValuePath,
)
from sqlalchemy import and_, delete, false, func, or_
from sqlmodel import Session, col, select

from app.auth.service import end_all_sessions
from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.kernel.forms import clean_line, normalise_email
from app.orgs.departments import add_department, department_by_name
from app.orgs.models import Department, DepartmentLeader, Organisation, Person, Role
from app.privacy.erasure import erase_person
from app.scim.models import ScimGroup, ScimGroupMember, ScimUser
from app.scim.schema import USER_SCHEMA, UserModel, parse_filter

MAX_LINE = 120  # the person's name, title and department columns
MAX_ID_LENGTH = 255  # userName, externalId, an e-mail's value
_USER_NAME = Path[UserModel]("userName").resolve()


def user_name_key(user_name: str) -> str:
    """userName as SCIM compares it (case-insensitive, NFC): what uniqueness and filters use."""
    return default_comparison_key(_USER_NAME, user_name)


@dataclass(frozen=True)
class Urls:
    """Where this organisation's SCIM resources live (for `meta.location` and `$ref`)."""

    base: str  # https://host/scim/v2/{org}

    def user(self, scim_id: str) -> str:
        return f"{self.base}/Users/{scim_id}"

    def group(self, scim_id: str) -> str:
        return f"{self.base}/Groups/{scim_id}"


# --- reading ---------------------------------------------------------------------------------


@dataclass
class _Related:
    """What the users of one answer point at, loaded in a few queries for all of them."""

    groups: dict[str, list[ScimGroup]] = field(default_factory=dict)
    managers: dict[str, tuple[ScimUser, Person]] = field(default_factory=dict)
    departments: dict[int, Department] = field(default_factory=dict)


def _related(session: Session, rows: Sequence[tuple[ScimUser, Person]]) -> _Related:
    related = _Related()
    ids = [link.id for link, _ in rows]
    if not ids:
        return related
    for member, group in session.exec(
        select(ScimGroupMember, ScimGroup)
        .join(ScimGroup, col(ScimGroup.id) == col(ScimGroupMember.group_id))
        .where(col(ScimGroupMember.user_id).in_(ids))
        .order_by(col(ScimGroup.display_name))
    ):
        related.groups.setdefault(member.user_id or "", []).append(group)
    manager_ids = {link.manager_id for link, _ in rows if link.manager_id}
    if manager_ids:
        for link, person in session.exec(
            select(ScimUser, Person)
            .join(Person, col(Person.id) == col(ScimUser.person_id))
            .where(col(ScimUser.id).in_(manager_ids))
        ):
            related.managers[link.id] = (link, person)
    dept_ids = {p.department_id for _, p in rows if p.department_id}
    if dept_ids:
        for dept in session.exec(select(Department).where(col(Department.id).in_(dept_ids))):
            related.departments[dept.id or 0] = dept
    return related


def _resource(link: ScimUser, person: Person, related: _Related, urls: Urls) -> Any:
    name = Name.model_validate(link.name) if link.name else None
    user = UserModel(
        id=link.id,
        external_id=person.external_id,
        user_name=link.user_name,
        name=name,
        display_name=person.name if link.display_name_set else None,
        title=person.title or None,
        active=person.active,
        emails=[Email.model_validate(e) for e in link.emails] or None,
        groups=[
            GroupMembership(value=g.id, ref=urls.group(g.id), display=g.display_name, type="direct")
            for g in related.groups.get(link.id, [])
        ]
        or None,
        meta=Meta(
            resource_type="User",
            created=link.created_at,
            last_modified=link.updated_at,
            location=urls.user(link.id),
        ),
    )
    department = related.departments.get(person.department_id or 0)
    manager = related.managers.get(link.manager_id or "")
    if department is not None or manager is not None:
        user[EnterpriseUser] = EnterpriseUser(
            department=department.name if department else None,
            manager=Manager(value=manager[0].id, ref=urls.user(manager[0].id)) if manager else None,
        )
    return user


def _rows(
    session: Session, org: Organisation, *where: Any, offset: int = 0, limit: int | None = None
) -> list[tuple[ScimUser, Person]]:
    query = (
        select(ScimUser, Person)
        .join(Person, col(Person.id) == col(ScimUser.person_id))
        .where(ScimUser.org_id == org.id, *where)
        .order_by(col(ScimUser.created_at), col(ScimUser.id))
        .offset(offset)
        .limit(limit)
    )
    return [(link, person) for link, person in session.exec(query)]


def resources(session: Session, rows: Sequence[tuple[ScimUser, Person]], urls: Urls) -> list[Any]:
    related = _related(session, rows)
    return [_resource(link, person, related, urls) for link, person in rows]


def user_row(session: Session, org: Organisation, scim_id: str) -> tuple[ScimUser, Person]:
    """A provisioned person of `org` by SCIM id; another organisation's is a 404 too."""
    rows = _rows(session, org, col(ScimUser.id) == scim_id) if len(scim_id) <= 36 else []
    if not rows:
        raise NotFoundException(detail=f"User {scim_id} not found")
    return rows[0]


def get_user(session: Session, org: Organisation, scim_id: str, urls: Urls) -> Any:
    return resources(session, [user_row(session, org, scim_id)], urls)[0]


def _narrow(node: FilterNode) -> Any | None:
    """A SQL condition every user matching `node` meets (None: no narrowing), so that the
    exact match below (scim2-models' own) runs on a few rows for the queries Entra makes."""
    if (
        isinstance(node, ValuePath)
        and node.attr_path.attr.lower() == "emails"
        and _is_work(node.val_filter)
    ):
        inner = node.val_filter
        # emails[type eq "work" and value eq "x"]: the work address (one per person: Entra's
        # types are unique) is the person's e-mail.
        if isinstance(inner, LogicalExpr) and inner.op == LogicalOperator.and_:
            values = [
                t.value
                for t in inner.terms
                if isinstance(t, Comparison)
                and t.op == CompareOperator.eq
                and t.attr_path.attr.lower() == "value"
            ]
            return _email_condition(values[0]) if values else None
        return None
    if isinstance(node, Comparison) and node.op == CompareOperator.eq:
        path = node.attr_path
        if path.uri and path.uri.lower() != USER_SCHEMA.lower():
            return None
        attr, value = path.attr.lower(), node.value
        if not isinstance(value, str):
            return None
        if path.sub_attr is not None:
            return None
        if attr == "id":
            return col(ScimUser.id) == value
        if attr == "username":
            return col(ScimUser.user_name_key) == user_name_key(value)
        if attr == "externalid":
            return col(Person.external_id) == value
        if attr == "displayname" and value.isascii():  # SQLite lowers ASCII letters only
            return func.lower(col(Person.name)) == value.lower()
        return None
    if isinstance(node, LogicalExpr):
        conditions = [_narrow(term) for term in node.terms]
        if node.op == LogicalOperator.and_:
            known = [c for c in conditions if c is not None]
            return and_(*known) if known else None
        alternatives = [c for c in conditions if c is not None]
        if len(alternatives) == len(conditions):
            return or_(*alternatives)
    return None


def _is_work(node: FilterNode) -> bool:
    terms = node.terms if isinstance(node, LogicalExpr) else (node,)
    return any(
        isinstance(t, Comparison)
        and t.op == CompareOperator.eq
        and t.attr_path.attr.lower() == "type"
        and t.value == "work"
        for t in terms
    )


def _email_condition(value: Any) -> Any:
    """People whose e-mail is `value` (the work address is what `Person.email` holds)."""
    try:
        return col(Person.email) == normalise_email(str(value))
    except ValueError:
        return false()  # no stored address is anything but an e-mail address


def query_users(
    session: Session,
    org: Organisation,
    urls: Urls,
    *,
    filter_text: str | None,
    start_index: int,
    count: int,
) -> tuple[int, list[Any]]:
    """(totalResults, the page) of the users matching the filter."""
    if not filter_text:
        total = session.exec(
            select(func.count()).select_from(ScimUser).where(ScimUser.org_id == org.id)
        ).one()
        rows = _rows(session, org, offset=start_index - 1, limit=count) if count else []
        return total, resources(session, rows, urls)
    scim_filter = parse_filter(UserModel, filter_text)
    narrowed = _narrow(scim_filter.ast)
    rows = _rows(session, org, *([narrowed] if narrowed is not None else []))
    try:
        matching = [u for u in resources(session, rows, urls) if scim_filter.match(u)]
    except SCIMException:
        raise
    except (ValueError, TypeError) as exc:
        raise InvalidFilterException(detail=str(exc), filter=filter_text) from exc
    return len(matching), matching[start_index - 1 : start_index - 1 + count]


# --- writing ---------------------------------------------------------------------------------


@dataclass
class _Wanted:
    """A User resource checked and cleaned into what the app stores."""

    user_name: str
    name: dict[str, str]
    display_name: str | None
    person_name: str
    emails: list[dict[str, Any]]
    email: str
    title: str
    external_id: str | None
    active: bool
    department: str
    manager: str | None


def _line(value: str | None, attribute: str, max_length: int = MAX_LINE) -> str:
    try:
        return clean_line(value, max_length=max_length)
    except ValueError as exc:
        problem = exc.args[0] if exc.args else None
        reason = "is too long" if getattr(problem, "code", "") == "too_long" else "is not one line"
        raise InvalidValueException(
            detail=f"{attribute} {reason} (at most {max_length} characters, one line)"
        ) from exc


def _email(value: str, attribute: str) -> str:
    if len(value) > 254:
        raise InvalidValueException(detail=f"{attribute} is too long (at most 254 characters)")
    try:
        return normalise_email(value)
    except ValueError as exc:
        raise InvalidValueException(detail=f"{attribute} is not an e-mail address") from exc


def _wanted(user: Any) -> _Wanted:
    user_name = _line(user.user_name, "userName", MAX_ID_LENGTH)
    if not user_name:
        raise InvalidValueException(detail="userName is required")
    name = {}
    if user.name is not None:
        for attr, key in (
            ("formatted", "formatted"),
            ("family_name", "familyName"),
            ("given_name", "givenName"),
        ):
            if value := _line(getattr(user.name, attr), f"name.{key}"):
                name[key] = value
    display = _line(user.display_name, "displayName") or None
    emails: list[dict[str, Any]] = []
    for entry in user.emails or []:
        if not entry.value:
            continue
        _email(entry.value, "emails.value")  # checked; kept as sent, for the client's diffing
        item: dict[str, Any] = {"value": entry.value.strip()}
        if entry.type is not None:
            item["type"] = _line(str(entry.type), "emails.type", 40)
        if entry.primary is not None:
            item["primary"] = bool(entry.primary)
        emails.append(item)
    chosen = next((e for e in emails if e.get("type") == "work"), None)
    chosen = chosen or next((e for e in emails if e.get("primary")), None)
    chosen = chosen or (emails[0] if emails else None)
    if chosen is not None:
        email = normalise_email(chosen["value"])
    else:
        try:
            email = normalise_email(user_name)
        except ValueError:
            raise InvalidValueException(
                detail='an e-mail address is needed: emails[type eq "work"] or a userName '
                "that is one"
            ) from None
    formatted = name.get("formatted") or " ".join(
        n for n in (name.get("givenName"), name.get("familyName")) if n
    )
    person_name = display or formatted or user_name.split("@")[0]
    if len(person_name) > MAX_LINE:
        raise InvalidValueException(detail=f"name is too long (at most {MAX_LINE} characters)")
    external_id = _line(user.external_id, "externalId", MAX_ID_LENGTH) or None
    ext = user[EnterpriseUser]
    department = _line(ext.department, "department") if ext is not None else ""
    manager = None
    if ext is not None and ext.manager is not None:
        manager = ext.manager.value or (str(ext.manager.ref).rsplit("/", 1)[-1] or None)
    return _Wanted(
        user_name=user_name,
        name=name,
        display_name=display,
        person_name=person_name,
        emails=emails,
        email=email,
        title=_line(user.title, "title"),
        external_id=external_id,
        active=True if user.active is None else bool(user.active),
        department=department,
        manager=manager,
    )


def _taken(session: Session, org: Organisation, person: Person | None, wanted: _Wanted) -> None:
    """409 uniqueness when another person of the organisation has this e-mail or externalId."""
    others = select(Person.id).where(Person.org_id == org.id)
    if person is not None and person.id is not None:
        others = others.where(Person.id != person.id)
    if session.exec(others.where(Person.email == wanted.email)).first() is not None:
        raise UniquenessException(detail=f"another user has the e-mail address {wanted.email}")
    if (
        wanted.external_id
        and session.exec(others.where(Person.external_id == wanted.external_id)).first()
    ):
        raise UniquenessException(detail=f"another user has the externalId {wanted.external_id}")


def _user_name_taken(session: Session, org: Organisation, key: str, link_id: str | None) -> None:
    query = select(ScimUser.id).where(ScimUser.org_id == org.id, ScimUser.user_name_key == key)
    if link_id is not None:
        query = query.where(ScimUser.id != link_id)
    if session.exec(query).first() is not None:
        raise UniquenessException(detail="another user has this userName")


def _adoptable(session: Session, org: Organisation, wanted: _Wanted) -> Person | None:
    """A person the organisation already has (a CSV import, an admin's form) that the identity
    system now provisions: matched by externalId, else by e-mail, and never one already linked."""
    found: list[Person] = []
    for condition in ([Person.external_id == wanted.external_id] if wanted.external_id else []) + [
        Person.email == wanted.email
    ]:
        person = session.exec(select(Person).where(Person.org_id == org.id, condition)).first()
        if person is not None and person not in found:
            found.append(person)
    if not found:
        return None
    if len(found) > 1:
        raise UniquenessException(
            detail="the externalId and the e-mail address belong to two different users"
        )
    linked = session.exec(select(ScimUser.id).where(ScimUser.person_id == found[0].id)).first()
    if linked is not None:
        raise UniquenessException(detail="this user is provisioned already")
    return found[0]


def _department(session: Session, org: Organisation, name: str) -> Department | None:
    if not name:
        return None
    return department_by_name(session, org, name) or add_department(session, org, name=name)


def _manager(
    session: Session, org: Organisation, link: ScimUser | None, value: str | None
) -> tuple[ScimUser, Person] | None:
    if value is None:
        return None
    if link is not None and value == link.id:
        raise InvalidValueException(detail="a user cannot be their own manager")
    rows = _rows(session, org, col(ScimUser.id) == value) if len(value) <= 36 else []
    if not rows:
        raise InvalidValueException(detail=f"manager {value} is not a user provisioned here")
    return rows[0]


def _store(
    session: Session,
    org: Organisation,
    link: ScimUser,
    person: Person,
    wanted: _Wanted,
    manager: tuple[ScimUser, Person] | None,
) -> list[str]:
    """Write `wanted` into the person and the link; the names of what changed."""
    department = _department(session, org, wanted.department)
    before = {
        "userName": link.user_name,
        "name": link.name,
        "displayName": person.name if link.display_name_set else None,
        "emails": link.emails,
        "title": person.title,
        "externalId": person.external_id,
        "active": person.active,
        "department": person.department_id,
        "manager": link.manager_id,
    }
    link.user_name, link.user_name_key = wanted.user_name, user_name_key(wanted.user_name)
    link.name, link.emails = wanted.name, wanted.emails
    link.display_name_set = wanted.display_name is not None
    link.manager_id = manager[0].id if manager else None
    person.name, person.email, person.title = wanted.person_name, wanted.email, wanted.title
    person.external_id, person.active = wanted.external_id, wanted.active
    person.department_id = department.id if department else None
    after = {
        "userName": link.user_name,
        "name": link.name,
        "displayName": person.name if link.display_name_set else None,
        "emails": link.emails,
        "title": person.title,
        "externalId": person.external_id,
        "active": person.active,
        "department": person.department_id,
        "manager": link.manager_id,
    }
    changed = [k for k in before if before[k] != after[k]]
    if changed:
        link.updated_at = utcnow()
    session.add_all([link, person])
    session.flush()
    if manager is not None and department is not None:
        _lead(session, manager[1], department)
    return changed


def _lead(session: Session, manager: Person, department: Department) -> None:
    """The manager leads the person's department (and is a leader, if only an employee)."""
    exists = session.get(DepartmentLeader, (department.id, manager.id))
    if exists is None:
        session.add(DepartmentLeader(department_id=department.id, person_id=manager.id))
    if manager.role == Role.employee:
        manager.role = Role.leader
        session.add(manager)
    session.flush()


def _deactivated(session: Session, person: Person, was_active: bool) -> bool:
    if was_active and not person.active:
        end_all_sessions(session, person)
        return True
    return False


def create_user(session: Session, org: Organisation, user: Any, urls: Urls) -> Any:
    wanted = _wanted(user)
    _user_name_taken(session, org, user_name_key(wanted.user_name), None)
    person = _adoptable(session, org, wanted)
    adopted = person is not None
    if person is None:
        person = Person(org_id=org.id, email=wanted.email, name=wanted.person_name)
    was_active = person.active
    _taken(session, org, person, wanted)
    link = ScimUser(org_id=org.id, user_name=wanted.user_name, user_name_key="")
    manager = _manager(session, org, None, wanted.manager)
    session.add(person)
    session.flush()
    link.person_id = person.id
    _store(session, org, link, person, wanted, manager)
    deactivated = _deactivated(session, person, was_active) if adopted else False
    audit(
        session,
        org,
        None,
        "scim.user.adopt" if adopted else "scim.user.create",
        person.email,
        scim_id=link.id,
        active=person.active,
        **({"sessions_ended": True} if deactivated else {}),
    )
    return get_user(session, org, link.id, urls)


def replace_user(session: Session, org: Organisation, scim_id: str, user: Any, urls: Urls) -> Any:
    link, person = user_row(session, org, scim_id)
    wanted = _wanted(user)
    _user_name_taken(session, org, user_name_key(wanted.user_name), link.id)
    _taken(session, org, person, wanted)
    manager = _manager(session, org, link, wanted.manager)
    was_active = person.active
    changed = _store(session, org, link, person, wanted, manager)
    deactivated = _deactivated(session, person, was_active)
    if changed:
        audit(
            session,
            org,
            None,
            "scim.user.deactivate" if deactivated else "scim.user.update",
            person.email,
            scim_id=link.id,
            changed=changed,
        )
    return get_user(session, org, link.id, urls)


def has_content(session: Session, person: Person) -> bool:
    """Whether anything of the app names the person besides their own account rows."""
    from app.contests.models import ContestEntry, ContestVote
    from app.media.models import MediaImage
    from app.recognition.models import Reaction, Recognition, RecognitionRecipient
    from app.weekly.models import FeatureConsent

    checks: Iterable[Any] = (
        select(Recognition.id).where(Recognition.giver_id == person.id),
        select(RecognitionRecipient.person_id).where(RecognitionRecipient.person_id == person.id),
        select(Reaction.person_id).where(Reaction.person_id == person.id),
        select(ContestEntry.id).where(ContestEntry.author_id == person.id),
        select(ContestVote.id).where(ContestVote.voter_id == person.id),
        select(FeatureConsent.id).where(FeatureConsent.person_id == person.id),
        select(MediaImage.id).where(MediaImage.owner_id == person.id),
    )
    return any(session.exec(query.limit(1)).first() is not None for query in checks)


def delete_user(session: Session, org: Organisation, scim_id: str) -> None:
    """The identity system removed the person: they can no longer log in, and SCIM forgets them.

    A person with nothing in the app (never gave, received, reacted, entered, voted or uploaded)
    is deleted outright. Anyone else is erased the way the organisation chose (the privacy
    feature: recognitions they gave removed or kept as from "a former colleague", their photos,
    reactions, votes and consents gone, features naming them withdrawn): never a bare delete
    that would cascade through recognitions colleagues received.
    """
    link, person = user_row(session, org, scim_id)
    end_all_sessions(session, person)
    session.execute(delete(ScimGroupMember).where(col(ScimGroupMember.user_id) == link.id))
    email = person.email
    if has_content(session, person):
        session.delete(link)
        session.flush()
        audit(session, org, None, "scim.user.delete", f"scim user {scim_id}", erased=True)
        erase_person(session, person, actor=None)
        return
    session.delete(link)
    session.flush()
    session.delete(person)
    session.flush()
    audit(session, org, None, "scim.user.delete", email, scim_id=scim_id, kept=False)
