"""Writing a story while holding the baton, and the named colleagues' answers.

One story per leg (a unique key); a double tap carries the same idempotency key and finds the
story the first tap wrote. Each colleague named is asked (in the app and by e-mail) whether the
story may be shown; it is public in the organisation once all of them said yes.
"""

import re
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.errors import N_, Invalid, NotFound, Problem
from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.kernel.forms import clean_line, clean_paragraphs
from app.media.models import MediaImage
from app.orgs.models import Person, Value
from app.stories.models import (
    MailKind,
    Relay,
    Story,
    StoryAnswer,
    StoryConsent,
    StoryMail,
    StoryValue,
)
from app.stories.relay import CLOSED, NOT_HOLDING, TITLE_MAX, holding

TITLE_MIN = 3
TEXT_MIN, TEXT_MAX = 50, 3000
MAX_PEOPLE = 10
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
BAD_KEY = Problem("invalid", N_("The form was not valid. Reload the page and try again."))


def _existing(session: Session, author: Person, key: str) -> Story | None:
    return session.exec(
        select(Story).where(Story.author_id == author.id, Story.idempotency_key == key)
    ).first()


def write_story(
    session: Session,
    *,
    author: Person,
    relay: Relay,
    title: str,
    text: str,
    value_ids: list[int],
    person_ids: list[int],
    idempotency_key: str,
    feature_consent: bool = True,
    photo: MediaImage | None = None,
    now: datetime | None = None,
) -> tuple[Story, bool]:
    """The holder's story for their leg; returns (story, created)."""
    now = now or utcnow()
    if not KEY_RE.match(idempotency_key or ""):
        raise Invalid({"idempotency_key": BAD_KEY})
    if (existing := _existing(session, author, idempotency_key)) is not None:
        return existing, False
    if relay.closed_at is not None:
        raise Invalid({"relay": CLOSED})
    leg = holding(session, author, relay)
    if leg is None:
        raise Invalid({"relay": NOT_HOLDING})
    if leg.story is not None:
        raise Invalid(
            {"relay": Problem("written", N_("You have written your story: pass the baton on."))}
        )
    errors: dict[str, Problem] = {}
    try:
        clean_title = clean_line(title, max_length=TITLE_MAX, required=True)
        if len(clean_title) < TITLE_MIN:
            errors["title"] = Problem("too_short", N_("Give the story a title."))
    except ValueError as exc:
        errors["title"] = exc.args[0]
    body = clean_paragraphs(text)
    if len(body) < TEXT_MIN:
        errors["text"] = Problem("too_short", N_("Tell the story in at least 50 characters."))
    elif len(body) > TEXT_MAX:
        errors["text"] = Problem("too_long", N_("Write at most 3000 characters."))
    values = _values(session, author, value_ids, errors)
    people = _people(session, author, person_ids, errors)
    if photo is not None and (
        photo.org_id != author.org_id or photo.owner_id != author.id or not photo.variants
    ):
        errors["photo"] = Problem("unknown", N_("Choose a photo you uploaded yourself."))
    if errors:
        raise Invalid(errors)
    try:
        with session.begin_nested():
            # Built inside the savepoint: its flush comes first, and `leg=` links the leg at once.
            story = Story(
                org_id=author.org_id,
                relay=relay,
                leg=leg,
                author=author,
                title=clean_title,
                text=body,
                image=photo,
                feature_consent=bool(feature_consent),
                idempotency_key=idempotency_key,
                created_at=now,
            )
            story.value_links = [StoryValue(value=v) for v in values]
            story.consents = [
                StoryConsent(person=p, position=i, asked_at=now) for i, p in enumerate(people)
            ]
            session.add(story)
            session.flush()
    except IntegrityError:
        session.expire(leg)
        # A racing double tap (same key) or a second story for the same leg lost the race.
        winner = _existing(session, author, idempotency_key)
        if winner is None:
            raise Invalid(
                {"relay": Problem("written", N_("You have written your story: pass the baton on."))}
            ) from None
        return winner, False
    for person in people:
        session.add(
            StoryMail(
                org_id=story.org_id,
                person_id=person.id,
                kind=MailKind.consent,
                key=f"consent:{story.id}:{person.id}",
                story_id=story.id,
                due_at=now,
            )
        )
    audit(session, author.org, author, "story.write", f"story {story.id}", relay=relay.id)
    return story, True


def _values(
    session: Session, author: Person, value_ids: list[int], errors: dict[str, Problem]
) -> list[Value]:
    unique = list(dict.fromkeys(value_ids))
    if not unique:
        return []
    found = list(
        session.exec(
            select(Value).where(
                col(Value.id).in_(unique),
                Value.org_id == author.org_id,
                col(Value.active).is_(True),
            )
        )
    )
    if len(found) != len(unique):
        errors["values"] = Problem("unknown", N_("Choose values from the list."))
    return sorted(found, key=lambda v: v.position)


def _people(
    session: Session, author: Person, person_ids: list[int], errors: dict[str, Problem]
) -> list[Person]:
    unique = list(dict.fromkeys(person_ids))
    if not unique:
        return []
    if len(unique) > MAX_PEOPLE:
        errors["people"] = Problem("too_many", N_("Choose at most 10 colleagues."))
        return []
    if author.id in unique:
        errors["people"] = Problem(
            "self", N_("Name the colleagues the story is about, not yourself.")
        )
        return []
    found = {
        p.id: p
        for p in session.exec(
            select(Person).where(
                col(Person.id).in_(unique),
                Person.org_id == author.org_id,
                col(Person.active).is_(True),
            )
        )
    }
    if len(found) != len(unique):
        errors["people"] = Problem("unknown", N_("Choose colleagues from the list."))
        return []
    return [found[i] for i in unique]


def answer(
    session: Session, *, person: Person, story: Story, yes: bool, now: datetime | None = None
) -> StoryConsent:
    """A named colleague's answer; they may change their mind later (the story goes down)."""
    consent = next((c for c in story.consents if c.person_id == person.id), None)
    if consent is None:
        raise NotFound()
    consent.answer = StoryAnswer.yes if yes else StoryAnswer.no
    consent.answered_at = now or utcnow()
    session.add(consent)
    audit(
        session,
        story.org,
        person,
        "story.consent",
        f"story {story.id}",
        answer=consent.answer.value,
    )
    return consent


def pending_questions(session: Session, person: Person) -> list[StoryConsent]:
    """Stories about `person` waiting for their answer (the notice on home and "Meg")."""
    return list(
        session.exec(
            select(StoryConsent)
            .where(StoryConsent.person_id == person.id, StoryConsent.answer == StoryAnswer.pending)
            .order_by(col(StoryConsent.asked_at).desc())
        )
    )


def chosen_people(session: Session, author: Person, ids: list[int]) -> list[Person]:
    """The colleagues picked in the form so far (theirs only, active, in the order picked)."""
    unique = [i for i in dict.fromkeys(ids) if i != author.id]
    if not unique:
        return []
    found = {
        p.id: p
        for p in session.exec(
            select(Person).where(
                col(Person.id).in_(unique),
                Person.org_id == author.org_id,
                col(Person.active).is_(True),
            )
        )
    }
    return [found[i] for i in unique if i in found]
