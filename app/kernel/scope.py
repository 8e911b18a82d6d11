"""The organisation scope of a row: another organisation's row is a 404, never a 403."""

from typing import Protocol, TypeVar

from sqlmodel import Session, SQLModel

from app.errors import NotFound

M = TypeVar("M", bound=SQLModel)


class _Org(Protocol):
    id: int | None


def in_org(session: Session, org: _Org, model: type[M], id_: int) -> M:
    """Load a row of `model` by id only when it belongs to `org`; NotFound otherwise.

    For tables with an `org_id` whose rows every member may read; a feature with finer rules
    (recognitions, contest entries) has its own loader in its `scope.py`.
    """
    row = session.get(model, id_)
    if row is None or getattr(row, "org_id", None) != org.id:
        raise NotFound()
    return row
