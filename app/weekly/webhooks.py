"""Webhooks: the admin's configuration (add, switch off, delete, test, retry) and its checks."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from app.config import get_settings
from app.errors import N_, Invalid, NotFound, Problem
from app.kernel import netguard
from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.kernel.forms import REQUIRED, TOO_LONG, clean_line
from app.orgs.models import Organisation, Person
from app.weekly import public
from app.weekly.models import DeliveryStatus, Webhook, WebhookDelivery, WebhookKind
from app.weekly.webhook_delivery import TEST, insert_statement, new_row, redact_url, week_label

RECENT_DELIVERIES = 20
MAX_NAME = 80
MAX_URL = 1000
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

BAD_CHOICE = Problem("invalid", N_("This value is not valid."))
BAD_URL = Problem("url", N_("Write a full web address, like https://example.no/hook."))
HTTPS_ONLY = Problem("https", N_("The address must start with https://."))
NO_CREDENTIALS = Problem(
    "credentials", N_("Leave out the user name and password: they would be shown on this page.")
)
NO_FEATURE = Problem(
    "no_feature",
    N_("There is no published feature yet. A test sends the newest one, so publish one first."),
)
INSIDE_NETWORK = {
    netguard.LOOPBACK: Problem(
        "loopback",
        N_(
            "The address points to the server itself. A webhook can only reach a receiver "
            "on the internet."
        ),
    ),
    netguard.PRIVATE: Problem(
        "private_address",
        N_(
            "The address is in a private network. A webhook can only reach a receiver on "
            "the internet."
        ),
    ),
    netguard.LINK_LOCAL: Problem(
        "link_local",
        N_(
            "The address is a link-local address, like a cloud server's metadata service. "
            "A webhook can only reach a receiver on the internet."
        ),
    ),
    netguard.RESERVED: Problem(
        "reserved_address",
        N_(
            "The address is reserved or a multicast address. A webhook can only reach a "
            "receiver on the internet."
        ),
    ),
}
NOT_FAILED = Problem("not_failed", N_("Only a failed delivery can be retried."))

# Shown to admins on the webhook's page (technical, so not translated).
SKIP_DEACTIVATED = "Not sent: the webhook was deactivated."


# --- administration -----------------------------------------------------------------------


def clean_url(raw: str | None, *, dev: bool, allowed: frozenset[str] = frozenset()) -> str:
    """An https address (plain http to this machine in dev mode); ValueError(Problem) if not.

    An address inside the network is refused here when it can be seen without DNS (a literal
    or numeric address, "localhost"); names are resolved and checked at every delivery
    (app/kernel/netguard.py). `allowed`: the hosts TOD_WEBHOOK_ALLOW_HOSTS lets through.
    """
    url = (raw or "").strip()
    if not url:
        raise ValueError(REQUIRED)
    if len(url) > MAX_URL:
        raise ValueError(TOO_LONG)
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ValueError(BAD_URL)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ValueError(BAD_URL) from exc
    host = parts.hostname or ""
    if not host or parts.scheme not in ("https", "http"):
        raise ValueError(HTTPS_ONLY if parts.scheme not in ("https", "http") else BAD_URL)
    if parts.scheme == "http" and not (dev and host in LOOPBACK_HOSTS):
        raise ValueError(HTTPS_ONLY)
    if parts.username is not None or parts.password is not None:
        raise ValueError(NO_CREDENTIALS)
    problem = netguard.host_problem(host, allowed)
    if problem is not None:
        raise ValueError(INSIDE_NETWORK[problem])
    return url


def org_webhooks(session: Session, org: Organisation) -> list[Webhook]:
    return list(
        session.exec(
            select(Webhook)
            .where(Webhook.org_id == org.id)
            .order_by(col(Webhook.created_at), col(Webhook.id))
        )
    )


def delivery_counts(session: Session, org: Organisation) -> dict[int, dict[str, int]]:
    """{webhook id: {status: count}} for the organisation's webhooks."""
    rows = session.exec(
        select(WebhookDelivery.webhook_id, WebhookDelivery.status, func.count())
        .join(Webhook, col(Webhook.id) == WebhookDelivery.webhook_id)
        .where(Webhook.org_id == org.id)
        .group_by(col(WebhookDelivery.webhook_id), col(WebhookDelivery.status))
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for webhook_id, status, n in rows:
        counts.setdefault(webhook_id or 0, {})[DeliveryStatus(status).value] = n
    return counts


def recent_deliveries(
    session: Session, webhook: Webhook, limit: int = RECENT_DELIVERIES
) -> Sequence[WebhookDelivery]:
    return session.exec(
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook.id)
        .order_by(col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id).desc())
        .limit(limit)
    ).all()


def delivery_of(session: Session, webhook: Webhook, delivery_id: int) -> WebhookDelivery:
    """A delivery of `webhook` (already checked to be the caller's); NotFound otherwise."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.webhook_id != webhook.id:
        raise NotFound()
    return delivery


def add_webhook(
    session: Session,
    org: Organisation,
    *,
    kind: str,
    name: str,
    url: str,
    actor: Person | None,
) -> Webhook:
    """A new active webhook; a generic one gets its signing secret (shown to the admin once)."""
    errors: dict[str, Problem] = {}
    chosen = next((k for k in WebhookKind if k.value == kind), None)
    if chosen is None:
        errors["kind"] = BAD_CHOICE
    try:
        name = clean_line(name, max_length=MAX_NAME, required=True)
    except ValueError as exc:
        errors["name"] = exc.args[0]
    try:
        settings = get_settings()
        url = clean_url(url, dev=settings.dev, allowed=settings.webhook_allowed)
    except ValueError as exc:
        errors["url"] = exc.args[0]
    if errors or chosen is None:
        raise Invalid(errors)
    webhook = Webhook(
        org=org,
        kind=chosen,
        name=name,
        url=url,
        secret=secrets.token_urlsafe(32) if chosen == WebhookKind.generic else "",
    )
    session.add(webhook)
    session.flush()
    audit(
        session,
        org,
        actor,
        "webhook.add",
        webhook.name,
        kind=chosen.value,
        url=redact_url(webhook.url),
    )
    return webhook


def set_active(
    session: Session, org: Organisation, webhook: Webhook, active: bool, actor: Person | None
) -> None:
    """Turn a webhook on or off; turning it off gives up what it has not sent yet."""
    if webhook.active == active:
        return
    webhook.active = active
    session.add(webhook)
    if not active:
        # Otherwise a webhook switched back on weeks later would post old news.
        session.execute(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.webhook_id) == webhook.id,
                col(WebhookDelivery.status) == DeliveryStatus.pending,
            )
            .values(status=DeliveryStatus.failed, last_error=SKIP_DEACTIVATED)
        )
    audit(session, org, actor, "webhook.activate" if active else "webhook.deactivate", webhook.name)


def delete_webhook(
    session: Session, org: Organisation, webhook: Webhook, actor: Person | None
) -> None:
    audit(session, org, actor, "webhook.delete", webhook.name, url=redact_url(webhook.url))
    session.delete(webhook)  # its deliveries go with it (ON DELETE CASCADE)
    session.flush()


def send_test(
    session: Session,
    org: Organisation,
    webhook: Webhook,
    actor: Person | None,
    *,
    now: datetime | None = None,
) -> None:
    """Queue the feature the widget shows now, marked as a test, to this webhook only.

    A second test replaces the first (one test row per webhook and feature), due at once.
    """
    feature = public.current_feature(session, org)
    if feature is None:
        raise Invalid({"test": NO_FEATURE})
    row = new_row(webhook, feature, TEST, get_settings().base_url, now or utcnow())
    again = {k: v for k, v in row.items() if k not in ("webhook_id", "feature_id", "event")}
    stmt = insert_statement(session).values(row)
    session.execute(
        stmt.on_conflict_do_update(index_elements=["webhook_id", "feature_id", "event"], set_=again)
    )
    audit(session, org, actor, "webhook.test", webhook.name, week=week_label(feature))


def retry_now(
    session: Session,
    org: Organisation,
    delivery: WebhookDelivery,
    actor: Person | None,
    *,
    now: datetime | None = None,
) -> None:
    """Give a failed delivery a fresh set of attempts, starting now."""
    if delivery.status != DeliveryStatus.failed:
        raise Invalid({"retry": NOT_FAILED})
    delivery.status = DeliveryStatus.pending
    delivery.attempts = 0
    delivery.next_attempt_at = now or utcnow()
    session.add(delivery)
    audit(
        session,
        org,
        actor,
        "webhook.retry",
        delivery.webhook.name,
        delivery=delivery.id,
        event=delivery.event,
    )
