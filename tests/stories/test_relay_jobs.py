"""The relay's weekly reminders and the stall notice, on a controlled clock: once each, also
when the job runs twice or late; and the e-mails they send, in the reader's language."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from app import scheduler
from app.stories import jobs, relay, writing
from app.stories.models import Leg, MailKind, StoryMail
from tests.helpers import World, make_org, make_person

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
HOUR = timedelta(hours=1)
TEXT = "Hjemmetjenesten la om rutene på en uke da to biler sto, og ingen ble glemt."


@pytest.fixture
def world(db: Session) -> World:
    org = make_org(db, slug="asnes", name="Åsnes kommune", locale="en")
    w = World(
        org=org,
        curator=make_person(db, org, name="Kari Kurator", role="curator", email="kari@x.no"),
        lea=make_person(db, org, name="Lea Leder", role="leader", email="lea@x.no", locale="nb"),
        leo=make_person(db, org, name="Leo Leder", role="leader", email="leo@x.no"),
    )
    w.relay = relay.start_relay(
        db, curator=w.curator, title="Lederforum", first_id=w.lea.id, now=START
    )
    db.flush()
    return w


def kinds(db: Session, kind: MailKind) -> list[StoryMail]:
    return list(db.exec(select(StoryMail).where(StoryMail.kind == kind).order_by(StoryMail.id)))


def tick(factory, time_machine, at: datetime) -> list[str]:
    time_machine.move_to(at, tick=False)
    return jobs.relay_tick(factory)


def test_weekly_reminders_then_one_stall_notice(db, factory, time_machine, world):
    leg = world.relay.legs[0]
    assert tick(factory, time_machine, START + WEEK - HOUR) == ["sent 1 relay e-mail(s)"]  # baton
    for n in (1, 2, 3):
        done = tick(factory, time_machine, START + n * WEEK)
        assert f"leg {leg.id}: reminder {n}" in done
        # The same moment again, or an hour later: nothing more.
        assert tick(factory, time_machine, START + n * WEEK) == []
        assert tick(factory, time_machine, START + n * WEEK + HOUR) == []
    db.refresh(leg)
    assert leg.reminders == 3 and leg.stalled_at is None
    done = tick(factory, time_machine, START + 4 * WEEK)
    assert done[0] == f"leg {leg.id}: stalled, curators told"
    assert [m.person_id for m in kinds(db, MailKind.stalled)] == [world.curator.id]
    for later in (4 * WEEK + HOUR, 5 * WEEK, 12 * WEEK):
        assert tick(factory, time_machine, START + later) == []
    assert len(kinds(db, MailKind.reminder)) == 3 and len(kinds(db, MailKind.stalled)) == 1
    db.refresh(leg)
    assert leg.stalled_at == START + 4 * WEEK


def test_a_late_job_catches_up_one_reminder_at_a_time(db, factory, time_machine, world):
    # The app was down for five weeks: one reminder now, the next a week after it.
    tick(factory, time_machine, START + 5 * WEEK)
    leg = db.get(Leg, world.relay.legs[0].id)
    db.refresh(leg)
    assert leg.reminders == 1
    assert tick(factory, time_machine, START + 5 * WEEK + HOUR) == []
    tick(factory, time_machine, START + 6 * WEEK)
    db.refresh(leg)
    assert leg.reminders == 2


def test_no_reminder_once_passed_handed_back_or_closed(db, factory, time_machine, world):
    r = world.relay
    writing.write_story(
        db,
        author=world.lea,
        relay=r,
        title="Rutene",
        text=TEXT,
        value_ids=[],
        person_ids=[],
        idempotency_key="abcdefgh1",
        now=START + HOUR,
    )
    relay.pass_baton(db, holder=world.lea, relay=r, to_id=world.leo.id, now=START + 2 * HOUR)
    db.flush()
    tick(factory, time_machine, START + WEEK + HOUR)
    assert [m.person_id for m in kinds(db, MailKind.reminder)] == []  # Leo got it an hour late
    tick(factory, time_machine, START + WEEK + 2 * HOUR)
    assert [m.person_id for m in kinds(db, MailKind.reminder)] == [world.leo.id]
    relay.close_relay(db, curator=world.curator, relay=r, now=START + WEEK + 3 * HOUR)
    db.flush()
    for n in (2, 3, 4, 5):
        assert tick(factory, time_machine, START + n * WEEK + 2 * HOUR) == []


def test_the_emails_reach_the_holder_and_the_curators(db, factory, time_machine, world, inbox):
    tick(factory, time_machine, START)
    baton = inbox.wait_for(lambda m: m["To"] == "lea@x.no")
    assert baton["Subject"] == "Åsnes kommune: Du har stafettpinnen"  # Lea reads bokmål
    assert "/asnes/stories/relays/" in baton.get_body().get_content()
    for n in (1, 2, 3):
        tick(factory, time_machine, START + n * WEEK)
    tick(factory, time_machine, START + 4 * WEEK)
    stalled = inbox.wait_for(lambda m: m["To"] == "kari@x.no")
    assert stalled["Subject"] == "Åsnes kommune: The baton has stalled"
    assert "Lea Leder" in stalled.get_body().get_content()
    assert len([m for m in inbox.messages if m["To"] == "lea@x.no"]) == 4
    assert all(m.sent_at is not None for m in db.exec(select(StoryMail)))


def test_the_job_is_registered_with_the_scheduler():
    assert "stories" in {job_id for _f, _t, job_id in scheduler.job_specs()}
