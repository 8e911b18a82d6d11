"""A person's relay data: what their export holds, and what their erasure removes.

Called by the privacy feature's export and erasure; plain functions that never commit.

Erasure removes what is theirs and keeps the relay's shape for everyone else: the stories they
wrote go (with their photos, through the media service), their answers go (a story about them
no longer names them), and the legs they carried stay in the chain without their name. A baton
they still hold is handed back to the curators, who can give it to another leader.
"""

from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from app.kernel.clock import utcnow
from app.media.service import release_image
from app.orgs.models import Person
from app.stories.models import Leg, LegStatus, Relay, Story, StoryConsent, StoryMail


def _when(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def export_person(session: Session, person: Person) -> dict[str, Any]:
    """Stories written, batons held and passed, and their answers to stories about them."""
    stories = session.exec(
        select(Story).where(Story.author_id == person.id).order_by(col(Story.created_at))
    ).all()
    legs = session.exec(
        select(Leg).where(Leg.holder_id == person.id).order_by(col(Leg.received_at))
    ).all()
    passed = session.exec(
        select(Leg).where(Leg.given_by_id == person.id).order_by(col(Leg.received_at))
    ).all()
    consents = session.exec(select(StoryConsent).where(StoryConsent.person_id == person.id)).all()
    return {
        "stories_written": [
            {
                "id": s.id,
                "relay": s.relay.title,
                "title": s.title,
                "text": s.text,
                "values": [v.name for v in s.values],
                "about": [p.name for p in s.people],
                "may_be_featured": s.feature_consent,
                "has_photo": s.image_id is not None,
                "written_at": _when(s.created_at),
            }
            for s in stories
        ],
        "batons_held": [
            {
                "relay": leg.relay.title,
                "received_at": _when(leg.received_at),
                "from": leg.given_by.name if leg.given_by else None,
                "status": leg.status.value,
                "ended_at": _when(leg.ended_at),
                "reason_given_back": leg.return_reason or None,
                "reminders": leg.reminders,
            }
            for leg in legs
        ],
        "batons_passed": [
            {
                "relay": leg.relay.title,
                "to": leg.holder.name if leg.holder else None,
                "at": _when(leg.received_at),
            }
            for leg in passed
        ],
        "story_consents": [
            {
                "story": c.story.title,
                "answer": c.answer.value,
                "asked_at": _when(c.asked_at),
                "answered_at": _when(c.answered_at),
            }
            for c in consents
        ],
    }


def erase_person(session: Session, person: Person) -> None:
    """Remove their stories and answers; take them out of the relays (see the module doc)."""
    now = utcnow()
    for story in session.exec(select(Story).where(Story.author_id == person.id)).all():
        image = story.image
        session.delete(story)
        if image is not None:
            release_image(session, image)
    session.execute(delete(StoryConsent).where(col(StoryConsent.person_id) == person.id))
    session.execute(delete(StoryMail).where(col(StoryMail.person_id) == person.id))
    open_relays = select(Relay.id).where(col(Relay.closed_at).is_(None))
    session.execute(
        update(Leg)
        .where(
            col(Leg.holder_id) == person.id,
            col(Leg.status) == LegStatus.holding,
            col(Leg.relay_id).in_(open_relays),
        )
        .values(status=LegStatus.returned, ended_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Leg)
        .where(col(Leg.holder_id) == person.id)
        .values(holder_id=None, return_reason="")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Leg)
        .where(col(Leg.given_by_id) == person.id)
        .values(given_by_id=None)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
