"""The surfaces test: one rule decides whether a weekly feature is public (app/weekly/public.py).

For every reason a feature stops being public, the feature is built public first (every
surface shows it), the reason is applied, and then no surface shows it: the widget (HTML and
JSON), the Atom feed, oEmbed, the widget's photo route, the photo's visibility to members, the
members' archive and its page, the home page's card and the webhook test. A new reason is one
line in REASONS or ENTRY_REASONS.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.contests.models import ContestEntry, EntryStatus
from app.errors import Invalid
from app.kernel.clock import utcnow
from app.media import service as media
from app.recognition.models import Recognition, RecognitionRecipient, Visibility
from app.weekly import public, webhooks
from app.weekly.models import (
    ConsentAnswer,
    Feature,
    FeatureStatus,
    Webhook,
    WebhookDelivery,
    WebhookKind,
)
from tests.helpers import (
    INTRANET,
    World,
    entry_feature,
    feature_with_photo,
    fresh,
    give,
    jpeg,
    login,
    make_contest,
    make_feature,
    make_org,
    make_person,
    make_value,
    photo_path,
)

SURFACES = (
    "widget",
    "json",
    "atom",
    "oembed",
    "photo",
    "image_visible",
    "archive",
    "archive_page",
    "home",
    "webhook_test",
)


@pytest.fixture
def world(db):
    """Åsnes with a recognition of Anne and a photo for its feature (as in the photo tests),
    a member who is in no story, a webhook, and a second organisation."""
    org = make_org(db, slug="asnes", name="Åsnes kommune", intranet_origins=[INTRANET])
    value = make_value(db, org, name="Engasjement", colour="#1d4f73", position=1)
    giver = make_person(db, org, name="Gunnhild Giver")
    anne = make_person(db, org, name="Anne Ansatt")
    curator = make_person(db, org, name="Kari Kurator", role="curator")
    rec = give(db, giver, [anne], [value], feature_consent=True)
    image = media.save_upload(db, org, curator, jpeg())
    hook = Webhook(
        org_id=org.id, kind=WebhookKind.generic, name="Intranett", url="https://h.example/x"
    )
    db.add(hook)
    db.flush()
    return World(
        org=org,
        value=value,
        giver=giver,
        anne=anne,
        curator=curator,
        rec=rec,
        image=image,
        member=make_person(db, org, name="Mona Medlem"),
        hook=hook,
        other=make_org(db, slug="avesta", name="Avesta kommun", locale="sv"),
    )


def surfaces(client: TestClient, db: Session, world: World, feature: Feature) -> set[str]:
    """The surfaces that show `feature` now."""
    headline = feature.headline
    image = world.image
    shown: set[str] = set()
    if headline in fresh(client, "/embed/asnes/feature").text:
        shown.add("widget")
    data = fresh(client, "/embed/asnes/feature.json").json()
    if data["feature"] is not None and data["feature"]["id"] == feature.id:
        shown.add("json")
    if headline in fresh(client, "/embed/asnes/feed.atom").text:
        shown.add("atom")
    link = urlencode({"url": "http://testserver/embed/asnes/feature"})
    if fresh(client, f"/oembed?{link}").json()["title"] == headline:
        shown.add("oembed")
    if fresh(client, photo_path(feature, image, "800.webp")).status_code == 200:
        shown.add("photo")
    if public.feature_image_visible(db, world.member, image.id):
        shown.add("image_visible")
    login(client, db, world.member)
    if headline in client.get("/asnes/features").text:
        shown.add("archive")
    if client.get(f"/asnes/features/{feature.id}").status_code == 200:
        shown.add("archive_page")
    if headline in client.get("/asnes/").text:
        shown.add("home")
    client.cookies.clear()
    try:
        webhooks.send_test(db, world.org, world.hook, None)
    except Invalid:
        pass
    else:
        queued = db.exec(
            select(WebhookDelivery.feature_id).where(
                WebhookDelivery.webhook_id == world.hook.id, WebhookDelivery.event == "test"
            )
        ).all()
        if feature.id in queued:
            shown.add("webhook_test")
    return shown


def change(db: Session, thing: Any, **values: Any) -> None:
    for name, value in values.items():
        setattr(thing, name, value)
    db.add(thing)
    db.flush()


def _rec(world: World) -> Recognition:
    return world.rec


def _recipient(db: Session, world: World) -> RecognitionRecipient:
    return db.exec(
        select(RecognitionRecipient).where(RecognitionRecipient.recognition_id == world.rec.id)
    ).one()


def _delete(db: Session, thing: Any, feature: Feature) -> None:
    db.delete(thing)
    db.flush()
    db.expire(feature)


Reason = Callable[[Session, dict[str, Any], Feature], None]

# Why a feature of a recognition stops being public: one line each.
REASONS: dict[str, Reason] = {
    "a draft": lambda db, w, f: change(db, f, status=FeatureStatus.draft, published_at=None),
    "approved, not out yet": lambda db, w, f: change(
        db, f, status=FeatureStatus.approved, published_at=None
    ),
    "withdrawn": lambda db, w, f: change(
        db, f, status=FeatureStatus.withdrawn, withdrawn_at=utcnow()
    ),
    "marked withdrawn": lambda db, w, f: change(db, f, withdrawn_at=utcnow()),
    "published in the future": lambda db, w, f: change(
        db, f, published_at=utcnow() + timedelta(hours=1)
    ),
    "someone named has not answered": lambda db, w, f: change(
        db, f.consents[0], answer=ConsentAnswer.pending
    ),
    "someone named said no": lambda db, w, f: change(db, f.consents[0], answer=ConsentAnswer.no),
    "opted out of this recognition": lambda db, w, f: change(
        db, _recipient(db, w), feature_opt_out=True
    ),
    "opted out of being featured": lambda db, w, f: change(db, w.anne, feature_opt_out=True),
    "recognition deleted": lambda db, w, f: _delete(db, _rec(w), f),
    "made private": lambda db, w, f: change(db, _rec(w), visibility=Visibility.private),
    "taken off the feeds": lambda db, w, f: change(db, _rec(w), listed=False),
    "hidden by a curator": lambda db, w, f: change(db, _rec(w), hidden_by_curator=True),
    "the giver did not agree": lambda db, w, f: change(db, _rec(w), feature_consent=False),
    "of another organisation": lambda db, w, f: change(db, _rec(w), org_id=w.other.id),
}


def _entry(feature: Feature) -> ContestEntry:
    assert feature.entry is not None
    return feature.entry


# Why a feature of a winning competition photo stops being public.
ENTRY_REASONS: dict[str, Reason] = {
    "entry not approved": lambda db, w, f: change(db, _entry(f), status=EntryStatus.pending),
    "people in the photo did not agree": lambda db, w, f: change(
        db, _entry(f), people_consent=False
    ),
    "photographer opted out": lambda db, w, f: change(db, w.anne, feature_opt_out=True),
    "photographer has not answered": lambda db, w, f: change(
        db, f.consents[0], answer=ConsentAnswer.pending
    ),
    "competition of another organisation": lambda db, w, f: change(
        db, _entry(f), contest_id=make_contest(db, w.other, "closed").id
    ),
    "entry deleted": lambda db, w, f: _delete(db, _entry(f), f),
    "withdrawn": lambda db, w, f: change(
        db, f, status=FeatureStatus.withdrawn, withdrawn_at=utcnow()
    ),
}


@pytest.mark.parametrize("reason", list(REASONS), ids=list(REASONS))
def test_a_feature_that_is_not_public_is_on_no_surface(client, db, world, reason):
    feature = feature_with_photo(db, world)
    assert surfaces(client, db, world, feature) == set(SURFACES)

    REASONS[reason](db, world, feature)

    assert surfaces(client, db, world, feature) == set()


@pytest.mark.parametrize("reason", list(ENTRY_REASONS), ids=list(ENTRY_REASONS))
def test_a_winning_photo_that_is_not_public_is_on_no_surface(client, db, world, reason):
    feature = entry_feature(db, world)
    assert surfaces(client, db, world, feature) == set(SURFACES)

    ENTRY_REASONS[reason](db, world, feature)

    assert surfaces(client, db, world, feature) == set()


def test_curators_still_see_the_photo_of_a_feature_that_is_not_public(db, world):
    feature = feature_with_photo(db, world, status=FeatureStatus.draft)
    assert public.feature_image_visible(db, world.curator, world.image.id)
    assert not public.feature_image_visible(db, world.member, world.image.id)
    assert not public.is_public(db, feature)


def test_newer_features_that_are_not_public_do_not_hide_the_older_public_ones(client, db, world):
    """The rule is in the query: no LIMIT cuts the list before a later filter empties it."""
    org = world.org
    now = utcnow()
    old = make_feature(
        db,
        org,
        world.rec,
        consents=[(world.anne, "yes")],
        week=(2026, 10),
        headline="Den eldre som fortsatt er offentlig",
        published_at=now - timedelta(days=60),
    )
    hidden = give(db, world.giver, [world.anne], [world.value], feature_consent=True)
    change(db, hidden, hidden_by_curator=True)
    for n in range(21):  # more than the feed's 20 entries
        make_feature(
            db,
            org,
            hidden,
            consents=[(world.anne, "yes")],
            week=(2026, 11 + n),
            headline=f"Skjult {n}",
            published_at=now - timedelta(days=50 - n),
        )
    published = select(Feature.id).where(col(Feature.status) == FeatureStatus.published)
    assert len(db.exec(published).all()) == 22

    page = fresh(client, "/embed/asnes/feature").text
    assert old.headline in page and "Skjult" not in page
    assert fresh(client, "/embed/asnes/feature.json").json()["feature"]["id"] == old.id
    atom = fresh(client, "/embed/asnes/feed.atom").text
    assert old.headline in atom and "Skjult" not in atom
    link = urlencode({"url": "http://testserver/embed/asnes/feature"})
    assert fresh(client, f"/oembed?{link}").json()["title"] == old.headline
    login(client, db, world.member)
    assert old.headline in client.get("/asnes/").text
    archive = client.get("/asnes/features").text
    assert old.headline in archive and "Skjult" not in archive
