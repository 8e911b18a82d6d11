"""Tre om dagen's part of a person's data: what they gave and received, their reactions.

`export_person` describes it (app/privacy puts it in the ZIP); `erase_person` removes it. The
recognitions an erased person gave are deleted or kept under "a former colleague", as their
organisation chose; as a recipient they are taken off, and a recognition left with nobody is
deleted. Photos are not deleted here: every photo a person uploaded goes with media's part.
"""

import secrets
from typing import Any

from sqlalchemy import delete, func, or_
from sqlmodel import Session, col, select

from app import i18n
from app.kernel.types import iso
from app.media.models import MediaImage
from app.media.privacy import file_name
from app.orgs.models import FORMER_COLLEAGUE_EMAIL, Organisation, Person, Role
from app.recognition.models import (
    Notification,
    Reaction,
    Recognition,
    RecognitionRecipient,
)

ANONYMISE = "anonymise"
DELETE = "delete"
ERASE_GIVEN = (ANONYMISE, DELETE)


def _values(rec: Recognition) -> list[str]:
    return [link.value.name for link in rec.value_links]


def export_person(session: Session, person: Person) -> dict[str, Any]:
    given = session.exec(
        select(Recognition)
        .where(Recognition.giver_id == person.id)
        .order_by(col(Recognition.created_at), col(Recognition.id))
    ).all()
    received = session.exec(
        select(Recognition, RecognitionRecipient)
        .join(RecognitionRecipient, col(RecognitionRecipient.recognition_id) == Recognition.id)
        .where(RecognitionRecipient.person_id == person.id)
        .order_by(col(Recognition.created_at), col(Recognition.id))
    ).all()
    reactions = session.exec(
        select(Reaction)
        .where(Reaction.person_id == person.id)
        .order_by(col(Reaction.created_at), col(Reaction.recognition_id))
    ).all()
    notifications = session.exec(
        select(Notification)
        .where(Notification.person_id == person.id)
        .order_by(col(Notification.due_at), col(Notification.id))
    ).all()
    _ = i18n.catalog(i18n.normalise(person.locale or person.org.locale) or "nb").gettext
    return {
        "recognitions_given": [
            {
                "id": rec.id,
                "created_at": iso(rec.created_at),
                "text": rec.text,
                "values": _values(rec),
                "recipients": [r.person.name for r in rec.recipients],
                "visibility": rec.visibility.value,
                "feature_consent": {
                    "given": rec.feature_consent,
                    "at": iso(rec.created_at),
                    "text": _("It may be featured on the intranet as %(feature)s")
                    % {"feature": person.org.display_feature_name},
                },
                "hidden_by_curator": rec.hidden_by_curator,
                "photo": file_name(rec.photo, person),
            }
            for rec in given
        ],
        "recognitions_received": [
            {
                "id": rec.id,
                "created_at": iso(rec.created_at),
                "from": rec.giver.name,
                "text": rec.text,
                "values": _values(rec),
                "other_recipients": [
                    r.person.name for r in rec.recipients if r.person_id != person.id
                ],
                "visibility": rec.visibility.value,
                "hidden_by_me": link.hidden,
                "not_featured_by_my_choice": link.feature_opt_out,
            }
            for rec, link in received
        ],
        "reactions": [
            {
                "recognition_id": r.recognition_id,
                "kind": r.kind.value,
                "created_at": iso(r.created_at),
            }
            for r in reactions
        ],
        "notifications": [
            {
                "recognition_id": n.recognition_id,
                "digest": n.digest,
                "due_at": iso(n.due_at),
                "sent_at": iso(n.sent_at),
            }
            for n in notifications
        ],
    }


def former_colleague(session: Session, org: Organisation) -> Person:
    """The organisation's stand-in giver for anonymised recognitions (made on first use)."""
    existing = session.exec(
        select(Person).where(Person.org_id == org.id, Person.email == FORMER_COLLEAGUE_EMAIL)
    ).first()
    if existing is not None:
        return existing
    _ = i18n.catalog(i18n.normalise(org.locale) or "nb").gettext
    person = Person(
        org_id=org.id,
        email=FORMER_COLLEAGUE_EMAIL,
        name=_("A former colleague"),
        role=Role.employee,
        active=False,
        feature_opt_out=True,
    )
    session.add(person)
    session.flush()
    return person


def _delete_recognitions(session: Session, ids: list[int], person: Person) -> int:
    """Delete recognitions (recipients, values, reactions and e-mails go with them by cascade).

    Their photos lose the reference (SET NULL): the erased person's go with media's part,
    another giver's are released here (deleted unless something else uses them)."""
    if not ids:
        return 0
    from app.media.service import release_image

    photos = session.exec(
        select(MediaImage)
        .join(Recognition, col(Recognition.photo_id) == MediaImage.id)
        .where(
            col(Recognition.id).in_(ids),
            or_(col(MediaImage.owner_id).is_(None), col(MediaImage.owner_id) != person.id),
        )
    ).all()
    for rec in session.exec(select(Recognition).where(col(Recognition.id).in_(ids))):
        session.delete(rec)
    session.flush()
    for photo in photos:
        release_image(session, photo)
    return len(ids)


def erase_person(session: Session, person: Person) -> dict[str, int]:
    """Remove the person from Tre om dagen; returns what was done, counted."""
    org = person.org
    removed_reactions = session.execute(
        delete(Reaction).where(col(Reaction.person_id) == person.id)
    ).rowcount  # type: ignore[attr-defined]
    session.execute(delete(Notification).where(col(Notification.person_id) == person.id))
    # As a recipient: off every recognition; those left with nobody go.
    received = list(
        session.exec(
            select(RecognitionRecipient.recognition_id).where(
                RecognitionRecipient.person_id == person.id
            )
        )
    )
    session.execute(
        delete(RecognitionRecipient).where(col(RecognitionRecipient.person_id) == person.id)
    )
    still_named = set(
        session.exec(
            select(RecognitionRecipient.recognition_id)
            .where(col(RecognitionRecipient.recognition_id).in_(received))
            .group_by(col(RecognitionRecipient.recognition_id))
            .having(func.count() > 0)
        )
    )
    empty = [rid for rid in received if rid is not None and rid not in still_named]
    session.expire_all()
    deleted = _delete_recognitions(session, empty, person)
    # As a giver: deleted, or kept from "a former colleague".
    given = [
        rid
        for rid in session.exec(select(Recognition.id).where(Recognition.giver_id == person.id))
        if rid is not None
    ]
    anonymised = 0
    if org.erase_given == DELETE:
        deleted += _delete_recognitions(session, given, person)
    elif given:
        stand_in = former_colleague(session, org)
        for rec in session.exec(select(Recognition).where(col(Recognition.id).in_(given))):
            rec.giver_id = stand_in.id
            # (giver, key) is unique: a fresh key can never meet the stand-in's others.
            rec.idempotency_key = "erased-" + secrets.token_hex(16)
            rec.feature_consent = False
            session.add(rec)
            anonymised += 1
        session.flush()
    return {
        "recognitions_deleted": deleted,
        "recognitions_anonymised": anonymised,
        "recognitions_received": len(received),
        "reactions": removed_reactions,
    }
