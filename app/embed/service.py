"""What the public widget may show: plain functions over a session, no HTTP.

The feature service decides which feature is current (published, not withdrawn, its people
still agree). The widget is public, so it applies a second, cheap check of its own on top:
a recognition that has since become private or hidden, and a person who has since opted out,
never reach an intranet page.
"""

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from app.feature import service as features
from app.feature.models import Feature, FeatureStatus
from app.orgs.models import Organisation, Person
from app.recognition.models import Visibility
from app.types import utcnow

ARCHIVE_LIMIT = 20  # entries in the Atom feed


def is_public(feature: Feature) -> bool:
    """Published, not withdrawn, and its recognition (if any) still public and consented."""
    if feature.status != FeatureStatus.published or feature.published_at is None:
        return False
    if feature.withdrawn_at is not None:
        return False
    rec = feature.recognition
    if rec is None:
        return True  # a curator's own story: nobody else's words or consent involved
    return (
        rec.visibility == Visibility.org
        and rec.listed
        and not rec.hidden_by_curator
        and rec.feature_consent
    )


def current(session: Session, org: Organisation) -> Feature | None:
    feature = features.current_feature(session, org)
    return feature if feature is not None and is_public(feature) else None


def archive(session: Session, org: Organisation, limit: int = ARCHIVE_LIMIT) -> list[Feature]:
    return [f for f in features.archive(session, org, limit=limit) if is_public(f)]


def ever_published(session: Session, org: Organisation) -> bool:
    """Whether the empty state speaks of the first feature or the next one."""
    found = session.exec(
        select(Feature.id)
        .where(Feature.org_id == org.id, col(Feature.published_at).is_not(None))
        .limit(1)
    ).first()
    return found is not None


def public_people(feature: Feature) -> list[Person]:
    """The recipients who said yes, minus anyone who has opted out or hidden it since."""
    rec = feature.recognition
    withdrawn = (
        {r.person_id for r in rec.recipients if r.feature_opt_out or r.hidden}
        if rec is not None
        else set()
    )
    return [
        p
        for p in features.named_people(feature)
        if not p.feature_opt_out and p.id not in withdrawn and p.org_id == feature.org_id
    ]


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


def widget_context(session: Session, org: Organisation, feature: Feature) -> dict[str, Any]:
    """What templates/embed/_feature.html needs; the curator preview renders it too."""
    return {
        "org": org,
        "feature": feature,
        "feature_name": org.display_feature_name,
        "values": [v for v in features.feature_values(feature) if v.org_id == org.id],
        "people": public_people(feature),
        "paragraphs": paragraphs(feature.body),
    }


def next_publish_at(org: Organisation, now: datetime | None = None) -> datetime:
    """The next publish moment after `now`, in the organisation's time zone."""
    tz = ZoneInfo(org.timezone)
    local_now = (now or utcnow()).astimezone(tz)
    try:
        hour, minute = (int(part) for part in org.publish_time.split(":", 1))
        at = time(hour, minute)
    except ValueError:
        at = time(7, 0)
    days_ahead = (org.publish_weekday - local_now.weekday()) % 7
    for extra in (0, 7):
        day = local_now.date() + timedelta(days=days_ahead + extra)
        # Wall-clock time in the zone: a DST change between now and then is handled by zoneinfo.
        candidate = datetime.combine(day, at, tzinfo=tz)
        if candidate > local_now:
            return candidate
    raise AssertionError("unreachable: a week ahead is always in the future")
