"""The relay in the background: weekly reminders, the stall notice, and the relay's e-mails.

`relay_tick` asks the database what is due, so a tick missed while the app was down is caught
up at the next one, and two schedulers cannot remind twice:

- a holder is reminded a week after receiving the baton and then weekly, at most three times;
  each reminder is a conditional UPDATE of the leg (`WHERE reminders = n`) plus an outbox row
  with a unique key (`reminder:<leg>:<n>`);
- a week after the third reminder, if they still hold the baton, the curators are told that
  it has stalled, once (`WHERE stalled_at IS NULL`, keys `stalled:<leg>:<curator>`).

E-mails are rows of `StoryMail`, written in the same transaction as the change that causes
them and sent here outside any transaction, with the shared outbox retry rules: at least once
(a crash between sending and marking repeats one message).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import update
from sqlmodel import Session, col, select

from app import i18n, mail
from app.config import get_settings
from app.errors import N_
from app.kernel import outbox
from app.kernel.clock import utcnow
from app.recognition.jobs import describe_error, recipient_locale
from app.stories.models import Leg, LegStatus, MailKind, Relay, StoryAnswer, StoryMail
from app.stories.relay import curators

log = logging.getLogger("tod.jobs.stories")

SessionFactory = Callable[[], Session]

REMIND_EVERY = timedelta(days=7)
MAX_REMINDERS = 3
RETRY = outbox.Retry(
    max_attempts=12,
    first=timedelta(minutes=1),
    cap=timedelta(hours=6),
    lease=timedelta(minutes=10),
)

SUBJECTS = {
    MailKind.baton: N_("You have the baton"),
    MailKind.reminder: N_("You still have the baton"),
    MailKind.stalled: N_("The baton has stalled"),
    MailKind.returned: N_("A leader handed the baton back"),
    MailKind.consent: N_("A story is about you"),
}


# --- reminders and the stall notice --------------------------------------------------------


def _remind(session: Session, leg: Leg, now: datetime) -> bool:
    """Reminder number `leg.reminders + 1`, once; False when another run sent it."""
    n = leg.reminders
    done = session.execute(
        update(Leg)
        .where(col(Leg.id) == leg.id, col(Leg.reminders) == n, col(Leg.status) == LegStatus.holding)
        .values(reminders=n + 1, last_reminded_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.add(
        StoryMail(
            org_id=leg.org_id,
            person_id=leg.holder_id,
            kind=MailKind.reminder,
            key=f"reminder:{leg.id}:{n + 1}",
            leg_id=leg.id,
            due_at=now,
        )
    )
    return True


def _stall(session: Session, leg: Leg, now: datetime) -> bool:
    """Tell the curators once that the baton has stalled."""
    done = session.execute(
        update(Leg)
        .where(col(Leg.id) == leg.id, col(Leg.stalled_at).is_(None))
        .values(stalled_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return False
    for curator in curators(session, leg.relay.org):
        session.add(
            StoryMail(
                org_id=leg.org_id,
                person_id=curator.id,
                kind=MailKind.stalled,
                key=f"stalled:{leg.id}:{curator.id}",
                leg_id=leg.id,
                due_at=now,
            )
        )
    return True


def remind_due(session: Session, now: datetime) -> list[str]:
    """Queue the reminders and stall notices due at `now`; what it did. Does not commit."""
    legs = session.exec(
        select(Leg)
        .join(Relay, col(Relay.id) == Leg.relay_id)
        .where(
            Leg.status == LegStatus.holding,
            col(Leg.holder_id).is_not(None),
            col(Relay.closed_at).is_(None),
            col(Leg.stalled_at).is_(None),
            col(Leg.received_at) <= now - REMIND_EVERY,
        )
        .order_by(col(Leg.id))
    ).all()
    done = []
    for leg in legs:
        since = leg.last_reminded_at or leg.received_at
        if now - since < REMIND_EVERY:
            continue
        if leg.reminders < MAX_REMINDERS:
            if _remind(session, leg, now):
                done.append(f"leg {leg.id}: reminder {leg.reminders + 1}")
        elif _stall(session, leg, now):
            done.append(f"leg {leg.id}: stalled, curators told")
    return done


def relay_tick(session_factory: SessionFactory, now: datetime | None = None) -> list[str]:
    """Remind holders, tell curators of stalled batons, and send the relay's e-mails."""
    now = now or utcnow()
    with session_factory() as session:
        done = remind_due(session, now)
        session.commit()
    sent = send_due_mail(session_factory, now=now)
    if sent:
        done.append(f"sent {sent} relay e-mail(s)")
    return done


# --- e-mails -------------------------------------------------------------------------------


def _skip_reason(row: StoryMail) -> str | None:
    if not row.person.active:
        return "skipped: person is inactive"
    leg = row.leg
    holds = leg is not None and leg.status == LegStatus.holding and leg.relay.closed_at is None
    if row.kind in (MailKind.baton, MailKind.reminder) and not holds:
        return "skipped: no longer holds the baton"
    if row.kind == MailKind.stalled and (leg is None or leg.status != LegStatus.holding):
        return "skipped: the baton moved on"
    if row.kind == MailKind.consent:
        story = row.story
        mine = (
            next((c for c in story.consents if c.person_id == row.person_id), None)
            if story
            else None
        )
        if mine is None or mine.answer != StoryAnswer.pending:
            return "skipped: already answered"
    return None


def build_message(row: StoryMail) -> EmailMessage:
    """The e-mail of one outbox row, in the reader's language."""
    person = row.person
    org = person.org
    locale = recipient_locale(person)
    _ = i18n.catalog(locale).gettext
    base = get_settings().base_url
    leg = row.leg
    relay = leg.relay if leg is not None else (row.story.relay if row.story else None)
    title = relay.title if relay is not None else ""
    url = f"{base}/{org.slug}/stories" + (f"/relays/{relay.id}" if relay is not None else "")
    lines = [_("Hi %(name)s,") % {"name": person.name}, ""]
    if row.kind == MailKind.baton:
        giver = leg.given_by.name if leg is not None and leg.given_by else ""
        lines.append(
            _("%(giver)s passed you the baton in the relay “%(relay)s”.")
            % {"giver": giver, "relay": title}
        )
        lines.append(_("Write a good story from your unit, then pass the baton to another leader."))
    elif row.kind == MailKind.reminder:
        lines.append(_("You have held the baton in “%(relay)s” for a while.") % {"relay": title})
        lines.append(
            _("Write your story and pass it on, or hand it back with a reason if you cannot.")
        )
    elif row.kind == MailKind.stalled:
        holder = leg.holder.name if leg is not None and leg.holder else ""
        lines.append(
            _("%(holder)s has held the baton in “%(relay)s” through three reminders.")
            % {"holder": holder, "relay": title}
        )
        lines.append(_("Talk with them, give the baton to another leader, or close the relay."))
    elif row.kind == MailKind.returned:
        holder = leg.holder.name if leg is not None and leg.holder else ""
        lines.append(
            _("%(holder)s handed the baton in “%(relay)s” back: %(reason)s")
            % {"holder": holder, "relay": title, "reason": leg.return_reason if leg else ""}
        )
        lines.append(_("Give it to another leader, or close the relay."))
    else:
        story = row.story
        author = story.author.name if story is not None else ""
        lines.append(
            _("%(author)s wrote a story about you: “%(title)s”.")
            % {"author": author, "title": story.title if story else ""}
        )
        lines.append(_("It is shown in %(org)s only if you agree.") % {"org": org.name})
        url = f"{base}/{org.slug}/stories/{row.story_id}"
    lines += ["", url]
    msg = mail.build(person.email, f"{org.name}: {_(SUBJECTS[row.kind])}", "\n".join(lines) + "\n")
    msg["Content-Language"] = locale
    return msg


def send_due_mail(
    session_factory: SessionFactory, now: datetime | None = None, batch: int = 50
) -> int:
    """Send the relay's due e-mails; returns how many were sent."""
    now = now or utcnow()
    session = session_factory()

    def turn(unreachable: set[Hashable]) -> outbox.Turn | None:
        if unreachable:
            return None
        session.expire_all()
        row = session.exec(
            select(StoryMail)
            .where(
                col(StoryMail.sent_at).is_(None),
                col(StoryMail.due_at) <= now,
                col(StoryMail.attempts) < RETRY.max_attempts,
            )
            .order_by(col(StoryMail.due_at), col(StoryMail.id))
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if row is None:
            return None
        reason = _skip_reason(row)
        if reason is not None:
            row.sent_at, row.last_error = now, reason
            session.add(row)
            session.commit()
            return outbox.HANDLED
        row.attempts += 1
        row.due_at = RETRY.leased_until(now)
        session.add(row)
        row_id, attempts = row.id, row.attempts
        try:
            msg: EmailMessage | None = build_message(row)
        except Exception:  # a broken template must not stop the other messages
            log.exception("could not render relay e-mail %s", row_id)
            msg = None
        session.commit()
        error: Exception | None = None
        if msg is None:
            error = RuntimeError("could not render")
        else:
            try:
                mail.send(msg)
            except Exception as exc:
                error = exc
        pending = [col(StoryMail.id) == row_id, col(StoryMail.sent_at).is_(None)]
        if error is None:
            session.execute(update(StoryMail).where(*pending).values(sent_at=now, last_error=""))
        else:
            text = describe_error(error)
            session.execute(
                update(StoryMail)
                .where(*pending)
                .values(due_at=now + RETRY.backoff(attempts), last_error=text)
            )
            RETRY.log_failure(log, f"relay e-mail {row_id}", attempts, text)
        session.commit()
        return outbox.mail_turn(error)

    try:
        return outbox.drain(batch, turn)
    finally:
        session.close()
