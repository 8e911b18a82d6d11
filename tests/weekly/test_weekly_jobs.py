"""The weekly job: pick, publish exactly once (restarts, late runs, DST, racing schedulers),
alert the curators once, e-mail the consent questions; and `python -m app weekly`."""

import logging
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, create_engine, func, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from app import i18n, scheduler
from app.cli import build_parser
from app.db import make_engine
from app.errors import Invalid
from app.kernel.audit import AuditEvent
from app.kernel.clock import utcnow
from app.migrate import upgrade
from app.orgs.models import Organisation, Person, Role
from app.weekly import consent as consents
from app.weekly import drafting, jobs, public, publish, schedule, webhook_delivery
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
from tests.helpers import give, make_org, make_person, make_value
from tests.pg import _free_port

ROOT = Path(__file__).resolve().parents[2]
OSLO = ZoneInfo("Europe/Oslo")
MINUTE = timedelta(minutes=1)


def oslo(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO).astimezone(UTC)  # type: ignore[misc]


YEAR, WEEK = 2026, 48
TUESDAY = oslo(2026, 11, 24, 10, 0)
PICK = oslo(2026, 11, 26, 9, 0)  # Thursday 09:00
PUBLISH = oslo(2026, 11, 30, 7, 0)  # Monday 07:00 of the week after
TEXT = "Tok ansvar for vaktlista i helga og fikk alle med."


# --- fixtures -----------------------------------------------------------------------------


class Scene:
    def __init__(self, db: Session, **org: Any) -> None:
        self.db = db
        # Created at the start of week 48, so week 47 is none of its business.
        org.setdefault("created_at", oslo(2026, 11, 23, 0, 0))
        self.org = make_org(db, timezone="Europe/Oslo", locale="en", **org)
        self.value = make_value(db, self.org, name="Samarbeid")
        self.giver = make_person(db, self.org, name="Kari Giver")
        self.curator = make_person(
            db, self.org, name="Kurt Kurator", role="curator", email="kurator@example.no"
        )
        self.admin = make_person(db, self.org, name="Anne Admin", role="admin", email="admin@x.no")

    def person(self, **kw: Any) -> Person:
        return make_person(self.db, self.org, **kw)

    def rec(self, recipients: list[Person], at: datetime = TUESDAY):
        return give(
            self.db, self.giver, recipients, [self.value], text=TEXT, now=at, feature_consent=True
        )

    def hook(self, url: str, kind: WebhookKind = WebhookKind.generic) -> Webhook:
        webhook = Webhook(org_id=self.org.id, kind=kind, url=url, secret="s3cret")
        self.db.add(webhook)
        self.db.flush()
        return webhook

    def feature(self, year: int = YEAR, week: int = WEEK) -> Feature | None:
        self.db.expire_all()
        return schedule.week_feature(self.db, self.org, year, week)

    def approve(self, year: int = YEAR, week: int = WEEK) -> Feature:
        feature = self.feature(year, week)
        assert feature is not None
        for consent in feature.consents:
            if consent.answer == ConsentAnswer.pending:
                consents.answer_consent(
                    self.db, person=consent.person, feature=feature, yes=True, now=PICK
                )
        drafting.approve(self.db, feature, self.curator, now=PICK)
        self.db.flush()
        return feature

    def ready(self) -> Feature:
        """Week 48 drafted from a person with a standing yes, and approved."""
        rec = self.rec([self.person(feature_always_agree=True)])
        drafting.draft_feature(self.db, self.org, rec, year=YEAR, week=WEEK, now=PICK)
        self.db.flush()
        return self.approve()


@pytest.fixture
def s(db) -> Scene:
    return Scene(db)


def tick(factory, now: datetime) -> list[str]:
    return jobs.weekly_tick(factory, now=now)


def deliveries(db: Session, feature: Feature) -> list[WebhookDelivery]:
    db.expire_all()
    return list(db.exec(select(WebhookDelivery).where(WebhookDelivery.feature_id == feature.id)))


def alerts(db: Session, org: Organisation) -> list[AuditEvent]:
    return list(
        db.exec(
            select(AuditEvent).where(
                AuditEvent.org_id == org.id, AuditEvent.action == jobs.ALERT_ACTION
            )
        )
    )


def subjects(inbox, to: str | None = None) -> list[str]:
    return [str(m["Subject"]) for m in inbox.messages if to is None or m["To"] == to]


def link(msg, answer: str = "yes") -> str:
    body = msg.get_body(preferencelist=("plain",)).get_content()
    match = re.search(rf"https://tod\.example/consent/([A-Za-z0-9_-]+)\?answer={answer}", body)
    assert match, body
    return match.group(1)


# --- a normal week ------------------------------------------------------------------------


def test_a_normal_week(db, factory, inbox, receiver, s):
    hook = s.hook(f"{receiver.url}/ok")
    ola = s.person(name="Ola Hansen", email="ola@example.no")
    rec = s.rec([ola])

    assert tick(factory, PICK - MINUTE) == []
    assert s.feature() is None

    lines = tick(factory, PICK)
    feature = s.feature()
    assert lines == [
        f"{s.org.slug} 2026-W48: drafted feature {feature.id}",
        "sent 1 consent e-mail(s)",
    ]
    assert feature.recognition_id == rec.id
    assert feature.status == FeatureStatus.draft
    ready = [m for m in inbox.messages if "candidate is ready" in str(m["Subject"])]
    assert sorted(m["To"] for m in ready) == ["admin@x.no", "kurator@example.no"]
    assert f"https://tod.example/{s.org.slug}/curate/{feature.id}" in ready[0].get_content()
    assert "Ola Hansen" in ready[0].get_content()
    [asked] = [m for m in inbox.messages if m["To"] == "ola@example.no"]

    # Ola says yes by the e-mail's link, a curator approves.
    consents.answer_consent_by_token(db, link(asked), True, now=PICK + MINUTE)
    drafting.approve(db, feature, s.curator, now=PICK + MINUTE)
    db.flush()

    for now in [PICK + MINUTE, PICK + timedelta(days=2), PUBLISH - MINUTE]:
        assert tick(factory, now) == []
    assert s.feature().published_at is None

    assert tick(factory, PUBLISH) == [f"{s.org.slug} 2026-W48: published feature {feature.id}"]
    for now in [PUBLISH, PUBLISH + MINUTE, PUBLISH + timedelta(days=3)]:
        assert tick(factory, now) == []
    feature = s.feature()
    assert (feature.status, feature.published_at) == (FeatureStatus.published, PUBLISH)
    assert [d.webhook_id for d in deliveries(db, feature)] == [hook.id]
    assert public.current_feature(db, s.org).id == feature.id
    assert alerts(db, s.org) == []
    assert len(inbox.messages) == 3  # two "ready", one consent question; nothing more


def test_the_app_was_down_at_publish_time(db, factory, inbox, s):
    feature = s.ready()
    late = oslo(2026, 11, 30, 11, 0)  # the first tick after a restart, Monday 11:00

    assert tick(factory, late) == [f"{s.org.slug} 2026-W48: published feature {feature.id}"]
    assert tick(factory, late) == []
    assert tick(factory, late + timedelta(hours=1)) == []
    assert s.feature().published_at == late
    assert s.feature().status == FeatureStatus.published


def test_down_from_before_the_pick_until_after_the_publish_time(db, factory, inbox, s):
    s.org.auto_publish = True
    db.add(s.org)
    s.rec([s.person(feature_always_agree=True)])
    late = oslo(2026, 11, 30, 9, 30)

    lines = tick(factory, late)

    feature = s.feature()
    assert lines == [
        f"{s.org.slug} 2026-W48: drafted feature {feature.id}",
        f"{s.org.slug} 2026-W48: published feature {feature.id}",
    ]
    assert feature.published_at == late
    assert tick(factory, late + MINUTE) == []


@pytest.mark.parametrize(
    ("first_tick", "published"),
    [
        (oslo(2026, 12, 6, 23, 59), True),  # Sunday night: still the week of the publish moment
        (oslo(2026, 12, 7, 0, 0), False),  # the next week has started: too late, never
        (oslo(2026, 12, 7, 7, 0), False),
    ],
)
def test_a_week_that_has_passed_is_never_published(db, factory, s, first_tick, published):
    s.ready()

    tick(factory, first_tick)
    tick(factory, first_tick + timedelta(days=1))

    assert (s.feature().published_at is not None) == published
    assert (s.feature().status == FeatureStatus.approved) == (not published)
    assert publish.publish_week(db, s.org, year=YEAR, week=WEEK, now=first_tick).code == (
        "already_published" if published else "too_late"
    )


# --- alerts -------------------------------------------------------------------------------


def test_unapproved_at_publish_time_alerts_the_curators_once(db, factory, inbox, s):
    s.rec([s.person(feature_always_agree=True)])
    tick(factory, PICK)
    inbox.messages.clear()

    assert tick(factory, PUBLISH) == [f"{s.org.slug} 2026-W48: not_approved, curators alerted"]
    for now in [PUBLISH + MINUTE, PUBLISH + timedelta(hours=5), PUBLISH + timedelta(days=2)]:
        assert tick(factory, now) == []

    assert sorted(m["To"] for m in inbox.messages) == ["admin@x.no", "kurator@example.no"]
    assert all("cannot be published" in s_ for s_ in subjects(inbox))
    assert "not approved yet" in inbox.messages[0].get_content()
    assert len(alerts(db, s.org)) == 1
    assert s.feature().published_at is None

    # Approved on Tuesday: the next tick publishes it, late but within the week.
    s.approve()
    tuesday = oslo(2026, 12, 1, 10, 0)
    assert tick(factory, tuesday) == [f"{s.org.slug} 2026-W48: published feature {s.feature().id}"]


def test_pending_consent_at_publish_time_waits_and_names_who(db, factory, inbox, s):
    s.org.auto_publish = True
    db.add(s.org)
    ola = s.person(name="Ola Venter")
    s.rec([ola])
    tick(factory, PICK)
    inbox.messages.clear()

    assert tick(factory, PUBLISH) == [f"{s.org.slug} 2026-W48: consent_pending, curators alerted"]
    assert tick(factory, PUBLISH + MINUTE) == []
    assert "Ola Venter" in inbox.messages[0].get_content()
    assert s.feature().status == FeatureStatus.draft
    assert s.feature().published_at is None

    feature = s.feature()
    consents.answer_consent(db, person=ola, feature=feature, yes=True, now=PUBLISH + MINUTE)
    db.flush()
    assert tick(factory, PUBLISH + 2 * MINUTE) == [
        f"{s.org.slug} 2026-W48: published feature {feature.id}"
    ]


def test_a_week_without_candidates_alerts_once_and_publishes_nothing(db, factory, inbox, s):
    assert tick(factory, PICK) == []
    assert tick(factory, PUBLISH) == [f"{s.org.slug} 2026-W48: no_feature, curators alerted"]
    assert tick(factory, PUBLISH + MINUTE) == []
    assert len(inbox.messages) == 2
    assert s.feature() is None


# --- DST ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "week", "given", "expected"),
    [
        # Sunday 29 March 2026: 02:30 does not exist in Oslo; it moves to 03:00 CEST.
        (2026, 13, oslo(2026, 3, 24, 10, 0), datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        # Sunday 25 October 2026: 02:30 happens twice; the first one (CEST) counts.
        (2026, 43, oslo(2026, 10, 20, 10, 0), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
    ],
)
def test_publication_at_a_time_a_dst_change_skips_or_repeats(
    db, factory, s, year, week, given, expected
):
    s.org.publish_weekday, s.org.publish_time = 6, "02:30"  # Sunday 02:30
    s.org.created_at = datetime(2026, 1, 1, tzinfo=UTC)
    db.add(s.org)
    s.rec([s.person(feature_always_agree=True)], at=given)
    pick = schedule.schedule(s.org, year, week).pick_at
    tick(factory, pick)
    s.approve(year, week)

    # Each minute around `expected`, every ten for an hour and more on either side (past
    # October's second 02:30, and March's naive 01:30 UTC): one publication, at `expected`.
    minutes = {*range(-70, 71, 10), *range(-3, 4)}
    published_by: list[datetime] = []
    for now in sorted(expected + timedelta(minutes=m) for m in minutes):
        if any("published" in line for line in tick(factory, now)):
            published_by.append(now)

    assert published_by == [expected]
    assert s.feature(year, week).published_at == expected


# --- crash between the publication and the webhooks ---------------------------------------


def test_a_crash_after_publishing_neither_repeats_nor_loses_the_webhook(
    db, factory, receiver, monkeypatch, s
):
    hook = s.hook(f"{receiver.url}/ok")
    feature = s.ready()

    def crash(_messages):
        raise RuntimeError("the process died right after the commit")

    monkeypatch.setattr(jobs, "_send_all", crash)
    with pytest.raises(RuntimeError):
        tick(factory, PUBLISH)
    monkeypatch.undo()

    assert s.feature().published_at == PUBLISH  # committed before the crash
    [pending] = deliveries(db, feature)
    assert pending.status == DeliveryStatus.pending
    assert tick(factory, PUBLISH + MINUTE) == []  # the restarted job publishes nothing new
    assert [d.id for d in deliveries(db, feature)] == [pending.id]
    assert receiver.requests == []

    assert webhook_delivery.deliver_due(factory, now=PUBLISH + 2 * MINUTE) == 1
    assert webhook_delivery.deliver_due(factory, now=PUBLISH + 3 * MINUTE) == 0
    assert [(r.path, r.headers["x-tod-delivery"]) for r in receiver.requests] == [
        ("/ok", str(pending.id))
    ]
    [done] = deliveries(db, feature)
    assert done.status == DeliveryStatus.delivered
    assert done.webhook_id == hook.id


# --- consent e-mails ----------------------------------------------------------------------


def test_consent_email_in_the_persons_language_with_links_that_work_once(db, factory, inbox, s):
    sven = s.person(name="Sven", email="sven@example.se", locale="sv")
    s.rec([sven])
    tick(factory, PICK)

    [msg] = [m for m in inbox.messages if m["To"] == "sven@example.se"]
    assert msg["Content-Language"] == "sv"
    assert msg["Subject"] == i18n.catalog("sv").gettext(jobs.CONSENT_SUBJECT)
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert '<html lang="sv">' in html
    yes, no = link(msg, "yes"), link(msg, "no")
    assert yes == no
    assert f"https://tod.example/consent/{yes}?answer=yes" in html
    db.expire_all()
    [consent] = db.exec(select(FeatureConsent).where(FeatureConsent.person_id == sven.id)).all()
    assert consent.token_hash == consents.token_digest(yes)  # only the hash is stored
    assert yes not in consent.token_hash

    assert tick(factory, PICK + MINUTE) == []  # asked once
    assert len([m for m in inbox.messages if m["To"] == "sven@example.se"]) == 1

    consents.answer_consent_by_token(db, yes, False, now=PICK + MINUTE)
    with pytest.raises(Invalid):
        consents.answer_consent_by_token(db, yes, True)
    assert consent.answer == ConsentAnswer.no


def test_consent_email_escapes_the_story(db, factory, inbox, s):
    ola = s.person(email="ola@example.no")
    feature = drafting.draft_feature(
        db, s.org, s.rec([ola]), year=YEAR, week=WEEK, actor=s.curator, now=PICK
    )
    feature.body = '<script>alert(1)</script> og "><img src=x onerror=alert(1)>'
    db.flush()

    assert jobs.send_consent_requests(factory, feature.id, now=PICK) == 1

    [msg] = inbox.messages
    html = msg.get_body(preferencelist=("html",)).get_content()
    plain = msg.get_body(preferencelist=("plain",)).get_content()
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert feature.body in plain


def test_a_failed_consent_email_is_queued_again_without_a_working_link(
    db, factory, inbox, settings_env, s
):
    ola = s.person(email="ola@example.no")
    s.rec([ola])
    settings_env(smtp_url=f"smtp://127.0.0.1:{_free_port()}")  # nobody listens

    tick(factory, PICK)

    db.expire_all()
    [consent] = db.exec(select(FeatureConsent).where(FeatureConsent.person_id == ola.id)).all()
    assert consent.token_hash.startswith(consents.QUEUED)
    assert consent.asked_at == PICK + jobs.RETRY

    settings_env(smtp_url=inbox.url)
    assert jobs.send_consent_requests(factory, now=PICK + jobs.RETRY - MINUTE) == 0
    assert jobs.send_consent_requests(factory, now=PICK + jobs.RETRY) == 1
    [msg] = inbox.messages
    assert consents.answer_consent_by_token(db, link(msg), True).answer == ConsentAnswer.yes


def test_ask_again_sends_a_new_link_and_the_old_one_stops_working(db, factory, inbox, s):
    ola = s.person(email="ola@example.no")
    s.rec([ola])
    tick(factory, PICK)
    [first] = inbox.messages[-1:]
    feature = s.feature()
    [consent] = feature.consents

    consents.ask_again(db, consent, actor=s.curator, now=PICK + MINUTE)
    db.flush()
    assert jobs.send_consent_requests(factory, feature.id, now=PICK + MINUTE) == 1

    second = inbox.messages[-1]
    assert second["To"] == "ola@example.no"
    assert link(second) != link(first)
    assert consents.consent_for_token(db, link(first)) is None
    assert consents.consent_for_token(db, link(second)) is not None


def test_a_standing_yes_is_never_asked(db, factory, inbox, s):
    s.rec([s.person(feature_always_agree=True, email="ja@example.no")])
    tick(factory, PICK)
    assert [m for m in inbox.messages if m["To"] == "ja@example.no"] == []
    assert consents.consent_state(s.feature()) == "ok"


# --- the scheduler ------------------------------------------------------------------------


def test_the_weekly_job_runs_every_minute_one_at_a_time():
    sched = scheduler.build_scheduler(lambda: None)  # type: ignore[arg-type,return-value]
    job = sched.get_job("weekly")
    assert job is not None
    assert job.args[0] is jobs.weekly_tick
    assert isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval_length == 60
    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 60)


# --- several schedulers at once, on committed data ----------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def race_engine(request, tmp_path) -> Iterator[Engine]:
    """A database of its own with real commits: a SQLite file, or a fresh PostgreSQL one."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'race.db'}"
        drop = None
    else:
        admin_url = os.environ["TOD_TEST_POSTGRES_URL"]
        name = f"tod_race_{uuid.uuid4().hex[:12]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        drop = (admin, name)
    upgrade(url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        if drop is not None:
            admin, name = drop
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def _race(workers: list[Any], rounds: int = 5) -> None:
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(work: Any) -> None:
        try:
            barrier.wait()
            for _ in range(rounds):
                work()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_schedulers_racing_publish_exactly_once(
    race_engine, receiver, smtp_server, settings_env, caplog
):
    settings_env(smtp_url=smtp_server.url)

    def factory() -> Session:
        return Session(race_engine, expire_on_commit=False)

    with factory() as db:
        s = Scene(db)
        hooks = [s.hook(f"{receiver.url}/ok?n={n}") for n in range(2)]
        hooks.append(s.hook(f"{receiver.url}/ok?teams", kind=WebhookKind.teams))
        for _ in range(3):
            s.rec([s.person(feature_always_agree=True)])
        db.commit()
        org_id, slug = s.org.id, s.org.slug

    with caplog.at_level(logging.WARNING, logger="tod.jobs.feature"):
        _race([lambda: jobs.weekly_tick(factory, now=PICK) for _ in range(4)])

        with factory() as db:
            [feature] = db.exec(select(Feature).where(Feature.org_id == org_id)).all()
            curator = db.exec(
                select(Person).where(Person.org_id == org_id, Person.role == Role.curator)
            ).one()
            drafting.approve(db, feature, curator, now=PICK)
            db.commit()

        at = PUBLISH + timedelta(hours=1)
        _race(
            [lambda: jobs.weekly_tick(factory, now=at) for _ in range(3)]
            + [lambda: jobs.publish_now(factory, slug, (YEAR, WEEK), now=at)]
        )
        _race([lambda: webhook_delivery.deliver_due(factory, now=at) for _ in range(3)])
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []

    with factory() as db:
        [feature] = db.exec(select(Feature).where(Feature.org_id == org_id)).all()
        assert (feature.status, feature.published_at) == (FeatureStatus.published, at)
        publications = db.exec(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.org_id == org_id, AuditEvent.action == "feature.publish")
        ).one()
        assert publications == 1
        rows = db.exec(select(WebhookDelivery).where(WebhookDelivery.feature_id == feature.id))
        assert sorted((r.webhook_id, r.status) for r in rows) == [
            (h.id, DeliveryStatus.delivered) for h in hooks
        ]
        org = db.get(Organisation, org_id)
        assert org is not None
    assert sorted(r.path for r in receiver.requests) == ["/ok?n=0", "/ok?n=1", "/ok?teams"]
    ready = [m for m in smtp_server.messages if "candidate is ready" in str(m["Subject"])]
    assert sorted(m["To"] for m in ready) == ["admin@x.no", "kurator@example.no"]


# --- the command line ---------------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    engine = make_engine(url)
    env = {"TOD_DATABASE_URL": url, "TOD_ENV": "dev", "PATH": "/usr/bin:/bin"}
    # The command shares the test's clock: when faketime moves it (CONTRIBUTING.md), the
    # command's recognitions are not in its future.
    env.update(
        {k: v for k, v in os.environ.items() if k == "LD_PRELOAD" or k.startswith("FAKETIME")}
    )

    def run(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "app", "weekly", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == expect, result.stdout + result.stderr
        return result

    run.engine = engine  # type: ignore[attr-defined]
    try:
        yield run
    finally:
        engine.dispose()


def test_cli_pick_and_publish_are_idempotent(cli_db):
    with Session(cli_db.engine, expire_on_commit=False) as db:
        s = Scene(db, slug="asnes")
        s.rec([s.person(feature_always_agree=True)], at=utcnow())
        db.commit()
        org = s.org
        curator_id = s.curator.id
    year, week = schedule.week_of(org, utcnow())
    label = f"asnes {schedule.week_label(year, week)}"
    arg = ["--org", "asnes", "--week", schedule.week_label(year, week)]

    out = cli_db("pick", *arg).stdout
    assert out.startswith(f"{label}: drafted feature 1 from recognition 1")
    assert "0 of 1 named still to agree" in out
    assert cli_db("pick", *arg).stdout == f"{label}: already has feature 1 (draft); nothing to do\n"

    err = cli_db("publish", *arg, expect=1).stderr
    assert f"{label} is not approved yet" in err

    with Session(cli_db.engine, expire_on_commit=False) as db:
        feature = db.get(Feature, 1)
        curator = db.get(Person, curator_id)
        assert feature is not None and curator is not None
        drafting.approve(db, feature, curator)
        db.add(Webhook(org_id=feature.org_id, kind=WebhookKind.generic, url="https://h.example"))
        db.commit()

    out = cli_db("publish", *arg).stdout
    assert out == f"{label}: published feature 1; 1 webhook delivery(ies) queued\n"
    again = cli_db("publish", *arg).stdout
    assert again == f"{label} was already published; nothing to do\n"

    with Session(cli_db.engine) as db:
        assert db.exec(select(func.count()).select_from(Feature)).one() == 1
        assert db.exec(select(func.count()).select_from(WebhookDelivery)).one() == 1
        feature = db.get(Feature, 1)
        assert feature is not None
        assert feature.status == FeatureStatus.published


def test_cli_explains_bad_input(cli_db):
    with Session(cli_db.engine) as db:
        make_org(db, slug="asnes")
        db.commit()
    assert "no organisation" in cli_db("pick", "--org", "nope", expect=2).stderr
    assert "2026-W48" in cli_db("publish", "--org", "asnes", "--week", "2026-W99", expect=2).stderr
    assert (
        "no recognition or winning photo can be featured"
        in cli_db("pick", "--org", "asnes", expect=1).stderr
    )
    assert "weekly" in build_parser().format_help()
