"""Is a weekly feature public: the one SQL condition every surface reads with, and those reads.

Every surface that shows a feature to anyone but the curators asks the database with
`public_condition()`, in the query itself (never a filter after its LIMIT): the widget (HTML
and JSON), its photo route, the Atom feed, oEmbed, the members' archive and its pages, the
home page's card, the photo's visibility to members (app/media/access.py) and the webhook
test. A feature is public only while none of these holds:

- it is not published: a draft, approved but not out yet, or withdrawn (`status`,
  `published_at`, `withdrawn_at`);
- its publication moment is still in the future;
- someone named has not said yes, or took their yes back;
- someone named opted out: of this recognition, or of being featured at all;
- it features neither a recognition nor a competition entry (both deleted);
- its recognition is of another organisation, no longer shared with the whole organisation
  (private, unlisted, hidden by a recipient), hidden by a curator, or its giver did not agree
  to featuring;
- its competition entry is not approved, the people in the photo did not agree, or its
  competition belongs to another organisation;
- its story (stafettpinnen) is not public in the app (a colleague it names has not said yes,
  or took it back), its author did not agree to featuring or opted out, someone it names
  opted out of being featured, or it belongs to another organisation.

Who is *shown* with a public feature is a second, per-person rule (`public_people`).
"""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, or_
from sqlmodel import Session, col, select

from app.config import get_settings
from app.contests.models import Contest, ContestEntry, EntryStatus
from app.kernel.clock import utcnow
from app.media.models import MediaImage
from app.orgs.models import Organisation, Person, Value
from app.recognition.models import Recognition, RecognitionRecipient, Visibility
from app.stories.models import Story, StoryConsent
from app.stories.scope import story_public
from app.weekly.models import ConsentAnswer, Feature, FeatureConsent, FeatureStatus, Subject


def public_condition(now: datetime | None = None) -> ColumnElement[bool]:
    """The feature row is public at `now` (default: the app's clock); see the module docstring."""
    not_agreed = exists(
        select(FeatureConsent.id).where(
            col(FeatureConsent.feature_id) == Feature.id,
            FeatureConsent.answer != ConsentAnswer.yes,
        )
    )
    opted_out = exists(
        select(RecognitionRecipient.person_id)
        .join(Person, col(Person.id) == RecognitionRecipient.person_id)
        .where(
            col(RecognitionRecipient.recognition_id) == Feature.recognition_id,
            or_(
                col(RecognitionRecipient.feature_opt_out).is_(True),
                col(Person.feature_opt_out).is_(True),
            ),
        )
    )
    recognition_shown = exists(
        select(Recognition.id).where(
            col(Recognition.id) == Feature.recognition_id,
            col(Recognition.org_id) == Feature.org_id,
            Recognition.visibility == Visibility.org,
            col(Recognition.listed).is_(True),
            col(Recognition.hidden_by_curator).is_(False),
            col(Recognition.feature_consent).is_(True),
        )
    )
    entry_shown = exists(
        select(ContestEntry.id)
        .join(Person, col(Person.id) == ContestEntry.author_id)
        .join(Contest, col(Contest.id) == ContestEntry.contest_id)
        .where(
            col(ContestEntry.id) == Feature.entry_id,
            ContestEntry.status == EntryStatus.approved,
            col(ContestEntry.people_consent).is_(True),
            col(Contest.org_id) == Feature.org_id,
            col(Person.feature_opt_out).is_(False),
        )
    )
    story_shown = exists(
        select(Story.id)
        .join(Person, col(Person.id) == Story.author_id)
        .where(
            col(Story.id) == Feature.story_id,
            col(Story.org_id) == Feature.org_id,
            col(Story.feature_consent).is_(True),
            col(Person.feature_opt_out).is_(False),
            story_public(),
            ~exists(
                select(StoryConsent.person_id)
                .join(Person, col(Person.id) == StoryConsent.person_id)
                .where(
                    col(StoryConsent.story_id) == Story.id, col(Person.feature_opt_out).is_(True)
                )
            ),
        )
    )
    return and_(
        col(Feature.status) == FeatureStatus.published,
        col(Feature.published_at).is_not(None),
        col(Feature.published_at) <= (now or utcnow()),
        col(Feature.withdrawn_at).is_(None),
        ~not_agreed,
        ~opted_out,
        or_(
            and_(col(Feature.recognition_id).is_not(None), recognition_shown),
            and_(col(Feature.entry_id).is_not(None), entry_shown),
            and_(col(Feature.story_id).is_not(None), story_shown),
        ),
    )


def is_public(session: Session, feature: Feature, now: datetime | None = None) -> bool:
    """Whether `feature` is public at `now` (one query; a feature not stored yet is not)."""
    found = session.exec(
        select(Feature.id).where(Feature.id == feature.id, public_condition(now))
    ).first()
    return found is not None


def archive(
    session: Session, org: Organisation, limit: int = 50, before: datetime | None = None
) -> list[Feature]:
    """Public features, newest first; `before` pages on from a publication time."""
    stmt = select(Feature).where(Feature.org_id == org.id, public_condition())
    if before is not None:
        stmt = stmt.where(col(Feature.published_at) < before)
    stmt = stmt.order_by(col(Feature.published_at).desc(), col(Feature.id).desc()).limit(limit)
    return list(session.exec(stmt))


def current_feature(session: Session, org: Organisation) -> Feature | None:
    found = archive(session, org, limit=1)
    return found[0] if found else None


def public_feature(session: Session, org: Organisation, feature_id: int) -> Feature | None:
    """One of the organisation's features, if it is public now (archived ones included)."""
    return session.exec(
        select(Feature).where(
            Feature.id == feature_id, Feature.org_id == org.id, public_condition()
        )
    ).first()


def feature_image_visible(session: Session, viewer: Person, image_id: int) -> bool:
    """A feature's photo (perhaps uploaded by another curator) is seen by the curators while
    they work on it, and by every member once the feature is public."""
    stmt = select(Feature.id).where(Feature.image_id == image_id, Feature.org_id == viewer.org_id)
    if not viewer.is_curator:
        stmt = stmt.where(public_condition())
    return session.exec(stmt.limit(1)).first() is not None


def people_of(subject: Subject) -> list[Person]:
    """Who a feature of `subject` names: the recipients, the photographer, or the colleagues
    a story is about (its author when it names nobody)."""
    if isinstance(subject, ContestEntry):
        return [subject.author]
    if isinstance(subject, Story):
        return subject.people or [subject.author]
    return [r.person for r in subject.recipients]


def named_people(feature: Feature) -> list[Person]:
    """The people named who agreed, in the recognition's order (or the photographer)."""
    agreed = {c.person_id: c.person for c in feature.consents if c.answer == ConsentAnswer.yes}
    subject = feature.entry or feature.recognition or feature.story
    order = [p.id for p in people_of(subject)] if subject is not None else []
    ordered = [agreed[pid] for pid in order if pid in agreed]
    return ordered + [p for pid, p in agreed.items() if pid not in order]


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
        for p in named_people(feature)
        if not p.feature_opt_out and p.id not in withdrawn and p.org_id == feature.org_id
    ]


def feature_values(feature: Feature) -> list[Value]:
    if feature.entry is not None:
        value = feature.entry.contest.value
        return [value] if value is not None else []
    if feature.story is not None:
        return feature.story.values
    rec = feature.recognition
    if rec is None:
        return []
    return sorted((link.value for link in rec.value_links), key=lambda v: v.position)


def public_photo_url(org: Organisation, feature: Feature) -> Callable[[MediaImage, int, str], str]:
    """Absolute URLs of the widget's photo route: Atom readers, intranet pages and webhook
    receivers need them."""
    base = get_settings().base_url

    def url_for(image: MediaImage, width: int, format: str) -> str:
        return f"{base}/embed/{org.slug}/photo/{feature.id}/{image.id}/{width}.{format}"

    return url_for
