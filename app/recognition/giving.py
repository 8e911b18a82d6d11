"""Giving a recognition: the rules, idempotency, its e-mails' timing, taking it back, values."""

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.errors import N_, Invalid, PermissionDenied, Problem
from app.kernel.clock import utcnow
from app.kernel.forms import clean_paragraphs
from app.media.models import MediaImage
from app.orgs.models import EmailFrequency, Organisation, Person, Value
from app.recognition.models import (
    Notification,
    Recognition,
    RecognitionRecipient,
    RecognitionValue,
    Visibility,
)

TEXT_MIN, TEXT_MAX = 10, 600
MAX_RECIPIENTS = 10
UNDO_SECONDS = 60  # the confirmation offers undo this long; e-mails wait for it
DELETE_WINDOW = timedelta(hours=24)
DIGEST_HOUR = 15  # local time of the daily digest
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# Bidirectional overrides and isolates can make text render in a misleading order
# ("Trojan source"); they have no place in a short recognition.


def give_recognition(
    session: Session,
    *,
    giver: Person,
    recipient_ids: list[int],
    value_ids: list[int],
    text: str,
    visibility: str = "org",
    feature_consent: bool = False,
    idempotency_key: str,
    photo: MediaImage | None = None,
    now: datetime | None = None,
) -> tuple[Recognition, bool]:
    """Create a recognition, or return the one this idempotency key already made.

    Returns (recognition, created). Every rule is checked before anything is written. A photo
    must be one the giver uploaded (app.media.service.save_upload) in this organisation.
    """
    now = now or utcnow()
    if not KEY_RE.match(idempotency_key or ""):
        raise Invalid(
            {
                "idempotency_key": Problem(
                    "invalid", N_("The form was not valid. Reload the page and try again.")
                )
            }
        )
    existing = session.exec(
        select(Recognition).where(
            Recognition.giver_id == giver.id, Recognition.idempotency_key == idempotency_key
        )
    ).first()
    if existing is not None:
        return existing, False

    errors: dict[str, Problem] = {}
    unique_recipients = list(dict.fromkeys(recipient_ids))
    # Plain columns (what the rows below need), not Person and Value objects.
    recipients: list[Any] = []
    if not unique_recipients:
        errors["recipients"] = Problem("required", N_("Choose at least one colleague."))
    elif len(unique_recipients) > MAX_RECIPIENTS:
        errors["recipients"] = Problem("too_many", N_("Choose at most 10 colleagues."))
    elif giver.id in unique_recipients:
        errors["recipients"] = Problem("self", N_("You cannot recognise yourself – but well done!"))
    else:
        recipients = list(
            session.exec(
                select(Person.id, Person.feature_opt_out, Person.email_frequency).where(
                    col(Person.id).in_(unique_recipients),
                    Person.org_id == giver.org_id,
                    col(Person.active).is_(True),
                )
            )
        )
        if len(recipients) != len(unique_recipients):
            errors["recipients"] = Problem("unknown", N_("Choose colleagues from the list."))
    unique_values = list(dict.fromkeys(value_ids))
    values: list[Any] = []
    if not unique_values:
        errors["values"] = Problem("required", N_("Choose at least one value."))
    else:
        values = list(
            session.exec(
                select(Value.id, Value.position).where(
                    col(Value.id).in_(unique_values),
                    Value.org_id == giver.org_id,
                    col(Value.active).is_(True),
                )
            )
        )
        if len(values) != len(unique_values):
            errors["values"] = Problem("unknown", N_("Choose values from the list."))
    cleaned = clean_paragraphs(text)
    if len(cleaned) < TEXT_MIN:
        errors["text"] = Problem(
            "too_short", N_("Write at least 10 characters about what they did.")
        )
    elif len(cleaned) > TEXT_MAX:
        errors["text"] = Problem("too_long", N_("Write at most 600 characters."))
    try:
        vis = Visibility(visibility)
    except ValueError:
        errors["visibility"] = Problem("invalid", N_("Choose who can see it."))
        vis = Visibility.org
    if photo is not None and (
        photo.org_id != giver.org_id or photo.owner_id != giver.id or not photo.variants
    ):
        errors["photo"] = Problem("unknown", N_("Choose a photo you uploaded yourself."))
    if errors:
        raise Invalid(errors)

    rec = Recognition(
        org_id=giver.org_id,
        giver=giver,
        text=cleaned,
        visibility=vis,
        feature_consent=bool(feature_consent),
        listed=vis == Visibility.org,
        idempotency_key=idempotency_key,
        photo=photo,
        created_at=now,
    )
    recipients.sort(key=lambda p: unique_recipients.index(p.id))
    rec.recipients = [
        RecognitionRecipient(person_id=p.id, feature_opt_out=p.feature_opt_out) for p in recipients
    ]
    values.sort(key=lambda v: v.position)
    rec.value_links = [RecognitionValue(value_id=v.id) for v in values]
    # The e-mails' outbox rows go in the same flush as the recognition.
    notifications = [
        n for p in recipients if (n := _notification(rec, p, giver.org, now)) is not None
    ]
    try:
        with session.begin_nested():
            session.add(rec)
            session.add_all(notifications)
            session.flush()
    except IntegrityError:
        # The same key won a race in another request: that one is the recognition.
        winner = session.exec(
            select(Recognition).where(
                Recognition.giver_id == giver.id, Recognition.idempotency_key == idempotency_key
            )
        ).first()
        if winner is None:
            raise
        return winner, False
    return rec, True


def _notification(
    rec: Recognition, person: Any, org: Organisation, now: datetime
) -> Notification | None:
    """The "Du ble sett!" e-mail for one recipient (a row of id, opt-out, frequency)."""
    if person.email_frequency == EmailFrequency.none:
        return None
    if person.email_frequency == EmailFrequency.daily:
        due, digest = next_digest_time(org, now), True
    else:
        due, digest = now + timedelta(seconds=UNDO_SECONDS), False
    return Notification(recognition=rec, person_id=person.id, due_at=due, digest=digest)


def next_digest_time(org: Organisation, now: datetime) -> datetime:
    tz = ZoneInfo(org.timezone)
    local = now.astimezone(tz)
    candidate = datetime.combine(local.date(), time(DIGEST_HOUR), tzinfo=tz)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), time(DIGEST_HOUR), tzinfo=tz)
    return candidate.astimezone(UTC)


def check_can_delete(person: Person, rec: Recognition, now: datetime | None = None) -> None:
    """Only the giver, and only within 24 hours of giving."""
    if rec.giver_id != person.id:
        raise PermissionDenied()
    if (now or utcnow()) - rec.created_at > DELETE_WINDOW:
        raise Invalid(
            {
                "recognition": Problem(
                    "too_late", N_("You can only delete within 24 hours of giving.")
                )
            }
        )


def delete_recognition(
    session: Session, person: Person, rec: Recognition, now: datetime | None = None
) -> None:
    """The giver may take a recognition back within 24 hours (undo included)."""
    check_can_delete(person, rec, now)
    photo = rec.photo
    session.delete(rec)
    if photo is not None:
        from app.media.service import release_image

        release_image(session, photo)  # its files go with the commit, unless used elsewhere


def told_by_email(session: Session, rec: Recognition) -> list[Person]:
    """Recipients whose "Du ble sett!" e-mail about `rec` has gone: deleting cannot recall it.

    E-mail not sent yet is cancelled with the recognition (its outbox rows go with it).
    """
    return list(
        session.exec(
            select(Person)
            .join(Notification, col(Notification.person_id) == col(Person.id))
            .where(Notification.recognition_id == rec.id, col(Notification.sent_at).is_not(None))
            .order_by(col(Person.name))
        )
    )


def active_values(session: Session, org_id: int | None) -> list[Value]:
    """The organisation's values a recognition may be tagged with, in their order."""
    return list(
        session.exec(
            select(Value)
            .where(Value.org_id == org_id, col(Value.active).is_(True))
            .order_by(col(Value.position))
        )
    )
