"""SCIM Groups: the identity system's groups, their members, and the roles the admin maps.

A group the admin maps to a role (curators, leaders, admins) gives that role to its members.
A person's role is then the highest one their mapped groups give; someone who leaves every
group that gives their role goes back to employee. Roles no group gives stay as an admin set
them, so mapping only a curators' group never demotes the admins.
"""

from scim2_models import (
    Group,
    GroupMember,
    InvalidFilterException,
    InvalidValueException,
    Meta,
    NotFoundException,
    SCIMException,
)
from scim2_models.path import CompareOperator, Comparison
from sqlalchemy import delete
from sqlmodel import Session, col, func, select

from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.kernel.forms import clean_line
from app.orgs.models import Organisation, Person, Role
from app.scim.models import ScimGroup, ScimGroupMember, ScimUser
from app.scim.schema import parse_filter
from app.scim.users import MAX_ID_LENGTH, Urls

RANK = {Role.employee: 0, Role.leader: 1, Role.curator: 2, Role.admin: 3}
MAPPABLE = (Role.leader, Role.curator, Role.admin)


def _line(value: str | None, attribute: str) -> str:
    try:
        return clean_line(value, max_length=MAX_ID_LENGTH)
    except ValueError as exc:
        raise InvalidValueException(
            detail=f"{attribute} must be one line of at most {MAX_ID_LENGTH} characters"
        ) from exc


def group_in_org(session: Session, org: Organisation, scim_id: str) -> ScimGroup:
    group = session.get(ScimGroup, scim_id) if len(scim_id) <= 36 else None
    if group is None or group.org_id != org.id:
        raise NotFoundException(detail=f"Group {scim_id} not found")
    return group


def _members(session: Session, groups: list[ScimGroup]) -> dict[str, list[tuple[str, str]]]:
    """(user id, display name) of each group's members."""
    out: dict[str, list[tuple[str, str]]] = {g.id: [] for g in groups}
    if not groups:
        return out
    for member, person in session.exec(
        select(ScimGroupMember, Person)
        .join(ScimUser, col(ScimUser.id) == col(ScimGroupMember.user_id))
        .join(Person, col(Person.id) == col(ScimUser.person_id))
        .where(col(ScimGroupMember.group_id).in_(list(out)))
        .order_by(col(Person.name))
    ):
        out[member.group_id or ""].append((member.user_id or "", person.name))
    return out


def resources(session: Session, groups: list[ScimGroup], urls: Urls) -> list[Group]:
    members = _members(session, groups)
    return [
        Group(
            id=g.id,
            external_id=g.external_id,
            display_name=g.display_name,
            members=[
                GroupMember(value=uid, ref=urls.user(uid), type="User")
                for uid, _name in members[g.id]
            ]
            or None,
            meta=Meta(
                resource_type="Group",
                created=g.created_at,
                last_modified=g.updated_at,
                location=urls.group(g.id),
            ),
        )
        for g in groups
    ]


def get_group(session: Session, org: Organisation, scim_id: str, urls: Urls) -> Group:
    return resources(session, [group_in_org(session, org, scim_id)], urls)[0]


def query_groups(
    session: Session,
    org: Organisation,
    urls: Urls,
    *,
    filter_text: str | None,
    start_index: int,
    count: int,
) -> tuple[int, list[Group]]:
    base = select(ScimGroup).where(ScimGroup.org_id == org.id)
    ordered = base.order_by(col(ScimGroup.created_at), col(ScimGroup.id))
    if not filter_text:
        total = session.exec(
            select(func.count()).select_from(ScimGroup).where(ScimGroup.org_id == org.id)
        ).one()
        page = list(session.exec(ordered.offset(start_index - 1).limit(count))) if count else []
        return total, resources(session, page, urls)
    scim_filter = parse_filter(Group, filter_text)
    node = scim_filter.ast
    # The query Entra makes for every group (displayName eq, id eq, externalId eq) runs in SQL;
    # scim2-models then decides exactly.
    if (
        isinstance(node, Comparison)
        and node.op == CompareOperator.eq
        and isinstance(node.value, str)
    ):
        attr = node.attr_path.attr.lower() if node.attr_path.sub_attr is None else ""
        if attr == "id":
            ordered = ordered.where(col(ScimGroup.id) == node.value)
        elif attr == "externalid":
            ordered = ordered.where(col(ScimGroup.external_id) == node.value)
        elif attr == "displayname" and node.value.isascii():
            ordered = ordered.where(func.lower(col(ScimGroup.display_name)) == node.value.lower())
    try:
        matching = [
            g for g in resources(session, list(session.exec(ordered)), urls) if scim_filter.match(g)
        ]
    except SCIMException:
        raise
    except (ValueError, TypeError) as exc:
        raise InvalidFilterException(detail=str(exc), filter=filter_text) from exc
    return len(matching), matching[start_index - 1 : start_index - 1 + count]


def _member_ids(session: Session, org: Organisation, group: Group) -> set[str]:
    ids: set[str] = set()
    for member in group.members or []:
        value = member.value or (str(member.ref).rsplit("/", 1)[-1] if member.ref else "")
        if not value:
            raise InvalidValueException(detail="a member needs a value (the user's id)")
        ids.add(value)
    if not ids:
        return ids
    if any(len(i) > 36 for i in ids):
        raise InvalidValueException(detail="a member is not a user provisioned here")
    known = set(
        session.exec(
            select(ScimUser.id).where(ScimUser.org_id == org.id, col(ScimUser.id).in_(ids))
        )
    )
    if unknown := sorted(ids - known):
        raise InvalidValueException(
            detail=f"members are not users provisioned here: {', '.join(unknown[:5])}"
        )
    return ids


def _write(
    session: Session, org: Organisation, row: ScimGroup, group: Group
) -> tuple[set[str], set[str]]:
    """Store the group's name, externalId and members; (user ids added, removed)."""
    name = _line(group.display_name, "displayName")
    if not name:
        raise InvalidValueException(detail="displayName is required")
    wanted = _member_ids(session, org, group)
    row.display_name = name
    row.external_id = _line(group.external_id, "externalId") or None
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    current = set(
        session.exec(select(ScimGroupMember.user_id).where(ScimGroupMember.group_id == row.id))
    )
    added, removed = wanted - current, {u for u in current if u} - wanted
    if removed:
        session.execute(
            delete(ScimGroupMember).where(
                col(ScimGroupMember.group_id) == row.id, col(ScimGroupMember.user_id).in_(removed)
            )
        )
    session.add_all(ScimGroupMember(group_id=row.id, user_id=uid) for uid in added)
    session.flush()
    return added, removed


def sync_roles(session: Session, org: Organisation, user_ids: set[str]) -> None:
    """Give each of these users the role their mapped groups give (see the module's rule)."""
    if not user_ids:
        return
    mapped = {
        r
        for r in session.exec(
            select(ScimGroup.role).where(
                ScimGroup.org_id == org.id, col(ScimGroup.role).is_not(None)
            )
        )
        if r is not None
    }
    if not mapped:
        return
    for link, person in session.exec(
        select(ScimUser, Person)
        .join(Person, col(Person.id) == col(ScimUser.person_id))
        .where(ScimUser.org_id == org.id, col(ScimUser.id).in_(user_ids))
    ):
        given = [
            Role(r)
            for r in session.exec(
                select(ScimGroup.role)
                .join(ScimGroupMember, col(ScimGroupMember.group_id) == col(ScimGroup.id))
                .where(ScimGroupMember.user_id == link.id, col(ScimGroup.role).is_not(None))
            )
            if r is not None
        ]
        role: Role
        if given:
            role = max(given, key=RANK.__getitem__)
        elif person.role in mapped:
            role = Role.employee
        else:
            continue
        if role != person.role:
            audit(session, org, None, "scim.role", person.email, old=person.role, new=role)
            person.role = role
            session.add(person)
    session.flush()


def create_group(session: Session, org: Organisation, group: Group, urls: Urls) -> Group:
    row = ScimGroup(org_id=org.id, display_name="")
    added, _ = _write(session, org, row, group)
    sync_roles(session, org, added)
    audit(session, org, None, "scim.group.create", row.display_name, scim_id=row.id)
    return get_group(session, org, row.id, urls)


def replace_group(
    session: Session, org: Organisation, scim_id: str, group: Group, urls: Urls
) -> Group:
    row = group_in_org(session, org, scim_id)
    added, removed = _write(session, org, row, group)
    sync_roles(session, org, added | removed)
    audit(
        session,
        org,
        None,
        "scim.group.update",
        row.display_name,
        scim_id=row.id,
        added=len(added),
        removed=len(removed),
    )
    return get_group(session, org, row.id, urls)


def delete_group(session: Session, org: Organisation, scim_id: str) -> None:
    row = group_in_org(session, org, scim_id)
    members = set(
        u
        for u in session.exec(
            select(ScimGroupMember.user_id).where(ScimGroupMember.group_id == row.id)
        )
        if u
    )
    session.execute(delete(ScimGroupMember).where(col(ScimGroupMember.group_id) == row.id))
    name = row.display_name
    session.delete(row)
    session.flush()
    sync_roles(session, org, members)
    audit(session, org, None, "scim.group.delete", name, scim_id=scim_id)


# --- the admin's side ------------------------------------------------------------------------


def org_groups(session: Session, org: Organisation) -> list[tuple[ScimGroup, int]]:
    """Every provisioned group with its number of members, by name."""
    counts = dict(
        session.exec(
            select(ScimGroupMember.group_id, func.count())
            .join(ScimGroup, col(ScimGroup.id) == col(ScimGroupMember.group_id))
            .where(ScimGroup.org_id == org.id)
            .group_by(col(ScimGroupMember.group_id))
        ).all()
    )
    groups = session.exec(
        select(ScimGroup).where(ScimGroup.org_id == org.id).order_by(col(ScimGroup.display_name))
    )
    return [(g, int(counts.get(g.id, 0))) for g in groups]


def map_role(
    session: Session, org: Organisation, group: ScimGroup, role: Role | None, actor: Person
) -> None:
    """The admin's choice: members of `group` get `role` (None: the group gives no role)."""
    if role is not None and role not in MAPPABLE:
        raise ValueError(role)
    if group.role == role:
        return
    old = group.role
    group.role = role
    session.add(group)
    session.flush()
    audit(session, org, actor, "scim.group.role", group.display_name, old=old, new=role)
    members = {
        u
        for u in session.exec(
            select(ScimGroupMember.user_id).where(ScimGroupMember.group_id == group.id)
        )
        if u
    }
    # Members of a group that no longer gives a role lose it unless another group gives it.
    if old is not None and role is None:
        _drop_unmapped(session, org, members, old)
    sync_roles(session, org, members)


def _drop_unmapped(session: Session, org: Organisation, user_ids: set[str], old: Role) -> None:
    """After unmapping: members whose role only that group gave go back to employee."""
    still = set(
        session.exec(
            select(ScimGroup.role).where(
                ScimGroup.org_id == org.id, col(ScimGroup.role).is_not(None)
            )
        )
    )
    if old in still:
        return
    for _link, person in session.exec(
        select(ScimUser, Person)
        .join(Person, col(Person.id) == col(ScimUser.person_id))
        .where(col(ScimUser.id).in_(user_ids))
    ):
        if person.role == old:
            audit(session, org, None, "scim.role", person.email, old=person.role, new=Role.employee)
            person.role = Role.employee
            session.add(person)
    session.flush()


def parse_role(raw: str | None) -> Role | None:
    """A role from the admin's form: "" for none; ValueError for anything else."""
    if not raw:
        return None
    role = Role(raw)
    if role not in MAPPABLE:
        raise ValueError(raw)
    return role
