"""How a feature is shown: the widget's fragment (the widget, its feed and the curators'
preview render it) and a moment written for a reader."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session

from app.errors import N_
from app.media import service as media
from app.orgs.models import Organisation
from app.weekly import public, schedule
from app.weekly.models import Feature

# The photo's alt text when its uploader wrote none.
PHOTO_ALT = N_("Photo: %(headline)s")


def when(org: Organisation, moment: datetime, code: str, _: Callable[[str], str]) -> str:
    """ "mandag 23. november kl. 07:00": the reader's language, the organisation's clock."""
    day, time = schedule.moment_text(org, moment, code)
    return _("%(day)s at %(time)s") % {"day": day, "time": time}


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
    return media.picture(image, alt, None if member_urls else public.public_photo_url(org, feature))


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
        "values": [v for v in public.feature_values(feature) if v.org_id == org.id],
        "people": public.public_people(feature),
        "paragraphs": paragraphs(feature.body),
        "photo": photo(org, feature, member_urls=member_urls, gettext=gettext),
    }
