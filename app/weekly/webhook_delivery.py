"""Webhook delivery: what is sent to Teams and to signed JSON receivers, the outbox, the POST.

Outbox, like the e-mail notifications (app/recognition/jobs.py). Publishing only writes one
`WebhookDelivery` per active webhook, with the payload built at that moment, so an edit made
later does not change what was announced. `deliver_due` sends them.

Claiming. A due row is picked with `SELECT ... FOR UPDATE SKIP LOCKED` (PostgreSQL: two
schedulers take different rows; SQLite: BEGIN IMMEDIATE in app/db.py serialises the claims) and
*leased* in the same short transaction: `attempts + 1` and `next_attempt_at` moved `LEASE` ahead.
That transaction commits before the POST, so no lock is held while a slow receiver answers.

Delivery is at-least-once: we POST, then mark it delivered. A crash in between sends it again
after the lease; receivers deduplicate on `X-Tod-Delivery` (docs/WEBHOOKS.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from babel.lists import format_list
from sqlalchemy import ColumnElement, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from app import i18n
from app.config import get_settings
from app.kernel import netguard, outbox
from app.kernel.clock import utcnow
from app.kernel.locale import babel_name
from app.media import service as media
from app.orgs.models import Organisation
from app.weekly import public
from app.weekly.models import (
    DeliveryStatus,
    Feature,
    FeatureStatus,
    Webhook,
    WebhookDelivery,
    WebhookKind,
)
from app.weekly.schedule import week_label as iso_week_label

log = logging.getLogger("tod.jobs.webhooks")

SessionFactory = Callable[[], Session]

PUBLISHED = "published"
WITHDRAWN = "withdrawn"
TEST = "test"
EVENTS = (PUBLISHED, WITHDRAWN)

USER_AGENT = "TreOmDagen-Webhook/1"
IMAGE_WIDTH = 800  # the photo's width in messages: sharp in a channel, light on a phone
CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 10.0  # the whole request, also against a receiver that answers byte by byte
# 30 s, 1, 2, 4 ... minutes, capped at an hour: eight attempts span about an hour.
MAX_ATTEMPTS = 8
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
# Far longer than one POST may take, so a lease never runs out while its request is on the way.
LEASE = timedelta(minutes=5)
RETRY = outbox.Retry(MAX_ATTEMPTS, BACKOFF_FIRST, BACKOFF_CAP, LEASE)

# Shown to admins on the webhook's page (technical, so not translated).
SKIP_WITHDRAWN = "Not sent: the feature was withdrawn before it was delivered."
SKIP_NEVER_ANNOUNCED = "Not sent: the publication never reached this receiver."
SKIP_NOT_PUBLIC = "Not sent: the feature stopped being public before it was delivered."


# --- what is sent -------------------------------------------------------------------------


def week_label(feature: Feature) -> str:
    return iso_week_label(feature.iso_year, feature.iso_week)


def feature_url(feature: Feature, base_url: str) -> str:
    return f"{base_url}/embed/{feature.org.slug}/feature"


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


# Characters that start markdown anywhere in a TextBlock: a link needs "[", an autolink "<".
_MARKDOWN_ANYWHERE = frozenset("\\`*_[]<~")
# ... and at the start of a line only: headings, quotes, list items, setext underlines.
_MARKDOWN_LINE_START = ("#", ">", "-", "+", "=")


def markdown_text(text: str) -> str:
    """User text as literal text in a TextBlock: the markdown it could contain is escaped.

    Only what markdown would act on is escaped, so "#ESS" and "Takk!" stay as written on a
    renderer that shows backslashes.
    """
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        escaped = "".join(f"\\{ch}" if ch in _MARKDOWN_ANYWHERE else ch for ch in line)
        stripped = escaped.strip()  # indented by four spaces, a line would become code
        digits = len(stripped) - len(stripped.lstrip("0123456789"))
        if stripped.startswith(_MARKDOWN_LINE_START):
            stripped = "\\" + stripped
        elif digits and stripped[digits : digits + 1] in (".", ")"):  # "1." starts a list
            stripped = f"{stripped[:digits]}\\{stripped[digits:]}"
        lines.append(stripped)
    # One line break in markdown is a space; a blank line keeps the writer's line breaks.
    return "\n\n".join(line for line in lines if line)


def photo_of(feature: Feature) -> dict[str, Any] | None:
    """The feature's photo as a receiver can fetch it: the widget's public URL of the widest
    JPEG up to IMAGE_WIDTH px (Teams shows JPEG everywhere; WebP not in every client)."""
    image = feature.image
    if image is None or image.org_id != feature.org_id:
        return None
    jpegs = [v for v in media.variants_of(image, "jpg") if v["width"] <= IMAGE_WIDTH]
    if not jpegs:
        return None
    best = jpegs[-1]
    url_for = public.public_photo_url(feature.org, feature)
    return {
        "url": url_for(image, best["width"], "jpg"),
        "width": best["width"],
        "height": best["height"],
        "alt": image.alt or feature.headline,
    }


def _text_block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _card_message(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def _org_locale(org: Organisation) -> str:
    return i18n.normalise(org.locale) or i18n.DEFAULT_LOCALE


def teams_payload(feature: Feature, base_url: str, *, test: bool = False) -> dict[str, Any]:
    """A Teams workflow message: an Adaptive Card with the story, its values and its people."""
    org = feature.org
    locale = _org_locale(org)
    _ = i18n.catalog(locale).gettext
    body: list[dict[str, Any]] = []
    if test:
        body.append(
            _text_block(
                markdown_text(_("Test message from Tre om dagen. This is what people will see.")),
                isSubtle=True,
            )
        )
    body.append(_text_block(markdown_text(feature.headline), weight="Bolder", size="Large"))
    photo = photo_of(feature)
    if photo is not None:
        body.append(
            {"type": "Image", "url": photo["url"], "altText": photo["alt"], "size": "Stretch"}
        )
    body.append(_text_block(markdown_text(feature.body)))
    facts = [{"title": markdown_text(_("Week")), "value": str(feature.iso_week)}]
    values = public.feature_values(feature)
    if values:
        joined = format_list([v.name for v in values], locale=babel_name(locale))
        facts.insert(0, {"title": markdown_text(_("Values")), "value": markdown_text(joined)})
    body.append({"type": "FactSet", "facts": facts})
    people = public.named_people(feature)
    if people:
        names = format_list([p.name for p in people], locale=babel_name(locale))
        line = (
            _("Photo: %(name)s") % {"name": names}
            if feature.entry_id is not None
            else _("About: %(names)s") % {"names": names}
            if feature.story_id is not None
            else _("Recognised: %(names)s") % {"names": names}
        )
        body.append(_text_block(markdown_text(line)))
    action = {
        "type": "Action.OpenUrl",
        "title": _("Read more"),
        "url": feature_url(feature, base_url),
    }
    return _card_message(body, [action])


def teams_withdrawn_payload(feature: Feature, base_url: str) -> dict[str, Any]:
    """The card for a withdrawal: no text and no names, which may be why it was withdrawn."""
    org = feature.org
    _ = i18n.catalog(_org_locale(org)).gettext
    title = _("%(feature)s for week %(week)s has been withdrawn.") % {
        "feature": org.display_feature_name,
        "week": feature.iso_week,
    }
    body = [
        _text_block(markdown_text(title), weight="Bolder"),
        _text_block(markdown_text(_("It is no longer shown on the intranet."))),
    ]
    return _card_message(body, [])


def generic_payload(feature: Feature, base_url: str, event: str) -> dict[str, Any]:
    """The signed JSON document; a withdrawal repeats neither the text nor the names."""
    if event not in (*EVENTS, TEST):
        raise ValueError(f"unknown webhook event {event!r}")
    withdrawn = event == WITHDRAWN
    payload: dict[str, Any] = {
        "event": f"feature.{event}",
        "id": feature.id,
        "organisation": feature.org.slug,
        "week": week_label(feature),
        "headline": "" if withdrawn else feature.headline,
        "body": "" if withdrawn else feature.body,
        "values": [] if withdrawn else [v.name for v in public.feature_values(feature)],
        "people": [] if withdrawn else [p.name for p in public.named_people(feature)],
        "image": None if withdrawn else photo_of(feature),
        "url": feature_url(feature, base_url),
        "published_at": _iso(feature.published_at),
    }
    if withdrawn:
        payload["withdrawn_at"] = _iso(feature.withdrawn_at)
    return payload


def payload_for(webhook: Webhook, feature: Feature, event: str, base_url: str) -> dict[str, Any]:
    if webhook.kind == WebhookKind.teams:
        if event == WITHDRAWN:
            return teams_withdrawn_payload(feature, base_url)
        return teams_payload(feature, base_url, test=event == TEST)
    return generic_payload(feature, base_url, event)


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of "<timestamp>.<raw body>" (docs/WEBHOOKS.md)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


# --- the outbox ---------------------------------------------------------------------------


def insert_statement(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(WebhookDelivery)


def new_row(
    webhook: Webhook, feature: Feature, event: str, base_url: str, now: datetime
) -> dict[str, Any]:
    return {
        "webhook_id": webhook.id,
        "feature_id": feature.id,
        "event": event,
        "payload": payload_for(webhook, feature, event, base_url),
        "status": DeliveryStatus.pending,
        "attempts": 0,
        "next_attempt_at": now,
        "last_status": None,
        "last_error": "",
        "delivered_at": None,
        "created_at": now,
    }


def enqueue(session: Session, feature: Feature, event: str, *, now: datetime | None = None) -> int:
    """One delivery per active webhook of the feature's organisation; a repeat adds none.

    Returns how many were added. Runs inside the caller's transaction (the publication's).
    """
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    now = now or utcnow()
    hooks = session.exec(
        select(Webhook)
        .where(Webhook.org_id == feature.org_id, col(Webhook.active).is_(True))
        .order_by(col(Webhook.id))
    ).all()
    if not hooks:
        return 0
    base_url = get_settings().base_url
    rows = [new_row(hook, feature, event, base_url, now) for hook in hooks]
    stmt = (
        insert_statement(session)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["webhook_id", "feature_id", "event"])
        .returning(col(WebhookDelivery.id))
    )
    return len(session.execute(stmt).all())


@dataclass(frozen=True)
class Outcome:
    status: int | None
    error: str  # "" when delivered
    unreachable: bool = False  # no answer at all: leave this receiver alone for this run

    @property
    def ok(self) -> bool:
        return not self.error


def redact_url(url: str) -> str:
    """The address without its query string, which for Teams holds the signature (a secret)."""
    parts = urlsplit(url)
    shown = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return f"{shown}?…" if parts.query else shown


def _one_line(text: str, url: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    query = urlsplit(url).query
    text = text.replace(url, redact_url(url))
    if query:
        text = text.replace(query, "…")
    return text[:limit]


def _run_post(
    url: str, body: bytes, headers: dict[str, str], total: float, allowed: frozenset[str]
) -> Outcome:
    """Run the POST on its own event loop in a short-lived thread.

    The job is synchronous, but a thread that already runs an event loop (an embedding
    application, a test runner) cannot call asyncio.run; a fresh thread always can.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook") as pool:
        return pool.submit(asyncio.run, _post(url, body, headers, total, allowed)).result()


async def _post(
    url: str, body: bytes, headers: dict[str, str], total: float, allowed: frozenset[str]
) -> Outcome:
    """POST once, to a host checked at this moment (netguard): never inside the network."""
    timeout = httpx.Timeout(total, connect=min(CONNECT_TIMEOUT, total))
    try:
        async with (
            asyncio.timeout(total),
            netguard.guarded_client(allowed, timeout=timeout) as client,
            client.stream("POST", url, content=body, headers=headers) as response,
        ):
            if response.is_success:
                return Outcome(response.status_code, "")
            if response.is_redirect:
                target = redact_url(response.headers.get("location", ""))
                detail = f"redirects are not followed (to {target})"
            else:
                snippet = b""
                async with aclosing(response.aiter_bytes()) as chunks:  # type: ignore[type-var]
                    async for chunk in chunks:
                        snippet += chunk
                        if len(snippet) >= 300:
                            break
                detail = snippet.decode(errors="replace").strip()
            error = f"HTTP {response.status_code}" + (f": {detail}" if detail else "")
            return Outcome(response.status_code, error)
    except netguard.Refused as exc:
        return Outcome(None, str(exc), unreachable=True)
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(None, f"No answer within {total:g} s", unreachable=True)
    except httpx.ConnectError as exc:
        return Outcome(None, f"Could not connect: {exc}", unreachable=True)
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}", unreachable=True)


@dataclass(frozen=True)
class Claimed:
    id: int
    webhook_id: int
    event: str
    attempts: int
    url: str
    kind: WebhookKind
    secret: str
    payload: dict[str, Any]


def send(claimed: Claimed, total: float = TOTAL_TIMEOUT) -> Outcome:
    """POST one delivery; never raises for trouble on the network or at the receiver."""
    body = encode(claimed.payload)
    event = "feature.test" if claimed.event == TEST else f"feature.{claimed.event}"
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Tod-Event": event,
        "X-Tod-Delivery": str(claimed.id),
    }
    if claimed.kind == WebhookKind.generic:
        timestamp = str(int(time.time()))
        headers["X-Tod-Timestamp"] = timestamp
        headers["X-Tod-Signature"] = sign(claimed.secret, timestamp, body)
    try:
        allowed = get_settings().webhook_allowed
        outcome = _run_post(claimed.url, body, headers, total, allowed)
    except Exception as exc:  # a bad address and the like: recorded and retried, never raised
        outcome = Outcome(None, f"{type(exc).__name__}: {exc}", unreachable=True)
    return Outcome(outcome.status, _one_line(outcome.error, claimed.url), outcome.unreachable)


def _due(now: datetime, skip_webhooks: set[Hashable]) -> list[ColumnElement[bool]]:
    published = aliased(WebhookDelivery)
    # A withdrawal waits until the receiver has had the publication (or it was given up).
    publication_pending = (
        select(published.id)
        .where(
            published.webhook_id == WebhookDelivery.webhook_id,
            published.feature_id == WebhookDelivery.feature_id,
            published.event == PUBLISHED,
            published.status == DeliveryStatus.pending,
        )
        .exists()
    )
    where = [
        col(WebhookDelivery.status) == DeliveryStatus.pending,
        col(WebhookDelivery.next_attempt_at) <= now,
        col(Webhook.active).is_(True),
        or_(col(WebhookDelivery.event) != WITHDRAWN, ~publication_pending),
    ]
    if skip_webhooks:
        where.append(col(WebhookDelivery.webhook_id).not_in(skip_webhooks))
    return where


def _skip_reason(session: Session, row: WebhookDelivery, now: datetime) -> str | None:
    feature = row.feature
    if row.event != WITHDRAWN and feature.status == FeatureStatus.withdrawn:
        return SKIP_WITHDRAWN
    if row.event == PUBLISHED and not public.is_public(session, feature, now):
        # The one rule of every surface: a story hidden, made private or no longer consented
        # to after it was queued is not announced (a withdrawal follows if it already was).
        return SKIP_NOT_PUBLIC
    if row.event == WITHDRAWN:
        announced = session.exec(
            select(WebhookDelivery.id).where(
                WebhookDelivery.webhook_id == row.webhook_id,
                WebhookDelivery.feature_id == row.feature_id,
                WebhookDelivery.event == PUBLISHED,
                WebhookDelivery.status == DeliveryStatus.delivered,
            )
        ).first()
        if announced is None:
            return SKIP_NEVER_ANNOUNCED
    return None


def _claim(session: Session, now: datetime, skip_webhooks: set[Hashable]) -> Claimed | None:
    """Lease the next due delivery in one short transaction; None when nothing is due."""
    while True:
        session.expire_all()  # see what other processes changed since the last delivery
        row = session.exec(
            select(WebhookDelivery)
            .join(Webhook, col(Webhook.id) == WebhookDelivery.webhook_id)
            .where(*_due(now, skip_webhooks))
            .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
            .limit(1)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        ).first()
        if row is None:
            session.commit()
            return None
        reason = _skip_reason(session, row, now)
        if reason is not None:
            row.status = DeliveryStatus.failed
            row.last_error = reason
            session.add(row)
            session.commit()
            log.info("webhook delivery %s skipped: %s", row.id, reason)
            continue
        row.attempts += 1
        row.next_attempt_at = RETRY.leased_until(now)
        session.add(row)
        hook = row.webhook
        claimed = Claimed(
            id=row.id or 0,
            webhook_id=hook.id or 0,
            event=row.event,
            attempts=row.attempts,
            url=hook.url,
            kind=hook.kind,
            secret=hook.secret,
            payload=dict(row.payload),
        )
        session.commit()
        return claimed


def _record(session: Session, claimed: Claimed, outcome: Outcome, now: datetime) -> None:
    if outcome.ok:
        # By id alone: it reached the receiver, whatever happened to the row meanwhile.
        session.execute(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.id) == claimed.id)
            .values(
                status=DeliveryStatus.delivered,
                delivered_at=now,
                last_status=outcome.status,
                last_error="",
            )
        )
    else:
        gave_up = RETRY.gave_up(claimed.attempts)
        session.execute(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.id) == claimed.id,
                col(WebhookDelivery.status) == DeliveryStatus.pending,
            )
            .values(
                status=DeliveryStatus.failed if gave_up else DeliveryStatus.pending,
                next_attempt_at=now + RETRY.backoff(claimed.attempts),
                last_status=outcome.status,
                last_error=outcome.error,
            )
        )
        RETRY.log_failure(log, f"webhook delivery {claimed.id}", claimed.attempts, outcome.error)
    session.commit()


def deliver_due(
    session_factory: SessionFactory,
    now: datetime | None = None,
    batch: int = 20,
    *,
    timeout: float | None = None,
) -> int:
    """Send due deliveries, each outside any transaction; returns how many were delivered."""
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    total = timeout or TOTAL_TIMEOUT
    session = session_factory()

    # A receiver that did not answer is left alone until the next run: one hanging Teams
    # workflow must not hold up the other webhooks behind it.
    def turn(unreachable: set[Hashable]) -> outbox.Turn | None:
        claimed = _claim(session, clock(), unreachable)
        if claimed is None:
            return None
        outcome = send(claimed, total)
        _record(session, claimed, outcome, clock())
        return outbox.Turn(
            delivered=outcome.ok, unreachable=claimed.webhook_id if outcome.unreachable else None
        )

    try:
        return outbox.drain(batch, turn)
    finally:
        session.close()
