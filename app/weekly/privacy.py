"""Ukens ESS's part of a person's data: their consent answers, and the features that name them.

Erasing a person withdraws every published feature about something they gave, received or
photographed (the webhooks are told, as for any withdrawal), empties its text, and deletes the
announcement that named them; drafts about them are deleted; their consent answers go.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_
from sqlmodel import Session, col, select

from app.contests.models import ContestEntry
from app.kernel.clock import utcnow
from app.kernel.types import iso
from app.media.models import MediaImage
from app.media.service import release_image
from app.orgs.models import Person
from app.recognition.models import Recognition, RecognitionRecipient
from app.weekly.models import Feature, FeatureConsent, FeatureStatus, WebhookDelivery
from app.weekly.withdrawal import take_down


def export_person(session: Session, person: Person) -> dict[str, Any]:
    consents = session.exec(
        select(FeatureConsent, Feature)
        .join(Feature, col(Feature.id) == FeatureConsent.feature_id)
        .where(FeatureConsent.person_id == person.id)
        .order_by(col(FeatureConsent.asked_at), col(FeatureConsent.id))
    ).all()
    return {
        "feature_consents": [
            {
                "week": f"{feature.iso_year}-W{feature.iso_week:02d}",
                "headline": feature.headline,
                "feature_status": feature.status.value,
                "answer": consent.answer.value,
                "asked_at": iso(consent.asked_at),
                "answered_at": iso(consent.answered_at),
                "text_agreed_to": consent.answered_text,
            }
            for consent, feature in consents
        ],
    }


def features_naming(session: Session, person: Person) -> list[Feature]:
    """Features about a recognition the person gave or received, or their photo, or asking them."""
    received = select(RecognitionRecipient.recognition_id).where(
        RecognitionRecipient.person_id == person.id
    )
    given = select(Recognition.id).where(Recognition.giver_id == person.id)
    entries = select(ContestEntry.id).where(ContestEntry.author_id == person.id)
    asked = select(FeatureConsent.feature_id).where(FeatureConsent.person_id == person.id)
    return list(
        session.exec(
            select(Feature)
            .where(
                Feature.org_id == person.org_id,
                or_(
                    col(Feature.recognition_id).in_(received),
                    col(Feature.recognition_id).in_(given),
                    col(Feature.entry_id).in_(entries),
                    col(Feature.id).in_(asked),
                ),
            )
            .order_by(col(Feature.id))
        )
    )


def erase_person(
    session: Session, person: Person, *, actor: Person | None = None, now: datetime | None = None
) -> dict[str, int]:
    now = now or utcnow()
    withdrawn = deleted = 0
    chosen: list[MediaImage] = []
    for feature in features_naming(session, person):
        if feature.status in (FeatureStatus.draft, FeatureStatus.approved):
            session.delete(feature)
            deleted += 1
            continue
        if take_down(session, feature, actor, now, reason="erasure"):
            withdrawn += 1
        # What was announced named them; the withdrawal just queued names nobody.
        session.execute(
            delete(WebhookDelivery).where(
                col(WebhookDelivery.feature_id) == feature.id,
                col(WebhookDelivery.event) != "withdrawn",
            )
        )
        feature.headline = ""
        feature.body = ""
        feature.reasons = []
        if feature.image is not None:
            chosen.append(feature.image)  # may show them; deleted once nothing else uses it
        feature.image_id = None
        feature.updated_at = now
        session.add(feature)
    session.flush()
    for image in chosen:
        release_image(session, image)
    consents = session.execute(
        delete(FeatureConsent).where(col(FeatureConsent.person_id) == person.id)
    ).rowcount  # type: ignore[attr-defined]
    session.expire_all()
    return {"features_withdrawn": withdrawn, "drafts_deleted": deleted, "consents": consents}
