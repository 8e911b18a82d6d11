"""An organisation's departments: the tree, adding, moving, renaming and deleting them."""

from sqlmodel import Session, col, delete, func, select

from app.errors import N_, Invalid, Problem
from app.kernel.audit import audit
from app.kernel.forms import clean_line, parse_id
from app.orgs.fields import collect
from app.orgs.models import Department, DepartmentLeader, Organisation, Person

UNKNOWN_DEPARTMENT = Problem("unknown", N_("Choose a department from the list."))


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
    name = collect(errors, "name", clean_line, name, max_length=120, required=True)
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


def department_ref(session: Session, org: Organisation, raw: str | None) -> Department | None:
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
    """Like department_ref, for routes: Invalid on `field` for an id not in the list."""
    errors: dict[str, Problem] = {}
    dept = collect(errors, field, department_ref, session, org, raw)
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
    name = collect(errors, "name", clean_line, name, max_length=120, required=True)
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
