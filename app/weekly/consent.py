"""Consent of the people a feature names: the questions, their one-click tokens, the answers.

Consent tokens. Only the SHA-256 of a one-click token is stored, and the token is made when
its e-mail is sent (app/weekly/jobs.py), so the raw token only ever exists in that e-mail.
Until then `token_hash` holds a random placeholder that no link can match: `queued:...` (the
e-mail is due at `asked_at`) or `none:...` (no link: a standing yes, or already answered).

Plain functions over a session; they never commit.
"""

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import Literal

from sqlmodel import Session, col, select

from app import i18n
from app.errors import N_, Invalid, NotFound, PermissionDenied, Problem
from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.orgs.models import Person
from app.weekly.models import ConsentAnswer, Feature, FeatureConsent, FeatureStatus, Subject
from app.weekly.public import people_of
from app.weekly.withdrawal import take_down

QUEUED = "queued:"  # token_hash placeholder: the consent e-mail is due at asked_at
NO_LINK = "none:"  # token_hash placeholder: no one-click link (standing yes, or answered)
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
# Consent e-mails are not sent for features older than this (their week is long over).
ASK_HORIZON = timedelta(days=14)

NOT_FOUND_TOKEN = Problem(
    "invalid", N_("This link is not valid. Open Tre om dagen to answer there.")
)
PUBLISHED = Problem("published", N_("This week's feature is already published."))

ConsentState = Literal["ok", "pending", "no"]


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def placeholder(kind: str) -> str:
    """A unique token_hash that no link matches (not 64 hex digits)."""
    return kind + secrets.token_hex(24)


def consent_state(feature: Feature) -> ConsentState:
    """ "no" if anyone named said no, "pending" while anyone has not answered, else "ok"."""
    answers = {c.answer for c in feature.consents}
    if ConsentAnswer.no in answers:
        return "no"
    if ConsentAnswer.pending in answers or not feature.consents:
        return "pending"
    return "ok"


def consent_rows(subject: Subject, now: datetime) -> list[FeatureConsent]:
    rows = []
    for person in people_of(subject):
        if person.feature_always_agree:
            rows.append(
                FeatureConsent(
                    person=person,
                    answer=ConsentAnswer.yes,
                    token_hash=placeholder(NO_LINK),
                    asked_at=now,
                    answered_at=now,
                )
            )
        else:
            rows.append(
                FeatureConsent(
                    person=person,
                    answer=ConsentAnswer.pending,
                    token_hash=placeholder(QUEUED),
                    asked_at=now,
                )
            )
    return rows


def consent_for_token(session: Session, raw_token: str) -> FeatureConsent | None:
    """The unanswered question behind a one-click link, or None (unknown, used, malformed)."""
    if not TOKEN_RE.match(raw_token or ""):
        return None
    return session.exec(
        select(FeatureConsent).where(
            FeatureConsent.token_hash == token_digest(raw_token),
            FeatureConsent.answer == ConsentAnswer.pending,
        )
    ).first()


def question_text(consent: FeatureConsent) -> str:
    """The question as the person was shown it, in their language: kept with their answer."""
    feature, person = consent.feature, consent.person
    _ = i18n.catalog(i18n.normalise(person.locale or feature.org.locale) or "nb").gettext
    name = feature.org.display_feature_name
    title = (
        _("Your winning photo may become %(name)s")
        if feature.entry_id
        else _("A colleague's recognition of you may become %(name)s")
    ) % {"name": name}
    parts = [title, _("OK to show your name on the intranet?")]
    if feature.headline:
        parts.append(f"“{feature.headline}”")
    return " ".join(parts)[:1000]


def _lock(session: Session, feature: Feature) -> None:
    """Serialise with a concurrent publish of the same feature (PostgreSQL; SQLite is serial)."""
    session.exec(
        select(Feature.id).where(Feature.id == feature.id).with_for_update(key_share=True)
    ).first()
    session.refresh(feature)


def _answer(
    session: Session, consent: FeatureConsent, yes: bool, actor: Person, now: datetime
) -> FeatureConsent:
    feature = consent.feature
    _lock(session, feature)
    consent.answer = ConsentAnswer.yes if yes else ConsentAnswer.no
    consent.answered_at = now
    consent.answered_text = question_text(consent)
    consent.token_hash = placeholder(NO_LINK)  # the e-mail's link is used up
    session.add(consent)
    session.flush()
    audit(
        session,
        feature.org,
        actor,
        "feature.consent",
        f"feature {feature.id}",
        answer=consent.answer.value,
    )
    if not yes and feature.status == FeatureStatus.published:
        # Taking it back after publication takes the feature down everywhere, webhooks too.
        take_down(session, feature, actor, now, reason="consent")
    return consent


def answer_consent(
    session: Session, *, person: Person, feature: Feature, yes: bool, now: datetime | None = None
) -> FeatureConsent:
    """The person's answer in the app; they may change their mind, also after publication."""
    consent = next((c for c in feature.consents if c.person_id == person.id), None)
    if consent is None:
        raise NotFound()
    return _answer(session, consent, yes, person, now or utcnow())


def answer_consent_by_token(
    session: Session, raw_token: str, yes: bool, now: datetime | None = None
) -> FeatureConsent:
    """The one-click answer from the e-mail; a link works once."""
    consent = consent_for_token(session, raw_token)
    if consent is None:
        raise Invalid({"token": NOT_FOUND_TOKEN})
    return _answer(session, consent, yes, consent.person, now or utcnow())


def ask_again(
    session: Session,
    consent: FeatureConsent,
    actor: Person | None = None,
    now: datetime | None = None,
) -> None:
    """Queue a fresh consent e-mail (the old link stops working)."""
    if actor is not None and not actor.is_curator:
        raise PermissionDenied()
    if consent.answer != ConsentAnswer.pending:
        raise Invalid({"consent": Problem("answered", N_("They have already answered."))})
    if consent.feature.status not in (FeatureStatus.draft, FeatureStatus.approved):
        raise Invalid({"consent": PUBLISHED})
    consent.token_hash = placeholder(QUEUED)
    consent.asked_at = now or utcnow()
    session.add(consent)
    audit(
        session,
        consent.feature.org,
        actor,
        "feature.ask_again",
        f"feature {consent.feature_id}",
        person=consent.person_id,
    )


def pending_people(feature: Feature) -> list[Person]:
    return [c.person for c in feature.consents if c.answer == ConsentAnswer.pending]


def pending_consents(session: Session, person: Person) -> list[FeatureConsent]:
    """Questions the person has not answered, for features that may still be published.

    An old draft nobody published stops asking after the same time as its e-mails do.
    """
    return list(
        session.exec(
            select(FeatureConsent)
            .join(Feature, col(Feature.id) == FeatureConsent.feature_id)
            .where(
                FeatureConsent.person_id == person.id,
                FeatureConsent.answer == ConsentAnswer.pending,
                col(Feature.status).in_([FeatureStatus.draft, FeatureStatus.approved]),
                col(Feature.created_at) >= utcnow() - ASK_HORIZON,
            )
            .order_by(col(FeatureConsent.asked_at).desc())
        )
    )
