"""Who may see an image: asked of the features that own images, one explicit call each.

Media itself knows no feature; this module sits above them (see docs/ARCHITECTURE.md) and is
the one place that names them. An image is visible to a member of its organisation when they
uploaded it, or when one of its owners shows it to them: a recognition they may read, a contest
entry they may see, a relay story they may read, or a weekly feature (curators while they work on it, everyone once public).
"""

from sqlmodel import Session

from app.contests import scope as contests
from app.errors import NotFound
from app.media.models import MediaImage
from app.orgs.models import Person
from app.recognition import scope as recognition
from app.stories import scope as stories
from app.weekly import public as weekly


def can_view(session: Session, viewer: Person, image: MediaImage) -> bool:
    if image.org_id != viewer.org_id:
        return False
    if image.owner_id is not None and image.owner_id == viewer.id:
        return True
    if image.id is None:
        return False
    return (
        recognition.photo_visible(session, viewer, image.id)
        or bool(contests.entry_image_visible(session, viewer, image.id))
        or stories.photo_visible(session, viewer, image.id)
        or weekly.feature_image_visible(session, viewer, image.id)
    )


def image_for(session: Session, viewer: Person, image_id: int) -> MediaImage:
    """The one way to load an image for a viewer: 404 unless they may see it."""
    image = session.get(MediaImage, image_id)
    if image is None or not can_view(session, viewer, image):
        raise NotFound()
    return image
