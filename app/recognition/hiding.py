"""Hiding a recognition: a recipient takes it off the public feeds or opts out, a curator hides it."""

from sqlmodel import Session

from app.errors import N_, Invalid, PermissionDenied, Problem
from app.kernel.audit import audit
from app.orgs.models import Person
from app.recognition.models import Recognition, RecognitionRecipient, Visibility


def _refresh_listed(rec: Recognition) -> None:
    rec.listed = (
        rec.visibility == Visibility.org
        and not rec.hidden_by_curator
        and not any(r.hidden for r in rec.recipients)
    )


def _recipient_row(rec: Recognition, person: Person) -> RecognitionRecipient:
    for row in rec.recipients:
        if row.person_id == person.id:
            return row
    raise PermissionDenied()


def set_hidden_by_recipient(
    session: Session, person: Person, rec: Recognition, hidden: bool
) -> None:
    row = _recipient_row(rec, person)
    row.hidden = hidden
    session.add(row)
    _refresh_listed(rec)
    session.add(rec)


def set_feature_opt_out(session: Session, person: Person, rec: Recognition, opt_out: bool) -> None:
    row = _recipient_row(rec, person)
    row.feature_opt_out = opt_out
    session.add(row)


def curator_hide(session: Session, curator: Person, rec: Recognition, reason: str) -> None:
    if not curator.is_curator:
        raise PermissionDenied()
    reason = " ".join((reason or "").split())
    if len(reason) < 3:
        raise Invalid({"reason": Problem("required", N_("Write a short reason (it is logged)."))})
    if len(reason) > 300:
        raise Invalid({"reason": Problem("too_long", N_("Write at most 300 characters."))})
    rec.hidden_by_curator = True
    rec.hidden_reason = reason
    _refresh_listed(rec)
    session.add(rec)
    audit(session, curator.org, curator, "recognition.hide", f"recognition {rec.id}", reason=reason)


def curator_unhide(session: Session, curator: Person, rec: Recognition) -> None:
    if not curator.is_curator:
        raise PermissionDenied()
    rec.hidden_by_curator = False
    rec.hidden_reason = ""
    _refresh_listed(rec)
    session.add(rec)
    audit(session, curator.org, curator, "recognition.unhide", f"recognition {rec.id}")
