"""JSON API v1: the caller's insights, suppressed exactly as the page (no "rarely seen")."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.access import MemberDep
from app.db import SessionDep
from app.insights import figures
from app.insights.maintain import local_day, org_zone
from app.insights.periods import choose_period
from app.insights.scope import insight_scope
from app.insights.suppress import Cell
from app.kernel.apischema import ERRORS
from app.kernel.clock import utcnow

router = APIRouter(prefix="/orgs/{org}", tags=["insights"])


class FigureOut(BaseModel):
    value: float | None = Field(description="null when suppressed or when there is nobody")
    suppressed: bool = Field(description="a group smaller than the organisation's minimum")


class BucketOut(BaseModel):
    key: str = Field(description="2026-W05, 2026-03 or 2026-Q1")
    start: date
    end: date = Field(description="the last local day of the bucket")
    recognitions: FigureOut
    gave_percent: FigureOut
    received_percent: FigureOut
    cross_unit_percent: FigureOut


class ValueSeriesOut(BaseModel):
    id: int
    name: str
    counts: list[FigureOut] = Field(description="one per bucket; listed recognitions only")


class DepartmentOut(BaseModel):
    id: int | None = Field(description="null: people without a department")
    name: str
    recognitions: FigureOut
    gave_percent: FigureOut
    received_percent: FigureOut
    cross_unit_percent: FigureOut


class UnitOut(BaseModel):
    id: int | None
    name: str


class MatrixOut(BaseModel):
    units: list[UnitOut]
    counts: list[list[FigureOut]] = Field(description="[giving unit][receiving unit]")


class ComparisonOut(BaseModel):
    measure: str = Field(description="per_week, gave, received or cross_unit")
    current: FigureOut
    previous: FigureOut
    baseline: FigureOut | None


class PeriodOut(BaseModel):
    by: str
    start: date
    end: date


class InsightsOut(BaseModel):
    whole_organisation: bool
    min_group: int
    people: int | None = Field(description="active people in view; null when suppressed")
    period: PeriodOut
    baseline: PeriodOut | None
    buckets: list[BucketOut]
    values: list[ValueSeriesOut]
    departments: list[DepartmentOut]
    matrix: MatrixOut | None
    reach_30_days: FigureOut | None
    reach_90_days: FigureOut | None
    comparisons: list[ComparisonOut]


def _fig(cell: Cell) -> FigureOut:
    return FigureOut(value=cell.value, suppressed=cell.suppressed)


def _dept(row: figures.DepartmentRow) -> DepartmentOut:
    return DepartmentOut(
        id=row.group.key or None,
        name=row.group.name,
        recognitions=_fig(row.recognitions),
        gave_percent=_fig(row.gave),
        received_percent=_fig(row.received),
        cross_unit_percent=_fig(row.cross_unit),
    )


@router.get(
    "/insights",
    response_model=InsightsOut,
    responses={**ERRORS, 403: ERRORS[404] | {"description": "Employees have no insights"}},
)
def get_insights(
    session: SessionDep,
    m: MemberDep,
    by: Annotated[str, Query(max_length=10, description="week, month or quarter")] = "month",
    start: Annotated[str, Query(max_length=10, description="first local day, YYYY-MM-DD")] = "",
    end: Annotated[str, Query(max_length=10, description="last local day, YYYY-MM-DD")] = "",
) -> InsightsOut:
    """The organisation's own development over time, for leaders (their units), curators
    and admins (everything). Figures of groups smaller than the minimum are suppressed."""
    scope = insight_scope(session, m.person)
    now = utcnow()
    period = choose_period(by, start, end, local_day(now, org_zone(m.org)))
    ins = figures.insights(session, scope, period, now)
    base = figures.baseline_bucket(m.org)
    return InsightsOut(
        whole_organisation=scope.whole_org,
        min_group=ins.min_group,
        people=ins.size if ins.shown else None,
        period=PeriodOut(by=period.by.value, start=period.start, end=period.last_day),
        baseline=PeriodOut(by=base.by.value, start=base.start, end=ins.baseline[1])
        if base and ins.baseline
        else None,
        buckets=[
            BucketOut(
                key=b.key,
                start=b.start,
                end=date.fromordinal(b.end.toordinal() - 1),
                recognitions=_fig(ins.recognitions[i]),
                gave_percent=_fig(ins.gave[i]),
                received_percent=_fig(ins.received[i]),
                cross_unit_percent=_fig(ins.cross_unit[i]),
            )
            for i, b in enumerate(ins.buckets)
            if ins.recognitions
        ],
        values=[
            ValueSeriesOut(id=int(s.key), name=s.name, counts=[_fig(c) for c in s.cells])
            for s in ins.values
        ],
        departments=[_dept(row) for row in ins.departments],
        matrix=MatrixOut(
            units=[UnitOut(id=u.key or None, name=u.name) for u in ins.matrix.units],
            counts=[[_fig(c) for c in row] for row in ins.matrix.cells],
        )
        if ins.matrix
        else None,
        reach_30_days=_fig(ins.reach[30]) if 30 in ins.reach else None,
        reach_90_days=_fig(ins.reach[90]) if 90 in ins.reach else None,
        comparisons=[
            ComparisonOut(
                measure=c.key,
                current=_fig(c.current),
                previous=_fig(c.previous),
                baseline=_fig(c.baseline) if c.baseline is not None else None,
            )
            for c in ins.comparisons
        ],
    )
