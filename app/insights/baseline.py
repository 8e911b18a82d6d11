"""The baseline period an admin marks, which every figure is compared with."""

from datetime import date, timedelta

from sqlmodel import Session

from app.errors import N_, Invalid, PermissionDenied, Problem
from app.insights.periods import Granularity, floor, next_start
from app.kernel.audit import audit
from app.orgs.models import Person


def set_baseline(session: Session, admin: Person, by: str, day: str) -> None:
    """Mark as baseline the week, month or quarter that `day` falls in; no day clears it.

    Whole periods only: the figures of a period are kept per week, month and quarter.
    """
    if not admin.is_admin:
        raise PermissionDenied()
    org = admin.org
    day = (day or "").strip()
    if not day:
        org.insight_baseline_start = org.insight_baseline_end = None
        session.add(org)
        audit(session, org, admin, "insights.baseline", "cleared")
        return
    errors: dict[str, Problem] = {}
    try:
        gran = Granularity(by)
    except ValueError:
        gran = Granularity.month
        errors["baseline_by"] = Problem("by", N_("Choose week, month or quarter."))
    try:
        chosen = date.fromisoformat(day)
        if not date(2000, 1, 1) <= chosen <= date(2100, 12, 31):
            raise ValueError
    except ValueError:
        errors["baseline_day"] = Problem(
            "date", N_("Write the date as YYYY-MM-DD, like 2026-03-01.")
        )
    if errors:
        raise Invalid(errors)
    start = floor(chosen, gran)
    org.insight_baseline_start = start
    org.insight_baseline_end = next_start(start, gran) - timedelta(days=1)
    session.add(org)
    audit(session, org, admin, "insights.baseline", f"{gran.value} {start.isoformat()}")
