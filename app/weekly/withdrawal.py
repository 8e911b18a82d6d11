"""Taking a published feature down everywhere (widget, archive, feed) and telling the webhooks."""

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from app.kernel.audit import audit
from app.orgs.models import Person
from app.weekly import webhook_delivery
from app.weekly.models import Feature, FeatureStatus


def take_down(
    session: Session, feature: Feature, actor: Person | None, now: datetime, *, reason: str
) -> bool:
    """Withdraw a published feature; True only for the call that did it (a conditional UPDATE).

    The "withdrawn" webhook deliveries and the audit event go into the same transaction.
    """
    done = session.execute(
        update(Feature)
        .where(col(Feature.id) == feature.id, col(Feature.status) == FeatureStatus.published)
        .values(status=FeatureStatus.withdrawn, withdrawn_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.refresh(feature)
    if done != 1:
        return False
    webhook_delivery.enqueue(session, feature, "withdrawn", now=now)
    audit(session, feature.org, actor, "feature.withdraw", f"feature {feature.id}", reason=reason)
    return True
