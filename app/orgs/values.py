"""An organisation's values: adding, editing, ordering and switching them off."""

from sqlmodel import Session, col, func, select

from app.errors import N_, Invalid, Problem
from app.kernel.audit import audit
from app.kernel.forms import clean_line, clean_text
from app.orgs.colours import check_colour
from app.orgs.fields import collect
from app.orgs.models import Organisation, Person, Value


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
    name = collect(errors, "name", clean_line, name, max_length=60, required=True)
    description = collect(errors, "description", clean_text, description, max_length=200)
    colour = collect(errors, "colour", check_colour, colour)
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
    name = collect(errors, "name", clean_line, name, max_length=60, required=True)
    description = collect(errors, "description", clean_text, description, max_length=200)
    colour = collect(errors, "colour", check_colour, colour)
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
