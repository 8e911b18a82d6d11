"""Photo competition results in the home feed: placed by time among the recognitions, each
card on exactly one page, only in the "all" feed (and its value filter), per organisation."""

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from app.contests import jobs, results, voting
from app.contests.models import Contest, ContestEntry, ContestVote, WinnerRule
from app.kernel.clock import utcnow
from app.orgs.models import Organisation, Person
from tests.helpers import (
    World,
    give,
    login,
    make_contest,
    make_department,
    make_entry,
    make_org,
    make_person,
    make_value,
)

EN = {"Accept-Language": "en"}
CARD_RE = re.compile(r'id="(rec|contest)-(\d+)-(?:title|results)"')
MORE_RE = re.compile(r'href="(/[^"]+/feed\?[^"]+cursor=[^"]+)"')


@pytest.fixture
def world(db):
    org = make_org(db, slug="vaaler", name="Våler kommune")
    dept = make_department(db, org, name="Hjemmetjenesten")
    values = [make_value(db, org, name=n) for n in ("Samarbeid", "Omsorg")]
    ann = make_person(db, org, name="Ann Ansatt", department_id=dept.id)
    bob = make_person(db, org, name="Bo Bilde", department_id=dept.id)
    cid = make_person(db, org, name="Cid Colleague", department_id=dept.id)
    voters = [make_person(db, org, name=f"Velger {i}") for i in range(3)]
    return World(org=org, values=values, ann=ann, bob=bob, cid=cid, voters=voters)


def base_time() -> datetime:
    """Recent enough that competitions closed a day before it have closed for real."""
    return (utcnow() - timedelta(hours=12)).replace(microsecond=0)


def announced(
    db: Session, org: Organisation, at: datetime, *, title: str | None = None, **kw: Any
) -> Contest:
    """A competition that closed a day before `at` and had its results announced at `at`."""
    contest = make_contest(db, org, "closed", now=at, **({"title": title} if title else {}), **kw)
    assert results.announce_results(db, contest, at)
    db.flush()
    return contest


def cast(db: Session, contest: Contest, plan: list[tuple[ContestEntry, list[Person]]]) -> None:
    """Votes as they were when voting closed (each voter's next slot)."""
    slots: dict[int, int] = {}
    for entry, people in plan:
        for voter in people:
            slots[voter.id] = slots.get(voter.id, 0) + 1
            db.add(
                ContestVote(
                    contest_id=contest.id,
                    entry_id=entry.id,
                    voter_id=voter.id,
                    slot=slots[voter.id],
                )
            )
    db.flush()


def with_podium(
    db: Session, contest: Contest, authors: list[Person], voters: list[Person]
) -> list[ContestEntry]:
    """Entries by `authors` with 3, 2, 1 votes: places 1, 2, 3 in that order."""
    entries = [make_entry(db, contest, a, caption=f"Bilde av {a.name}") for a in authors]
    cast(db, contest, [(e, voters[:n]) for n, e in zip((3, 2, 1), entries, strict=False)])
    return entries


def cards(html: str) -> list[tuple[str, int]]:
    """The feed's cards in document order: ("rec", id) and ("contest", id)."""
    return [(kind, int(n)) for kind, n in CARD_RE.findall(html)]


def walk_feed(client, org: Organisation, query: str = "") -> list[str]:
    """Page 1 and every further page as htmx loads them."""
    pages = [client.get(f"/{org.slug}/{query}", headers=EN).text]
    while more := MORE_RE.search(pages[-1]):
        url = more.group(1).replace("&amp;", "&")
        pages.append(client.get(url, headers={**EN, "HX-Request": "true"}).text)
        assert len(pages) < 20
    return pages


# --- tests --------------------------------------------------------------------------------


def test_results_card_appears_once_the_job_announces_them(client, db, world, factory):
    org, values, ann, bob, cid = world.org, world.values, world.ann, world.bob, world.cid
    contest = make_contest(db, org, "voting", title="Vinterlys")
    winner = make_entry(db, contest, ann, caption="Morgensol over Glomma")
    voting.toggle_vote(db, cid, winner)
    rec = give(db, bob, [cid], values[:1], now=utcnow() - timedelta(hours=1))
    contest.vote_closes_at = utcnow() - timedelta(minutes=1)
    db.add(contest)
    db.commit()
    login(client, db, cid)

    before = client.get(f"/{org.slug}/", headers=EN).text
    assert "Results: Vinterlys" not in before and f"contest-{contest.id}-results" not in before

    assert jobs.contest_tick(factory).startswith("1 results")
    db.expire_all()  # as a new request's session would see it
    page = client.get(f"/{org.slug}/", headers=EN).text
    assert cards(page) == [("contest", contest.id), ("rec", rec.id)]  # announced just now
    card = page[page.index('class="rec-card results-card"') :].split("</article>")[0]
    assert re.search(
        rf'<h3 class="rec-title results-title" id="contest-{contest.id}-results">'
        rf'<a href="/{org.slug}/contests/{contest.id}">Results: Vinterlys</a></h3>',
        card,
    )
    assert f'aria-labelledby="contest-{contest.id}-results"' in card
    assert "1st place" in card and "Morgensol over Glomma" in card
    assert "Photo: Ann Ansatt" in card and "1 vote" in card
    assert "<time datetime=" in card and "Photo competition" in card
    assert re.search(r"<li class=\"feed-results\"><article", page)


def test_results_are_placed_by_time_among_recognitions(client, db, world):
    org, values, ann, bob, cid = world.org, world.values, world.ann, world.bob, world.cid
    t = base_time()
    recs = [give(db, ann, [bob], values[:1], now=t + timedelta(hours=h)).id for h in range(3)]
    contest = announced(db, org, t + timedelta(minutes=90))
    login(client, db, cid)
    page = client.get(f"/{org.slug}/", headers=EN).text
    assert cards(page) == [
        ("rec", recs[2]),
        ("contest", contest.id),
        ("rec", recs[1]),
        ("rec", recs[0]),
    ]


def test_each_results_card_is_on_exactly_one_page(client, db, world):
    org, values, ann, bob, cid = world.org, world.values, world.ann, world.bob, world.cid
    t = base_time()
    minute = timedelta(minutes=1)
    recs = [give(db, ann, [bob], values[:1], now=t + i * minute) for i in range(45)]
    # 20 a page: page 1 ends at recognition 25, page 2 at 5, page 3 is the last.
    times = [
        t + 44.5 * minute,  # newest of all: top of page 1
        t + 25 * minute,  # the same instant as page 1's last recognition
        t + 24.5 * minute,  # between page 1 and page 2: top of page 2
        t + 5 * minute,  # the same instant as page 2's last recognition
        t + 2.5 * minute,  # inside the last page
        t - timedelta(hours=3),  # older than every recognition: the end of the last page
    ]
    contests = [announced(db, org, at) for at in times]
    login(client, db, cid)

    pages = walk_feed(client, org)
    assert len(pages) == 3
    per_page = [[i for kind, i in cards(p) if kind == "contest"] for p in pages]
    ids = [c.id for c in contests]
    assert per_page == [ids[0:2], ids[2:4], ids[4:6]]
    assert all("<html" not in p for p in pages[1:])

    # The whole feed, read page after page, is one list in time order (results first on a tie).
    timeline = [(r.created_at, 0, "rec", r.id) for r in recs]
    timeline += [(at, 1, "contest", c.id) for at, c in zip(times, contests, strict=True)]
    expected = [(kind, i) for _at, _tie, kind, i in sorted(timeline, reverse=True)]
    assert [c for p in pages for c in cards(p)] == expected

    # Without htmx a later page is a whole page with the cards as h2 under its h1.
    more = MORE_RE.search(pages[0]).group(1).replace("&amp;", "&")
    full = client.get(more, headers=EN).text
    assert "<html" in full and f'<h2 class="rec-title results-title" id="contest-{ids[2]}' in full


def test_results_are_only_in_the_everyone_feed(client, db, world):
    org, values, ann, bob = world.org, world.values, world.ann, world.bob
    t = base_time()
    give(db, ann, [bob], values[:1], now=t)
    give(db, bob, [ann], values[:1], now=t + timedelta(minutes=1))
    contest = announced(db, org, t + timedelta(minutes=2))
    login(client, db, ann)
    marker = f"contest-{contest.id}-results"
    assert marker in client.get(f"/{org.slug}/?feed=all", headers=EN).text
    for kind in ("department", "to_me", "from_me"):
        page = client.get(f"/{org.slug}/?feed={kind}", headers=EN).text
        assert 'class="feed"' in page, kind  # the list is there, with recognitions only
        assert marker not in page and "Results:" not in page, kind
        assert marker not in client.get(f"/{org.slug}/feed?feed={kind}", headers=EN).text


def test_value_filter_shows_the_competitions_of_that_value(client, db, world):
    org, values, ann, bob, cid = world.org, world.values, world.ann, world.bob, world.cid
    t = base_time()
    give(db, ann, [bob], [values[0]], now=t)
    give(db, ann, [bob], [values[1]], now=t + timedelta(minutes=1))
    with_a = announced(db, org, t + timedelta(minutes=2), value_id=values[0].id)
    with_b = announced(db, org, t + timedelta(minutes=3), value_id=values[1].id)
    without = announced(db, org, t + timedelta(minutes=4))
    login(client, db, cid)

    def shown(query: str) -> list[int]:
        page = client.get(f"/{org.slug}/{query}", headers=EN).text
        return [i for kind, i in cards(page) if kind == "contest"]

    assert shown("") == [without.id, with_b.id, with_a.id]
    assert shown(f"?value={values[0].id}") == [with_a.id]
    assert shown(f"?feed=all&value={values[1].id}") == [with_b.id]
    page = client.get(f"/{org.slug}/?value={values[0].id}", headers=EN).text
    assert f'<span class="chip value-{values[0].id}">Samarbeid</span>' in page


def test_no_winners_is_said_kindly_with_a_link(client, db, world):
    org, values, ann, bob, cid = world.org, world.values, world.ann, world.bob, world.cid
    t = base_time()
    give(db, ann, [bob], values[:1], now=t)
    no_votes = announced(db, org, t + timedelta(minutes=1), title="Stille konkurranse")
    make_entry(db, no_votes, ann, caption="Ingen stemte på meg")
    jury = announced(db, org, t + timedelta(minutes=2), winner_rule=WinnerRule.jury)
    login(client, db, cid)
    page = client.get(f"/{org.slug}/", headers=EN).text
    card = page[page.index(f'id="contest-{no_votes.id}-results"') :].split("</article>")[0]
    assert "No winners this time." in card and "Ingen stemte på meg" not in card
    assert card.count(f'href="/{org.slug}/contests/{no_votes.id}"') == 2
    assert "See all photos" in card and "results-podium" not in card
    jury_card = page[page.index(f'id="contest-{jury.id}-results"') :].split("</article>")[0]
    assert "The jury has not announced its choice yet." in jury_card


def test_jury_podium_says_so_and_shows_no_votes(client, db, world):
    org, values, ann, bob, cid = world.org, world.values, world.ann, world.bob, world.cid
    t = base_time()
    give(db, ann, [bob], values[:1], now=t)
    contest = announced(db, org, t + timedelta(minutes=1), winner_rule=WinnerRule.jury)
    second = make_entry(db, contest, bob, caption="Andreplass", jury_place=2)
    make_entry(db, contest, cid, caption="Uplassert")
    first = make_entry(db, contest, ann, caption="Juryens favoritt", jury_place=1)
    login(client, db, cid)
    page = client.get(f"/{org.slug}/", headers=EN).text
    card = page[page.index(f'id="contest-{contest.id}-results"') :].split("</article>")[0]
    assert card.index("Juryens favoritt") < card.index("Andreplass")
    assert "Uplassert" not in card and " vote" not in card
    assert "Chosen by the jury." in card
    podium = results.announced_between(db, org)[0].podium
    assert [(p.place, p.entry.id) for p in podium] == [(1, first.id), (2, second.id)]


def test_podium_in_order_with_photos_authors_and_votes(client, db, world):
    org, values, ann, bob, cid, voters = (
        world.org,
        world.values,
        world.ann,
        world.bob,
        world.cid,
        world.voters,
    )
    t = base_time()
    give(db, ann, [bob], values[:1], now=t)
    contest = announced(db, org, t + timedelta(minutes=1), anonymous_voting=True)
    first, second, third = with_podium(db, contest, [ann, bob, cid], voters)
    third.image.variants = []  # removed by retention: shown without the photo
    db.add(third.image)
    db.flush()
    login(client, db, voters[0])
    page = client.get(f"/{org.slug}/", headers=EN).text
    card = page[page.index(f'id="contest-{contest.id}-results"') :].split("</article>")[0]
    places = re.findall(r'<li class="results-place place-(\d)">', card)
    assert places == ["1", "2", "3"]
    assert card.index("1st place") < card.index("2nd place") < card.index("3rd place")
    # Anonymous while voting, but the names are shown once voting has closed.
    for entry, name, votes in ((first, "Ann Ansatt", 3), (second, "Bo Bilde", 2)):
        assert f'alt="{entry.caption}"' in card
        assert f"Photo: {name}" in card and f"{votes} votes" in card
    assert "Photo: Cid Colleague" in card and "1 vote<" in card
    assert card.count("<img ") == 2 and card.count('type="image/webp"') == 2
    assert f"/{org.slug}/media/{first.image_id}/320.jpg 320w" in card
    assert 'sizes="(min-width: 40rem) 7rem, 5rem"' in card
    assert 'width="800" height="600"' in card and 'loading="lazy"' in card
    assert "Bilde av Cid Colleague" in card  # the caption stays without its photo
    # Each placed photo's file is served to the member who sees the card.
    assert f"/{org.slug}/media/{first.image_id}/" in card


def test_other_organisations_results_never_appear(client, db, world):
    org, values, ann, bob, cid = world.org, world.values, world.ann, world.bob, world.cid
    t = base_time()
    for i in range(25):  # two pages
        give(db, ann, [bob], values[:1], now=t + timedelta(minutes=i))
    other = make_org(db, slug="annen", name="Annen kommune")
    other_value = make_value(db, other, name="Deres verdi")
    theirs = [
        announced(db, other, at, title="Nabokommunens konkurranse")
        for at in (t + timedelta(minutes=30), t + timedelta(minutes=10), t - timedelta(days=1))
    ]
    valued = announced(db, other, t + timedelta(minutes=5), value_id=other_value.id)
    ours = announced(db, org, t + timedelta(minutes=12))
    login(client, db, cid)
    pages = walk_feed(client, org)
    assert len(pages) == 2
    shown = [i for p in pages for kind, i in cards(p) if kind == "contest"]
    assert shown == [ours.id]
    assert all("Nabokommunens" not in p for p in pages)
    # A value id of the other organisation is ignored, not used to find their competitions.
    assert "Nabokommunens" not in client.get(f"/{org.slug}/?value={other_value.id}").text
    in_theirs = [r.contest.id for r in results.announced_between(db, other)]
    assert in_theirs == [theirs[0].id, theirs[1].id, valued.id, theirs[2].id]
    assert [r.contest.id for r in results.announced_between(db, org)] == [ours.id]


def test_hostile_title_and_caption_stay_text(client, db, world):
    org, values, ann, bob, cid = world.org, world.values, world.ann, world.bob, world.cid
    t = base_time()
    give(db, ann, [bob], values[:1], now=t)
    title = '<script>alert(1)</script> "><img src=x onerror=alert(2)>'
    contest = announced(db, org, t + timedelta(minutes=1), title=title, anonymous_voting=False)
    entry = make_entry(db, contest, ann, caption='"><svg onload=alert(3)> {{ 7*7 }}')
    cast(db, contest, [(entry, [cid])])
    login(client, db, bob)
    page = client.get(f"/{org.slug}/", headers=EN).text
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "<svg onload" not in page and "alert(3)" in page
    assert "Results: &lt;script&gt;alert(1)&lt;/script&gt; &#34;&gt;&lt;img src=x" in page
    assert 'alt="&#34;&gt;&lt;svg onload=alert(3)&gt; {{ 7*7 }}"' in page
    # Template syntax in a caption stays text: never evaluated (7*7 would show as 49).
    card = page.split(f'id="contest-{contest.id}-results"')[1].split("</article>")[0]
    assert '<span class="entry-caption">&#34;&gt;&lt;svg onload=alert(3)&gt; {{ 7*7 }}' in card
    assert "> 49<" not in card and ">49<" not in card


def test_batched_podiums_match_the_contest_page(db, world):
    org, ann, bob, cid, voters = world.org, world.ann, world.bob, world.cid, world.voters
    t = base_time()
    more_voters = [make_person(db, org) for _ in range(6)]
    tie = announced(db, org, t, votes_per_person=3)
    a, b, c, d, e = (make_entry(db, tie, p) for p in (ann, bob, cid, ann, bob))
    plan = [(a, more_voters[:3]), (b, more_voters[3:6]), (c, more_voters[:1]), (d, voters[:1])]
    cast(db, tie, plan)
    many = announced(db, org, t + timedelta(minutes=1))
    with_podium(db, many, [ann, bob, cid], voters)
    make_entry(db, many, ann, status="rejected")
    jury = announced(db, org, t + timedelta(minutes=2), winner_rule=WinnerRule.jury)
    make_entry(db, jury, bob, jury_place=3)
    make_entry(db, jury, ann, jury_place=1)
    make_entry(db, jury, cid, jury_place=1, status="rejected")
    empty = announced(db, org, t + timedelta(minutes=3))
    db.flush()

    def key(podium):
        return [(p.place, p.entry.id, p.votes) for p in podium]

    shown = results.announced_between(db, org)
    assert [r.contest.id for r in shown] == [empty.id, jury.id, many.id, tie.id]
    for result in shown:
        assert key(result.podium) == key(results.winners(db, result.contest)), result.contest
        assert result.show_author and result.announced_at == result.contest.results_announced_at
    assert [p.place for p in shown[3].podium] == [1, 1, 3, 3]
    assert e.id not in {p.entry.id for p in shown[3].podium}
    # The bounds: `since` is included, `before` is not.
    at = many.results_announced_at
    assert [r.contest.id for r in results.announced_between(db, org, at, at)] == []
    assert [r.contest.id for r in results.announced_between(db, org, since=at)] == [
        empty.id,
        jury.id,
        many.id,
    ]
    assert [r.contest.id for r in results.announced_between(db, org, before=at)] == [tie.id]


def test_unannounced_or_open_competitions_stay_out(client, db, world):
    org, values, ann, bob, cid = world.org, world.values, world.ann, world.bob, world.cid
    t = base_time()
    give(db, ann, [bob], values[:1], now=t)
    contest = announced(db, org, t + timedelta(minutes=1))
    # Not announced, or not closed at `now`: never in the feed.
    assert results.announced_between(db, org, now=contest.vote_closes_at - timedelta(1)) == []
    make_contest(db, org, "closed", now=t)  # closed, the job has not run yet
    login(client, db, cid)
    page = client.get(f"/{org.slug}/", headers=EN).text
    assert [i for kind, i in cards(page) if kind == "contest"] == [contest.id]


def test_results_show_even_before_anyone_has_recognised_anyone(client, db, world):
    org, ann, bob, cid, voters = world.org, world.ann, world.bob, world.cid, world.voters
    contest = announced(db, org, base_time(), title="Første konkurranse")
    with_podium(db, contest, [bob, cid], voters)
    login(client, db, ann)
    html = client.get(f"/{org.slug}/", headers=EN).text
    assert cards(html) == [("contest", contest.id)]
    assert "Nobody has recognised anyone yet." not in html
