"""Insights pages: the figures, their CSV, the printable quarterly report, "rarely seen"."""

import csv
import io
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from app import i18n
from app.access import Member, MemberDep
from app.db import SessionDep
from app.errors import Invalid, NotFound
from app.insights import baseline, figures, presentation
from app.insights.maintain import local_day, org_zone
from app.insights.periods import Granularity, Period, choose_period, default_period, period_between
from app.insights.scope import InsightScope, insight_scope
from app.kernel.clock import utcnow
from app.kernel.spreadsheet import csv_cell
from app.security import PROTECT
from app.web import field_errors, redirect, render

router = APIRouter(prefix="/{org}/insights", include_in_schema=False)

ByParam = Annotated[str, Query(max_length=10)]
DateParam = Annotated[str, Query(max_length=10)]
ONE_DAY = timedelta(days=1)


def _today(m: Member) -> date:
    return local_day(utcnow(), org_zone(m.org))


def _period(
    request: Request, m: Member, by: str, start: str, end: str
) -> tuple[Period, dict[str, str]]:
    """The period asked for, or the default one with the problems to show."""
    try:
        return choose_period(by, start, end, _today(m)), {}
    except Invalid as exc:
        gran = Granularity(by) if by in Granularity.__members__ else Granularity.month
        return default_period(_today(m), gran), field_errors(request, exc.errors)


def _page_context(
    request: Request, session: SessionDep, scope: InsightScope, period: Period
) -> dict[str, Any]:
    _ = i18n.gettext_for(request)
    ins = figures.insights(session, scope, period, utcnow())
    return presentation.context(ins, i18n.request_locale(request), _)


@router.get("")
def page(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    by: ByParam = "month",
    start: DateParam = "",
    end: DateParam = "",
) -> Response:
    scope = insight_scope(session, m.person)
    period, errors = _period(request, m, by, start, end)
    ctx = _page_context(request, session, scope, period)
    ctx.update(
        {
            "errors": errors,
            "form": {
                "by": period.by.value,
                "start": start or period.start.isoformat(),
                "end": end or min(period.last_day, _today(m)).isoformat(),
            },
            "query": f"by={period.by.value}&start={period.start.isoformat()}&end={period.last_day.isoformat()}",
            "baseline_errors": {},
        }
    )
    return render(request, "insights/index.html", ctx, status_code=422 if errors else 200)


@router.get("/export.csv")
def export(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    by: ByParam = "month",
    start: DateParam = "",
    end: DateParam = "",
) -> Response:
    """Every chart's data, suppressed exactly as on the page; never the "rarely seen" list."""
    scope = insight_scope(session, m.person)
    period, _errors = _period(request, m, by, start, end)
    _ = i18n.gettext_for(request)
    ins = figures.insights(session, scope, period, utcnow())
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads UTF-8 only with a byte order mark
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for row in presentation.export_rows(ins, i18n.request_locale(request), _):
        writer.writerow([csv_cell(v) for v in row])
    name = f"insights-{m.org.slug}-{period.start.isoformat()}-{period.last_day.isoformat()}.csv"
    return Response(
        content=out.getvalue().encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/report")
def report(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> Response:
    """The quarterly report for printing: one A4 page per quarter of the year, up to today."""
    scope = insight_scope(session, m.person)
    today = _today(m)
    year = year or today.year
    quarters = [
        q
        for q in period_between(date(year, 1, 1), date(year, 12, 31), Granularity.quarter).buckets
        if q.start <= today
    ]
    pages = []
    for q in quarters:
        # The quarter against the one before and the baseline, and its months one by one.
        page_ctx = _page_context(
            request, session, scope, period_between(q.start, q.start, Granularity.quarter)
        )
        months = _page_context(
            request, session, scope, period_between(q.start, q.end - ONE_DAY, Granularity.month)
        )
        pages.append(page_ctx | {"quarter": q, "months": months})
    return render(request, "insights/report.html", {"pages": pages, "year": year})


@router.get("/rarely-seen")
def rarely_seen(request: Request, session: SessionDep, m: MemberDep) -> Response:
    """A leader's own people not recognised for 30 days, alphabetical, each a link to give."""
    scope = insight_scope(session, m.person)
    if not scope.rarely_seen:
        raise NotFound()
    people = figures.rarely_seen(session, scope, _today(m))
    return render(
        request, "insights/rarely_seen.html", {"people": people, "days": figures.RARELY_SEEN_DAYS}
    )


@router.post("/baseline", dependencies=PROTECT)
def set_baseline(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    baseline_by: Annotated[str, Form(max_length=10)] = "month",
    baseline_day: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    _ = i18n.gettext_for(request)
    try:
        baseline.set_baseline(session, m.person, baseline_by, baseline_day)
    except Invalid as exc:
        session.rollback()
        scope = insight_scope(session, m.person)
        period = default_period(_today(m))
        ctx = _page_context(request, session, scope, period)
        ctx.update(
            {
                "errors": {},
                "form": {
                    "by": period.by.value,
                    "start": period.start.isoformat(),
                    "end": period.last_day.isoformat(),
                },
                "query": "",
                "baseline_errors": field_errors(request, exc.errors),
                "baseline_form": {"by": baseline_by, "day": baseline_day},
            }
        )
        return render(request, "insights/index.html", ctx, status_code=422)
    session.commit()
    return redirect(request, f"/{m.org.slug}/insights", message=_("The baseline is saved."))
