"""People of an organisation: the one people search, and adding, editing and listing people."""

import operator
from functools import reduce
from typing import Any

from sqlalchemy.orm import selectinload
from sqlmodel import Session, case, col, func, or_, select
from sqlmodel.sql.expression import SelectOfScalar

from app.orgs.models import Department, Person, fold

MAX_TERMS = 4
MAX_TERM_LENGTH = 50


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
    stmt = (
        select(Person).where(Person.org_id == org_id).options(selectinload(Person.department))  # type: ignore[arg-type]
    )
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
