"""Webhooks: Teams cards and signed JSON, sent once, retried, never blocking; the admin pages."""

import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from app.db import new_session
from app.kernel.audit import AuditEvent
from app.orgs.models import Organisation, Person, Value
from app.weekly import webhook_delivery, webhooks
from app.weekly.models import (
    ConsentAnswer,
    DeliveryStatus,
    Feature,
    FeatureConsent,
    FeatureStatus,
    Webhook,
    WebhookDelivery,
    WebhookKind,
)
from tests.helpers import give, login, make_org, make_person, make_value, post_form

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # Monday of ISO week 48, 07:00 in Oslo
# The whole app under test runs at NOW: routes, defaults and jobs alike, on any real date.
pytestmark = pytest.mark.time_machine(NOW, tick=False)
SHORT = 0.3  # seconds: the client's total timeout in these tests
EN = {"Accept-Language": "en"}


# --- a real HTTP receiver on loopback -----------------------------------------------------


# --- data ---------------------------------------------------------------------------------


@dataclass
class Scene:
    org: Organisation
    values: list[Value]
    giver: Person
    kari: Person
    ola: Person


@pytest.fixture
def scene(db) -> Scene:
    org = make_org(db, slug="asnes", name="Åsnes kommune", locale="nb")
    values = [make_value(db, org, name="Engasjement"), make_value(db, org, name="Samarbeid")]
    return Scene(
        org=org,
        values=values,
        giver=make_person(db, org, name="Gunn Giver"),
        kari=make_person(db, org, name="Kari Nordmann"),
        ola=make_person(db, org, name="Ola Hansen"),
    )


def publish(
    db: Session,
    org: Organisation,
    giver: Person,
    recipients: list[Person],
    values: list[Value],
    *,
    week: int = 48,
    agreed: list[Person] | None = None,
    headline: str = "Kari tok vaktlista i helga",
    body: str = "Da to meldte seg syke, ordnet Kari det på en time.",
) -> Feature:
    """A published feature made directly, without the feature service's rules."""
    rec = give(db, giver, recipients, values, feature_consent=True)
    agreed = recipients if agreed is None else agreed
    feature = Feature(
        org_id=org.id,
        iso_year=2026,
        iso_week=week,
        status=FeatureStatus.published,
        recognition_id=rec.id,
        headline=headline,
        body=body,
        published_at=NOW - timedelta(weeks=48 - week),
    )
    db.add(feature)
    db.flush()
    for person in recipients:
        db.add(
            FeatureConsent(
                feature_id=feature.id,
                person_id=person.id,
                answer=ConsentAnswer.yes if person in agreed else ConsentAnswer.pending,
                token_hash=secrets.token_hex(32),
                answered_at=NOW if person in agreed else None,
            )
        )
    db.flush()
    db.refresh(feature)
    return feature


def hook(
    db: Session, org: Organisation, url: str, kind: WebhookKind = WebhookKind.generic, **kw: Any
) -> Webhook:
    secret = secrets.token_urlsafe(32) if kind == WebhookKind.generic else ""
    webhook = Webhook(
        org_id=org.id,
        kind=kind,
        name=kw.pop("name", urlsplit(url).path),
        url=url,
        secret=kw.pop("secret", secret),
        **kw,
    )
    db.add(webhook)
    db.flush()
    return webhook


def deliveries(db: Session, webhook: Webhook | None = None) -> list[WebhookDelivery]:
    db.expire_all()
    stmt = select(WebhookDelivery).order_by(col(WebhookDelivery.id))
    if webhook is not None:
        stmt = stmt.where(WebhookDelivery.webhook_id == webhook.id)
    return list(db.exec(stmt))


def documented_verify() -> Any:
    """The `verify` function from docs/WEBHOOKS.md, run as a receiver would copy it."""
    doc = (ROOT / "docs" / "WEBHOOKS.md").read_text(encoding="utf-8")
    [code] = re.findall(r"```python\n(.*?)```", doc, re.S)
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - our own documentation
    return namespace["verify"]


# --- signed JSON --------------------------------------------------------------------------


def test_generic_receiver_gets_the_feature_and_can_verify_the_signature(
    db, factory, receiver, scene
):
    s = scene
    feature = publish(db, s.org, s.giver, [s.kari], s.values)
    webhook = hook(db, s.org, f"{receiver.url}/ok")

    assert webhook_delivery.enqueue(db, feature, "published", now=NOW) == 1
    assert receiver.requests == []  # publishing only writes the outbox
    assert webhook_delivery.deliver_due(factory, now=NOW) == 1
    assert webhook_delivery.deliver_due(factory, now=NOW + timedelta(hours=3)) == 0

    [got] = receiver.requests
    [row] = deliveries(db)
    assert row.status == DeliveryStatus.delivered
    assert row.delivered_at == NOW and row.last_status == 200 and row.attempts == 1
    assert got.headers["content-type"].startswith("application/json")
    assert got.headers["user-agent"] == "TreOmDagen-Webhook/1"
    assert got.headers["x-tod-event"] == "feature.published"
    assert got.headers["x-tod-delivery"] == str(row.id)
    assert got.json == {
        "event": "feature.published",
        "id": feature.id,
        "organisation": "asnes",
        "week": "2026-W48",
        "headline": "Kari tok vaktlista i helga",
        "body": "Da to meldte seg syke, ordnet Kari det på en time.",
        "values": ["Engasjement", "Samarbeid"],
        "people": ["Kari Nordmann"],
        "image": None,
        "url": "http://testserver/embed/asnes/feature",
        "published_at": "2026-11-23T06:00:00Z",
    }

    verify = documented_verify()
    sent_at = int(got.headers["x-tod-timestamp"])
    assert abs(sent_at - time.time()) < 60
    assert verify(webhook.secret, got.headers, got.body)
    assert not verify(webhook.secret, got.headers, got.body.replace(b"Kari", b"Knut"))
    assert not verify("another-secret", got.headers, got.body)
    assert not verify(webhook.secret, got.headers, got.body, now=sent_at + 301)  # replayed
    assert (
        webhook_delivery.sign(webhook.secret, sent_at, got.body) == got.headers["x-tod-signature"]
    )


def test_a_feature_that_stopped_being_public_is_not_announced(db, factory, receiver, scene):
    """Queued while public, then someone named took their yes back (or the story was hidden):
    the delivery checks the one public rule and sends nothing, so nobody is named against
    their will."""
    s = scene
    feature = publish(db, s.org, s.giver, [s.kari, s.ola], s.values, agreed=[s.kari])
    hook(db, s.org, f"{receiver.url}/ok")
    assert webhook_delivery.enqueue(db, feature, "published", now=NOW) == 1

    assert webhook_delivery.deliver_due(factory, now=NOW) == 0
    assert receiver.requests == []
    [row] = deliveries(db)
    assert (row.status, row.last_error) == (
        DeliveryStatus.failed,
        webhook_delivery.SKIP_NOT_PUBLIC,
    )


def test_payload_is_what_was_published_not_a_later_edit(db, factory, receiver, scene):
    s = scene
    feature = publish(db, s.org, s.giver, [s.kari], s.values)
    hook(db, s.org, f"{receiver.url}/ok")
    webhook_delivery.enqueue(db, feature, "published", now=NOW)
    feature.headline = "Endret etterpå"
    db.add(feature)
    db.flush()

    webhook_delivery.deliver_due(factory, now=NOW)
    assert receiver.on("/ok")[0].json["headline"] == "Kari tok vaktlista i helga"


def test_enqueue_twice_is_one_delivery_per_active_webhook_of_the_org(db, scene, receiver):
    s = scene
    feature = publish(db, s.org, s.giver, [s.kari], s.values)
    first = hook(db, s.org, f"{receiver.url}/ok")
    second = hook(db, s.org, f"{receiver.url}/accepted", WebhookKind.teams)
    hook(db, s.org, f"{receiver.url}/ok", active=False)
    other = make_org(db)
    hook(db, other, f"{receiver.url}/ok")

    assert webhook_delivery.enqueue(db, feature, "published", now=NOW) == 2
    assert webhook_delivery.enqueue(db, feature, "published", now=NOW) == 0
    rows = deliveries(db)
    assert [(r.webhook_id, r.event) for r in rows] == [
        (first.id, "published"),
        (second.id, "published"),
    ]
    with pytest.raises(ValueError):
        webhook_delivery.enqueue(db, feature, "deleted")


# --- Microsoft Teams ----------------------------------------------------------------------


def test_teams_gets_an_adaptive_card(db, factory, receiver, scene):
    s = scene
    feature = publish(db, s.org, s.giver, [s.kari, s.ola], s.values)
    hook(db, s.org, f"{receiver.url}/accepted?api-version=1&sig=abc", WebhookKind.teams)
    webhook_delivery.enqueue(db, feature, "published", now=NOW)

    assert webhook_delivery.deliver_due(factory, now=NOW) == 1  # Teams answers 202 Accepted
    [got] = receiver.requests
    assert got.path == "/accepted?api-version=1&sig=abc"
    assert "x-tod-signature" not in got.headers  # the workflow's address carries its own
    message = got.json
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    headline, text, facts, people = card["body"]
    assert headline == {
        "type": "TextBlock",
        "text": "Kari tok vaktlista i helga",
        "weight": "Bolder",
        "size": "Large",
        "wrap": True,
    }
    assert text["type"] == "TextBlock" and text["wrap"] is True
    assert text["text"] == "Da to meldte seg syke, ordnet Kari det på en time."
    assert facts["type"] == "FactSet"
    assert {"title": "Verdier", "value": "Engasjement og Samarbeid"} in facts["facts"]
    assert people["type"] == "TextBlock" and people["wrap"] is True
    assert "Kari Nordmann og Ola Hansen" in people["text"]
    [action] = card["actions"]
    assert action["type"] == "Action.OpenUrl"
    assert action["url"] == "http://testserver/embed/asnes/feature"
    assert action["title"]


HOSTILE = [
    "[x](javascript:alert(1))",
    "<script>alert(1)</script>",
    "![img](https://evil.example/x.png) <https://evil.example>",
    "**fet** _kursiv_ `kode` ~~borte~~",
    "- punkt\n+ punkt\n1. en\n2) to\n# overskrift\n> sitat\n===",
    "\\[x\\](javascript:alert(1))",  # backslashes meant to cancel ours
]


def _unescaped(text: str, chars: str) -> list[str]:
    """Markdown characters in `text` that a CommonMark parser would act on."""
    found, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            i += 2
            continue
        if text[i] in chars:
            found.append(text[i])
        i += 1
    return found


def _shown(card_text: str) -> str:
    """What a markdown renderer shows: the escapes removed."""
    return re.sub(r"\\(.)", r"\1", card_text)


def _assert_inert(card_text: str) -> None:
    assert _unescaped(card_text, "[]<*_`~\\") == [], card_text
    for line in card_text.split("\n"):
        assert not re.match(r"\s*([-+#>=]|\d+[.)])", line), line


def _as_written(text: str) -> str:
    return "\n\n".join(line.strip() for line in text.split("\n") if line.strip())


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_inert_in_the_teams_card(db, scene, text):
    s = scene
    evil = make_person(db, s.org, name=text.replace("\n", " "))
    value = make_value(db, s.org, name="<b>Mot</b> [v](https://evil.example)")
    feature = publish(db, s.org, s.giver, [evil], [value], headline=text, body=text)

    card = webhook_delivery.teams_payload(feature, "https://tod.example")["attachments"][0][
        "content"
    ]
    headline, body, facts, people = card["body"]
    for block in (headline, body):
        _assert_inert(block["text"])
        assert _shown(block["text"]) == _as_written(text)  # ... and reads as written
    values_fact = facts["facts"][0]
    _assert_inert(values_fact["value"])
    assert _shown(values_fact["value"]) == value.name
    _assert_inert(people["text"])
    assert _shown(people["text"]).endswith(evil.name)
    assert [a["url"] for a in card["actions"]] == ["https://tod.example/embed/asnes/feature"]
    # The JSON receivers get plain text, verbatim: it is theirs to escape.
    assert webhook_delivery.generic_payload(feature, "https://x", "published")["headline"] == text


# --- failures -----------------------------------------------------------------------------


def test_failing_receiver_is_retried_with_growing_pauses_then_delivered(
    db, factory, receiver, scene
):
    s = scene
    feature = publish(db, s.org, s.giver, [s.kari], s.values)
    hook(db, s.org, f"{receiver.url}/flaky")
    webhook_delivery.enqueue(db, feature, "published", now=NOW)

    when, pauses, ids = NOW, [], set()
    for attempt in (1, 2, 3):
        assert webhook_delivery.deliver_due(factory, now=when) == 0
        [row] = deliveries(db)
        assert (row.status, row.attempts, row.last_status) == ("pending", attempt, 503)
        assert row.last_error.startswith("HTTP 503: boom")
        pauses.append((row.next_attempt_at - when).total_seconds())
        # Not due before then: no request in between.
        assert (
            webhook_delivery.deliver_due(factory, now=row.next_attempt_at - timedelta(seconds=1))
            == 0
        )
        assert len(receiver.on("/flaky")) == attempt
        ids.add(receiver.on("/flaky")[-1].headers["x-tod-delivery"])
        when = row.next_attempt_at
    assert 30 <= pauses[0] <= 37.5
    assert 60 <= pauses[1] <= 75
    assert 120 <= pauses[2] <= 150
    assert len(ids) == 1  # every retry carries the same delivery id

    receiver.up = True
    assert webhook_delivery.deliver_due(factory, now=when) == 1
    [row] = deliveries(db)
    assert (row.status, row.attempts, row.last_status, row.last_error) == (
        "delivered",
        4,
        200,
        "",
    )


def test_backoff_doubles_from_30_seconds_with_jitter_and_is_capped():
    for attempts, low in [(1, 30), (2, 60), (3, 120), (4, 240)]:
        seconds = webhook_delivery.RETRY.backoff(attempts).total_seconds()
        assert low <= seconds <= low * 1.25
    assert webhook_delivery.RETRY.backoff(12) == webhook_delivery.BACKOFF_CAP


def test_a_hanging_receiver_times_out_and_holds_up_nobody(db, factory, receiver, scene):
    s = scene
    hanging = hook(db, s.org, f"{receiver.url}/hang")
    healthy = hook(db, s.org, f"{receiver.url}/ok")
    for week in (47, 48):
        webhook_delivery.enqueue(
            db, publish(db, s.org, s.giver, [s.kari], s.values, week=week), "published", now=NOW
        )

    started = time.monotonic()
    assert webhook_delivery.deliver_due(factory, now=NOW, timeout=SHORT) == 2
    elapsed = time.monotonic() - started

    # Well under the receiver's 10 s hang (a loaded machine adds its own seconds): the
    # client gave up by its own timeout, which the error below names.
    assert elapsed < 5
    assert len(receiver.on("/hang")) == 1  # its second delivery waits for the next run
    assert all(r.status == "delivered" for r in deliveries(db, healthy))
    tried, waiting = deliveries(db, hanging)
    assert (tried.status, tried.attempts, tried.last_status) == ("pending", 1, None)
    assert tried.last_error == f"No answer within {SHORT:g} s"
    assert tried.next_attempt_at >= NOW + webhook_delivery.BACKOFF_FIRST
    assert (waiting.status, waiting.attempts, waiting.next_attempt_at) == ("pending", 0, NOW)


def test_the_timeout_covers_the_whole_request(db, factory, receiver, scene):
    """A receiver that sends a header every 50 ms never trips a read timeout; the total does."""
    s = scene
    hook(db, s.org, f"{receiver.url}/drip")
    webhook_delivery.enqueue(
        db, publish(db, s.org, s.giver, [s.kari], s.values), "published", now=NOW
    )

    started = time.monotonic()
    assert webhook_delivery.deliver_due(factory, now=NOW, timeout=SHORT) == 0
    # Before the receiver's own 3 s limit: the client's total deadline ended it.
    assert time.monotonic() - started < 2.5
    [row] = deliveries(db)
    assert row.last_error == f"No answer within {SHORT:g} s"


def test_redirects_are_not_followed_and_secrets_stay_out_of_errors(db, factory, receiver, scene):
    s = scene
    hook(db, s.org, f"{receiver.url}/redirect?sig=hook-secret", WebhookKind.teams)
    webhook_delivery.enqueue(
        db, publish(db, s.org, s.giver, [s.kari], s.values), "published", now=NOW
    )

    assert webhook_delivery.deliver_due(factory, now=NOW) == 0
    assert receiver.on("/ok") == []
    [row] = deliveries(db)
    assert row.last_status == 302
    assert "redirects are not followed" in row.last_error
    assert "secret" not in row.last_error


def test_unreachable_receiver_is_recorded_and_retried(db, factory, scene):
    s = scene
    from tests.pg import _free_port

    hook(db, s.org, f"http://127.0.0.1:{_free_port()}/nobody-listens")
    webhook_delivery.enqueue(
        db, publish(db, s.org, s.giver, [s.kari], s.values), "published", now=NOW
    )
    assert webhook_delivery.deliver_due(factory, now=NOW) == 0
    [row] = deliveries(db)
    assert (row.status, row.attempts, row.last_status) == ("pending", 1, None)
    assert row.last_error.startswith("Could not connect")


def test_gives_up_after_8_attempts_and_admins_see_it_and_can_retry(
    client, db, factory, receiver, scene
):
    s = scene
    admin = make_person(db, s.org, role="admin")
    webhook = hook(db, s.org, f"{receiver.url}/fail", name="Intranett")
    webhook_delivery.enqueue(
        db, publish(db, s.org, s.giver, [s.kari], s.values), "published", now=NOW
    )

    when = NOW
    for attempt in range(1, 9):
        assert webhook_delivery.deliver_due(factory, now=when) == 0
        [row] = deliveries(db)
        assert row.attempts == attempt
        when = row.next_attempt_at
    assert row.status == DeliveryStatus.failed
    assert webhook_delivery.deliver_due(factory, now=when + timedelta(days=1)) == 0
    assert len(receiver.on("/fail")) == 8

    login(client, db, admin)
    listing = client.get("/asnes/admin/webhooks", headers=EN).text
    assert '<span class="badge badge-warn">1 failed</span>' in listing
    page = client.get(f"/asnes/admin/webhooks/{webhook.id}", headers=EN)
    assert page.status_code == 200
    assert "HTTP 500" in page.text and "boom: the receiver broke" in page.text
    retry = f"/asnes/admin/webhooks/{webhook.id}/deliveries/{row.id}/retry"
    assert f'action="{retry}"' in page.text

    response = post_form(client, retry)
    assert response.status_code == 303
    [row] = deliveries(db)
    assert (row.status, row.attempts) == ("pending", 0)
    assert "webhook.retry" in _audit(db, s.org)
    # Retrying something that has not failed changes nothing.
    post_form(client, retry)
    assert deliveries(db)[0].next_attempt_at == row.next_attempt_at


# --- withdrawal ---------------------------------------------------------------------------


def _withdraw(db: Session, feature: Feature) -> None:
    feature.status = FeatureStatus.withdrawn
    feature.withdrawn_at = NOW + timedelta(hours=1)
    db.add(feature)
    db.flush()


def test_withdrawal_follows_the_publication_without_text_or_names(db, factory, receiver, scene):
    s = scene
    feature = publish(db, s.org, s.giver, [s.kari], s.values)
    hook(db, s.org, f"{receiver.url}/ok")
    teams = hook(db, s.org, f"{receiver.url}/accepted", WebhookKind.teams)
    webhook_delivery.enqueue(db, feature, "published", now=NOW)
    webhook_delivery.deliver_due(factory, now=NOW)
    _withdraw(db, feature)
    assert webhook_delivery.enqueue(db, feature, "withdrawn", now=NOW) == 2

    assert webhook_delivery.deliver_due(factory, now=NOW) == 2
    withdrawn = receiver.on("/ok")[-1]
    assert withdrawn.headers["x-tod-event"] == "feature.withdrawn"
    assert withdrawn.json["id"] == feature.id
    assert withdrawn.json["people"] == [] and withdrawn.json["body"] == ""
    assert withdrawn.json["withdrawn_at"] == "2026-11-23T07:00:00Z"
    card = receiver.on("/accepted")[-1].body.decode()
    assert "Kari" not in card and "vaktlista" not in card
    assert all(r.status == "delivered" for r in deliveries(db, teams))


def test_withdrawn_before_delivery_sends_nothing(db, factory, receiver, scene):
    s = scene
    feature = publish(db, s.org, s.giver, [s.kari], s.values)
    hook(db, s.org, f"{receiver.url}/flaky")
    webhook_delivery.enqueue(db, feature, "published", now=NOW)
    webhook_delivery.deliver_due(factory, now=NOW)  # 503: waits for a retry
    _withdraw(db, feature)
    webhook_delivery.enqueue(db, feature, "withdrawn", now=NOW)
    receiver.up = True

    assert webhook_delivery.deliver_due(factory, now=NOW + timedelta(hours=2)) == 0
    assert len(receiver.requests) == 1  # only the first, failed attempt
    published, withdrawn = deliveries(db)
    assert published.status == withdrawn.status == DeliveryStatus.failed
    assert published.last_error == webhook_delivery.SKIP_WITHDRAWN
    assert withdrawn.last_error == webhook_delivery.SKIP_NEVER_ANNOUNCED


# --- two schedulers at once ---------------------------------------------------------------


def test_parallel_runs_post_each_delivery_exactly_once(engine, receiver):
    """Two deliver_due runs in threads, on committed data (SQLite file and PostgreSQL)."""
    with new_session(engine=engine) as s:
        org = make_org(s)
        value = make_value(s, org)
        giver, kari = make_person(s, org), make_person(s, org)
        for n in range(4):
            hook(s, org, f"{receiver.url}/slow?n={n}")
        for week in (46, 47, 48):
            feature = publish(s, org, giver, [kari], [value], week=week)
            webhook_delivery.enqueue(s, feature, "published", now=NOW)
        s.commit()
        org_id = org.id
        expected = sorted(
            str(i)
            for i in s.exec(
                select(WebhookDelivery.id)
                .join(Webhook, col(Webhook.id) == WebhookDelivery.webhook_id)
                .where(Webhook.org_id == org_id)
            )
        )
    assert len(expected) == 12
    try:
        barrier = threading.Barrier(2)
        sent: list[int] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                barrier.wait()
                sent.append(
                    webhook_delivery.deliver_due(lambda: new_session(engine=engine), now=NOW)
                )
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(r.headers["x-tod-delivery"] for r in receiver.requests) == expected
        assert sum(sent) == 12
        with new_session(engine=engine) as s:
            statuses = s.exec(
                select(WebhookDelivery.status, func.count())
                .join(Webhook, col(Webhook.id) == WebhookDelivery.webhook_id)
                .where(Webhook.org_id == org_id)
                .group_by(col(WebhookDelivery.status))
            ).all()
        assert [(str(status), n) for status, n in statuses] == [("delivered", 12)]
    finally:
        with new_session(engine=engine) as s:
            s.execute(delete(Organisation).where(col(Organisation.id) == org_id))
            s.commit()


# --- admin pages --------------------------------------------------------------------------


def _audit(db: Session, org: Organisation) -> list[str]:
    return list(
        db.exec(
            select(AuditEvent.action)
            .where(AuditEvent.org_id == org.id)
            .order_by(col(AuditEvent.id))
        )
    )


def _admin(client, db, org: Organisation) -> Person:
    admin = make_person(db, org, role="admin", name="Ada Admin")
    login(client, db, admin)
    return admin


def _org_webhooks(db: Session, org: Organisation) -> list[Webhook]:
    db.expire_all()
    return list(db.exec(select(Webhook).where(Webhook.org_id == org.id)))


@pytest.mark.parametrize("role", ["employee", "leader", "curator"])
def test_only_admins_see_or_change_webhooks(client, db, role):
    org = make_org(db)
    webhook = hook(db, org, "https://example.no/hook")
    login(client, db, make_person(db, org, role=role))
    for url in ["/admin/webhooks", f"/admin/webhooks/{webhook.id}"]:
        assert client.get(f"/{org.slug}{url}").status_code == 403
    data = {"kind": "generic", "name": "Min", "url": "https://example.no/x"}
    assert post_form(client, f"/{org.slug}/admin/webhooks", data).status_code == 403
    assert post_form(client, f"/{org.slug}/admin/webhooks/{webhook.id}/delete").status_code == 403
    assert [w.id for w in _org_webhooks(db, org)] == [webhook.id]


def test_another_orgs_webhooks_are_404_and_unchanged(client, db, receiver):
    mine = make_org(db)
    theirs = make_org(db)
    _admin(client, db, mine)
    their_hook = hook(db, theirs, "https://example.no/theirs", name="Deres")
    value = make_value(db, theirs)
    people = make_person(db, theirs), make_person(db, theirs)
    feature = publish(db, theirs, people[0], [people[1]], [value])
    webhook_delivery.enqueue(db, feature, "published", now=NOW)
    [their_delivery] = deliveries(db, their_hook)
    their_delivery.status = DeliveryStatus.failed
    db.add(their_delivery)
    db.flush()
    my_hook = hook(db, mine, "https://example.no/mine")

    assert client.get(f"/{theirs.slug}/admin/webhooks").status_code == 404
    assert client.get(f"/{mine.slug}/admin/webhooks/{their_hook.id}").status_code == 404
    for action in ["active", "delete", "test"]:
        url = f"/{mine.slug}/admin/webhooks/{their_hook.id}/{action}"
        assert post_form(client, url).status_code == 404
    for hook_id in (their_hook.id, my_hook.id):
        url = f"/{mine.slug}/admin/webhooks/{hook_id}/deliveries/{their_delivery.id}/retry"
        assert post_form(client, url).status_code == 404
    assert [(w.name, w.active) for w in _org_webhooks(db, theirs)] == [("Deres", True)]
    assert deliveries(db, their_hook)[0].status == DeliveryStatus.failed
    assert "Deres" not in client.get(f"/{mine.slug}/admin/webhooks").text


def test_index_links_to_webhooks(client, db):
    org = make_org(db)
    _admin(client, db, org)
    assert f'href="/{org.slug}/admin/webhooks"' in client.get(f"/{org.slug}/admin").text


def test_add_a_teams_webhook_without_showing_its_signature(client, db):
    org = make_org(db)
    _admin(client, db, org)
    url = "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=TOPSECRETSIG"
    response = post_form(
        client, f"/{org.slug}/admin/webhooks", {"kind": "teams", "name": "Alle ansatte", "url": url}
    )
    assert response.status_code == 303
    [webhook] = _org_webhooks(db, org)
    assert (webhook.kind, webhook.name, webhook.url, webhook.active) == (
        WebhookKind.teams,
        "Alle ansatte",
        url,
        True,
    )
    assert webhook.secret == ""
    assert response.headers["location"] == f"/{org.slug}/admin/webhooks/{webhook.id}"
    listing = client.get(f"/{org.slug}/admin/webhooks").text
    assert "Alle ansatte" in listing and "prod-01.westeurope.logic.azure.com" in listing
    detail = client.get(f"/{org.slug}/admin/webhooks/{webhook.id}").text
    assert "logic.azure.com/workflows/abc/triggers/manual/paths/invoke?…" in detail
    for text in (listing, detail):
        assert "TOPSECRETSIG" not in text and "api-version" not in text
    assert _audit(db, org) == ["webhook.add"]


def test_a_generic_webhooks_secret_is_shown_once(client, db):
    org = make_org(db)
    _admin(client, db, org)
    response = post_form(
        client,
        f"/{org.slug}/admin/webhooks",
        {"kind": "generic", "name": "Intranett", "url": "https://intranett.example.no/tod"},
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    [webhook] = _org_webhooks(db, org)
    assert len(webhook.secret) >= 43
    assert webhook.secret in response.text
    assert webhook.secret not in client.get(f"/{org.slug}/admin/webhooks/{webhook.id}").text
    assert webhook.secret not in client.get(f"/{org.slug}/admin/webhooks").text
    assert webhook.secret not in str(db.exec(select(AuditEvent.detail)).all())


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"url": "not an address"}, "url"),
        ({"url": "ftp://example.no/hook"}, "url"),
        ({"url": "http://example.no/hook"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "https://" + "a" * 1000 + ".no/"}, "url"),
        ({"url": "https://user:password@example.no/hook"}, "url"),
        ({"url": "https://example.no:99999/hook"}, "url"),
        ({"url": ""}, "url"),
        ({"name": ""}, "name"),
        ({"name": "n" * 81}, "name"),
        ({"kind": "smtp"}, "kind"),
    ],
)
def test_bad_input_is_shown_next_to_the_field_and_changes_nothing(client, db, data, field):
    org = make_org(db)
    _admin(client, db, org)
    form = {"kind": "generic", "name": "Intranett", "url": "https://example.no/hook", **data}
    response = post_form(client, f"/{org.slug}/admin/webhooks", form)
    assert response.status_code == 422
    assert f'id="f-{field}-error"' in response.text
    assert f'id="f-{field}"' in response.text and 'aria-invalid="true"' in response.text
    assert _org_webhooks(db, org) == []
    assert _audit(db, org) == []


def test_plain_http_only_to_this_machine_and_only_in_dev_mode():
    allowed = frozenset({"127.0.0.1", "localhost"})
    assert webhooks.clean_url("http://127.0.0.1:8080/hook", dev=True, allowed=allowed)
    assert webhooks.clean_url("http://localhost/hook", dev=True, allowed=allowed)
    for url in ["http://127.0.0.1:8080/hook", "http://localhost/hook"]:
        with pytest.raises(ValueError) as exc:
            webhooks.clean_url(url, dev=False, allowed=allowed)
        assert exc.value.args[0] == webhooks.HTTPS_ONLY
    # Without the setting, this machine is refused even in dev mode.
    with pytest.raises(ValueError) as exc:
        webhooks.clean_url("http://127.0.0.1:8080/hook", dev=True)
    assert exc.value.args[0] == webhooks.INSIDE_NETWORK["loopback"]
    with pytest.raises(ValueError):
        webhooks.clean_url("http://10.0.0.1/hook", dev=True)
    assert webhooks.clean_url(" https://example.no/hook ", dev=False) == "https://example.no/hook"


def test_deactivate_gives_up_waiting_deliveries_and_activate_turns_it_back_on(
    client, db, scene, receiver
):
    s = scene
    _admin(client, db, s.org)
    webhook = hook(db, s.org, f"{receiver.url}/ok", name="Intranett")
    feature = publish(db, s.org, s.giver, [s.kari], s.values)
    webhook_delivery.enqueue(db, feature, "published", now=NOW)

    response = post_form(client, f"/asnes/admin/webhooks/{webhook.id}/active")
    assert response.status_code == 303
    db.refresh(webhook)
    assert webhook.active is False
    [row] = deliveries(db)
    assert (row.status, row.last_error) == ("failed", webhooks.SKIP_DEACTIVATED)
    assert (
        webhook_delivery.enqueue(
            db, publish(db, s.org, s.giver, [s.kari], s.values, week=47), "published"
        )
        == 0
    )

    post_form(client, f"/asnes/admin/webhooks/{webhook.id}/active", {"active": "on"})
    db.refresh(webhook)
    assert webhook.active is True
    assert _audit(db, s.org) == ["webhook.deactivate", "webhook.activate"]


def test_delete_removes_the_webhook_and_its_history(client, db, scene, receiver):
    s = scene
    _admin(client, db, s.org)
    webhook = hook(db, s.org, f"{receiver.url}/ok", name="Gammel")
    webhook_delivery.enqueue(
        db, publish(db, s.org, s.giver, [s.kari], s.values), "published", now=NOW
    )

    response = post_form(client, f"/asnes/admin/webhooks/{webhook.id}/delete")
    assert response.status_code == 303
    assert response.headers["location"] == "/asnes/admin/webhooks"
    assert _org_webhooks(db, s.org) == []
    assert deliveries(db) == []
    assert _audit(db, s.org) == ["webhook.delete"]


def test_send_a_test_explains_when_there_is_nothing_to_send(client, db):
    org = make_org(db)
    _admin(client, db, org)
    webhook = hook(db, org, "https://example.no/hook")
    response = post_form(client, f"/{org.slug}/admin/webhooks/{webhook.id}/test", headers=EN)
    assert response.status_code == 422
    assert "There is no published feature yet" in response.text
    assert deliveries(db) == []
    assert _audit(db, org) == []


def test_send_a_test_sends_the_current_feature_marked_as_a_test(
    client, db, factory, receiver, scene
):
    s = scene
    _admin(client, db, s.org)
    generic = hook(db, s.org, f"{receiver.url}/ok")
    teams = hook(db, s.org, f"{receiver.url}/accepted", WebhookKind.teams)
    publish(db, s.org, s.giver, [s.kari], s.values, week=47, headline="Forrige uke")
    publish(db, s.org, s.giver, [s.kari], s.values, week=48, headline="Denne uka")

    for webhook in (generic, teams, generic):  # a second test replaces the first
        response = post_form(client, f"/asnes/admin/webhooks/{webhook.id}/test")
        assert response.status_code == 303
    rows = deliveries(db)
    assert [(r.webhook_id, r.event) for r in rows] == [(generic.id, "test"), (teams.id, "test")]

    # The route enqueues on the app's clock, which this module holds at NOW.
    assert webhook_delivery.deliver_due(factory, now=NOW + timedelta(minutes=1)) == 2
    got = receiver.on("/ok")[0]
    assert got.headers["x-tod-event"] == "feature.test"
    assert (got.json["event"], got.json["headline"]) == ("feature.test", "Denne uka")
    card = receiver.on("/accepted")[0].json["attachments"][0]["content"]
    assert card["body"][0].get("isSubtle") is True  # the "this is a test" line
    assert _audit(db, s.org) == ["webhook.test", "webhook.test", "webhook.test"]


def test_delivery_times_are_shown_in_the_orgs_time_zone(client, db, receiver, scene):
    s = scene
    _admin(client, db, s.org)
    webhook = hook(db, s.org, f"{receiver.url}/ok", created_at=NOW)
    webhook_delivery.enqueue(
        db, publish(db, s.org, s.giver, [s.kari], s.values), "published", now=NOW
    )
    page = client.get(f"/asnes/admin/webhooks/{webhook.id}").text
    assert "07:00" in page  # 06:00 UTC is 07:00 in Oslo
    assert "06:00" not in page
    assert '<th scope="row">' in page and 'class="table-wrap' in page


def test_scheduler_runs_the_delivery_job_every_30_seconds():
    from app.scheduler import job_specs

    found = {job_id: (func, trigger) for func, trigger, job_id in job_specs()}
    func, trigger = found["webhooks"]
    assert func is webhook_delivery.deliver_due
    assert trigger.interval_length == 30


def test_the_photo_goes_with_the_message_as_a_public_jpeg(db, scene):
    from app.embed import service as embed
    from tests.helpers import make_image

    s = scene
    hero = make_person(db, s.org, name="Kari Nordmann")
    feature = publish(db, s.org, s.giver, [hero], s.values)
    assert webhook_delivery.generic_payload(feature, "https://x", "published")["image"] is None
    feature.image = make_image(db, s.org, s.giver)  # 320 and 800 px, WebP and JPEG
    feature.image.alt = "Kari med vaktlista"
    db.flush()

    image = webhook_delivery.generic_payload(feature, "https://x", "published")["image"]
    path = f"/embed/{s.org.slug}/photo/{feature.id}/{feature.image_id}/800.jpg"
    assert image == {"url": image["url"], "width": 800, "height": 600, "alt": "Kari med vaktlista"}
    assert image["url"].endswith(path)
    variant = embed.public_variant(db, s.org, feature.id, feature.image_id, 800, "jpg")
    assert variant is not None  # the URL names what the public route serves
    card = webhook_delivery.teams_payload(feature, "https://tod.example")["attachments"][0][
        "content"
    ]
    blocks = [b for b in card["body"] if b["type"] == "Image"]
    assert blocks == [
        {"type": "Image", "url": image["url"], "altText": "Kari med vaktlista", "size": "Stretch"}
    ]
    withdrawn = webhook_delivery.generic_payload(feature, "https://x", "withdrawn")
    assert withdrawn["image"] is None


# --- never inside the network (SSRF) ------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://169.254.169.254/latest/meta-data/", "lenkelokal adresse"),
        ("https://10.0.0.1/", "privat nettverk"),
        ("https://192.168.1.1/admin", "privat nettverk"),
        ("https://[fd00::1]/", "privat nettverk"),
        ("https://[::ffff:10.0.0.1]/", "privat nettverk"),
        ("https://0x7f000001/", "serveren selv"),
        ("https://2130706433/", "serveren selv"),
        ("https://127.0.0.2/hook", "serveren selv"),
        ("http://localhost:22/", "serveren selv"),
        ("https://[ff02::1]/", "reservert"),
    ],
)
def test_admin_page_refuses_an_address_inside_the_network_and_says_why(client, db, url, message):
    org = make_org(db, locale="nb")
    _admin(client, db, org)
    response = post_form(
        client,
        f"/{org.slug}/admin/webhooks",
        {"kind": "generic", "name": "Inne", "url": url},
        headers={"Accept-Language": "nb"},
    )
    assert response.status_code == 422
    assert 'id="f-url-error"' in response.text and message in response.text
    assert _org_webhooks(db, org) == []
    assert _audit(db, org) == []


def test_the_address_is_checked_again_at_every_delivery(db, factory, receiver, scene, monkeypatch):
    """A webhook saved before the check, or a name that later resolves inside: nothing sent."""
    s = scene
    port = urlsplit(receiver.url).port
    by_name = hook(db, s.org, f"http://localhost:{port}/ok", name="by name")
    numeric = hook(db, s.org, f"http://2130706433:{port}/ok", name="numeric")
    rebound = hook(db, s.org, f"https://intranett.asnes.example:{port}/ok", name="rebound")
    real_getaddrinfo = webhook_delivery.netguard.anyio.getaddrinfo

    async def resolve(host, port, **kw):
        if host == "intranett.asnes.example":
            return await real_getaddrinfo("10.1.2.3", port, **kw)
        return await real_getaddrinfo(host, port, **kw)

    monkeypatch.setattr(webhook_delivery.netguard.anyio, "getaddrinfo", resolve)
    webhook_delivery.enqueue(
        db, publish(db, s.org, s.giver, [s.kari], s.values), "published", now=NOW
    )
    assert webhook_delivery.deliver_due(factory, now=NOW) == 0
    assert receiver.requests == []
    rows = {row.webhook_id: row for row in deliveries(db)}
    assert rows[by_name.id].last_error == "Refused: localhost (127.0.0.1) is a loopback address"
    assert rows[numeric.id].last_error == "Refused: 2130706433 (127.0.0.1) is a loopback address"
    assert rows[rebound.id].last_error == (
        "Refused: intranett.asnes.example (10.1.2.3) is a private address"
    )
    for row in rows.values():
        assert (row.status, row.attempts, row.last_status) == ("pending", 1, None)


def test_a_redirect_into_the_network_is_not_followed(db, factory, receiver, scene):
    s = scene
    hook(db, s.org, f"{receiver.url}/redirect")  # answers 302 to a loopback address
    webhook_delivery.enqueue(
        db, publish(db, s.org, s.giver, [s.kari], s.values), "published", now=NOW
    )
    assert webhook_delivery.deliver_due(factory, now=NOW) == 0
    assert [r.path for r in receiver.requests] == ["/redirect"]
    [row] = deliveries(db)
    assert row.last_status == 302 and "redirects are not followed" in row.last_error
