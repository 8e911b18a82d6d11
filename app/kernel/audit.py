"""The audit log: who changed what, in which organisation. Rows are written, never edited."""

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer
from sqlmodel import Field, Session, SQLModel

from app.kernel.clock import utcnow
from app.kernel.types import UTCDateTime


class _Row(Protocol):
    id: int | None


class AuditEvent(SQLModel, table=True):
    __table_args__ = (Index("ix_auditevent_org_created", "org_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("organisation.id", ondelete="CASCADE"), nullable=False
        ),
    )
    actor_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("person.id", ondelete="SET NULL"), nullable=True),
    )
    action: str = Field(max_length=60)
    target: str = Field(default="", max_length=200)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def audit(
    session: Session,
    org: _Row,
    actor: _Row | None,
    action: str,
    target: str = "",
    **detail: Any,
) -> None:
    """Record an action; `actor` None means the system (a job, the CLI)."""
    if org.id is None or (actor is not None and actor.id is None):
        session.flush()  # a row created in this transaction: give it its id first
    session.add(
        AuditEvent(
            org_id=org.id,
            actor_id=actor.id if actor is not None else None,
            action=action,
            target=target[:200],
            detail=detail,
        )
    )
