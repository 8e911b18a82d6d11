"""Images: the re-encoded variants of an uploaded photo, stored under content-addressed keys."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, Relationship, SQLModel

from app.kernel.clock import utcnow
from app.kernel.types import UTCDateTime
from app.orgs.models import Organisation, Person


class MediaImage(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("org_id", "sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("organisation.id", ondelete="CASCADE"), nullable=False, index=True
        ),
    )
    owner_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("person.id", ondelete="SET NULL"), nullable=True, index=True
        ),
    )
    sha256: str = Field(max_length=64)  # of the cleaned pixels' first variant: the storage name
    width: int
    height: int
    # [{"width": 320, "height": 240, "format": "webp", "key": "...", "bytes": 12345}, ...]
    variants: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    original_key: str | None = Field(default=None, max_length=200)  # only if the org keeps them
    alt: str = Field(default="", max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    org: Organisation = Relationship()
    owner: Person | None = Relationship()
