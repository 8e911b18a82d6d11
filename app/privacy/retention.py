"""How long the traces of logging in and of deliveries are kept: purged by a scheduled job.

Each purge is one DELETE by age, so running it twice, late or from two schedulers changes
nothing. (Contest photos have their own retention: app/contests/retention.py.)
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, or_
from sqlmodel import Session, col

from app.auth.models import LoginSession, MagicLink, OidcLogin, RateLimitHit
from app.weekly.models import DeliveryStatus, WebhookDelivery

# An expired or revoked login is kept a little for troubleshooting ("why was I logged out?").
LOGIN_GRACE = timedelta(days=7)
# A delivered or failed webhook is kept for the admins' delivery list, then goes.
DELIVERY_DAYS = timedelta(days=90)
# Rate-limit windows are a minute or an hour long (app/security.py); a day is plenty.
RATE_KEEP = timedelta(days=1)
HOUR, MINUTE = 3600, 60


@dataclass(frozen=True)
class Purged:
    sessions: int
    links: int
    rate_rows: int
    deliveries: int

    def __bool__(self) -> bool:
        return any((self.sessions, self.links, self.rate_rows, self.deliveries))


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def rate_rows_condition(now_ts: float) -> ColumnElement[bool]:
    """A counter is stale when its window ended over a day ago. A row keeps its window number
    (time // period) but not its period: an hourly number is about 60 times smaller than a
    minute one, so a number above the current hour's can only be a minute window."""
    hour, minute = int(now_ts // HOUR), int(now_ts // MINUTE)
    keep_hours, keep_minutes = (
        int(RATE_KEEP.total_seconds() // HOUR),
        int(RATE_KEEP.total_seconds() // MINUTE),
    )
    return or_(
        col(RateLimitHit.window) < hour - keep_hours,
        and_(col(RateLimitHit.window) > hour + 1, col(RateLimitHit.window) < minute - keep_minutes),
    )


def purge(session: Session, now: datetime, now_ts: float | None = None) -> Purged:
    """Delete expired logins, old rate-limit counters and old webhook deliveries."""
    cutoff = now - LOGIN_GRACE
    sessions = session.execute(
        delete(LoginSession).where(
            or_(col(LoginSession.expires_at) < cutoff, col(LoginSession.revoked_at) < cutoff)
        )
    )
    links = session.execute(delete(MagicLink).where(col(MagicLink.expires_at) < cutoff))
    # Logins started with the identity provider (Entra ID): the same, once they ran out.
    attempts = session.execute(delete(OidcLogin).where(col(OidcLogin.expires_at) < cutoff))
    # The rate limiter counts in wall-clock seconds (time.time()), not the app's clock.
    rate = session.execute(
        delete(RateLimitHit).where(rate_rows_condition(time.time() if now_ts is None else now_ts))
    )
    deliveries = session.execute(
        delete(WebhookDelivery).where(
            col(WebhookDelivery.status).in_([DeliveryStatus.delivered, DeliveryStatus.failed]),
            col(WebhookDelivery.created_at) < now - DELIVERY_DAYS,
        )
    )
    return Purged(
        _count(sessions), _count(links) + _count(attempts), _count(rate), _count(deliveries)
    )
