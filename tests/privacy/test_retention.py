"""Retention: expired logins, old rate-limit counters and webhook deliveries are purged by the
privacy job, idempotently; people are erased automatically after their organisation's limit;
contest photos past retention lose every variant and the original, in the folder and in S3."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from app.auth.models import LoginSession, MagicLink, RateLimitHit
from app.auth.service import create_magic_link, start_session
from app.contests import jobs as contest_jobs
from app.contests.models import ContestEntry
from app.media import service as media
from app.media.models import MediaImage
from app.media.storage import get_storage, storage_for
from app.orgs.models import Person
from app.privacy import jobs, retention
from app.recognition.models import Recognition
from app.scheduler import job_specs
from app.weekly.models import DeliveryStatus, Webhook, WebhookDelivery, WebhookKind
from tests.helpers import (
    give,
    heic,
    make_contest,
    make_feature,
    make_org,
    make_person,
    make_value,
    phone_jpeg,
    upright_marker,
)

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.time_machine(NOW, tick=False)


def test_the_privacy_job_is_scheduled():
    assert "privacy" in {job_id for _f, _t, job_id in job_specs()}


def test_purge_removes_only_what_has_expired_and_is_idempotent(db: Session, factory):
    org = make_org(db)
    person = make_person(db, org)
    start_session(db, person)  # valid for weeks
    old = LoginSession(token_hash="a" * 64, person_id=person.id, expires_at=NOW - timedelta(days=8))
    just_expired = LoginSession(
        token_hash="b" * 64, person_id=person.id, expires_at=NOW - timedelta(days=1)
    )
    revoked = LoginSession(
        token_hash="c" * 64,
        person_id=person.id,
        expires_at=NOW + timedelta(days=20),
        revoked_at=NOW - timedelta(days=30),
    )
    create_magic_link(db, person)  # valid for minutes
    stale_link = MagicLink(
        token_hash="d" * 64, person_id=person.id, expires_at=NOW - timedelta(days=10)
    )
    db.add_all([old, just_expired, revoked, stale_link])
    ts = time.time()
    minute, hour = int(ts // 60), int(ts // 3600)
    db.add_all(
        [
            RateLimitHit(key="write:1", window=minute, count=3),
            RateLimitHit(key="write:2", window=minute - 2 * 1440, count=1),
            RateLimitHit(key="login:email:a@b.no", window=hour, count=1),
            RateLimitHit(key="login:email:c@d.no", window=hour - 48, count=1),
        ]
    )
    hook = Webhook(org_id=org.id, kind=WebhookKind.generic, url="https://x.example/h")
    db.add(hook)
    db.flush()
    features = [make_feature(db, org, None, week=(2026, w)) for w in (30, 31, 32, 33)]
    for feature, (status, age) in zip(
        features,
        [
            (DeliveryStatus.delivered, 91),
            (DeliveryStatus.failed, 200),
            (DeliveryStatus.delivered, 10),
            (DeliveryStatus.pending, 400),  # never given up: still to be sent
        ],
        strict=True,
    ):
        db.add(
            WebhookDelivery(
                webhook_id=hook.id,
                feature_id=feature.id,
                event="published",
                status=status,
                created_at=NOW - timedelta(days=age),
            )
        )
    db.commit()

    purged = retention.purge(db, NOW, now_ts=ts)
    db.commit()
    assert (purged.sessions, purged.links, purged.rate_rows, purged.deliveries) == (2, 1, 2, 2)
    # Whole hashes: another session of the test may start with any hex digit.
    left = {s.token_hash for s in db.exec(select(LoginSession))}
    assert "a" * 64 not in left and "c" * 64 not in left and "b" * 64 in left
    assert {r.key for r in db.exec(select(RateLimitHit))} == {
        "write:1",
        "login:email:a@b.no",
    }
    ages = sorted((NOW - d.created_at).days for d in db.exec(select(WebhookDelivery)))
    assert ages == [10, 400]
    again = jobs.privacy_tick(factory, now=NOW)
    assert "purged" not in again  # nothing left to purge


def test_people_are_erased_automatically_after_the_organisations_limit(db, factory, time_machine):
    org = make_org(db, erase_after_days=30)
    keeps = make_org(db)  # no automatic erasure here
    value = make_value(db, org)
    leaver = make_person(db, org, name="Lena Slutta")
    stays = make_person(db, org)
    elsewhere = make_person(db, keeps)
    give(db, leaver, [stays], [value])
    for person in (leaver, elsewhere):
        person.active = False  # the event records when
        db.add(person)
    db.commit()
    assert leaver.deactivated_at == NOW
    leaver_id = leaver.id
    time_machine.move_to(NOW + timedelta(days=29), tick=False)
    assert "erased" not in jobs.privacy_tick(factory)
    time_machine.move_to(NOW + timedelta(days=31), tick=False)
    assert "erased 1" in jobs.privacy_tick(factory)
    db.expire_all()
    assert db.get(Person, leaver_id) is None
    assert db.get(Person, elsewhere.id) is not None and db.get(Person, stays.id) is not None
    (rec,) = db.exec(select(Recognition)).all()
    assert rec.giver.name != "Lena Slutta"  # anonymised: the organisation's default
    assert "erased" not in jobs.privacy_tick(factory)  # once


def test_reactivation_stops_the_clock(db, factory, time_machine):
    org = make_org(db, erase_after_days=10)
    person = make_person(db, org, active=False)
    db.commit()
    person.active = True
    db.add(person)
    db.commit()
    assert person.deactivated_at is None
    time_machine.move_to(NOW + timedelta(days=20), tick=False)
    jobs.privacy_tick(factory)
    assert db.get(Person, person.id) is not None


@pytest.fixture(params=["local", "s3"])
def storage(request, settings_env, tmp_path):
    if request.param == "local":
        url = f"file:{tmp_path / 'media'}"
    else:
        url = request.getfixturevalue("s3_url")
    settings_env(media_url=url)
    yield get_storage()
    storage_for.cache_clear()


def test_contest_retention_removes_every_variant_and_the_original(db, factory, storage):
    org = make_org(db, keep_photo_originals=True, contest_photo_retention_days=30)
    author = make_person(db, org)
    old = make_contest(db, org, "closed", now=NOW - timedelta(days=40))
    recent = make_contest(db, org, "closed")
    images = []
    for contest, photo in ((old, phone_jpeg()), (recent, heic(upright_marker()))):
        image = media.save_upload(db, org, author, photo)
        db.add(ContestEntry(contest_id=contest.id, author_id=author.id, image_id=image.id))
        images.append(image)
    db.commit()
    gone, kept = images
    assert gone.original_key and len(media.image_keys(gone)) >= 5
    contest_jobs.contest_tick(factory, now=NOW)
    db.expire_all()
    assert sorted(storage.keys()) == sorted(media.image_keys(kept))
    emptied = db.get(MediaImage, gone.id)
    assert emptied.variants == [] and emptied.original_key is None
    contest_jobs.contest_tick(factory, now=NOW)  # again: nothing more happens
    assert sorted(storage.keys()) == sorted(media.image_keys(kept))
