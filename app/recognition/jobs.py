"""E-mail to recipients ("Du ble sett!"): at once after the undo window, or as a daily digest.

The give request only writes `Notification` rows (the outbox); these jobs deliver them.

Claiming. A row is picked with `SELECT ... FOR UPDATE SKIP LOCKED` (PostgreSQL: two schedulers
take different rows; SQLite: BEGIN IMMEDIATE in app/db.py serialises the transactions), and in
the same short transaction it is *leased*: `attempts + 1` and `due_at` moved `LEASE` ahead, so
no other run sees it as due while it is being sent. That transaction commits before the SMTP
call, so no database lock (on SQLite, the whole database's write lock) is held while a slow
mail server answers, and the give request never waits for SMTP.

Delivery is at-least-once: we send, then mark `sent_at`. A crash between the two sends that
e-mail again once the lease runs out. The other order (mark, then send) would lose the e-mail
on such a crash; for a "you were seen" message a rare duplicate is the lesser harm.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import ColumnElement, update
from sqlmodel import Session, col, select

from app import i18n, mail
from app.config import ROOT, get_settings
from app.errors import N_
from app.kernel import outbox
from app.kernel.clock import utcnow
from app.orgs.models import EmailFrequency, Person
from app.recognition.giving import next_digest_time
from app.recognition.models import Notification, Recognition

log = logging.getLogger("tod.jobs.notifications")

SessionFactory = Callable[[], Session]

# 1, 2, 4 ... minutes, then six-hourly: twelve attempts span about a day of mail-server outage.
MAX_ATTEMPTS = 12
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=6)
# Longer than any one send can take (mail.send times out after 15 s), so a lease never runs
# out while its e-mail is still on the way; after a crash the row is due again this much later.
LEASE = timedelta(minutes=10)
RETRY = outbox.Retry(MAX_ATTEMPTS, BACKOFF_FIRST, BACKOFF_CAP, LEASE)
SUBJECT = N_("You were seen!")

# E-mail templates: HTML is autoescaped (user text never becomes markup), plain text is not
# (it would show "&lt;" to the reader). Same gettext helpers as the pages: they read the
# locale from `request.state.locale`, so we render with a stand-in request.
email_env = Environment(
    loader=FileSystemLoader(str(ROOT / "templates")),
    autoescape=select_autoescape(
        enabled_extensions=("html",), disabled_extensions=("txt",), default=True
    ),
    extensions=["jinja2.ext.i18n"],
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
email_env.install_gettext_callables(i18n.jinja_gettext, i18n.jinja_ngettext, newstyle=True)  # type: ignore[attr-defined]


# --- the e-mail ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    giver: str
    values: list[str]
    text: str
    url: str


def recipient_locale(person: Person) -> str:
    return i18n.normalise(person.locale) or i18n.normalise(person.org.locale) or i18n.DEFAULT_LOCALE


def build_message(person: Person, recognitions: Sequence[Recognition]) -> EmailMessage:
    """One "Du ble sett!" e-mail to `person` about one or more recognitions."""
    org = person.org
    base = get_settings().base_url
    locale = recipient_locale(person)
    me_url = f"{base}/{org.slug}/me"
    items = [
        Item(
            giver=rec.giver.name,
            values=[link.value.name for link in rec.value_links],
            text=rec.text,
            url=f"{base}/{org.slug}/r/{rec.id}",
        )
        for rec in sorted(recognitions, key=lambda r: (r.created_at, r.id or 0))
    ]
    subject = i18n.catalog(locale).gettext(SUBJECT)
    context = {
        "request": SimpleNamespace(state=SimpleNamespace(locale=locale)),
        "locale": locale,
        "subject": subject,
        "name": person.name,
        "org_name": org.name,
        "items": items,
        "me_url": me_url,
    }
    text = email_env.get_template("email/recognition.txt").render(context)
    html = email_env.get_template("email/recognition.html").render(context)
    msg = mail.build(person.email, subject, text, html)
    msg["Content-Language"] = locale
    # Mail clients show an "unsubscribe" button for this; the page lets them choose
    # instant, daily or no e-mail (it is not a one-click POST, so no List-Unsubscribe-Post).
    msg["List-Unsubscribe"] = f"<{me_url}>"
    return msg


# --- shared steps -------------------------------------------------------------------------


def _due(now: datetime, *, digest: bool) -> list[ColumnElement[bool]]:
    return [
        col(Notification.digest).is_(digest),
        col(Notification.sent_at).is_(None),
        col(Notification.due_at) <= now,
        col(Notification.attempts) < MAX_ATTEMPTS,
    ]


def _skip_reason(row: Notification) -> str | None:
    if row.recognition.hidden_by_curator:
        return "skipped: hidden by a curator"
    if not row.person.active:
        return "skipped: recipient is inactive"
    if row.person.email_frequency == EmailFrequency.none:
        return "skipped: recipient turned e-mail off"
    return None


def _skip(session: Session, row: Notification, reason: str, now: datetime) -> None:
    row.sent_at = now
    row.last_error = reason
    session.add(row)
    log.info("notification %s %s", row.id, reason)


def _lease(session: Session, rows: Sequence[Notification], now: datetime) -> None:
    for row in rows:
        row.attempts += 1
        row.due_at = RETRY.leased_until(now)
        session.add(row)


def describe_error(exc: BaseException) -> str:
    """A short, single-line reason for `last_error`; never the SMTP password."""
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error
        detail = f"{exc.smtp_code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
    else:
        detail = str(exc)
    text = " ".join(f"{type(exc).__name__}: {detail}".split())
    password = urlsplit(get_settings().smtp_url).password
    if password:
        for secret in {password, unquote(password)}:
            text = text.replace(secret, "***")
    return text[:300]


def _deliver(
    session: Session, ids: list[int], attempts: int, msg: EmailMessage | Exception, now: datetime
) -> Exception | None:
    """Send outside any transaction, then record the outcome; returns the error, if any."""
    error: Exception | None = msg if isinstance(msg, Exception) else None
    if not isinstance(msg, Exception):
        try:
            mail.send(msg)
        except Exception as exc:  # any failure is retried later; the job must go on
            error = exc
    pending = [col(Notification.id).in_(ids), col(Notification.sent_at).is_(None)]
    if error is None:
        # By id, not through the ORM: the recognition may have been deleted meanwhile.
        session.execute(update(Notification).where(*pending).values(sent_at=now, last_error=""))
    else:
        reason = describe_error(error)
        session.execute(
            update(Notification)
            .where(*pending)
            .values(due_at=now + RETRY.backoff(attempts), last_error=reason)
        )
        RETRY.log_failure(log, f"notification {','.join(map(str, ids))}", attempts, reason)
    session.commit()
    return error


def _render(person: Person, recognitions: Sequence[Recognition]) -> EmailMessage | Exception:
    try:
        return build_message(person, recognitions)
    except Exception as exc:  # a broken template must not stop the other messages
        log.exception("could not render the e-mail to person %s", person.id)
        return exc


# --- jobs ---------------------------------------------------------------------------------


def send_due_notifications(
    session_factory: SessionFactory, now: datetime | None = None, batch: int = 50
) -> int:
    """Send instant notifications whose undo window has passed; returns e-mails sent."""
    now = now or utcnow()
    session = session_factory()

    def turn(unreachable: set[Hashable]) -> outbox.Turn | None:
        if unreachable:
            return None  # the others stay due, untouched, for the next run
        session.expire_all()  # see what other processes changed since the last message
        row = session.exec(
            select(Notification)
            .where(*_due(now, digest=False))
            .order_by(col(Notification.due_at), col(Notification.id))
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if row is None:
            return None
        reason = _skip_reason(row)
        if reason is not None:
            _skip(session, row, reason, now)
            session.commit()
            return outbox.HANDLED
        if row.person.email_frequency == EmailFrequency.daily:
            # They switched to the daily e-mail after this was queued: honour the new choice.
            row.digest = True
            row.due_at = next_digest_time(row.person.org, now)
            session.add(row)
            session.commit()
            return outbox.HANDLED
        _lease(session, [row], now)
        msg = _render(row.person, [row.recognition])
        ids, attempts = [row.id or 0], row.attempts
        session.commit()
        return outbox.mail_turn(_deliver(session, ids, attempts, msg, now))

    try:
        return outbox.drain(batch, turn)
    finally:
        session.close()


def send_daily_digests(
    session_factory: SessionFactory, now: datetime | None = None, people: int = 200
) -> int:
    """One e-mail per person whose digest is due, listing every pending recognition."""
    now = now or utcnow()
    session = session_factory()

    def turn(unreachable: set[Hashable]) -> outbox.Turn | None:
        if unreachable:
            return None
        session.expire_all()
        first = session.exec(
            select(Notification)
            .where(*_due(now, digest=True))
            .order_by(col(Notification.due_at), col(Notification.id))
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if first is None:
            return None
        person = first.person
        rows = list(
            session.exec(
                select(Notification)
                .where(Notification.person_id == person.id, *_due(now, digest=True))
                .order_by(col(Notification.id))
                .with_for_update(skip_locked=True)
            )
        )
        keep = []
        for row in rows:
            reason = _skip_reason(row)
            if reason is None:
                keep.append(row)
            else:
                _skip(session, row, reason, now)
        if not keep:
            session.commit()
            return outbox.HANDLED
        _lease(session, keep, now)
        msg = _render(person, [row.recognition for row in keep])
        ids = [row.id or 0 for row in keep]
        attempts = max(row.attempts for row in keep)
        session.commit()
        return outbox.mail_turn(_deliver(session, ids, attempts, msg, now))

    try:
        return outbox.drain(people, turn)
    finally:
        session.close()
