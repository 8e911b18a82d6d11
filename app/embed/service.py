"""What the public widget reads besides the feature: its feed's contests, its empty state, the
photo route's variants. Plain functions over a session, no HTTP.

Which feature is public is one rule of the weekly feature (app/weekly/public.py); the widget
asks it in every query.
"""

from typing import Any

from sqlmodel import Session, col, select

from app.contests.models import Contest
from app.kernel.clock import utcnow
from app.orgs.models import Organisation
from app.weekly import public
from app.weekly.models import Feature

ARCHIVE_LIMIT = 20  # entries in the Atom feed


def ever_published(session: Session, org: Organisation) -> bool:
    """Whether the empty state speaks of the first feature or the next one."""
    found = session.exec(
        select(Feature.id)
        .where(Feature.org_id == org.id, col(Feature.published_at).is_not(None))
        .limit(1)
    ).first()
    return found is not None


def announced_contests(
    session: Session, org: Organisation, limit: int = ARCHIVE_LIMIT
) -> list[Contest]:
    """The organisation's competitions whose results are out, newest first (for the feed)."""
    return list(
        session.exec(
            select(Contest)
            .where(
                Contest.org_id == org.id,
                col(Contest.results_announced_at).is_not(None),
                col(Contest.vote_closes_at) <= utcnow(),
            )
            .order_by(col(Contest.results_announced_at).desc(), col(Contest.id).desc())
            .limit(limit)
        )
    )


def public_variant(
    session: Session, org: Organisation, feature_id: int, image_id: int, width: int, format: str
) -> dict[str, Any] | None:
    """The stored variant of a public feature's own photo, or None: the widget's photo route
    serves nothing else (not a draft's photo, not any other image of the organisation)."""
    feature = public.public_feature(session, org, feature_id)
    if feature is None or feature.image_id != image_id:
        return None
    image = feature.image
    if image is None or image.org_id != org.id:
        return None
    return next((v for v in image.variants if v["width"] == width and v["format"] == format), None)
