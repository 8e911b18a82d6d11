"""Numbered pages of a longer list (admin lists, the audit log, archives)."""

from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlmodel import Session, func, select
from sqlmodel.sql.expression import SelectOfScalar

from app.kernel.forms import parse_id

T = TypeVar("T")
PAGE_SIZE = 50


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a longer list, with what the pager needs."""

    items: list[T]
    number: int
    total: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_number(raw: str | None) -> int:
    """A page number from the query string; anything odd means the first page."""
    return parse_id(raw) or 1


def paginate(session: Session, stmt: SelectOfScalar[T], number: int) -> Page[T]:
    total = session.exec(select(func.count()).select_from(stmt.order_by(None).subquery())).one()
    pages = max(1, -(-total // PAGE_SIZE))
    number = min(max(1, number), pages)
    items = list(session.exec(stmt.offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    return Page(items=items, number=number, total=total)
