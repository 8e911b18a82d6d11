"""Who may read a story, and the loaders every route goes through (another org's id is 404).

A story is public in the organisation once every colleague it names has said yes (a story that
names nobody is public at once). Before that only its author, the colleagues named and the
curators read it. Relays and their chain (who passed to whom, when) are open to every member.
"""

from sqlalchemy import ColumnElement, exists, or_
from sqlmodel import Session, col, select

from app.errors import NotFound, PermissionDenied
from app.kernel.scope import in_org
from app.orgs.models import Person
from app.stories.models import Relay, Story, StoryAnswer, StoryConsent


def story_public() -> ColumnElement[bool]:
    """The story row is public: nobody named has said no or not answered yet."""
    return ~exists(
        select(StoryConsent.story_id).where(
            col(StoryConsent.story_id) == Story.id, StoryConsent.answer != StoryAnswer.yes
        )
    )


def readable_by(viewer: Person) -> ColumnElement[bool]:
    named = exists(
        select(StoryConsent.story_id).where(
            col(StoryConsent.story_id) == Story.id, StoryConsent.person_id == viewer.id
        )
    )
    condition = col(Story.org_id) == viewer.org_id
    if viewer.is_curator:
        return condition
    return condition & or_(story_public(), col(Story.author_id) == viewer.id, named)


def story_for(session: Session, viewer: Person, story_id: int) -> Story:
    """The one way to load a story for a viewer: 404 unless they may read it."""
    story = session.exec(select(Story).where(Story.id == story_id, readable_by(viewer))).first()
    if story is None:
        raise NotFound()
    return story


def readable(session: Session, viewer: Person, story: Story) -> bool:
    found = session.exec(select(Story.id).where(Story.id == story.id, readable_by(viewer))).first()
    return found is not None


def relay_for(session: Session, viewer: Person, relay_id: int) -> Relay:
    return in_org(session, viewer.org, Relay, relay_id)


def is_public(session: Session, story: Story) -> bool:
    found = session.exec(select(Story.id).where(Story.id == story.id, story_public())).first()
    return found is not None


def photo_visible(session: Session, viewer: Person, image_id: int) -> bool:
    """The media access hook: a story's photo is seen by whoever may read the story."""
    stmt = select(Story.id).where(Story.image_id == image_id, readable_by(viewer)).limit(1)
    return session.exec(stmt).first() is not None


def require_curator(person: Person) -> None:
    if not person.is_curator:
        raise PermissionDenied()
