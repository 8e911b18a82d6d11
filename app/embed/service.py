"""What the public widget may show: plain functions over a session, no HTTP.

The feature service decides which feature is current (published, not withdrawn, its people
still agree). The widget is public, so it applies a second, cheap check of its own on top:
a recognition that has since become private or hidden, and a person who has since opted out,
never reach an intranet page.
"""

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from app.config import get_settings
from app.contests.models import Contest, EntryStatus
from app.errors import N_
from app.kernel.clock import utcnow
from app.media import service as media
from app.media.models import MediaImage
from app.orgs.models import Organisation, Person
from app.recognition.models import Visibility
from app.weekly import service as features
from app.weekly.models import Feature, FeatureStatus

ARCHIVE_LIMIT = 20  # entries in the Atom feed
# The photo's alt text when its uploader wrote none.
PHOTO_ALT = N_("Photo: %(headline)s")


def is_public(feature: Feature) -> bool:
    """Published, not withdrawn, and what it features still public: a recognition that is
    still shared with the whole organisation and consented, or an approved competition entry
    of the organisation's own contest. A feature of neither is not public."""
    if feature.status != FeatureStatus.published or feature.published_at is None:
        return False
    if feature.withdrawn_at is not None:
        return False
    rec, entry = feature.recognition, feature.entry
    if rec is None and entry is None:
        return False
    if rec is not None and not (
        rec.org_id == feature.org_id
        and rec.visibility == Visibility.org
        and rec.listed
        and not rec.hidden_by_curator
        and rec.feature_consent
    ):
        return False
    return entry is None or (
        entry.status == EntryStatus.approved
        and entry.people_consent
        and entry.contest.org_id == feature.org_id
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


def public_feature(session: Session, org: Organisation, feature_id: int) -> Feature | None:
    """One of the organisation's features, if it is public now (archived ones included)."""
    feature = session.get(Feature, feature_id)
    if feature is None or feature.org_id != org.id:
        return None
    if not (features.is_public(session, feature) and is_public(feature)):
        return None
    return feature


def public_variant(
    session: Session, org: Organisation, feature_id: int, image_id: int, width: int, format: str
) -> dict[str, Any] | None:
    """The stored variant of a public feature's own photo, or None: the widget's photo route
    serves nothing else (not a draft's photo, not any other image of the organisation)."""
    feature = public_feature(session, org, feature_id)
    if feature is None or feature.image_id != image_id:
        return None
    image = feature.image
    if image is None or image.org_id != org.id:
        return None
    return next((v for v in image.variants if v["width"] == width and v["format"] == format), None)


def public_photo_url(org: Organisation, feature: Feature) -> Callable[[MediaImage, int, str], str]:
    """Absolute URLs of the widget's photo route: Atom readers and intranet pages need them."""
    base = get_settings().base_url

    def url_for(image: MediaImage, width: int, format: str) -> str:
        return f"{base}/embed/{org.slug}/photo/{feature.id}/{image.id}/{width}.{format}"

    return url_for


def photo(
    org: Organisation,
    feature: Feature,
    *,
    member_urls: bool = False,
    gettext: Callable[[str], str] | None = None,
) -> media.Picture | None:
    """The feature's photo for <picture>: public URLs, or the member-only ones for a preview."""
    image = feature.image
    if image is None or image.org_id != org.id:
        return None
    alt = (gettext or str)(PHOTO_ALT) % {"headline": feature.headline}
    return media.picture(image, alt, None if member_urls else public_photo_url(org, feature))


def public_people(feature: Feature) -> list[Person]:
    """The people named who said yes (a recognition's recipients, a winning entry's author),
    minus anyone who has opted out or hidden it since."""
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


def widget_context(
    session: Session,
    org: Organisation,
    feature: Feature,
    *,
    member_urls: bool = False,
    gettext: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """What templates/embed/_feature.html needs; the curator preview renders it too.

    The photo's URLs are the widget's public ones (absolute), which answer only while the
    feature is public; the curator preview shows drafts, so it asks for `member_urls`.
    `gettext` translates the photo's default alt text (English without it).
    """
    return {
        "org": org,
        "feature": feature,
        "feature_name": org.display_feature_name,
        "values": [v for v in features.feature_values(feature) if v.org_id == org.id],
        "people": public_people(feature),
        "paragraphs": paragraphs(feature.body),
        "photo": photo(org, feature, member_urls=member_urls, gettext=gettext),
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
