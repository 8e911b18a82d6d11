"""The public widget: what it shows, its headers, caching, CORS, Atom, oEmbed and widget.js."""

import json
import re
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import pytest
from babel import dates
from fastapi.testclient import TestClient

from app.kernel.clock import utcnow
from app.orgs.models import Organisation
from app.recognition.models import Visibility
from app.weekly.models import ConsentAnswer, Feature, FeatureStatus
from app.weekly.schedule import next_publish_at
from tests.helpers import (
    ATOM,
    INTRANET,
    World,
    fresh,
    give,
    login,
    make_feature,
    make_org,
    make_person,
    make_value,
)

EMBED_PATHS = ["feature", "feature.json", "feed.atom", "widget.js", "theme.css"]
HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)> "quoted"'


# --- data -----------------------------------------------------------------------------------


@pytest.fixture
def world(db):
    """Åsnes with its values, an intranet, a recognition of Anne and Bjørn, a second org."""
    org = make_org(db, slug="asnes", name="Åsnes kommune", intranet_origins=[INTRANET])
    values = [
        make_value(db, org, name="Engasjement", colour="#1d4f73", position=1),
        make_value(db, org, name="Samarbeid", colour="#7a1f5c", position=2),
        make_value(db, org, name="Servicefokus", colour="#2e5e1a", position=3),
    ]
    giver = make_person(db, org, name="Gunnhild Giver")
    anne = make_person(db, org, name="Anne Ansatt")
    bjorn = make_person(db, org, name="Bjørn Beskjeden")
    rec = give(db, giver, [anne, bjorn], values[:2], feature_consent=True)
    other = make_org(db, slug="avesta", name="Avesta kommun", locale="sv")
    return World(
        org=org,
        values=values,
        giver=giver,
        anne=anne,
        bjorn=bjorn,
        rec=rec,
        other=other,
    )


def publish_for_anne(db, world, **kw: Any) -> Feature:
    """Published with Anne's yes. Bjørn has no consent row at all: he must not be named."""
    return make_feature(db, world.org, world.rec, consents=[(world.anne, "yes")], **kw)


# --- what it shows --------------------------------------------------------------------------


def test_widget_shows_the_published_feature_with_values_and_consenting_names(client, db, world):
    publish_for_anne(db, world)
    page = fresh(client, "/embed/asnes/feature?lang=en")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="en">' in html
    assert "Nattevakta som reddet julebordet" in html
    assert "Hele avdelingen takker." in html
    assert "Ukens ESS · week 47" in html
    assert "Engasjement" in html and "Samarbeid" in html and "Servicefokus" not in html
    assert f"value-{world.values[0].id}" in html
    assert "Anne Ansatt" in html
    assert "Bjørn" not in html and "Gunnhild" not in html  # no consent; the giver is not named
    assert 'href="http://testserver/asnes/" target="_blank" rel="noopener"' in html
    assert "<main" in html and "<h1" in html
    assert "htmx" not in html and "app.js" not in html


def test_widget_speaks_the_organisations_language_unless_asked(client, db, world):
    world.org.locale = "nn"
    publish_for_anne(db, world)
    assert '<html lang="nn">' in fresh(client, "/embed/asnes/feature").text
    assert '<html lang="sv">' in fresh(client, "/embed/asnes/feature?lang=sv").text
    # Only supported languages: anything else falls back to the organisation's.
    assert '<html lang="nn">' in fresh(client, "/embed/asnes/feature?lang=xx").text
    # The browser's language does not matter: every reader of one intranet sees the same page.
    page = fresh(client, "/embed/asnes/feature", **{"Accept-Language": "en"})
    assert '<html lang="nn">' in page.text
    assert "Accept-Language" not in page.headers.get("Vary", "")


@pytest.mark.parametrize(
    "case",
    ["draft", "approved", "withdrawn", "private", "hidden_by_curator", "hidden_by_recipient"],
)
def test_never_shows_what_is_not_published_and_public(client, db, world, case):
    rec = world.rec
    status = {
        "draft": FeatureStatus.draft,
        "approved": FeatureStatus.approved,
        "withdrawn": FeatureStatus.withdrawn,
    }.get(case, FeatureStatus.published)
    feature = publish_for_anne(db, world, status=status)
    if case == "withdrawn":
        feature.withdrawn_at = utcnow()
    elif case == "private":
        rec.visibility = Visibility.private
        rec.listed = False
    elif case == "hidden_by_curator":
        rec.hidden_by_curator = True
        rec.listed = False
    elif case == "hidden_by_recipient":
        rec.recipients[0].hidden = True
        rec.listed = False
    db.flush()
    for path in ["feature", "feature.json", "feed.atom"]:
        text = fresh(client, f"/embed/asnes/{path}").text
        assert "Nattevakta" not in text, (case, path)
        assert "Anne" not in text, (case, path)
    data = fresh(client, "/embed/asnes/feature.json").json()
    assert data["feature"] is None


@pytest.mark.parametrize("answer", [ConsentAnswer.pending, ConsentAnswer.no])
def test_never_names_someone_who_has_not_agreed(client, db, world, answer):
    make_feature(
        db,
        world.org,
        world.rec,
        consents=[(world.anne, ConsentAnswer.yes), (world.bjorn, answer)],
    )
    for path in ["feature", "feature.json", "feed.atom"]:
        assert "Bjørn" not in fresh(client, f"/embed/asnes/{path}").text, path


def test_an_opt_out_after_publication_removes_the_name_at_once(client, db, world):
    publish_for_anne(db, world)
    assert "Anne Ansatt" in fresh(client, "/embed/asnes/feature").text
    world.anne.feature_opt_out = True
    db.flush()
    for path in ["feature", "feature.json", "feed.atom"]:
        assert "Anne" not in fresh(client, f"/embed/asnes/{path}").text, path


def test_one_organisations_feature_never_appears_in_anothers_widget(client, db, world):
    publish_for_anne(db, world)
    for path in ["feature", "feature.json", "feed.atom"]:
        text = fresh(client, f"/embed/avesta/{path}").text
        assert "Nattevakta" not in text and "Anne" not in text, path


def test_newest_published_feature_is_the_current_one(client, db, world):
    publish_for_anne(
        db, world, week=(2026, 46), headline="Forrige uke", published_at=utcnow() - timedelta(7)
    )
    rec2 = give(db, world.giver, [world.anne], world.values[2:], feature_consent=True)
    make_feature(
        db,
        world.org,
        rec2,
        consents=[(world.anne, "yes")],
        headline="Denne uka",
        week=(2026, 47),
    )
    page = fresh(client, "/embed/asnes/feature").text
    assert "Denne uka" in page and "Forrige uke" not in page
    assert "Servicefokus" in page


def test_empty_state_says_when_the_first_feature_appears(client, db, world):
    org = world.org
    org.publish_weekday, org.publish_time = 0, "07:30"
    db.flush()
    page = fresh(client, "/embed/asnes/feature?lang=en")
    assert page.status_code == 200
    at = next_publish_at(org)
    day = dates.format_date(at, "EEEE, d MMMM", locale="en_GB")
    assert day.startswith("Monday, ")
    assert f"The first Ukens ESS appears on {day} at 07:30." in page.text
    # In the organisation's language, the day is written the Norwegian way.
    norwegian = dates.format_date(at, "EEEE d. MMMM", locale="nb")
    assert norwegian.startswith("mandag ")
    assert norwegian in fresh(client, "/embed/asnes/feature").text
    # After a withdrawn feature, it is "the next", not "the first".
    publish_for_anne(db, world, status=FeatureStatus.withdrawn, withdrawn_at=utcnow())
    db.flush()
    later = fresh(client, "/embed/asnes/feature?lang=en").text
    assert "Nattevakta" not in later
    assert "The next Ukens ESS appears on" in later


def test_empty_state_says_the_organisations_publish_time(client, db, world):
    """Not a fixed 07:00: the empty state, the JSON and the curators' pages share one schedule."""
    org = world.org
    org.publish_weekday, org.publish_time = 2, "09:30"  # Wednesday 09:30
    db.flush()
    page = fresh(client, "/embed/asnes/feature?lang=en").text
    assert "appears on Wednesday, " in page and " at 09:30." in page
    assert "07:00" not in page
    moment = datetime.fromisoformat(
        fresh(client, "/embed/asnes/feature.json").json()["next_publish_at"]
    )
    assert (moment.weekday(), moment.strftime("%H:%M")) == (2, "09:30")  # in Oslo's offset
    assert moment == next_publish_at(org)


@pytest.mark.parametrize(
    "now,expected",
    [
        # Sunday 29 March 2026, 02:30 does not exist in Oslo: the widget says 03:00 (CEST).
        (datetime(2026, 3, 27, 12, 0, tzinfo=UTC), datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        # Sunday 25 October 2026, 02:30 happens twice: the first one, still summer time.
        (datetime(2026, 10, 23, 12, 0, tzinfo=UTC), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        # The Sunday after each change: 02:30 in the new offset.
        (datetime(2026, 3, 29, 12, 0, tzinfo=UTC), datetime(2026, 4, 5, 0, 30, tzinfo=UTC)),
        (datetime(2026, 10, 25, 12, 0, tzinfo=UTC), datetime(2026, 11, 1, 1, 30, tzinfo=UTC)),
    ],
)
def test_next_publish_moment_in_the_week_the_clock_changes(now, expected):
    org = Organisation(slug="x", name="X", publish_weekday=6, publish_time="02:30")
    assert next_publish_at(org, now) == expected


def test_empty_state_in_the_week_the_clock_changes(client, db, world, time_machine):
    org = world.org
    org.publish_weekday, org.publish_time = 6, "02:30"  # Sunday 02:30
    db.flush()
    time_machine.move_to(datetime(2026, 3, 27, 12, 0, tzinfo=UTC), tick=False)
    page = fresh(client, "/embed/asnes/feature?lang=en").text
    assert "appears on Sunday, 29 March at 03:00." in page


@pytest.mark.parametrize(
    "now,expected",
    [
        # Monday 07:00 Oslo: Sunday 23:00 UTC in winter (CET, UTC+1).
        (datetime(2026, 11, 22, 12, 0, tzinfo=UTC), datetime(2026, 11, 23, 6, 0, tzinfo=UTC)),
        # Exactly at the moment: the next week's.
        (datetime(2026, 11, 23, 6, 0, tzinfo=UTC), datetime(2026, 11, 30, 6, 0, tzinfo=UTC)),
        # Across the change to summer time (29 March 2026): 07:00 is then UTC+2.
        (datetime(2026, 3, 27, 12, 0, tzinfo=UTC), datetime(2026, 3, 30, 5, 0, tzinfo=UTC)),
    ],
)
def test_next_publish_moment_is_wall_clock_time_in_the_organisations_zone(now, expected):
    org = Organisation(slug="x", name="X", publish_weekday=0, publish_time="07:00")
    assert next_publish_at(org, now) == expected


# --- headers, caching, cookies --------------------------------------------------------------


def test_frame_ancestors_are_the_organisations_intranet_and_the_app_itself(client, db, world):
    world.other.intranet_origins = ["https://intra.avesta.example", "https://sp.avesta.example"]
    db.flush()
    asnes = fresh(client, "/embed/asnes/feature").headers
    avesta = fresh(client, "/embed/avesta/feature").headers
    assert asnes["Content-Security-Policy"].endswith(f"frame-ancestors 'self' {INTRANET}")
    assert avesta["Content-Security-Policy"].endswith(
        "frame-ancestors 'self' https://intra.avesta.example https://sp.avesta.example"
    )
    for headers in (asnes, avesta):
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "X-Frame-Options" not in headers


def test_without_intranet_origins_only_the_app_may_frame_it(client, db, world):
    world.org.intranet_origins = []
    db.flush()
    csp = fresh(client, "/embed/asnes/feature").headers["Content-Security-Policy"]
    assert csp.endswith("frame-ancestors 'self'")


def test_other_pages_still_refuse_to_be_framed(client, db, world):
    headers = fresh(client, "/login").headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "url",
    [
        *(f"/embed/asnes/{path}" for path in EMBED_PATHS),
        "/oembed?url=http://testserver/asnes/",
        "/static/embed/widget.css",
        "/static/embed/frame.js",
    ],
)
def test_no_cookie_is_ever_set(client, db, world, url):
    publish_for_anne(db, world)
    response = fresh(client, url)
    assert response.status_code == 200, url
    assert "set-cookie" not in response.headers


def test_no_cookie_on_the_not_found_answer_either(client, db):
    response = fresh(client, "/embed/nobody/feature")
    assert response.status_code == 404
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "path,cache_control",
    [
        ("feature", "public, max-age=60, stale-while-revalidate=300"),
        ("feature.json", "public, max-age=60, stale-while-revalidate=300"),
        ("feed.atom", "public, max-age=60, stale-while-revalidate=300"),
        ("widget.js", "public, max-age=300"),
        ("theme.css", "public, max-age=300"),
    ],
)
def test_every_answer_is_cacheable_and_revalidates_with_304(client, db, world, path, cache_control):
    publish_for_anne(db, world)
    first = fresh(client, f"/embed/asnes/{path}")
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == cache_control
    etag = first.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{16,}"', etag)
    again = fresh(client, f"/embed/asnes/{path}", **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == cache_control
    weak = fresh(client, f"/embed/asnes/{path}", **{"If-None-Match": f'"nope", W/{etag}'})
    assert weak.status_code == 304
    stale = fresh(client, f"/embed/asnes/{path}", **{"If-None-Match": '"something-else"'})
    assert stale.status_code == 200


def test_the_304_keeps_the_frame_policy(client, db, world):
    """Browsers merge a 304's headers into the stored page: it must not carry 'none'."""
    etag = fresh(client, "/embed/asnes/feature").headers["ETag"]
    again = fresh(client, "/embed/asnes/feature", **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["Content-Security-Policy"].endswith(f"frame-ancestors 'self' {INTRANET}")
    assert "X-Frame-Options" not in again.headers


def test_the_etag_changes_with_the_content(client, db, world):
    feature = publish_for_anne(db, world)
    before = fresh(client, "/embed/asnes/feature").headers["ETag"]
    feature.headline = "En annen overskrift"
    db.flush()
    after = fresh(client, "/embed/asnes/feature", **{"If-None-Match": before})
    assert after.status_code == 200
    assert after.headers["ETag"] != before
    assert "En annen overskrift" in after.text


def test_unknown_organisation_is_a_plain_briefly_cached_404(client, db):
    for path in EMBED_PATHS:
        response = fresh(client, f"/embed/no-such-org/{path}")
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/plain")
        assert response.headers["Cache-Control"] == "public, max-age=60"
        assert "<html" not in response.text


def test_widget_page_is_small(client, db, world):
    rec = world.rec
    rec.text = "x" * 600
    publish_for_anne(db, world, headline="H" * 120, body="Lang tekst. " * 100)
    page = fresh(client, "/embed/asnes/feature")
    assets = re.findall(r'(?:href|src)="(/(?:static|embed)/[^"]+\.(?:css|js)[^"]*)"', page.text)
    assert len(assets) == 3, assets  # widget.css, theme.css, frame.js
    total = len(page.content) + sum(len(fresh(client, a).content) for a in assets)
    assert total < 30_000, total


# --- JSON and CORS --------------------------------------------------------------------------


def test_json_shape(client, db, world):
    feature = publish_for_anne(db, world)
    data = fresh(client, "/embed/asnes/feature.json").json()
    assert data["org"] == {"slug": "asnes", "name": "Åsnes kommune", "locale": "nb"}
    assert data["feature_name"] == "Ukens ESS"
    f = data["feature"]
    assert f["id"] == feature.id and (f["year"], f["week"]) == (2026, 47)
    assert f["headline"] == "Nattevakta som reddet julebordet"
    assert [v["name"] for v in f["values"]] == ["Engasjement", "Samarbeid"]
    assert f["people"] == [{"name": "Anne Ansatt"}]
    assert "email" not in json.dumps(data)
    assert data["links"]["atom"] == "http://testserver/embed/asnes/feed.atom"
    assert datetime.fromisoformat(data["next_publish_at"]) > utcnow()


def test_cors_only_for_the_organisations_intranet(client, db, world):
    allowed = fresh(client, "/embed/asnes/feature.json", Origin=INTRANET)
    assert allowed.headers["Access-Control-Allow-Origin"] == INTRANET
    assert "Origin" in allowed.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    for origin in ["https://evil.example", "https://intra.avesta.example", "null"]:
        other = fresh(client, "/embed/asnes/feature.json", Origin=origin)
        assert other.status_code == 200
        assert "Access-Control-Allow-Origin" not in other.headers, origin
        assert "Origin" in other.headers["Vary"]
    # The same holds on a revalidation.
    etag = allowed.headers["ETag"]
    again = fresh(client, "/embed/asnes/feature.json", Origin=INTRANET, **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["Access-Control-Allow-Origin"] == INTRANET


# --- Atom -----------------------------------------------------------------------------------


def _atom(client: TestClient, slug: str = "asnes") -> ET.Element:
    response = fresh(client, f"/embed/{slug}/feed.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    return ET.fromstring(response.content)  # noqa: S314 - our own output, under test


def test_atom_feed_is_valid_and_lists_published_features(client, db, world):
    publish_for_anne(db, world, week=(2026, 46), published_at=utcnow() - timedelta(days=7))
    rec2 = give(db, world.giver, [world.anne], world.values[2:], feature_consent=True)
    make_feature(db, world.org, rec2, consents=[(world.anne, "yes")], headline="Uke 47")
    make_feature(db, world.org, rec2, status=FeatureStatus.draft, week=(2026, 48), headline="Kladd")
    feed = _atom(client)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}id", "").startswith("tag:testserver,")
    assert feed.findtext(f"{ATOM}title") == "Ukens ESS – Åsnes kommune"
    datetime.fromisoformat(feed.findtext(f"{ATOM}updated", ""))
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    assert links["self"] == "http://testserver/embed/asnes/feed.atom"
    assert feed.find(f"{ATOM}author/{ATOM}name") is not None
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        "Uke 47",
        "Nattevakta som reddet julebordet",
    ]
    ids = [e.findtext(f"{ATOM}id", "") for e in entries]
    assert all(
        re.fullmatch(r"tag:testserver,\d{4}-\d\d-\d\d:asnes/feature/2026-W4[67]", i) for i in ids
    )
    assert len(set(ids)) == 2
    for entry in entries:
        datetime.fromisoformat(entry.findtext(f"{ATOM}updated", ""))
        content = entry.find(f"{ATOM}content")
        assert content is not None and content.get("type") == "html"
        assert "Anne Ansatt" in (content.text or "")
    assert "Bjørn" not in ET.tostring(feed, encoding="unicode")

    # ... and as a feed reader sees it.
    parsed = feedparser.parse(fresh(client, "/embed/asnes/feed.atom").content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert [e.title for e in parsed.entries] == ["Uke 47", "Nattevakta som reddet julebordet"]
    assert all(e.published_parsed and e.link for e in parsed.entries)
    assert "Anne Ansatt" in parsed.entries[0].content[0].value


def test_atom_announces_competition_results_without_names_or_photos(client, db, world):
    from tests.helpers import make_contest, make_entry

    publish_for_anne(db, world, published_at=utcnow() - timedelta(days=3))
    now = utcnow()
    contest = make_contest(db, world.org, "closed", now=now, title="Vinter <i>i</i> Åsnes")
    contest.results_announced_at = now - timedelta(days=1)
    make_entry(db, contest, world.bjorn, caption="Bjørns bilde")
    open_one = make_contest(db, world.org, "voting", now=now, title="Pågår")
    open_one.results_announced_at = now  # not closed: never in the feed
    other = make_contest(db, world.other, "closed", now=now, title="Avesta-tävling")
    other.results_announced_at = now - timedelta(hours=1)
    db.add_all([contest, open_one, other])
    db.flush()

    parsed = feedparser.parse(fresh(client, "/embed/asnes/feed.atom").content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    titles = [e.title for e in parsed.entries]
    assert titles == ["Resultater: Vinter <i>i</i> Åsnes", "Nattevakta som reddet julebordet"]
    entry = parsed.entries[0]
    assert entry.id.endswith(f"asnes/contest/{contest.id}")
    assert entry.link == f"http://testserver/asnes/contests/{contest.id}"
    html = entry.content[0].value
    assert "Vinter &lt;i&gt;i&lt;/i&gt; Åsnes" in html
    assert "Bjørn" not in html and "<img" not in html and "/media/" not in html


def test_atom_escapes_hostile_text(client, db, world):
    publish_for_anne(db, world, headline=HOSTILE[:120], body=f"{HOSTILE}\n\nMer tekst her.")
    raw = fresh(client, "/embed/asnes/feed.atom").text
    assert "<script" not in raw and "<img" not in raw
    entry = _atom(client).find(f"{ATOM}entry")
    assert entry is not None
    assert entry.findtext(f"{ATOM}title") == HOSTILE[:120]
    html = entry.findtext(f"{ATOM}content", "")
    # The content is HTML as text: the hostile markup in it is escaped once more.
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_atom_feed_of_an_organisation_without_features(client, db, world):
    feed = _atom(client, "avesta")
    assert feed.findall(f"{ATOM}entry") == []
    assert feed.findtext(f"{ATOM}updated")
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == "sv"


def test_hostile_text_is_escaped_in_the_page_and_json(client, db, world):
    publish_for_anne(db, world, headline=HOSTILE[:120], body=HOSTILE)
    page = fresh(client, "/embed/asnes/feature").text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page
    data = fresh(client, "/embed/asnes/feature.json").json()
    assert data["feature"]["body"] == HOSTILE


# --- oEmbed ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://testserver/asnes/",
        "http://testserver/asnes",
        "http://testserver/embed/asnes/feature",
        "http://testserver/asnes/give",
    ],
)
def test_oembed_answers_for_app_and_widget_urls(client, db, world, url):
    publish_for_anne(db, world)
    response = client.get("/oembed", params={"url": url, "format": "json"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["ETag"] and "max-age" in response.headers["Cache-Control"]
    data = response.json()
    assert data["type"] == "rich" and data["version"] == "1.0"
    assert data["provider_name"] == "Tre om dagen"
    assert data["width"] == 600 and data["height"] == 420
    assert data["title"] == "Nattevakta som reddet julebordet"
    assert data["html"].startswith('<iframe src="http://testserver/embed/asnes/feature"')
    assert 'title="Ukens ESS – Åsnes kommune"' in data["html"]
    assert 'width="600" height="420"' in data["html"]


def test_oembed_respects_maxwidth_and_maxheight(client, db, world):
    data = client.get(
        "/oembed", params={"url": "http://testserver/asnes/", "maxwidth": 320, "maxheight": 300}
    ).json()
    assert (data["width"], data["height"]) == (320, 300)
    assert 'width="320" height="300"' in data["html"]


@pytest.mark.parametrize(
    "params,status",
    [
        ({"url": "http://testserver/nobody/"}, 404),
        ({"url": "http://evil.example/asnes/"}, 404),
        ({"url": ""}, 404),
        ({}, 404),
        ({"url": "http://testserver/asnes/", "format": "xml"}, 501),
    ],
)
def test_oembed_errors(client, db, world, params, status):
    response = client.get("/oembed", params=params)
    assert response.status_code == status
    assert "set-cookie" not in response.headers


# --- widget.js ------------------------------------------------------------------------------


def test_widget_js_inserts_the_frame_and_checks_the_sender(client, db, world):
    response = fresh(client, "/embed/asnes/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert response.headers["Cache-Control"] == "public, max-age=300"
    js = response.text
    assert '"src": "http://testserver/embed/asnes/feature"' in js
    assert '"origin": "http://testserver"' in js
    assert '"title": "Ukens ESS \\u2013 \\u00c5snes kommune"' in js
    assert "/*CONFIG*/" not in js
    assert "document.currentScript" in js
    assert "event.origin !== config.origin" in js
    assert "event.source !== frame.contentWindow" in js
    assert "lazy" in js and '"*"' not in js


def test_widget_js_passes_a_language_on_to_the_frame(client, db, world):
    js = fresh(client, "/embed/asnes/widget.js?lang=sv").text
    assert '"src": "http://testserver/embed/asnes/feature?lang=sv"' in js
    js = fresh(client, "/embed/asnes/widget.js?lang=%22%3E%3Cscript%3E").text
    assert '"src": "http://testserver/embed/asnes/feature"' in js


def test_frame_script_posts_only_to_a_configured_origin(client, db, world):
    js = fresh(client, "/static/embed/frame.js").text
    assert "postMessage" in js and '"*"' not in js
    page = fresh(client, "/embed/asnes/feature").text
    assert f'data-origins="{INTRANET} http://testserver"' in page


# --- the admin page -------------------------------------------------------------------------


def test_admin_embed_page_has_snippets_feeds_preview_and_origins(client, db, world):
    admin = make_person(db, world.org, role="admin")
    login(client, db, admin)
    index = client.get("/asnes/admin").text
    assert 'href="/asnes/admin/embed"' in index
    page = client.get("/asnes/admin/embed")
    assert page.status_code == 200
    html = page.text
    assert (
        "&lt;script src=&#34;http://testserver/embed/asnes/widget.js&#34; async&gt;&lt;/script&gt;"
        in html
    )
    assert "&lt;iframe src=&#34;http://testserver/embed/asnes/feature&#34;" in html
    assert "<pre" in html and "<code" in html
    for url in ["/embed/asnes/feature.json", "/embed/asnes/feed.atom", "/oembed?url="]:
        assert url in html
    assert '<iframe src="/embed/asnes/feature" title=' in html
    assert INTRANET in html
    assert 'href="/asnes/admin/settings"' in html


def test_admin_embed_page_is_for_admins_only(client, db, world):
    login(client, db, make_person(db, world.org, role="curator"))
    assert client.get("/asnes/admin/embed").status_code == 403


def test_preview_fragment_renders_with_widget_context(client, db, world):
    """The curator preview renders templates/embed/_feature.html with widget_context."""
    from app.web import env
    from app.weekly.presentation import widget_context

    feature = publish_for_anne(db, world, status=FeatureStatus.draft)

    class _State:
        locale = "en"

    class _Request:
        state = _State()

    html = env.get_template("embed/_feature.html").render(
        request=_Request(), **widget_context(db, world.org, feature)
    )
    assert "Nattevakta som reddet julebordet" in html
    assert "<h2" in html and "week 47" in html


# --- public by design: nothing private leaks --------------------------------------------------


# Public routes that take ids besides the organisation (the photo) stay out of
# PUBLIC_ORG_ROUTES, so that test_security's tenant isolation test tries them with another
# organisation's ids; tests/embed/test_embed_photo.py proves what they serve.
ID_EMBED_ROUTES = ["/embed/{org}/photo/{feature_id}/{image_id}/{variant}"]


def _public_embed_routes() -> list[str]:
    from tests.helpers import PUBLIC_ORG_ROUTES, org_routes

    routes = sorted(path for method, path in org_routes() if path.startswith("/embed/"))
    embed_public = sorted(path for method, path in PUBLIC_ORG_ROUTES if path.startswith("/embed/"))
    with_ids = [path for path in routes if re.search(r"\{(?!org\})", path)]
    assert with_ids == ID_EMBED_ROUTES, "a new /embed/{org}/... route with ids needs its own tests"
    routes = [path for path in routes if path not in with_ids]
    assert routes == embed_public, "every /embed/{org} route must be listed as public and tested"
    return routes


@pytest.mark.parametrize("path", _public_embed_routes())
def test_public_embed_routes_expose_only_published_consented_content(client, db, world, path):
    """Every public widget route, for an org full of things that must stay inside it."""
    org, anne, bjorn = world.org, world.anne, world.bjorn
    secret_giver = make_person(db, org, name="Hemmelig Giver", email="hemmelig@asnes.example")
    private = give(
        db,
        secret_giver,
        [bjorn],
        world.values[:1],
        text="Privat tekst om Bjørn",
        visibility="private",
        feature_consent=True,
    )
    make_feature(
        db, org, private, consents=[(bjorn, "yes")], week=(2026, 40), headline="Privat sak"
    )
    make_feature(db, org, world.rec, status=FeatureStatus.draft, week=(2026, 48), headline="Kladd")
    make_feature(
        db, org, world.rec, status=FeatureStatus.approved, week=(2026, 49), headline="Godkjent"
    )
    make_feature(
        db,
        org,
        world.rec,
        status=FeatureStatus.withdrawn,
        week=(2026, 41),
        headline="Trukket",
        withdrawn_at=utcnow(),
    )
    publish_for_anne(db, world, week=(2026, 47))
    url = path.replace("{org}", org.slug)
    response = fresh(client, url)
    assert response.status_code == 200
    text = response.text
    for secret in [
        "Privat",
        "Bjørn",
        "Kladd",
        "Godkjent",
        "Trukket",
        "Hemmelig",
        "hemmelig@",
        anne.email,
        "Gunnhild",
        world.rec.text,
    ]:
        assert secret not in text, (url, secret)


# --- production: the few-second memo --------------------------------------------------------


def test_production_keeps_each_answer_a_few_seconds_then_reads_again(
    client, db, world, settings_env
):
    from app.embed.memo import MEMO, MEMO_SECONDS

    settings_env(env="production")
    MEMO.clear()
    now = [1000.0]
    MEMO.clock = lambda: now[0]
    try:
        feature = publish_for_anne(db, world)
        first = fresh(client, "/embed/asnes/feature")
        assert "Nattevakta" in first.text
        feature.headline = "Ny overskrift"
        db.flush()
        same = fresh(client, "/embed/asnes/feature")
        assert same.text == first.text and same.headers["ETag"] == first.headers["ETag"]
        assert "set-cookie" not in same.headers
        # Another language or another route is its own entry.
        assert "Ny overskrift" in fresh(client, "/embed/asnes/feature.json").text
        now[0] += MEMO_SECONDS + 0.1
        later = fresh(client, "/embed/asnes/feature")
        assert "Ny overskrift" in later.text and later.headers["ETag"] != first.headers["ETag"]
        # CORS is decided per request, also from the memo.
        allowed = fresh(client, "/embed/asnes/feature.json", Origin=INTRANET)
        other = fresh(client, "/embed/asnes/feature.json", Origin="https://evil.example")
        assert allowed.headers["Access-Control-Allow-Origin"] == INTRANET
        assert "Access-Control-Allow-Origin" not in other.headers
    finally:
        MEMO.clock = time.monotonic
        MEMO.clear()


def test_the_fast_path_answers_fresh_memo_hits_and_passes_everything_else_on(settings_env):
    import anyio

    from app.embed.memo import MEMO, Rendered, WidgetFastPath

    passed_on: list[str] = []

    async def app(scope, receive, send):
        passed_on.append(f"{scope['method']} {scope['path']}")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    fast = WidgetFastPath(app)

    def call(path: str, method: str = "GET", headers=()) -> tuple[int, dict[str, str], bytes]:
        sent: list[dict] = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [(k.encode(), v.encode()) for k, v in headers],
        }
        # The test client's event loop lives in this thread: run this one elsewhere.
        with anyio.from_thread.start_blocking_portal() as portal:
            portal.call(fast, scope, receive, send)
        start = sent[0]
        head = {k.decode(): v.decode() for k, v in start.get("headers", [])}
        return start["status"], head, b"".join(m.get("body", b"") for m in sent[1:])

    settings_env(env="production")
    MEMO.clear()
    try:
        page = Rendered(b"<p>Ukens ESS</p>", "text/html; charset=utf-8")
        MEMO._items[("feature", "asnes", None)] = (MEMO.clock() + 60, page)
        MEMO._items[("feature.json", "asnes", None)] = (MEMO.clock() - 1, page)  # stale
        MEMO._items[("feature", "gone", None)] = (MEMO.clock() + 60, None)  # a known 404

        status, head, body = call("/embed/asnes/feature")
        assert (status, body) == (200, b"<p>Ukens ESS</p>")
        assert head["etag"] == page.etag and "stale-while-revalidate" in head["cache-control"]
        status, _, body = call("/embed/asnes/feature", headers=[("if-none-match", page.etag)])
        assert (status, body) == (304, b"")
        assert call("/embed/gone/feature")[0] == 404
        assert passed_on == []

        call("/embed/asnes/feature.json")  # stale: the route renders it afresh
        call("/embed/asnes/feature", method="POST")
        call("/embed/asnes/feed.atom")
        call("/embed/other/feature")  # never rendered
        assert passed_on == [
            "GET /embed/asnes/feature.json",
            "POST /embed/asnes/feature",
            "GET /embed/asnes/feed.atom",
            "GET /embed/other/feature",
        ]
        settings_env(env="dev")  # dev mode renders every time
        call("/embed/asnes/feature")
        assert passed_on[-1] == "GET /embed/asnes/feature"
    finally:
        MEMO.clear()
