"""E-mail to recipients: after the undo window, once, in their language, escaped, retried."""

import secrets
import smtplib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jinja2.ext import babel_extract
from sqlmodel import select

from app import i18n
from app.orgs.models import EmailFrequency
from app.recognition import giving, hiding, jobs
from app.recognition.models import Notification
from tests.helpers import make_org, make_person, make_value
from tests.pg import _free_port

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # 10:00 in Oslo (winter time)
# The whole app under test runs at NOW: routes, defaults and jobs alike, on any real date.
pytestmark = pytest.mark.time_machine(NOW, tick=False)
AFTER_UNDO = NOW + timedelta(seconds=giving.UNDO_SECONDS)
SCRIPT = "<script>alert(1)</script> was great"
IMG = '"><img src=x onerror=alert(1)> helped'


@pytest.fixture
def failing_smtp():
    """A real SMTP server that answers every message with `451 try later`."""
    from aiosmtpd.controller import Controller

    class Busy:
        calls = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            Busy.calls += 1
            return "451 try later"

    controller = Controller(Busy(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{controller.port}"
    finally:
        controller.stop()


@pytest.fixture
def scene(db):
    org = make_org(db, timezone="Europe/Oslo", locale="nb")
    value = make_value(db, org, name="Samarbeid")
    giver = make_person(db, org, name="Kari Nordmann")
    recipient = make_person(db, org, name="Ola Hansen", email="ola@example.no")
    return org, value, giver, recipient


def give(db, giver, recipients, values, text="Tok ansvar for vaktlista i helga.", now=NOW):
    rec, created = giving.give_recognition(
        db,
        giver=giver,
        recipient_ids=[p.id for p in recipients],
        value_ids=[v.id for v in values],
        text=text,
        idempotency_key=secrets.token_hex(8),
        now=now,
    )
    assert created
    db.flush()
    return rec


def notification(db, rec, person) -> Notification | None:
    db.expire_all()
    return db.exec(
        select(Notification).where(
            Notification.recognition_id == rec.id, Notification.person_id == person.id
        )
    ).first()


def parts(msg) -> tuple[str, str]:
    return (
        msg.get_body(preferencelist=("plain",)).get_content(),
        msg.get_body(preferencelist=("html",)).get_content(),
    )


def test_sent_after_the_undo_window_and_only_once(db, factory, inbox, scene):
    org, value, giver, recipient = scene
    rec = give(db, giver, [recipient], [value])

    assert jobs.send_due_notifications(factory, now=AFTER_UNDO - timedelta(seconds=1)) == 0
    assert inbox.messages == []

    assert jobs.send_due_notifications(factory, now=AFTER_UNDO) == 1
    assert jobs.send_due_notifications(factory, now=AFTER_UNDO) == 0
    assert jobs.send_due_notifications(factory, now=AFTER_UNDO + timedelta(hours=2)) == 0
    assert len(inbox.messages) == 1

    msg = inbox.messages[0]
    assert msg["To"] == "ola@example.no"
    assert msg["List-Unsubscribe"] == f"<https://tod.example/{org.slug}/me>"
    text, html = parts(msg)
    for part in (text, html):
        assert "Kari Nordmann" in part
        assert "Samarbeid" in part
        assert "Tok ansvar for vaktlista i helga." in part
        assert f"https://tod.example/{org.slug}/r/{rec.id}" in part
        assert f"https://tod.example/{org.slug}/me" in part
    row = notification(db, rec, recipient)
    assert row is not None
    assert row.sent_at == AFTER_UNDO
    assert row.last_error == ""


@pytest.mark.parametrize(
    ("person_locale", "org_locale", "expected"),
    [("nb", "nb", "nb"), ("sv", "nb", "sv"), ("nn", "sv", "nn"), (None, "sv", "sv")],
)
def test_in_the_recipients_language(db, factory, inbox, person_locale, org_locale, expected):
    org = make_org(db, locale=org_locale)
    value = make_value(db, org)
    giver = make_person(db, org)
    recipient = make_person(db, org, locale=person_locale)
    give(db, giver, [recipient], [value])

    jobs.send_due_notifications(factory, now=AFTER_UNDO)

    [msg] = inbox.messages
    assert msg["Content-Language"] == expected
    assert msg["Subject"] == i18n.catalog(expected).gettext(jobs.SUBJECT)
    _text, html = parts(msg)
    assert f'<html lang="{expected}">' in html


def test_hostile_text_is_escaped_in_html_and_verbatim_in_text(db, factory, inbox, scene):
    org, value, _giver, recipient = scene
    giver = make_person(db, org, name="<b>Eve</b>")
    give(db, giver, [recipient], [value], text=f"{SCRIPT}\n{IMG}")

    jobs.send_due_notifications(factory, now=AFTER_UNDO)

    text, html = parts(inbox.messages[0])
    assert SCRIPT in text
    assert IMG in text
    assert "<b>Eve</b>" in text
    assert "<script" not in html
    assert "<img" not in html
    assert "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html


@pytest.mark.parametrize("failure", ["closed_port", "451"])
def test_failure_is_retried_later_and_then_sent(
    db, factory, inbox, settings_env, failing_smtp, scene, failure
):
    _org, value, giver, recipient = scene
    rec = give(db, giver, [recipient], [value])
    if failure == "closed_port":
        settings_env(smtp_url=f"smtp://tod:s3cret-pw@127.0.0.1:{_free_port()}")
    else:
        settings_env(smtp_url=failing_smtp)

    assert jobs.send_due_notifications(factory, now=AFTER_UNDO) == 0

    row = notification(db, rec, recipient)
    assert row is not None
    assert row.sent_at is None
    assert row.attempts == 1
    assert row.due_at > AFTER_UNDO
    assert row.last_error
    assert "s3cret" not in row.last_error
    if failure == "451":
        assert "451" in row.last_error
    retry_at = row.due_at

    # Not again before its new due time, even when the mail server is back.
    settings_env(smtp_url=inbox.url)
    assert jobs.send_due_notifications(factory, now=retry_at - timedelta(seconds=1)) == 0
    assert jobs.send_due_notifications(factory, now=retry_at) == 1
    assert len(inbox.messages) == 1
    row = notification(db, rec, recipient)
    assert row is not None
    assert row.sent_at == retry_at
    assert row.last_error == ""


def test_backoff_doubles_with_jitter_and_is_capped():
    first = jobs.RETRY.backoff(1)
    assert timedelta(minutes=1) <= first <= timedelta(minutes=1.25)
    assert timedelta(minutes=4) <= jobs.RETRY.backoff(3) <= timedelta(minutes=5)
    assert jobs.RETRY.backoff(30) == jobs.BACKOFF_CAP


def test_unreachable_server_stops_the_batch(db, factory, settings_env, scene):
    org, value, giver, recipient = scene
    other = make_person(db, org)
    rec = give(db, giver, [recipient, other], [value])
    settings_env(smtp_url=f"smtp://127.0.0.1:{_free_port()}")

    jobs.send_due_notifications(factory, now=AFTER_UNDO)

    attempts = sorted(n.attempts for n in (notification(db, rec, p) for p in (recipient, other)))
    assert attempts == [0, 1]  # one try, then the run gave up; the other waits untouched


def test_gives_up_after_max_attempts(db, factory, settings_env, scene):
    _org, value, giver, recipient = scene
    rec = give(db, giver, [recipient], [value])
    row = notification(db, rec, recipient)
    assert row is not None
    row.attempts = jobs.MAX_ATTEMPTS
    db.add(row)
    db.flush()
    settings_env(smtp_url=f"smtp://127.0.0.1:{_free_port()}")

    assert jobs.send_due_notifications(factory, now=AFTER_UNDO + timedelta(days=2)) == 0
    row = notification(db, rec, recipient)
    assert row is not None
    assert row.attempts == jobs.MAX_ATTEMPTS  # left for an operator to look at, not retried


def test_undone_recognition_is_never_sent(db, factory, inbox, scene):
    _org, value, giver, recipient = scene
    rec = give(db, giver, [recipient], [value])
    giving.delete_recognition(db, giver, rec, now=NOW + timedelta(seconds=20))
    db.flush()

    assert jobs.send_due_notifications(factory, now=AFTER_UNDO + timedelta(hours=1)) == 0
    assert inbox.messages == []
    assert db.exec(select(Notification).where(Notification.person_id == recipient.id)).all() == []


def test_no_email_when_the_recipient_chose_none(db, factory, inbox, scene):
    org, value, giver, _recipient = scene
    quiet = make_person(db, org, email_frequency=EmailFrequency.none)
    rec = give(db, giver, [quiet], [value])

    assert notification(db, rec, quiet) is None
    later = NOW + timedelta(days=1)
    assert jobs.send_due_notifications(factory, now=later) == 0
    assert jobs.send_daily_digests(factory, now=later) == 0
    assert inbox.messages == []


@pytest.mark.parametrize(
    ("given_at", "digest_at"),
    [
        # 10:00 Oslo in winter (UTC+1) -> 15:00 Oslo is 14:00 UTC.
        (datetime(2026, 3, 10, 9, 0, tzinfo=UTC), datetime(2026, 3, 10, 14, 0, tzinfo=UTC)),
        # 16:00 Oslo in summer (UTC+2) -> the next day's 15:00 Oslo is 13:00 UTC.
        (datetime(2026, 6, 10, 14, 0, tzinfo=UTC), datetime(2026, 6, 11, 13, 0, tzinfo=UTC)),
    ],
)
def test_daily_digest_is_one_email_at_15_oslo(db, factory, inbox, scene, given_at, digest_at):
    org, value, _giver, _recipient = scene
    reader = make_person(db, org, email_frequency=EmailFrequency.daily, email="dag@example.no")
    texts = [f"Takk for hjelpen med oppgave {n}!" for n in range(3)]
    recs = []
    for n, text in enumerate(texts):
        giver = make_person(db, org, name=f"Giver {n}")
        recs.append(give(db, giver, [reader], [value], text=text, now=given_at))

    before = digest_at - timedelta(seconds=1)
    assert jobs.send_due_notifications(factory, now=before) == 0  # digests are not instant
    assert jobs.send_daily_digests(factory, now=before) == 0
    assert inbox.messages == []

    assert jobs.send_daily_digests(factory, now=digest_at) == 1
    assert jobs.send_daily_digests(factory, now=digest_at + timedelta(minutes=5)) == 0
    [msg] = inbox.messages
    assert msg["To"] == "dag@example.no"
    text, html = parts(msg)
    for n, rec in enumerate(recs):
        for part in (text, html):
            assert texts[n] in part
            assert f"Giver {n}" in part
            assert f"/{org.slug}/r/{rec.id}" in part
    assert all(notification(db, rec, reader).sent_at == digest_at for rec in recs)


def test_digest_failure_retries_all_together(db, factory, inbox, settings_env, scene):
    org, value, giver, _recipient = scene
    reader = make_person(db, org, email_frequency=EmailFrequency.daily)
    recs = [give(db, giver, [reader], [value], text=f"Flott innsats nummer {n}") for n in range(2)]
    digest_at = giving.next_digest_time(org, NOW)
    settings_env(smtp_url=f"smtp://127.0.0.1:{_free_port()}")

    assert jobs.send_daily_digests(factory, now=digest_at) == 0
    rows = [notification(db, rec, reader) for rec in recs]
    assert [(r.attempts, r.sent_at) for r in rows] == [(1, None), (1, None)]
    retry_at = max(r.due_at for r in rows)

    settings_env(smtp_url=inbox.url)
    assert jobs.send_daily_digests(factory, now=retry_at) == 1
    assert len(inbox.messages) == 1


def test_inactive_recipient_is_skipped(db, factory, inbox, scene):
    _org, value, giver, recipient = scene
    rec = give(db, giver, [recipient], [value])
    recipient.active = False
    db.add(recipient)
    db.flush()

    assert jobs.send_due_notifications(factory, now=AFTER_UNDO) == 0
    assert inbox.messages == []
    row = notification(db, rec, recipient)
    assert row is not None
    assert row.sent_at is not None
    assert row.last_error.startswith("skipped:")


def test_hidden_by_curator_is_skipped(db, factory, inbox, scene):
    org, value, giver, recipient = scene
    curator = make_person(db, org, role="curator")
    rec = give(db, giver, [recipient], [value])
    hiding.curator_hide(db, curator, rec, "Personal details")
    db.flush()

    assert jobs.send_due_notifications(factory, now=AFTER_UNDO) == 0
    assert inbox.messages == []
    row = notification(db, rec, recipient)
    assert row is not None
    assert row.last_error.startswith("skipped:")


def test_switch_to_daily_moves_a_pending_email_to_the_digest(db, factory, inbox, scene):
    org, value, giver, recipient = scene
    rec = give(db, giver, [recipient], [value])
    recipient.email_frequency = EmailFrequency.daily
    db.add(recipient)
    db.flush()

    assert jobs.send_due_notifications(factory, now=AFTER_UNDO) == 0
    row = notification(db, rec, recipient)
    assert row is not None
    assert row.digest
    assert row.due_at == giving.next_digest_time(org, AFTER_UNDO)
    assert jobs.send_daily_digests(factory, now=row.due_at) == 1
    assert len(inbox.messages) == 1


def test_giving_never_talks_to_smtp(db, settings_env, monkeypatch, scene):
    _org, value, giver, recipient = scene
    settings_env(smtp_url=f"smtp://127.0.0.1:{_free_port()}")

    def no_smtp(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the give request opened an SMTP connection")

    monkeypatch.setattr(smtplib.SMTP, "__init__", no_smtp)
    started = time.perf_counter()
    rec = give(db, giver, [recipient], [value], now=None)
    assert time.perf_counter() - started < 0.5
    row = notification(db, rec, recipient)
    assert row is not None
    assert row.sent_at is None


def _msgids(path: Path) -> set[str]:
    with path.open("rb") as fh:
        found = babel_extract(fh, ("_", "gettext", "ngettext"), [], {})
        return {m[0] if isinstance(m, tuple) else m for _line, _func, m, _comments in found}


def test_plain_text_template_uses_only_strings_the_catalogs_see():
    """babel.cfg extracts templates/**.html; the .txt part must not bring its own msgids."""
    text_ids = _msgids(ROOT / "templates" / "email" / "recognition.txt")
    assert text_ids
    assert text_ids <= _msgids(ROOT / "templates" / "email" / "recognition.html")
