"""How a feature is shown: the widget's fragment (the widget, its feed and the curators'
preview render it) and a moment written for a reader."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session

from app import i18n
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


def reason_texts(locale: str, reasons: list[dict[str, Any]]) -> list[str]:
    """The ranking's reasons in plain language ("7 reactions from 5 colleagues")."""
    cat = i18n.catalog(locale)
    _, n_ = cat.gettext, cat.ngettext
    by_code = {r.get("code"): r for r in reasons}
    out: list[str] = []
    for reason in reasons:
        code = reason.get("code")
        if code == "reactions":
            count = int(reason.get("count", 0))
            if "colleagues" in by_code:
                people = int(by_code["colleagues"].get("count", 0))
                text = n_(
                    "%(num)d reaction from %(people)s", "%(num)d reactions from %(people)s", count
                ) % {
                    "num": count,
                    "people": n_("%(num)d colleague", "%(num)d colleagues", people)
                    % {"num": people},
                }
            else:
                text = n_("%(num)d reaction", "%(num)d reactions", count) % {"num": count}
            out.append(text)
        elif code == "colleagues":
            if "reactions" not in by_code:
                count = int(reason.get("count", 0))
                out.append(
                    n_(
                        "Reactions from %(num)d colleague",
                        "Reactions from %(num)d colleagues",
                        count,
                    )
                    % {"num": count}
                )
        elif code == "substance":
            out.append(
                _("A story with substance (%(num)d characters)") % {"num": int(reason["chars"])}
            )
        elif code in ("value_rest", "department_rest"):
            name = str(reason.get("value") or reason.get("department") or "")
            weeks = reason.get("weeks")
            if weeks is None:
                out.append(_("%(name)s has never been featured") % {"name": name})
            else:
                out.append(
                    n_(
                        "%(name)s not featured for %(num)d week",
                        "%(name)s not featured for %(num)d weeks",
                        int(weeks),
                    )
                    % {"name": name, "num": int(weeks)}
                )
        elif code in ("recipient_rest", "photographer_rest"):
            weeks = reason.get("weeks")
            photographer = code == "photographer_rest"
            if weeks is None:
                out.append(
                    _("The photographer has never been featured")
                    if photographer
                    else _("The person seen has never been featured")
                )
            else:
                text = (
                    n_(
                        "The photographer was last featured %(num)d week ago",
                        "The photographer was last featured %(num)d weeks ago",
                        int(weeks),
                    )
                    if photographer
                    else n_(
                        "The person seen was last featured %(num)d week ago",
                        "The person seen was last featured %(num)d weeks ago",
                        int(weeks),
                    )
                )
                out.append(text % {"num": int(weeks)})
        elif code == "recent":
            days = int(reason.get("days", 0))
            out.append(
                _("Given today")
                if days == 0
                else n_("Given %(num)d day ago", "Given %(num)d days ago", days) % {"num": days}
            )
        elif code == "recent_results":
            days = int(reason.get("days", 0))
            out.append(
                _("Results announced today")
                if days == 0
                else n_(
                    "Results announced %(num)d day ago",
                    "Results announced %(num)d days ago",
                    days,
                )
                % {"num": days}
            )
        elif code == "contest_winner":
            out.append(
                _("Won the photo competition %(contest)s") % {"contest": reason.get("contest", "")}
            )
        elif code == "votes":
            count = int(reason.get("count", 0))
            out.append(n_("%(num)d vote", "%(num)d votes", count) % {"num": count})
        elif code == "jury":
            out.append(_("Chosen by the jury."))
        elif code == "leader_story":
            out.append(
                _("A leader's story from the relay, by %(author)s")
                % {"author": reason.get("author", "")}
            )
        elif code == "recent_story":
            days = int(reason.get("days", 0))
            out.append(
                _("Written today")
                if days == 0
                else n_("Written %(num)d day ago", "Written %(num)d days ago", days) % {"num": days}
            )
    return out
