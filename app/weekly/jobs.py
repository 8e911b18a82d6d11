"""Ukens ESS in the background: the weekly pick and publication, and the consent e-mails.

`weekly_tick` runs every minute and asks the database what is due, so a run missed while the
app was down is caught up at the next tick (within the week's publication window) and two
schedulers, the CLI or a retry after a crash cannot do anything twice:

- each organisation is handled in one short transaction that first locks its row
  (`SELECT ... FOR NO KEY UPDATE` on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises anyway),
  so the "is there a feature / did we alert" checks and the writes that follow are atomic;
- a feature is unique per organisation and ISO week, the publication is a conditional UPDATE
  (app/weekly/publish.py), and the webhook outbox rows are unique per webhook and event.

E-mail is sent after that transaction commits, never inside it. The curators' e-mails ("the
candidate is ready", "it cannot be published") are at most once: the draft row or a
`feature.alert` audit event records that they were due, and a crash before sending loses
that e-mail rather than repeating it every minute.

Consent e-mails: the one-click token is made when its e-mail is sent and only its SHA-256 is
stored, so the row is claimed (token hash set, committed) before the SMTP call. A failed send
puts the row back in the queue with a new placeholder; a crash between claim and send leaves
the question unanswered and visible to the curator, who can ask again — the raw token is
gone, so there is nothing to send a second time.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from types import SimpleNamespace

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from app import i18n, mail
from app.config import get_settings
from app.errors import N_
from app.kernel import outbox
from app.kernel.audit import AuditEvent, audit
from app.kernel.clock import utcnow
from app.orgs.models import Organisation, Person, Role
from app.recognition.jobs import describe_error, email_env, recipient_locale
from app.weekly import consent, drafting, public, publish, schedule
from app.weekly.models import ConsentAnswer, Feature, FeatureConsent, FeatureStatus, WebhookDelivery

log = logging.getLogger("tod.jobs.feature")

SessionFactory = Callable[[], Session]

CONSENT_SUBJECT = N_("May we feature you?")
READY_SUBJECT = N_("This week's candidate is ready")
ALERT_SUBJECT = N_("This week's feature cannot be published yet")
ALERT_ACTION = "feature.alert"
# A consent e-mail that failed is tried again this much later (while the feature may still
# be published); there is no attempt counter on the row, so the delay is fixed.
RETRY = timedelta(minutes=15)

ALERT_TEXT = {
    "no_feature": N_(
        "No recognition from week %(week)s could be featured, so there is no draft. "
        "Pick one yourself before %(until)s, or nothing is published this time."
    ),
    "not_approved": N_(
        "The draft for week %(week)s is not approved yet. It is published as soon as you "
        "approve it, until %(until)s."
    ),
    "consent_pending": N_(
        "Not everyone named has agreed yet (%(names)s). It is published as soon as they do, "
        "until %(until)s."
    ),
    "consent_refused": N_(
        "Someone named said no. Pick another candidate for week %(week)s before %(until)s."
    ),
}


# --- e-mails ------------------------------------------------------------------------------


def _context(locale: str) -> dict[str, object]:
    # The templates' gettext reads the locale from `request.state`, like the pages do.
    return {"request": SimpleNamespace(state=SimpleNamespace(locale=locale)), "locale": locale}


def build_consent_message(consent: FeatureConsent, raw_token: str) -> EmailMessage:
    """ "May we feature you?" with one-click yes and no links, in the person's language."""
    person = consent.person
    feature = consent.feature
    org = feature.org
    rec = feature.recognition
    base = get_settings().base_url
    locale = recipient_locale(person)
    subject = i18n.catalog(locale).gettext(CONSENT_SUBJECT)
    link = f"{base}/consent/{raw_token}"
    context = {
        **_context(locale),
        "subject": subject,
        "name": person.name,
        "org_name": org.name,
        "feature_name": org.display_feature_name,
        "giver": rec.giver.name
        if rec is not None
        else feature.story.author.name
        if feature.story is not None
        else "",
        "story": feature.story_id is not None,
        "contest": feature.entry.contest.title if feature.entry is not None else "",
        "headline": feature.headline,
        "values": [v.name for v in public.feature_values(feature)],
        "text": feature.body,
        "yes_url": f"{link}?answer=yes",
        "no_url": f"{link}?answer=no",
        "me_url": f"{base}/{org.slug}/me",
    }
    text = email_env.get_template("email/consent.txt").render(context)
    html = email_env.get_template("email/consent.html").render(context)
    msg = mail.build(person.email, subject, text, html)
    msg["Content-Language"] = locale
    return msg


def _when(moment: datetime, org: Organisation, locale: str) -> str:
    """ "mandag 30. november 07:00" in the organisation's zone and the reader's language."""
    day, time = schedule.moment_text(org, moment, locale, day="short")
    return f"{day} {time}"


def curators(session: Session, org: Organisation) -> list[Person]:
    """Who hears about the weekly pick and problems: active curators and admins."""
    return list(
        session.exec(
            select(Person)
            .where(
                Person.org_id == org.id,
                col(Person.active).is_(True),
                col(Person.role).in_([Role.curator, Role.admin]),
            )
            .order_by(col(Person.id))
        )
    )


def _curator_message(
    person: Person, org: Organisation, subject_id: str, lines: list[tuple[str, dict[str, str]]]
) -> EmailMessage:
    """A short plain-text e-mail to a curator, each line translated into their language."""
    locale = recipient_locale(person)
    gettext = i18n.catalog(locale).gettext
    subject = f"{org.display_feature_name}: {gettext(subject_id)}"
    body = [gettext("Hi %(name)s,") % {"name": person.name}, ""]
    for msgid, values in lines:
        body.append(gettext(msgid) % values if values else msgid)
    msg = mail.build(person.email, subject, "\n".join(body) + "\n")
    msg["Content-Language"] = locale
    return msg


def _subject_label(feature: Feature) -> str:
    if feature.story_id is not None:
        return f"story {feature.story_id}"
    if feature.entry_id is not None:
        return f"competition entry {feature.entry_id}"
    return f"recognition {feature.recognition_id}"


def _names(people: list[Person]) -> str:
    return ", ".join(p.name for p in people)


def ready_messages(
    session: Session, org: Organisation, feature: Feature, sched: schedule.WeekSchedule
) -> list[EmailMessage]:
    url = f"{get_settings().base_url}/{org.slug}/curate/{feature.id}"
    pending = consent.pending_people(feature)
    out = []
    for person in curators(session, org):
        locale = recipient_locale(person)
        drafted_from = (
            N_("The weekly pick drafted week %(week)s from the winning photo by %(names)s.")
            if feature.entry_id is not None
            else N_("The weekly pick drafted week %(week)s from a leader's story about %(names)s.")
            if feature.story_id is not None
            else N_("The weekly pick drafted week %(week)s from a recognition of %(names)s.")
        )
        lines: list[tuple[str, dict[str, str]]] = [
            (
                drafted_from,
                {
                    "week": sched.label,
                    "names": _names([c.person for c in feature.consents]),
                },
            ),
            (
                N_("Edit it and approve it before %(time)s."),
                {"time": _when(sched.publish_at, org, locale)},
            ),
        ]
        if pending:
            lines.append((N_("Still to agree by e-mail: %(names)s."), {"names": _names(pending)}))
        lines += [("", {}), (url, {})]
        out.append(_curator_message(person, org, READY_SUBJECT, lines))
    return out


def alert_messages(
    session: Session, org: Organisation, outcome: publish.PublishResult
) -> list[EmailMessage]:
    sched = outcome.schedule
    feature = outcome.feature
    base = get_settings().base_url
    url = f"{base}/{org.slug}/curate" + (f"/{feature.id}" if feature is not None else "")
    pending = consent.pending_people(feature) if feature is not None else []
    out = []
    for person in curators(session, org):
        locale = recipient_locale(person)
        values = {
            "week": sched.label,
            "until": _when(sched.closes_at - timedelta(minutes=1), org, locale),
            "names": _names(pending),
        }
        lines = [(ALERT_TEXT[outcome.code], values), ("", {}), (url, {})]
        out.append(_curator_message(person, org, ALERT_SUBJECT, lines))
    return out


def _send_all(messages: list[EmailMessage]) -> int:
    """Send each; a failure is logged and not retried (see the module docstring)."""
    sent = 0
    for msg in messages:
        try:
            mail.send(msg)
            sent += 1
        except Exception as exc:
            log.warning("e-mail to %s failed: %s", msg["To"], describe_error(exc))
    return sent


# --- the weekly job -----------------------------------------------------------------------


def _locked_org(session: Session, *, org_id: int | None = None, slug: str = "") -> Organisation:
    """The organisation's row, locked until commit: one tick per organisation at a time.

    NO KEY UPDATE does not block rows that merely reference the organisation (new
    recognitions, audit events) from being inserted meanwhile.
    """
    where = Organisation.id == org_id if org_id is not None else Organisation.slug == slug
    return session.exec(
        select(Organisation)
        .where(where)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).one()


def _claim_alert(
    session: Session, org: Organisation, sched: schedule.WeekSchedule, code: str
) -> bool:
    """True the first time for this organisation and week (the caller holds the org lock)."""
    target = f"week {sched.label}"
    done = session.exec(
        select(AuditEvent.id).where(
            AuditEvent.org_id == org.id,
            AuditEvent.action == ALERT_ACTION,
            AuditEvent.target == target,
        )
    ).first()
    if done is not None:
        return False
    audit(session, org, None, ALERT_ACTION, target, reason=code)
    return True


def _tick_org(session: Session, org_id: int, now: datetime) -> tuple[list[str], list[EmailMessage]]:
    org = _locked_org(session, org_id=org_id)
    lines: list[str] = []
    outbox: list[EmailMessage] = []
    for sched in schedule.open_weeks(org, now):
        label = f"{org.slug} {sched.label}"
        picked = drafting.pick_week(session, org, year=sched.year, week=sched.week, now=now)
        if picked.created and picked.feature is not None:
            lines.append(f"{label}: drafted feature {picked.feature.id}")
            outbox += ready_messages(session, org, picked.feature, sched)
        if now < sched.publish_at:
            continue
        outcome = publish.publish_week(session, org, year=sched.year, week=sched.week, now=now)
        if outcome.code == "published" and outcome.feature is not None:
            lines.append(f"{label}: published feature {outcome.feature.id}")
        elif outcome.needs_curator and _claim_alert(session, org, sched, outcome.code):
            lines.append(f"{label}: {outcome.code}, curators alerted")
            outbox += alert_messages(session, org, outcome)
    return lines, outbox


def weekly_tick(session_factory: SessionFactory, now: datetime | None = None) -> list[str]:
    """Pick, publish and alert for every organisation as its schedule says; what it did."""
    now = now or utcnow()
    done: list[str] = []
    session = session_factory()
    try:
        org_ids = [i for i in session.exec(select(Organisation.id).order_by(col(Organisation.id)))]
        session.commit()
        for org_id in org_ids:
            if org_id is None:  # pragma: no cover - a stored row has an id
                continue
            session.expire_all()
            try:
                lines, outbox = _tick_org(session, org_id, now)
                session.commit()
            except Exception as exc:
                # One organisation's problem (a bad setting, a lost connection) must not stop
                # the others; the next tick tries again.
                session.rollback()
                log.error("weekly: organisation %s failed: %s: %s", org_id, type(exc).__name__, exc)
                log.debug("weekly: organisation %s traceback", org_id, exc_info=True)
                continue
            done += lines
            _send_all(outbox)
    finally:
        session.close()
    sent = send_consent_requests(session_factory, now=now)
    if sent:
        done.append(f"sent {sent} consent e-mail(s)")
    return done


# --- consent e-mails ----------------------------------------------------------------------


def send_consent_requests(
    session_factory: SessionFactory,
    feature_id: int | None = None,
    now: datetime | None = None,
    batch: int = 50,
) -> int:
    """E-mail the queued consent questions (of one feature, or all); returns e-mails sent."""
    now = now or utcnow()
    session = session_factory()

    def turn(unreachable: set[Hashable]) -> outbox.Turn | None:
        if unreachable:
            return None  # the mail server did not answer: the others wait for the next run
        session.expire_all()
        stmt = (
            select(FeatureConsent)
            .join(Feature, col(Feature.id) == FeatureConsent.feature_id)
            .where(
                FeatureConsent.answer == ConsentAnswer.pending,
                col(FeatureConsent.token_hash).startswith(consent.QUEUED),
                col(FeatureConsent.asked_at) <= now,
                col(Feature.status).in_([FeatureStatus.draft, FeatureStatus.approved]),
                col(Feature.created_at) >= now - consent.ASK_HORIZON,
            )
        )
        if feature_id is not None:
            stmt = stmt.where(Feature.id == feature_id)
        row = session.exec(
            stmt.order_by(col(FeatureConsent.asked_at), col(FeatureConsent.id))
            .limit(1)
            .with_for_update(skip_locked=True, of=FeatureConsent)
        ).first()
        if row is None:
            return None
        raw = secrets.token_urlsafe(32)
        digest = consent.token_digest(raw)
        try:
            msg = build_consent_message(row, raw)
        except Exception:  # a broken template must not stop the other questions
            log.exception("could not render the consent e-mail %s", row.id)
            row.asked_at = now + RETRY
            session.add(row)
            session.commit()
            return outbox.HANDLED
        row.token_hash = digest
        row.asked_at = now
        session.add(row)
        session.commit()
        try:
            mail.send(msg)
        except Exception as exc:  # retried later with a new link; the job goes on
            session.execute(
                update(FeatureConsent)
                .where(
                    col(FeatureConsent.id) == row.id,
                    col(FeatureConsent.token_hash) == digest,
                    col(FeatureConsent.answer) == ConsentAnswer.pending,
                )
                .values(token_hash=consent.placeholder(consent.QUEUED), asked_at=now + RETRY)
            )
            session.commit()
            log.warning("consent e-mail %s failed: %s", row.id, describe_error(exc))
            return outbox.mail_turn(exc)
        return outbox.mail_turn(None)

    try:
        return outbox.drain(batch, turn)
    finally:
        session.close()


# --- by hand: `python -m app weekly pick|publish` -----------------------------------------


@dataclass
class Outcome:
    exit_code: int
    message: str


def _find_org(session: Session, slug: str) -> Organisation | None:
    org_id = session.exec(select(Organisation.id).where(Organisation.slug == slug)).first()
    return None if org_id is None else _locked_org(session, org_id=org_id)


def pick_now(
    session_factory: SessionFactory,
    slug: str,
    week: tuple[int, int] | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Draft the week (default: this week) from its top candidate unless it has a feature."""
    now = now or utcnow()
    outbox: list[EmailMessage] = []
    feature_id = None
    session = session_factory()
    try:
        org = _find_org(session, slug)
        if org is None:
            return Outcome(2, f"no organisation with slug {slug!r}")
        year, wk = week or schedule.week_of(org, now)
        sched = schedule.schedule(org, year, wk)
        label = f"{org.slug} {sched.label}"
        if now >= sched.closes_at:
            return Outcome(1, f"{label}: the week is over; nothing was picked")
        picked = drafting.pick_week(session, org, year=year, week=wk, now=now)
        feature = picked.feature
        if picked.created and feature is not None and picked.candidate is not None:
            feature_id = feature.id
            pending = len(consent.pending_people(feature))
            result = Outcome(
                0,
                f"{label}: drafted feature {feature.id} from {_subject_label(feature)} "
                f"(score {picked.candidate.score:g}); "
                f"{pending} of {len(feature.consents)} named still to agree",
            )
            outbox = ready_messages(session, org, feature, sched)
        elif feature is not None:
            result = Outcome(
                0, f"{label}: already has feature {feature.id} ({feature.status}); nothing to do"
            )
        else:
            result = Outcome(
                1, f"{label}: no recognition or winning photo can be featured; nothing was picked"
            )
        session.commit()
    finally:
        session.close()
    _send_all(outbox)
    if feature_id is not None:
        send_consent_requests(session_factory, feature_id, now=now)
    return result


PUBLISH_TEXT = {
    "already_published": "was already published; nothing to do",
    "withdrawn": "was withdrawn; it is not published again",
    "too_late": "is over; it is no longer published",
    "no_feature": "has no feature; pick one first",
    "not_approved": "is not approved yet",
    "consent_pending": "waits for consent from {names}",
    "consent_refused": "cannot be published: someone named said no",
    "not_due": "is not due yet",
}


def publish_now(
    session_factory: SessionFactory,
    slug: str,
    week: tuple[int, int] | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Publish the given week now (even before its time), or the week that is due."""
    now = now or utcnow()
    session = session_factory()
    try:
        org = _find_org(session, slug)
        if org is None:
            return Outcome(2, f"no organisation with slug {slug!r}")
        if week is None:
            sched = schedule.due_week(org, now)
            if sched is None:
                return Outcome(0, f"{org.slug}: no publication is due now; nothing to do")
            year, wk = sched.year, sched.week
        else:
            year, wk = week
        outcome = publish.publish_week(session, org, year=year, week=wk, now=now, early=True)
        label = f"{org.slug} {outcome.schedule.label}"
        feature = outcome.feature
        if outcome.code == "published" and feature is not None:
            queued = session.exec(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(
                    WebhookDelivery.feature_id == feature.id, WebhookDelivery.event == "published"
                )
            ).one()
            result = Outcome(
                0, f"{label}: published feature {feature.id}; {queued} webhook delivery(ies) queued"
            )
        else:
            names = _names(consent.pending_people(feature)) if feature is not None else ""
            text = PUBLISH_TEXT[outcome.code].format(names=names)
            result = Outcome(0 if outcome.code == "already_published" else 1, f"{label} {text}")
        session.commit()
    finally:
        session.close()
    return result
