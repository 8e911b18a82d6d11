"""The curators' editor: draft the week's feature (by hand or by the weekly pick), edit its
text and photo, approve it, withdraw it. Plain functions over a session; they never commit."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from babel.lists import format_list
from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.contests import results as contests
from app.contests.models import ContestEntry
from app.errors import N_, Invalid, NotFound, PermissionDenied, Problem
from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.kernel.forms import clean_paragraphs
from app.kernel.locale import babel_name
from app.media.models import MediaImage
from app.orgs.models import Organisation, Person
from app.recognition.models import Recognition, Visibility
from app.stories.models import Story
from app.weekly.consent import PUBLISHED, consent_rows, consent_state
from app.weekly.models import Feature, FeatureStatus, Subject
from app.weekly.public import people_of
from app.weekly.ranking import (
    candidates,
    check_entry_featurable,
    check_story_featurable,
    entry_facts,
    entry_unavailable,
    featured_elsewhere,
    recognition_facts,
    refused,
    story_facts,
    story_unavailable,
)
from app.weekly.schedule import week_feature, week_label
from app.weekly.scoring import Candidate, score_candidates
from app.weekly.withdrawal import take_down

HEADLINE_MIN, HEADLINE_MAX = 3, 120
BODY_MIN, BODY_MAX = 10, 1200


def _headline_for(org: Organisation, subject: Subject) -> str:
    if isinstance(subject, ContestEntry | Story):
        headline = subject.contest.title if isinstance(subject, ContestEntry) else subject.title
        return headline if len(headline) <= HEADLINE_MAX else headline[: HEADLINE_MAX - 1] + "…"
    names = [p.name for p in people_of(subject)]
    locale = babel_name(org.locale or "nb")
    try:
        headline = format_list(names, locale=locale)
    except (ValueError, LookupError):
        headline = ", ".join(names)
    return headline if len(headline) <= HEADLINE_MAX else headline[: HEADLINE_MAX - 1] + "…"


def _check_featurable(org: Organisation, rec: Recognition) -> None:
    if rec.org_id != org.id:
        raise NotFound()
    if not rec.listed or rec.hidden_by_curator or rec.visibility != Visibility.org:
        raise Invalid(
            {
                "recognition": Problem(
                    "not_listed",
                    N_("Only recognitions everyone in the organisation can see can be featured."),
                )
            }
        )
    if not rec.feature_consent:
        raise Invalid(
            {
                "recognition": Problem(
                    "no_giver_consent", N_("The giver did not agree that it may be featured.")
                )
            }
        )
    if any(
        r.feature_opt_out or r.person.feature_opt_out or not r.person.active for r in rec.recipients
    ):
        raise Invalid(
            {
                "recognition": Problem(
                    "opted_out", N_("Someone named in it does not want to be featured.")
                )
            }
        )


def _draft(
    session: Session,
    org: Organisation,
    subject: Subject,
    *,
    year: int,
    week: int,
    actor: Person | None,
    now: datetime,
    reasons: list[dict[str, Any]] | None,
    replace: bool,
) -> tuple[Feature, bool]:
    """Create the week's draft from `subject`, or (when `replace`) point the existing one at it.

    Returns (feature, changed). Without `replace` an existing feature is returned untouched.
    """
    if isinstance(subject, ContestEntry):
        check_entry_featurable(session, org, subject, now)
        unavailable = entry_unavailable(session, subject, year, week)
    elif isinstance(subject, Story):
        check_story_featurable(session, org, subject)
        unavailable = story_unavailable(session, subject, year, week)
    else:
        _check_featurable(org, subject)
        unavailable = (
            session.exec(
                select(Recognition.id).where(
                    Recognition.id == subject.id, or_(refused(), featured_elsewhere(year, week))
                )
            ).first()
            is not None
        )
    if unavailable:
        raise Invalid(
            {
                "recognition": Problem(
                    "no_consent",
                    N_("It cannot be featured: someone named said no, or it was featured before."),
                )
            }
        )
    if reasons is None:
        if isinstance(subject, ContestEntry):
            facts = [entry_facts(subject.contest, _placing(session, subject, now))]
        elif isinstance(subject, Story):
            facts = [story_facts(subject)]
        else:
            facts = recognition_facts(session, [subject], [subject.id])
        scored = score_candidates(session, org, facts, year=year, week=week, now=now)
        reasons = scored[0].reasons if scored else []
    feature = week_feature(session, org, year, week)
    if feature is None:
        feature = Feature(org=org, iso_year=year, iso_week=week, created_at=now)
        _fill(session, feature, org, subject, reasons, now)
        try:
            with session.begin_nested():
                session.add(feature)
                session.flush()
        except IntegrityError:
            # Another process drafted this week at the same moment: that one is the feature.
            winner = week_feature(session, org, year, week)
            if winner is None:
                raise
            feature = winner
        else:
            _audit_draft(session, feature, actor)
            return feature, True
    if not replace:
        return feature, False
    if feature.published_at is not None:
        raise Invalid({"feature": PUBLISHED})
    _fill(session, feature, org, subject, reasons, now)
    session.add(feature)
    session.flush()
    _audit_draft(session, feature, actor)
    return feature, True


def _placing(session: Session, entry: ContestEntry, now: datetime) -> "contests.Placing":
    found = [p for p in contests.winners(session, entry.contest, now) if p.entry.id == entry.id]
    return found[0]  # check_entry_featurable made sure it placed first


def _fill(
    session: Session,
    feature: Feature,
    org: Organisation,
    subject: Subject,
    reasons: list[dict[str, Any]],
    now: datetime,
) -> None:
    if isinstance(subject, ContestEntry):
        same = feature.entry_id == subject.id
    elif isinstance(subject, Story):
        same = feature.story_id == subject.id
    else:
        same = feature.recognition_id == subject.id
    if not same:
        if feature.consents:
            feature.consents = []
            session.flush()  # the old answers go before new rows reuse (feature, person)
        feature.consents = consent_rows(subject, now)
    if isinstance(subject, ContestEntry):
        feature.entry, feature.recognition, feature.story = subject, None, None
        feature.body = subject.caption[:BODY_MAX]
        feature.image = subject.image
    elif isinstance(subject, Story):
        feature.story, feature.recognition, feature.entry = subject, None, None
        body = subject.text
        feature.body = body if len(body) <= BODY_MAX else body[: BODY_MAX - 1] + "…"
        feature.image = subject.image
    else:
        feature.recognition, feature.entry, feature.story = subject, None, None
        feature.body = subject.text[:BODY_MAX]
        feature.image = subject.photo
    feature.status = FeatureStatus.draft
    feature.headline = _headline_for(org, subject)
    feature.reasons = reasons
    feature.approved_by_id = None
    feature.approved_at = None
    feature.updated_at = now


def _audit_draft(session: Session, feature: Feature, actor: Person | None) -> None:
    audit(
        session,
        feature.org,
        actor,
        "feature.draft",
        f"week {week_label(feature.iso_year, feature.iso_week)}",
        feature=feature.id,
        recognition=feature.recognition_id,
        entry=feature.entry_id,
        story=feature.story_id,
    )


def draft_feature(
    session: Session,
    org: Organisation,
    subject: Subject,
    *,
    year: int,
    week: int,
    actor: Person | None = None,
    now: datetime | None = None,
) -> Feature:
    """Draft the week's feature from a recognition or a winning competition photo (replacing
    an unpublished one).

    Each person named gets a consent question: a standing yes answers it at once; the others
    are e-mailed by the job (`send_consent_requests`) after the caller commits.
    """
    if actor is not None and (actor.org_id != org.id or not actor.is_curator):
        raise PermissionDenied()
    feature, _changed = _draft(
        session,
        org,
        subject,
        year=year,
        week=week,
        actor=actor,
        now=now or utcnow(),
        reasons=None,
        replace=True,
    )
    return feature


@dataclass
class PickResult:
    feature: Feature | None
    created: bool
    candidate: Candidate | None = None


def pick_week(
    session: Session, org: Organisation, *, year: int, week: int, now: datetime
) -> PickResult:
    """Draft the week from its top candidate unless the week already has a feature."""
    existing = week_feature(session, org, year, week)
    if existing is not None:
        return PickResult(existing, created=False)
    top = candidates(session, org, year=year, week=week, now=now, limit=1)
    if not top:
        return PickResult(None, created=False)
    feature, created = _draft(
        session,
        org,
        top[0].subject,
        year=year,
        week=week,
        actor=None,
        now=now,
        reasons=top[0].reasons,
        replace=False,
    )
    return PickResult(feature, created=created, candidate=top[0])


def _check_curator(feature: Feature, actor: Person) -> None:
    if actor.org_id != feature.org_id or not actor.is_curator:
        raise PermissionDenied()


def _clean_texts(headline: str, body: str) -> tuple[str, str]:
    errors: dict[str, Problem] = {}
    headline = " ".join(clean_paragraphs(headline).split())
    body = clean_paragraphs(body)
    if len(headline) < HEADLINE_MIN:
        errors["headline"] = Problem("too_short", N_("Write a headline of at least 3 characters."))
    elif len(headline) > HEADLINE_MAX:
        errors["headline"] = Problem("too_long", N_("Write a headline of at most 120 characters."))
    if len(body) < BODY_MIN:
        errors["body"] = Problem("too_short", N_("Write at least 10 characters."))
    elif len(body) > BODY_MAX:
        errors["body"] = Problem("too_long", N_("Write at most 1200 characters."))
    if errors:
        raise Invalid(errors)
    return headline, body


def _check_editable(feature: Feature) -> None:
    if feature.published_at is not None or feature.status not in (
        FeatureStatus.draft,
        FeatureStatus.approved,
    ):
        raise Invalid({"feature": PUBLISHED})


def update_draft(
    session: Session, feature: Feature, *, headline: str, body: str, actor: Person
) -> Feature:
    """Edit the headline and text before publication (an approved one stays approved)."""
    _check_curator(feature, actor)
    _check_editable(feature)
    feature.headline, feature.body = _clean_texts(headline, body)
    feature.updated_at = utcnow()
    session.add(feature)
    audit(session, feature.org, actor, "feature.edit", f"feature {feature.id}")
    return feature


def subject_photo(feature: Feature) -> MediaImage | None:
    """The photo that came with what is featured (the recognition's, or the winning entry's)."""
    if feature.story is not None:
        image = feature.story.image
        return image if image is not None and image.variants else None
    subject = feature.entry or feature.recognition
    if isinstance(subject, ContestEntry):
        return subject.image if contests.has_photo(subject) else None
    if subject is not None and subject.photo is not None and subject.photo.variants:
        return subject.photo
    return None


def set_photo(
    session: Session, feature: Feature, image: MediaImage | None, *, actor: Person
) -> Feature:
    """Show `image` with the feature, or no photo (None). The photo must be the one that came
    with the recognition or entry, or one the curator uploaded themselves."""
    _check_curator(feature, actor)
    _check_editable(feature)
    if image is not None:
        own = image.owner_id == actor.id and image.org_id == feature.org_id
        if not own and (subject_photo(feature) is None or subject_photo(feature) != image):
            raise NotFound()
        if not image.variants:
            raise Invalid({"photo": Problem("gone", N_("That photo has been deleted."))})
    if feature.image_id == (image.id if image is not None else None):
        return feature
    feature.image = image
    feature.updated_at = utcnow()
    session.add(feature)
    audit(
        session,
        feature.org,
        actor,
        "feature.photo",
        f"feature {feature.id}",
        image=image.id if image is not None else None,
    )
    return feature


def approve(
    session: Session, feature: Feature, actor: Person, now: datetime | None = None
) -> Feature:
    """Approve for publication at the publish moment; it still waits for every yes."""
    now = now or utcnow()
    _check_curator(feature, actor)
    _check_editable(feature)
    if consent_state(feature) == "no":
        raise Invalid(
            {
                "consent": Problem(
                    "no_consent", N_("Someone named in it said no. Choose another candidate.")
                )
            }
        )
    _clean_texts(feature.headline, feature.body)
    if feature.status == FeatureStatus.approved:
        return feature
    feature.status = FeatureStatus.approved
    feature.approved_by_id = actor.id
    feature.approved_at = now
    feature.updated_at = now
    session.add(feature)
    audit(session, feature.org, actor, "feature.approve", f"feature {feature.id}")
    return feature


def withdraw(
    session: Session, feature: Feature, actor: Person, now: datetime | None = None
) -> Feature:
    """Take a published feature down (widget, archive, feed) and tell the webhooks."""
    _check_curator(feature, actor)
    if feature.status == FeatureStatus.withdrawn:
        return feature
    if feature.status != FeatureStatus.published:
        raise Invalid(
            {"feature": Problem("not_published", N_("Only a published feature can be withdrawn."))}
        )
    take_down(session, feature, actor, now or utcnow(), reason="curator")
    return feature
