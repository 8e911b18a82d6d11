"""The baseline period an admin marks, which every figure is compared with."""

from datetime import date, timedelta

from sqlmodel import Session

from app.errors import N_, Invalid, PermissionDenied, Problem
from app.kernel.audit import audit
from app.orgs.models import Person


def set_baseline(session: Session, admin: Person, start: str, end: str) -> None:
    """Mark (or with both empty, clear) the baseline: whole local days, start to end."""
    if not admin.is_admin:
        raise PermissionDenied()
    org = admin.org
    start, end = (start or "").strip(), (end or "").strip()
    if not start and not end:
        org.insight_baseline_start = org.insight_baseline_end = None
        session.add(org)
        audit(session, org, admin, "insights.baseline", "cleared")
        return
    errors: dict[str, Problem] = {}
    days: dict[str, date] = {}
    for field, raw in (("baseline_start", start), ("baseline_end", end)):
        try:
            days[field] = date.fromisoformat(raw)
            if not date(2000, 1, 1) <= days[field] <= date(2100, 12, 31):
                raise ValueError
        except ValueError:
            errors[field] = Problem("date", N_("Write the date as YYYY-MM-DD, like 2026-03-01."))
    if not errors and days["baseline_end"] < days["baseline_start"]:
        errors["baseline_end"] = Problem(
            "order", N_("The end of the period must come after its start.")
        )
    if not errors and days["baseline_end"] - days["baseline_start"] > timedelta(days=366):
        errors["baseline_end"] = Problem("too_long", N_("A baseline is at most a year."))
    if errors:
        raise Invalid(errors)
    org.insight_baseline_start, org.insight_baseline_end = (
        days["baseline_start"],
        days["baseline_end"],
    )
    session.add(org)
    audit(session, org, admin, "insights.baseline", f"{start}/{end}")
