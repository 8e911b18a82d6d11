"""Publishing a week's feature exactly once, at its publish moment.

Exactly once. `Feature` is unique per (organisation, ISO week), `publish_feature` publishes
with a conditional UPDATE (`published_at IS NULL`) that only one transaction can win, and the
webhook outbox rows it writes in the same transaction are unique per (webhook, feature, event).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.errors import N_, Invalid, Problem
from app.kernel.audit import audit
from app.orgs.models import Organisation
from app.weekly import webhook_delivery
from app.weekly.consent import consent_state
from app.weekly.models import ConsentAnswer, Feature, FeatureConsent, FeatureStatus
from app.weekly.schedule import WeekSchedule, open_weeks, schedule, week_feature


class _ConsentChanged(Exception):
    """Someone answered while we were publishing: undo the savepoint."""


def publish_feature(session: Session, feature: Feature, now: datetime) -> bool:
    """Publish now; True only for the one call that did it (whoever else tries at once).

    The caller checks approval and the schedule; this checks consent. A conditional UPDATE
    decides who publishes; the "published" webhook deliveries go into the outbox in the same
    transaction, so they exist exactly when the publication does.
    """
    if feature.published_at is not None:
        return False
    state = consent_state(feature)
    if state != "ok":
        raise Invalid(
            {
                "consent": Problem(
                    "no_consent" if state == "no" else "consent_pending",
                    N_("Everyone named must agree before it is published."),
                )
            }
        )
    disagreeing = select(FeatureConsent.id).where(
        FeatureConsent.feature_id == feature.id, FeatureConsent.answer != ConsentAnswer.yes
    )
    try:
        with session.begin_nested():
            won = session.execute(
                update(Feature)
                .where(
                    col(Feature.id) == feature.id,
                    col(Feature.published_at).is_(None),
                    col(Feature.status).in_([FeatureStatus.draft, FeatureStatus.approved]),
                    ~disagreeing.exists(),
                )
                .values(status=FeatureStatus.published, published_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if won == 1 and session.exec(disagreeing).first() is not None:
                # A "no" committed while our UPDATE waited for the row (PostgreSQL): the row
                # is ours now, so this second look sees it. Undo instead of publishing.
                raise _ConsentChanged
    except _ConsentChanged:
        won = 0
    session.refresh(feature)
    if won != 1:
        return False
    webhook_delivery.enqueue(session, feature, "published", now=now)
    audit(session, feature.org, None, "feature.publish", f"feature {feature.id}")
    return True


PublishCode = Literal[
    "published",
    "already_published",
    "withdrawn",
    "no_feature",
    "not_due",
    "too_late",
    "not_approved",
    "consent_pending",
    "consent_refused",
]


@dataclass
class PublishResult:
    code: PublishCode
    feature: Feature | None
    schedule: WeekSchedule

    @property
    def needs_curator(self) -> bool:
        """Nothing goes out unless a curator acts (approve, pick another, ask again)."""
        return self.code in ("no_feature", "not_approved", "consent_pending", "consent_refused")


def publish_week(
    session: Session,
    org: Organisation,
    *,
    year: int,
    week: int,
    now: datetime,
    early: bool = False,
) -> PublishResult:
    """Publish the week's feature if its time has come (or `early`), it is approved (or a draft
    with auto-publish) and everyone named agreed; the code says what happened or what is missing.
    """
    sched = schedule(org, year, week)
    feature = week_feature(session, org, year, week)

    def result(code: PublishCode) -> PublishResult:
        return PublishResult(code, feature, sched)

    if feature is not None and feature.status == FeatureStatus.published:
        return result("already_published")
    if feature is not None and feature.status == FeatureStatus.withdrawn:
        return result("withdrawn")
    if now >= sched.closes_at:
        return result("too_late")
    if now < sched.publish_at and not early:
        return result("not_due")
    if feature is None:
        return result("no_feature")
    if feature.status == FeatureStatus.draft and not org.auto_publish:
        return result("not_approved")
    state = consent_state(feature)
    if state != "ok":
        return result("consent_refused" if state == "no" else "consent_pending")
    return result("published" if publish_feature(session, feature, now) else "already_published")


def publish_due(session: Session, org: Organisation, now: datetime) -> Feature | None:
    """Publish whatever is due at `now`; the feature this call published, else None."""
    for sched in open_weeks(org, now):
        if sched.publish_at <= now:
            outcome = publish_week(session, org, year=sched.year, week=sched.week, now=now)
            if outcome.code == "published":
                return outcome.feature
    return None
