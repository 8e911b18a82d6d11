"""An organisation's erasure choices: what happens to what an erased person gave, and when
people who left are erased automatically."""

from sqlmodel import Session

from app.errors import N_, Invalid, Problem
from app.kernel.audit import audit
from app.orgs.models import Organisation, Person
from app.recognition.privacy import ERASE_GIVEN

MAX_DAYS = 3650


def update_settings(
    session: Session, org: Organisation, actor: Person, *, erase_given: str, erase_after: str
) -> None:
    """Invalid ("erase_given", "erase_after") and nothing changed on bad input."""
    errors: dict[str, Problem] = {}
    if erase_given not in ERASE_GIVEN:
        errors["erase_given"] = Problem("invalid", N_("Choose one of the options."))
    days: int | None = None
    text = erase_after.strip()
    if text:
        if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
            errors["erase_after"] = Problem(
                "invalid", N_("Write a number of days from 1 to 3650, or leave it empty.")
            )
        else:
            days = int(text)
    if errors:
        raise Invalid(errors)
    org.erase_given = erase_given
    org.erase_after_days = days
    session.add(org)
    audit(session, org, actor, "privacy.settings", org.slug, erase_given=erase_given, days=days)
