"""The widget's photo: <picture> in the page, JSON, Atom and oEmbed, and the public photo route
that serves a feature's own photo only while the feature is public."""

import io
import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from PIL import Image

from app.contests.models import EntryStatus
from app.kernel.clock import utcnow
from app.media import service as media
from app.media.storage import get_storage
from app.recognition.models import Visibility
from app.weekly import public
from app.weekly.models import ConsentAnswer, Feature, FeatureStatus
from tests.helpers import (
    ATOM,
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

HEADLINE = "Nattevakta som reddet julebordet"
SIZES = 'sizes="(min-width: 42rem) 40rem, calc(100vw - 2rem)"'


@pytest.fixture
def world(db):
    """Åsnes with a recognition of Anne, a photo for its feature, and a second organisation."""
    org = make_org(db, slug="asnes", name="Åsnes kommune", intranet_origins=[INTRANET])
    value = make_value(db, org, name="Engasjement", colour="#1d4f73", position=1)
    giver = make_person(db, org, name="Gunnhild Giver")
    anne = make_person(db, org, name="Anne Ansatt")
    curator = make_person(db, org, name="Kari Kurator", role="curator")
    rec = give(db, giver, [anne], [value], feature_consent=True)
    image = media.save_upload(db, org, curator, jpeg())
    other = make_org(db, slug="avesta", name="Avesta kommun", locale="sv")
    db.flush()
    return World(
        org=org,
        value=value,
        giver=giver,
        anne=anne,
        curator=curator,
        rec=rec,
        image=image,
        other=other,
    )


def assert_plain_404(response) -> None:
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert "set-cookie" not in response.headers


# --- what the widget shows -------------------------------------------------------------------


def test_widget_page_shows_the_photo_with_srcset_and_sizes(client, db, world):
    feature = feature_with_photo(db, world)
    image = world.image
    page = fresh(client, "/embed/asnes/feature?lang=en")
    assert page.status_code == 200
    html = page.text
    base = f"http://testserver/embed/asnes/photo/{feature.id}/{image.id}"
    webp = f"{base}/320.webp 320w, {base}/800.webp 800w, {base}/1000.webp 1000w"
    jpg = f"{base}/320.jpg 320w, {base}/800.jpg 800w, {base}/1000.jpg 1000w"
    assert '<picture class="tod-photo">' in html
    assert f'<source type="image/webp" srcset="{webp}" {SIZES}>' in html
    img = re.search(r"<img [^>]*>", html)
    assert img is not None
    tag = img.group(0)
    for attr in [
        f'src="{base}/800.jpg"',
        f'srcset="{jpg}"',
        SIZES,
        'width="1000"',
        'height="750"',
        f'alt="Photo: {HEADLINE}"',
        'loading="eager"',
        'decoding="async"',
    ]:
        assert attr in tag, attr
    # The member-only URLs never appear in the public widget.
    assert "/asnes/media/" not in html
    # The photo's origin may be loaded by the framed page.
    csp = page.headers["Content-Security-Policy"]
    assert "img-src 'self' http://testserver data:;" in csp


def test_the_uploaders_alt_text_wins_over_the_default(client, db, world):
    feature_with_photo(db, world)
    world.image.alt = "Anne ved vaktrommet"
    db.flush()
    assert 'alt="Anne ved vaktrommet"' in fresh(client, "/embed/asnes/feature").text


def test_widget_without_photo_has_no_picture_and_stays_small(client, db, world):
    feature_with_photo(db, world, image=None, headline="H" * 120, body="Lang tekst. " * 100)
    page = fresh(client, "/embed/asnes/feature")
    assert "<picture" not in page.text and "<img" not in page.text
    assets = re.findall(r'(?:href|src)="(/(?:static|embed)/[^"]+\.(?:css|js)[^"]*)"', page.text)
    total = len(page.content) + sum(len(fresh(client, a).content) for a in assets)
    assert total < 30_000, total
    assert fresh(client, "/embed/asnes/feature.json").json()["feature"]["image"] is None


def test_widget_with_photo_stays_small_before_the_photo(client, db, world):
    feature_with_photo(db, world, headline="H" * 120, body="Lang tekst. " * 100)
    page = fresh(client, "/embed/asnes/feature")
    assert "<picture" in page.text
    assets = re.findall(r'(?:href|src)="(/(?:static|embed)/[^"]+\.(?:css|js)[^"]*)"', page.text)
    assert len(assets) == 3, assets
    total = len(page.content) + sum(len(fresh(client, a).content) for a in assets)
    assert total < 30_000, total


def test_a_photo_whose_files_were_purged_is_not_shown(client, db, world):
    feature_with_photo(db, world)
    world.image.variants = []
    db.flush()
    assert "<picture" not in fresh(client, "/embed/asnes/feature").text


def test_json_has_the_image_with_absolute_urls(client, db, world):
    feature = feature_with_photo(db, world)
    image = world.image
    data = fresh(client, "/embed/asnes/feature.json?lang=en").json()
    base = f"http://testserver/embed/asnes/photo/{feature.id}/{image.id}"
    assert data["feature"]["image"] == {
        "alt": f"Photo: {HEADLINE}",
        "width": 1000,
        "height": 750,
        "src": f"{base}/800.jpg",
        "srcset": {
            "webp": f"{base}/320.webp 320w, {base}/800.webp 800w, {base}/1000.webp 1000w",
            "jpeg": f"{base}/320.jpg 320w, {base}/800.jpg 800w, {base}/1000.jpg 1000w",
        },
    }


def test_atom_entry_includes_the_picture_with_absolute_urls(client, db, world):
    feature = feature_with_photo(db, world)
    response = fresh(client, "/embed/asnes/feed.atom")
    feed = ET.fromstring(response.content)  # noqa: S314 - our own output, under test
    content = feed.findtext(f"{ATOM}entry/{ATOM}content", "")
    base = f"http://testserver/embed/asnes/photo/{feature.id}/{world.image.id}"
    assert "<picture" in content
    assert f'<source type="image/webp" srcset="{base}/320.webp 320w' in content
    assert f'src="{base}/800.jpg"' in content and SIZES in content
    assert 'loading="lazy"' in content
    assert re.search(r'(?:src|srcset)="/', content) is None  # nothing relative


def test_oembed_has_a_thumbnail_that_fits(client, db, world):
    feature = feature_with_photo(db, world)
    base = f"http://testserver/embed/asnes/photo/{feature.id}/{world.image.id}"
    url = "http://testserver/embed/asnes/feature"
    data = client.get("/oembed", params={"url": url}).json()
    assert (data["thumbnail_url"], data["thumbnail_width"], data["thumbnail_height"]) == (
        f"{base}/800.jpg",
        800,
        600,
    )
    small = client.get("/oembed", params={"url": url, "maxwidth": 400}).json()
    assert (small["thumbnail_url"], small["thumbnail_width"], small["thumbnail_height"]) == (
        f"{base}/320.jpg",
        320,
        240,
    )
    # Nothing fits: all three are left out together.
    tiny = client.get("/oembed", params={"url": url, "maxwidth": 100}).json()
    assert not {"thumbnail_url", "thumbnail_width", "thumbnail_height"} & set(tiny)
    assert fresh(client, base + "/800.jpg").status_code == 200


def test_oembed_without_a_photo_has_no_thumbnail(client, db, world):
    feature_with_photo(db, world, image=None)
    data = client.get("/oembed", params={"url": "http://testserver/asnes/"}).json()
    assert not {"thumbnail_url", "thumbnail_width", "thumbnail_height"} & set(data)


def test_curator_preview_uses_the_member_only_urls(client, db, world):
    feature = feature_with_photo(db, world, status=FeatureStatus.draft)
    image = world.image
    login(client, db, world.curator)
    page = client.get(f"/asnes/curate/{feature.id}")
    assert page.status_code == 200
    html = page.text
    assert f'srcset="/asnes/media/{image.id}/320.webp 320w' in html
    assert f'src="/asnes/media/{image.id}/800.jpg"' in html
    assert "/embed/asnes/photo/" not in html
    assert client.get(f"/asnes/media/{image.id}/800.webp").status_code == 200
    # The draft's photo is not public.
    assert_plain_404(fresh(client, photo_path(feature, image, "800.webp")))


# --- the public photo route ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant,content_type", [("800.webp", "image/webp"), ("320.jpg", "image/jpeg")]
)
def test_photo_route_serves_the_public_features_photo(client, db, world, variant, content_type):
    feature = feature_with_photo(db, world)
    image = world.image
    response = fresh(client, photo_path(feature, image, variant))
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'"
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert "set-cookie" not in response.headers
    assert "X-Frame-Options" not in response.headers
    width, fmt = int(variant.split(".")[0]), variant.split(".")[1]
    meta = next(v for v in image.variants if v["width"] == width and v["format"] == fmt)
    assert response.content == get_storage().get(meta["key"])
    assert Image.open(io.BytesIO(response.content)).size[0] == width
    etag = response.headers["ETag"]
    assert etag == '"' + meta["key"].rsplit("/", 1)[-1].split(".")[0] + '"'
    again = fresh(client, photo_path(feature, image, variant), **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "public, max-age=60"
    assert "set-cookie" not in again.headers
    weak = fresh(client, photo_path(feature, image, variant), **{"If-None-Match": f"W/{etag}"})
    assert weak.status_code == 304
    other = fresh(client, photo_path(feature, image, variant), **{"If-None-Match": '"nope"'})
    assert other.status_code == 200


def test_photo_of_an_archived_public_feature_is_served_too(client, db, world):
    """The Atom feed shows older features with their photos."""
    # A year ago, whatever today is (replace(year=...) fails on 29 February, and is no older
    # than today in 2025).
    old = feature_with_photo(
        db, world, week=(2026, 46), published_at=utcnow() - timedelta(days=365)
    )
    rec2 = give(db, world.giver, [world.anne], [world.value], feature_consent=True)
    make_feature(db, world.org, rec2, consents=[(world.anne, "yes")], week=(2026, 47))
    assert fresh(client, photo_path(old, world.image, "800.webp")).status_code == 200


@pytest.mark.parametrize(
    "case",
    [
        "draft",
        "approved",
        "withdrawn",
        "consent_taken_back",
        "opted_out",
        "recognition_private",
        "hidden_by_curator",
    ],
)
def test_photo_route_refuses_what_is_not_public(client, db, world, case):
    status = {
        "draft": FeatureStatus.draft,
        "approved": FeatureStatus.approved,
        "withdrawn": FeatureStatus.withdrawn,
    }.get(case, FeatureStatus.published)
    feature = feature_with_photo(db, world, status=status)
    if case == "withdrawn":
        feature.withdrawn_at = utcnow()
    elif case == "consent_taken_back":
        feature.consents[0].answer = ConsentAnswer.no
    elif case == "opted_out":
        world.anne.feature_opt_out = True
    elif case == "recognition_private":
        world.rec.visibility = Visibility.private
        world.rec.listed = False
    elif case == "hidden_by_curator":
        world.rec.hidden_by_curator = True
        world.rec.listed = False
    db.flush()
    for variant in ["800.webp", "320.jpg"]:
        assert_plain_404(fresh(client, photo_path(feature, world.image, variant)))
    assert "/photo/" not in fresh(client, "/embed/asnes/feature").text


def test_a_withdrawal_stops_the_photo_at_once_even_for_revalidation(client, db, world):
    feature = feature_with_photo(db, world)
    path = photo_path(feature, world.image, "800.webp")
    etag = fresh(client, path).headers["ETag"]
    feature.status, feature.withdrawn_at = FeatureStatus.withdrawn, utcnow()
    db.flush()
    assert_plain_404(fresh(client, path))
    assert_plain_404(fresh(client, path, **{"If-None-Match": etag}))


def test_photo_route_is_only_for_that_organisation_and_that_features_own_photo(client, db, world):
    feature = feature_with_photo(db, world)
    image = world.image
    # Another image of the same organisation (here: someone else's upload).
    stranger = media.save_upload(db, world.org, world.giver, jpeg(colour=(200, 10, 10)))
    # The other organisation with its own public feature and photo.
    other = world.other
    o_value = make_value(db, other, name="Samverkan")
    o_giver, o_anne = make_person(db, other), make_person(db, other)
    o_rec = give(db, o_giver, [o_anne], [o_value], feature_consent=True)
    o_image = media.save_upload(db, other, o_giver, jpeg(colour=(10, 200, 10)))
    o_feature = make_feature(db, other, o_rec, consents=[(o_anne, "yes")], image=o_image)
    db.flush()
    assert fresh(client, photo_path(o_feature, o_image, "800.webp", "avesta")).status_code == 200
    for path in [
        photo_path(feature, image, "800.webp", slug="avesta"),
        photo_path(o_feature, o_image, "800.webp", slug="asnes"),
        photo_path(feature, o_image, "800.webp"),
        photo_path(o_feature, image, "800.webp", slug="avesta"),
        photo_path(feature, stranger, "800.webp"),
        f"/embed/no-such-org/photo/{feature.id}/{image.id}/800.webp",
        f"/embed/asnes/photo/{feature.id + 1000}/{image.id}/800.webp",
    ]:
        assert_plain_404(fresh(client, path))


@pytest.mark.parametrize(
    "variant",
    ["800.png", "801.webp", "1600.webp", "0800.webp", "800.webp.jpg", "800", "abc", "800.WEBP"],
)
def test_photo_route_refuses_bad_variants(client, db, world, variant):
    feature = feature_with_photo(db, world)
    assert_plain_404(fresh(client, photo_path(feature, world.image, variant)))


@pytest.mark.parametrize(
    "bad", ["0", "-1", "x", "1.0", "99999999999999999999", "9223372036854775808"]
)
def test_photo_route_refuses_bad_ids(client, db, world, bad):
    feature = feature_with_photo(db, world)
    image = world.image
    assert_plain_404(fresh(client, f"/embed/asnes/photo/{bad}/{image.id}/800.webp"))
    assert_plain_404(fresh(client, f"/embed/asnes/photo/{feature.id}/{bad}/800.webp"))


def test_a_missing_file_is_a_404_not_an_error(client, db, world):
    feature = feature_with_photo(db, world)
    key = next(v["key"] for v in world.image.variants if v["width"] == 800)
    get_storage().delete(key)
    assert_plain_404(fresh(client, photo_path(feature, world.image, "800.webp")))


# --- a photo competition's winner as the feature ------------------------------------------------


def test_winning_entry_feature_shows_and_serves_its_photo(client, db, world):
    feature = entry_feature(db, world)
    page = fresh(client, "/embed/asnes/feature").text
    assert "Vinnerbildet" in page and "<picture" in page and "Anne Ansatt" in page
    assert fresh(client, photo_path(feature, world.image, "800.webp")).status_code == 200


def test_a_rejected_entry_is_not_public(client, db, world):
    feature = entry_feature(db, world, status="rejected")
    assert "Vinnerbildet" not in fresh(client, "/embed/asnes/feature").text
    assert_plain_404(fresh(client, photo_path(feature, world.image, "800.webp")))


def test_is_public_rules_for_entries_and_empty_features(db, world):
    feature = entry_feature(db, world)
    assert public.is_public(db, feature)
    assert feature.entry is not None
    feature.entry.status = EntryStatus.pending
    assert not public.is_public(db, feature)
    feature.entry.status = EntryStatus.approved
    feature.entry.people_consent = False
    assert not public.is_public(db, feature)
    feature.entry.people_consent = True
    feature.entry.contest = make_contest(db, world.other, "closed")
    assert not public.is_public(db, feature)
    # Neither a recognition nor an entry: nothing anyone agreed to, so nothing public.
    lone = Feature(
        org=world.org,
        iso_year=2026,
        iso_week=30,
        status=FeatureStatus.published,
        published_at=utcnow(),
        headline="Ingen",
    )
    assert not public.is_public(db, lone)
    assert public.public_people(feature) == [world.anne]
