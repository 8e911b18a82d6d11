"""Maintained aggregates of recognitions for insights: counts per day and who was active.

Both tables are derived: `app.insights.maintain` rebuilds an (organisation, local day) from
the recognitions whenever one of that day's recognitions changes, so they can always be
thrown away and rebuilt (`refresh_org`). Department 0 and value 0 are sentinels: "no
department" and "any value" (the row that counts a recognition once whatever its values).
"""

from datetime import date
from typing import Any

from sqlalchemy import Column, Date, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

NO_DEPARTMENT = 0
ANY_DEPARTMENT = -1  # the giver's department of a per-value row (not kept per value)
ANY_VALUE = 0


def _org_fk() -> Column[int]:
    return Column(
        Integer,
        ForeignKey("organisation.id", ondelete="CASCADE"),
        primary_key=True,
        nullable=False,
    )


class InsightCount(SQLModel, table=True):
    """Recognitions given on a local day, per (giver department, receiving department, value).

    A recognition counts once for each department that one of its recipients belongs to:
    under `ANY_VALUE` with the giver's department, and once per value with `ANY_DEPARTMENT`. `listed` is False for private recognitions and
    for those a recipient took off the feeds: they count in totals only.
    """

    # Rolling a department's days up into its weeks, months and quarters reads this index.
    __table_args__ = (Index("ix_insightcount_dept", "org_id", "recipient_dept", "value_id", "day"),)

    org_id: int | None = Field(default=None, sa_column=_org_fk())
    day: date = Field(sa_column=Column(Date, primary_key=True, nullable=False))
    giver_dept: int = Field(default=NO_DEPARTMENT, primary_key=True)
    recipient_dept: int = Field(default=NO_DEPARTMENT, primary_key=True)
    value_id: int = Field(default=ANY_VALUE, primary_key=True)
    listed: bool = Field(default=True, primary_key=True)
    n: int = Field(default=0)


class InsightActivity(SQLModel, table=True):
    """Who gave (`role` "g") or received ("r") at least one recognition on a local day.

    Distinct givers and receivers of a period cannot be summed from daily counts, so each
    active person-day is one row; `listed` is True when any of that day's recognitions was
    listed (the department breakdowns count only those).
    """

    __table_args__ = (
        Index("ix_insightactivity_dept", "org_id", "dept_id", "role", "day", "person_id"),
        Index("ix_insightactivity_person", "person_id", "role", "day"),
    )

    org_id: int | None = Field(default=None, sa_column=_org_fk())
    day: date = Field(sa_column=Column(Date, primary_key=True, nullable=False))
    person_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, nullable=False
        ),
    )
    role: str = Field(primary_key=True, max_length=1)
    dept_id: int = Field(default=NO_DEPARTMENT)
    listed: bool = Field(default=True)


def _kind() -> Any:
    return Field(primary_key=True, max_length=1)  # "w" ISO week, "m" month, "q" quarter


class InsightPeriod(SQLModel, table=True):
    """A department's figures for one week, month or quarter, rolled up from the days.

    The people counts are distinct within the period and each person-day belongs to one
    department, so they add up across departments (never across periods).
    """

    org_id: int | None = Field(default=None, sa_column=_org_fk())
    kind: str = _kind()
    start: date = Field(sa_column=Column(Date, primary_key=True, nullable=False))
    dept_id: int = Field(primary_key=True)
    received: int = Field(default=0)  # recognitions received, private ones included
    received_listed: int = Field(default=0)
    cross_listed: int = Field(default=0)  # listed ones from another department
    givers: int = Field(default=0)
    receivers: int = Field(default=0)
    givers_listed: int = Field(default=0)
    receivers_listed: int = Field(default=0)


class InsightPeriodValue(SQLModel, table=True):
    """Listed recognitions a department received with a value, per period."""

    org_id: int | None = Field(default=None, sa_column=_org_fk())
    kind: str = _kind()
    start: date = Field(sa_column=Column(Date, primary_key=True, nullable=False))
    dept_id: int = Field(primary_key=True)
    value_id: int = Field(primary_key=True)
    n: int = Field(default=0)


class InsightPeriodPair(SQLModel, table=True):
    """Listed recognitions from one department to another, per period (the matrix)."""

    org_id: int | None = Field(default=None, sa_column=_org_fk())
    kind: str = _kind()
    start: date = Field(sa_column=Column(Date, primary_key=True, nullable=False))
    recipient_dept: int = Field(primary_key=True)
    giver_dept: int = Field(primary_key=True)
    n: int = Field(default=0)
