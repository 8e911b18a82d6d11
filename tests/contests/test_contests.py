"""Photo competitions: windows and phases, entries and moderation, votes, results, CSV,
retention and the job, through the pages, the API and the service."""

import csv
import io
import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func
from sqlmodel import Session, select

from app.contests import jobs, phases, scope, service, submissions, voting
from app.contests import results as contest_results
from app.contests.models import Contest, ContestEntry, ContestVote, EntryStatus, WinnerRule
from app.contests.phases import Phase
from app.errors import Invalid, NotFound
from app.kernel.audit import AuditEvent
from app.kernel.clock import utcnow
from app.media.models import MediaImage
from app.orgs.models import Organisation
from tests.helpers import (
    DAY,
    World,
    csrf_token,
    login,
    make_contest,
    make_entry,
    make_image,
    make_org,
    make_person,
    make_value,
    post_form,
)

_seq = itertools.count(1)


# --- data ---------------------------------------------------------------------------------


def jpeg(colour: tuple[int, int, int] | None = None, size: tuple[int, int] = (64, 48)) -> bytes:
    n = next(_seq)
    colour = colour or (n * 37 % 256, n * 91 % 256, n * 53 % 256)
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def votes(db: Session, **where: Any) -> list[ContestVote]:
    stmt = select(ContestVote)
    for key, value in where.items():
        stmt = stmt.where(getattr(ContestVote, key) == value)
    return list(db.exec(stmt.order_by(ContestVote.slot)))


def audit_actions(db: Session, org: Organisation) -> list[str]:
    return list(
        db.exec(
            select(AuditEvent.action).where(AuditEvent.org_id == org.id).order_by(AuditEvent.id)
        )
    )


@pytest.fixture
def world(db):
    org = make_org(db, slug="asnes", name="Åsnes kommune")
    curator = make_person(db, org, name="Cecilie Kurator", role="curator")
    ann = make_person(db, org, name="Ann Ansatt")
    bob = make_person(db, org, name="Bo Bilde")
    cid = make_person(db, org, name="Cid Colleague")
    return World(org=org, curator=curator, ann=ann, bob=bob, cid=cid)


@pytest.fixture
def media_dir(settings_env, tmp_path):
    settings_env(media_url=f"file:{tmp_path / 'media'}")
    return tmp_path / "media"


# --- windows and phases -------------------------------------------------------------------

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(seconds=-1), Phase.upcoming),
        (timedelta(0), Phase.submitting),
        (DAY - timedelta(seconds=1), Phase.submitting),
        (DAY, Phase.moderating),
        (2 * DAY, Phase.voting),
        (3 * DAY - timedelta(seconds=1), Phase.voting),
        (3 * DAY, Phase.closed),
        (300 * DAY, Phase.closed),
    ],
)
def test_phase_follows_the_windows(offset, expected):
    contest = Contest(
        title="x",
        submit_opens_at=T0,
        submit_closes_at=T0 + DAY,
        vote_opens_at=T0 + 2 * DAY,
        vote_closes_at=T0 + 3 * DAY,
    )
    assert phases.phase(contest, T0 + offset) == expected


def _form(**overrides: str) -> dict[str, str]:
    data = {
        "title": "Vinterlys",
        "theme": "Vis oss lyset i mørketida.",
        "submit_opens_at": "2026-12-01T09:00",
        "submit_closes_at": "2026-12-10T16:00",
        "vote_opens_at": "2026-12-10T16:00",
        "vote_closes_at": "2026-12-15T12:00",
        "entries_per_person": "2",
        "vote_rule": "one",
        "votes_per_person": "",
        "winner_rule": "votes",
        "anonymous_voting": "1",
    }
    data.update(overrides)
    return data


def test_curator_creates_a_competition_in_the_orgs_time_zone(client, db, world):
    org, curator = world.org, world.curator
    value = make_value(db, org, name="Samarbeid")
    login(client, db, curator)
    assert client.get(f"/{org.slug}/contests/new").status_code == 200
    response = post_form(client, f"/{org.slug}/contests/new", _form(value_id=str(value.id)))
    assert response.status_code == 303
    contest = db.exec(select(Contest).where(Contest.org_id == org.id)).one()
    # 09:00 in Oslo in December is 08:00 UTC; 12:00 on 15 December is 11:00 UTC.
    assert contest.submit_opens_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert contest.vote_closes_at == datetime(2026, 12, 15, 11, 0, tzinfo=UTC)
    assert contest.value_id == value.id and contest.entries_per_person == 2
    assert contest.votes_per_person == 1 and contest.anonymous_voting is True
    assert response.headers["location"] == f"/{org.slug}/contests/{contest.id}"
    assert audit_actions(db, org) == ["contest.create"]
    page = client.get(f"/{org.slug}/contests/{contest.id}", headers={"Accept-Language": "en"})
    assert "Vinterlys" in page.text and "Samarbeid" in page.text
    # Babel formats the window in the org's zone: 09:00 local, not 08:00 UTC.
    assert "09:00" in page.text and "Tuesday 1. December" in page.text


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"title": ""}, "title", "This field is required."),
        ({"vote_opens_at": "2026-12-09T16:00"}, "vote_opens_at", "Voting can open when"),
        ({"submit_closes_at": "2026-11-30T09:00"}, "submit_closes_at", "Submissions must close"),
        ({"vote_closes_at": "2026-12-10T15:00"}, "vote_closes_at", "Voting must close after"),
        ({"submit_opens_at": "tomorrow"}, "submit_opens_at", "Write a date and a time."),
        ({"entries_per_person": "11"}, "entries_per_person", "Choose a number from 1 to 10."),
        (
            {"vote_rule": "many", "votes_per_person": "0"},
            "votes_per_person",
            "Choose a number from 1 to 10.",
        ),
        ({"winner_rule": "lottery"}, "winner_rule", "Choose how the winners are found."),
        ({"value_id": "999999"}, "value_id", "Choose a value from the list."),
    ],
)
def test_invalid_competition_shows_the_error_next_to_the_field(
    client, db, world, change, field, message
):
    org, curator = world.org, world.curator
    login(client, db, curator)
    response = post_form(
        client, f"/{org.slug}/contests/new", _form(**change), headers={"Accept-Language": "en"}
    )
    assert response.status_code == 422
    assert message in response.text
    error = re.search(rf'<p class="error" id="f-{field}-error">([^<]*)</p>', response.text)
    assert error and message in error.group(1), f"no error next to {field}"
    assert f'href="#f-{field}"' in response.text  # the summary links to the field
    assert db.exec(select(func.count()).select_from(Contest)).one() == 0
    assert 'value="Vinterlys"' in response.text or change.get("title") == ""


def test_votes_per_person_comes_from_the_vote_rule(client, db, world):
    org, curator = world.org, world.curator
    login(client, db, curator)
    post_form(client, f"/{org.slug}/contests/new", _form(vote_rule="many", votes_per_person="3"))
    post_form(client, f"/{org.slug}/contests/new", _form(vote_rule="one", votes_per_person="3"))
    got = sorted(db.exec(select(Contest.votes_per_person).where(Contest.org_id == org.id)))
    assert got == [1, 3]


@pytest.mark.parametrize(
    "url",
    [
        "/contests/new",
        "/contests/{id}/edit",
        "/contests/{id}/moderate",
        "/contests/{id}/export.csv",
    ],
)
def test_curator_pages_are_for_curators(client, db, world, url):
    org, curator, ann = world.org, world.curator, world.ann
    contest = make_contest(db, org)
    url = f"/{org.slug}" + url.replace("{id}", str(contest.id))
    login(client, db, ann)
    assert client.get(url).status_code == 403
    login(client, db, curator)
    assert client.get(url).status_code == 200


def test_employees_cannot_change_a_competition(client, db, world):
    org, ann = world.org, world.ann
    contest = make_contest(db, org)
    login(client, db, ann)
    base = f"/{org.slug}/contests/{contest.id}"
    assert post_form(client, f"/{org.slug}/contests/new", _form()).status_code == 403
    assert post_form(client, f"{base}/edit", _form(title="Mine")).status_code == 403
    assert post_form(client, f"{base}/phase", {"action": "close_submissions"}).status_code == 403
    db.refresh(contest)
    assert contest.title != "Mine" and phases.phase(contest) == Phase.submitting
    assert audit_actions(db, org) == []


def test_curator_moves_the_phases_with_the_now_buttons(client, db, world):
    org, curator = world.org, world.curator
    contest = make_contest(db, org, "submitting")
    login(client, db, curator)
    base = f"/{org.slug}/contests/{contest.id}"
    page = client.get(base).text
    assert 'value="close_submissions"' in page and 'value="close_voting"' not in page

    for action, expected in [
        ("close_submissions", Phase.moderating),
        ("open_voting", Phase.voting),
        ("close_voting", Phase.closed),
    ]:
        assert post_form(client, f"{base}/phase", {"action": action}).status_code == 303
        db.refresh(contest)
        assert phases.phase(contest) == expected, action
    # A button of a phase that is over changes nothing.
    response = post_form(client, f"{base}/phase", {"action": "close_submissions"})
    assert response.status_code == 303
    assert audit_actions(db, org) == [
        "contest.close_submissions",
        "contest.open_voting",
        "contest.close_voting",
    ]


def test_editing_windows_moves_the_phase_and_is_audited(client, db, world):
    org, curator = world.org, world.curator
    contest = make_contest(db, org, "closed", results_announced_at=utcnow())
    login(client, db, curator)
    data = service.ContestInput.of(contest)
    data.vote_closes_at = utcnow() + DAY  # voting again
    form = _form(
        title=contest.title,
        **{name: service.local_input(org, getattr(data, name)) for name in service.WINDOW_FIELDS},
    )
    assert post_form(client, f"/{org.slug}/contests/{contest.id}/edit", form).status_code == 303
    db.refresh(contest)
    assert phases.phase(contest) == Phase.voting
    assert contest.results_announced_at is None  # announced anew when it closes again
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "contest.update")).one()
    assert "vote_closes_at" in event.detail["changed"]


# --- entries ------------------------------------------------------------------------------


def _send(
    client, org, contest, photo: bytes | None, caption="Kaffepause i solveggen", consent=True
):
    files = {"photo": ("IMG_0001.jpg", photo, "image/jpeg")} if photo is not None else None
    data = {"csrf_token": csrf_token(client), "caption": caption}
    if consent:
        data["people_consent"] = "1"
    return client.post(
        f"/{org.slug}/contests/{contest.id}/entries",
        data=data,
        files=files,
        headers={"Accept-Language": "en"},
        follow_redirects=False,
    )


def test_employee_sends_a_photo_from_the_phone_form(client, db, world, media_dir):
    org, ann, bob = world.org, world.ann, world.bob
    contest = make_contest(db, org, "submitting")
    login(client, db, ann)
    page = client.get(f"/{org.slug}/contests/{contest.id}").text
    assert 'type="file"' in page and 'accept="image/*"' in page and 'capture="environment"' in page
    assert 'enctype="multipart/form-data"' in page and 'name="people_consent"' in page

    response = _send(client, org, contest, jpeg())
    assert response.status_code == 303, response.text
    entry = db.exec(select(ContestEntry)).one()
    assert entry.status == EntryStatus.pending and entry.people_consent
    assert entry.caption == "Kaffepause i solveggen" and entry.author_id == ann.id
    assert entry.image.variants and all(
        (media_dir / v["key"]).is_file() for v in entry.image.variants
    )

    mine = client.get(f"/{org.slug}/contests/{contest.id}", headers={"Accept-Language": "en"})
    assert "Waiting for approval" in mine.text and "Kaffepause i solveggen" in mine.text
    # Nobody else sees a pending photo.
    login(client, db, bob)
    other = client.get(f"/{org.slug}/contests/{contest.id}")
    assert "Kaffepause i solveggen" not in other.text
    assert scope.entry_image_visible(db, bob, entry.image_id) is False


@pytest.mark.parametrize(
    ("photo", "caption", "consent", "field", "message"),
    [
        (b"jpeg", "Fint bilde", False, "people_consent", "Confirm that everyone recognisable"),
        (None, "Fint bilde", True, "photo", "Choose a photo."),
        (b"jpeg", "   ", True, "caption", "Describe the photo"),
        (b"jpeg", "x" * 301, True, "caption", "Write at most 300 characters."),
        (b"%PDF-1.4 not a photo", "Fint bilde", True, "photo", None),
    ],
)
def test_an_entry_needs_photo_caption_and_consent(
    client, db, world, media_dir, photo, caption, consent, field, message
):
    org, ann = world.org, world.ann
    contest = make_contest(db, org, "submitting")
    login(client, db, ann)
    response = _send(client, org, contest, jpeg() if photo == b"jpeg" else photo, caption, consent)
    assert response.status_code == 422
    assert f'id="f-{field}-error"' in response.text
    if message:
        assert message in response.text
    assert db.exec(select(func.count()).select_from(ContestEntry)).one() == 0
    assert db.exec(select(func.count()).select_from(MediaImage)).one() == 0
    assert not list(media_dir.rglob("*.jpg")) if media_dir.exists() else True


def test_entries_per_person_limit_and_a_rejected_photo_can_be_replaced(
    client, db, world, media_dir
):
    org, curator, ann = world.org, world.curator, world.ann
    contest = make_contest(db, org, "submitting", entries_per_person=2)
    login(client, db, ann)
    assert _send(client, org, contest, jpeg()).status_code == 303
    assert _send(client, org, contest, jpeg()).status_code == 303
    third = _send(client, org, contest, jpeg())
    assert third.status_code == 422
    assert "You have sent as many photos as this competition takes" in third.text
    assert db.exec(select(func.count()).select_from(ContestEntry)).one() == 2
    # The form is gone once the limit is reached.
    assert 'name="caption"' not in client.get(f"/{org.slug}/contests/{contest.id}").text

    first = db.exec(select(ContestEntry).order_by(ContestEntry.id)).first()
    submissions.moderate_entry(db, curator, first, approve=False, reason="Uskarpt bilde")
    db.flush()
    assert _send(client, org, contest, jpeg()).status_code == 303
    assert db.exec(select(func.count()).select_from(ContestEntry)).one() == 3


def test_no_photos_outside_the_submission_window(client, db, world, media_dir):
    org, ann = world.org, world.ann
    for phase in ("upcoming", "moderating", "voting", "closed"):
        contest = make_contest(db, org, phase)
        login(client, db, ann)
        response = _send(client, org, contest, jpeg())
        assert response.status_code == 422, phase
    assert db.exec(select(func.count()).select_from(ContestEntry)).one() == 0


# --- moderation ---------------------------------------------------------------------------


def test_curator_rejects_with_a_reason_the_author_sees(client, db, world):
    org, curator, ann, bob = world.org, world.curator, world.ann, world.bob
    contest = make_contest(db, org, "submitting")
    entry = make_entry(db, contest, ann, status="pending", caption="Solnedgang over Glomma")
    login(client, db, curator)
    queue = client.get(
        f"/{org.slug}/contests/{contest.id}/moderate", headers={"Accept-Language": "en"}
    )
    assert "Solnedgang over Glomma" in queue.text and "Waiting for approval (1)" in queue.text

    url = f"/{org.slug}/contests/{contest.id}/entries/{entry.id}/moderate"
    short = post_form(
        client, url, {"decision": "reject", "reason": "x"}, headers={"Accept-Language": "en"}
    )
    assert short.status_code == 422
    assert f'id="f-reason-{entry.id}-error"' in short.text and "Write a short reason" in short.text
    db.refresh(entry)
    assert entry.status == EntryStatus.pending

    reason = "Bildet viser bilskilt som kan leses"
    assert post_form(client, url, {"decision": "reject", "reason": reason}).status_code == 303
    db.refresh(entry)
    assert entry.status == EntryStatus.rejected and entry.reject_reason == reason
    assert entry.moderated_by_id == curator.id

    login(client, db, ann)
    page = client.get(f"/{org.slug}/contests/{contest.id}", headers={"Accept-Language": "en"})
    assert "Not approved" in page.text and reason in page.text
    login(client, db, bob)
    assert reason not in client.get(f"/{org.slug}/contests/{contest.id}").text

    event = db.exec(select(AuditEvent).where(AuditEvent.action == "contest.entry_reject")).one()
    assert event.actor_id == curator.id and event.detail["reason"] == reason


def test_approved_photos_are_shown_when_voting_opens(client, db, world):
    org, curator, ann, bob = world.org, world.curator, world.ann, world.bob
    contest = make_contest(db, org, "voting")
    entry = make_entry(db, contest, ann, status="pending", caption="Morgenmøte på Flisa")
    login(client, db, bob)
    assert "Morgenmøte på Flisa" not in client.get(f"/{org.slug}/contests/{contest.id}").text

    login(client, db, curator)
    url = f"/{org.slug}/contests/{contest.id}/entries/{entry.id}/moderate"
    assert post_form(client, url, {"decision": "approve"}).status_code == 303
    assert "contest.entry_approve" in audit_actions(db, org)

    login(client, db, bob)
    page = client.get(f"/{org.slug}/contests/{contest.id}").text
    assert "Morgenmøte på Flisa" in page
    assert 'alt="Morgenmøte på Flisa"' in page and 'loading="lazy"' in page
    assert f"/{org.slug}/media/{entry.image_id}/320.jpg 320w" in page  # srcset
    assert scope.entry_image_visible(db, bob, entry.image_id) is True


def test_entry_image_visible_for_the_media_hook(db, world):
    org, curator, ann, bob = world.org, world.curator, world.ann, world.bob
    contest = make_contest(db, org, "voting")
    approved = make_entry(db, contest, ann, status="approved")
    pending = make_entry(db, contest, ann, status="pending")
    rejected = make_entry(db, contest, ann, status="rejected", reject_reason="Nei takk")
    other_org = make_org(db)
    stranger = make_person(db, other_org, role="admin")
    lone = make_image(db, org, ann)

    assert scope.entry_image_visible(db, bob, approved.image_id) is True
    assert scope.entry_image_visible(db, stranger, approved.image_id) is False
    assert scope.entry_image_visible(db, None, approved.image_id) is False
    for entry in (pending, rejected):
        assert scope.entry_image_visible(db, ann, entry.image_id) is True
        assert scope.entry_image_visible(db, curator, entry.image_id) is True
        assert scope.entry_image_visible(db, bob, entry.image_id) is False
    assert scope.entry_image_visible(db, bob, lone.id) is None


# --- votes --------------------------------------------------------------------------------


def test_one_vote_moves_and_a_second_press_takes_it_back(db, world):
    org, ann, bob, cid = world.org, world.ann, world.bob, world.cid
    contest = make_contest(db, org, "voting")
    a, b = make_entry(db, contest, ann), make_entry(db, contest, bob)
    assert voting.toggle_vote(db, cid, a) is True
    assert voting.toggle_vote(db, cid, b) is True
    rows = votes(db, voter_id=cid.id)
    assert [(v.entry_id, v.slot) for v in rows] == [(b.id, 1)]
    assert voting.toggle_vote(db, cid, b) is False
    assert votes(db, voter_id=cid.id) == []
    voting.vote(db, cid, a)
    voting.vote(db, cid, a)  # the API's vote is idempotent
    assert [(v.entry_id, v.slot) for v in votes(db, voter_id=cid.id)] == [(a.id, 1)]


def test_n_votes_take_the_lowest_free_slot(db, world):
    org, ann, bob, cid = world.org, world.ann, world.bob, world.cid
    contest = make_contest(db, org, "voting", votes_per_person=2)
    a, b, c = (
        make_entry(db, contest, ann),
        make_entry(db, contest, bob),
        make_entry(db, contest, ann),
    )
    voting.toggle_vote(db, cid, a)
    voting.toggle_vote(db, cid, b)
    with pytest.raises(Invalid) as exc:
        voting.toggle_vote(db, cid, c)
    assert exc.value.errors["vote"].code == "limit"
    assert voting.toggle_vote(db, cid, a) is False  # a second press takes it back
    voting.toggle_vote(db, cid, c)
    assert {(v.entry_id, v.slot) for v in votes(db, voter_id=cid.id)} == {(c.id, 1), (b.id, 2)}


def test_no_vote_for_your_own_photo(client, db, world):
    org, ann = world.org, world.ann
    contest = make_contest(db, org, "voting")
    own = make_entry(db, contest, ann, caption="Mitt eget bilde")
    with pytest.raises(Invalid) as exc:
        voting.toggle_vote(db, ann, own)
    assert exc.value.errors["vote"].code == "self"
    login(client, db, ann)
    page = client.get(f"/{org.slug}/contests/{contest.id}").text
    assert "Mitt eget bilde" in page and f'id="vote-{own.id}"' not in page
    url = f"/{org.slug}/contests/{contest.id}/entries/{own.id}/vote"
    assert post_form(client, url).status_code == 303
    api = client.post(
        f"/api/v1/orgs/{org.slug}/contests/{contest.id}/entries/{own.id}/vote",
        headers={"X-CSRF-Token": csrf_token(client)},
    )
    assert api.status_code == 422 and api.json()["error"]["fields"]["vote"]["code"] == "self"
    assert votes(db) == []


@pytest.mark.parametrize("phase", ["upcoming", "submitting", "moderating", "closed"])
def test_votes_only_while_voting_is_open(db, world, phase):
    org, ann, bob = world.org, world.ann, world.bob
    contest = make_contest(db, org, phase)
    entry = make_entry(db, contest, ann)
    with pytest.raises(Invalid):
        voting.toggle_vote(db, bob, entry)
    assert votes(db) == []


def test_no_votes_for_pending_or_rejected_photos(client, db, world):
    org, ann, bob = world.org, world.ann, world.bob
    contest = make_contest(db, org, "voting")
    for status in ("pending", "rejected"):
        entry = make_entry(db, contest, ann, status=status)
        login(client, db, bob)
        url = f"/{org.slug}/contests/{contest.id}/entries/{entry.id}/vote"
        assert post_form(client, url).status_code == 404
    assert votes(db) == []


def test_rejecting_during_voting_gives_the_votes_back(db, world):
    org, curator, ann, bob, cid = world.org, world.curator, world.ann, world.bob, world.cid
    contest = make_contest(db, org, "voting")
    entry = make_entry(db, contest, ann)
    voting.toggle_vote(db, bob, entry)
    voting.toggle_vote(db, cid, entry)
    submissions.moderate_entry(db, curator, entry, approve=False, reason="Brudd på reglene")
    assert votes(db) == []


def test_no_vote_by_get(client, db, world):
    org, ann, bob = world.org, world.ann, world.bob
    contest = make_contest(db, org, "voting")
    entry = make_entry(db, contest, ann)
    login(client, db, bob)
    page = client.get(f"/{org.slug}/contests/{contest.id}/entries/{entry.id}/vote")
    assert page.status_code == 405
    api = client.get(f"/api/v1/orgs/{org.slug}/contests/{contest.id}/entries/{entry.id}/vote")
    assert api.status_code == 405
    assert votes(db) == []


def test_vote_button_is_a_form_with_aria_pressed(client, db, world):
    org, ann, bob, cid = world.org, world.ann, world.bob, world.cid
    contest = make_contest(db, org, "voting")
    a = make_entry(db, contest, ann, caption="Brua ved Flisa")
    b = make_entry(db, contest, bob, caption="Kveldsvakt")
    login(client, db, cid)
    base = f"/{org.slug}/contests/{contest.id}"
    page = client.get(base, headers={"Accept-Language": "en"}).text
    form = re.search(
        rf'<form method="post" action="{base}/entries/{a.id}/vote".*?</form>', page, re.S
    )
    assert form, "no vote form"
    assert 'aria-pressed="false"' in form.group(0)
    assert '<span class="visually-hidden">: Brua ved Flisa</span>' in form.group(0)
    assert "csrf_token" in form.group(0)

    # Without JavaScript: a redirect back to the photo.
    response = post_form(client, f"{base}/entries/{a.id}/vote", {"next": f"{base}#entry-{a.id}"})
    assert response.status_code == 303 and response.headers["location"] == f"{base}#entry-{a.id}"
    page = client.get(base).text
    assert re.search(rf'id="vote-{a.id}" aria-pressed="true"', page)

    # With htmx: this button, and the one the vote moved away from out of band.
    response = client.post(
        f"{base}/entries/{b.id}/vote",
        headers={"HX-Request": "true", "X-CSRF-Token": csrf_token(client)},
    )
    assert response.status_code == 200
    assert re.search(rf'id="vote-{b.id}" aria-pressed="true"', response.text)
    assert re.search(
        rf'id="vote-form-{a.id}"[^>]*hx-swap-oob="true"', response.text.replace("\n", " ")
    )
    assert re.search(rf'id="vote-{a.id}" aria-pressed="false"', response.text)
    assert 'id="votes-status" hx-swap-oob="true"' in response.text
    assert [v.entry_id for v in votes(db, voter_id=cid.id)] == [b.id]


# --- counts and results -------------------------------------------------------------------


def test_counts_are_hidden_until_voting_closes(client, db, world):
    org, curator, ann, bob, cid = world.org, world.curator, world.ann, world.bob, world.cid
    contest = make_contest(db, org, "voting", winner_rule=WinnerRule.votes)
    a, b = make_entry(db, contest, ann), make_entry(db, contest, bob)
    for voter in (cid, curator):
        voting.toggle_vote(db, voter, a)
    voting.toggle_vote(db, ann, b)
    db.flush()
    base = f"/{org.slug}/contests/{contest.id}"
    api = f"/api/v1/orgs/{org.slug}/contests/{contest.id}"

    for viewer in (cid, curator):
        login(client, db, viewer)
        page = client.get(base, headers={"Accept-Language": "en"}).text
        assert "entry-votes" not in page and "2 votes" not in page and "1 vote" not in page
        assert "podium" not in page
        items = client.get(f"{api}/entries").json()["items"]
        assert {i["id"] for i in items} == {a.id, b.id}
        assert all(i["votes"] is None for i in items)
        results = client.get(f"{api}/results")
        assert results.status_code == 422
        assert results.json()["error"]["fields"]["contest"]["code"] == "not_closed"
    login(client, db, curator)
    rows = list(
        csv.reader(
            io.StringIO(client.get(f"{base}/export.csv").text.lstrip("\ufeff")), delimiter=";"
        )
    )
    assert all(row[8] == "" for row in rows[1:])
    with pytest.raises(Invalid):
        contest_results.vote_totals(db, contest)

    contest.vote_closes_at = utcnow() - timedelta(minutes=1)
    db.add(contest)
    db.flush()
    login(client, db, cid)
    page = client.get(base, headers={"Accept-Language": "en"}).text
    assert "2 votes" in page and 'class="podium"' in page
    items = {i["id"]: i["votes"] for i in client.get(f"{api}/entries").json()["items"]}
    assert items == {a.id: 2, b.id: 1}
    results = client.get(f"{api}/results").json()
    assert [(w["place"], w["entry"]["id"], w["votes"]) for w in results["winners"]] == [
        (1, a.id, 2),
        (2, b.id, 1),
    ]


def test_winners_by_votes_share_a_place_on_a_tie(db, world):
    org, ann, bob, cid = world.org, world.ann, world.bob, world.cid
    voters = [make_person(db, org) for _ in range(6)]
    contest = make_contest(db, org, "voting", votes_per_person=3)
    a, b, c, d, e = (make_entry(db, contest, p) for p in (ann, bob, cid, ann, bob))
    plan = [(a, voters[:3]), (b, voters[3:6]), (c, voters[:1]), (d, voters[1:2]), (e, [])]
    for entry, people in plan:
        for voter in people:
            voting.toggle_vote(db, voter, entry)
    assert contest_results.winners(db, contest) == []  # not before voting closes
    later = contest.vote_closes_at + timedelta(seconds=1)
    podium = [(p.place, p.entry.id, p.votes) for p in contest_results.winners(db, contest, later)]
    # 3, 3, 1, 1, 0 votes: two share 1st, the next place is 3rd (shared), none without votes.
    assert podium[:2] in ([(1, a.id, 3), (1, b.id, 3)], [(1, b.id, 3), (1, a.id, 3)])
    assert sorted(podium[2:]) == sorted([(3, c.id, 1), (3, d.id, 1)])


def test_jury_picks_the_winners(client, db, world):
    org, curator, ann, bob, cid = world.org, world.curator, world.ann, world.bob, world.cid
    contest = make_contest(db, org, "voting", winner_rule=WinnerRule.jury)
    a = make_entry(db, contest, ann, caption="Juryens favoritt")
    b = make_entry(db, contest, bob, caption="Andreplass")
    c = make_entry(db, contest, cid, caption="Ingen plass")
    voting.toggle_vote(db, cid, b)
    login(client, db, curator)
    url = f"/{org.slug}/contests/{contest.id}/jury"
    bad = post_form(client, url, {f"place-{a.id}": "4"})
    assert bad.status_code == 422
    response = post_form(
        client, url, {f"place-{a.id}": "1", f"place-{b.id}": "2", f"place-{c.id}": ""}
    )
    assert response.status_code == 303
    assert "contest.jury" in audit_actions(db, org)
    later = contest.vote_closes_at + timedelta(seconds=1)
    podium = contest_results.winners(db, contest, later)
    assert [(p.place, p.entry.id, p.votes) for p in podium] == [(1, a.id, None), (2, b.id, None)]

    contest.vote_closes_at = utcnow() - timedelta(minutes=1)
    db.add(contest)
    db.flush()
    page = client.get(f"/{org.slug}/contests/{contest.id}", headers={"Accept-Language": "en"}).text
    podium_html = page[page.index('class="podium"') :]
    assert podium_html.index("Juryens favoritt") < podium_html.index("Andreplass")
    assert "1st place" in podium_html and "Ingen plass" not in podium_html.split("</ol>")[0]


def test_anonymous_voting_hides_the_photographers_until_close(client, db, world):
    org, ann, bob, cid = world.org, world.ann, world.bob, world.cid
    contest = make_contest(db, org, "voting", anonymous_voting=True)
    make_entry(db, contest, ann)
    make_entry(db, contest, bob)
    login(client, db, cid)
    page = client.get(f"/{org.slug}/contests/{contest.id}").text
    assert "Ann Ansatt" not in page and "Bo Bilde" not in page
    api = client.get(f"/api/v1/orgs/{org.slug}/contests/{contest.id}/entries").json()
    assert all(i["author"] is None for i in api["items"])

    contest.anonymous_voting = False
    db.add(contest)
    db.flush()
    page = client.get(f"/{org.slug}/contests/{contest.id}").text
    assert "Ann Ansatt" in page and "Bo Bilde" in page


def test_gallery_pages_24_at_a_time_with_a_real_link(client, db, world):
    org, ann, bob, cid = world.org, world.ann, world.bob, world.cid
    contest = make_contest(db, org, "closed")
    for i in range(30):
        make_entry(db, contest, ann if i % 2 else bob, caption=f"Foto nummer {i:02d}")
    login(client, db, cid)
    base = f"/{org.slug}/contests/{contest.id}"
    page = client.get(base).text
    assert page.count('class="gallery-item"') == 24
    more = re.search(
        r'<a class="button" href="([^"]+)" hx-get="([^"]+)" hx-trigger="revealed"', page
    )
    assert more and more.group(1) == more.group(2) == f"{base}/gallery?page=2"
    fragment = client.get(more.group(1), headers={"HX-Request": "true"})
    assert fragment.text.count('class="gallery-item"') == 6
    assert "<html" not in fragment.text and "gallery-more" not in fragment.text
    full = client.get(more.group(1))
    assert "<html" in full.text and full.text.count('class="gallery-item"') == 6
    shown = re.findall(r"Foto nummer (\d\d)", page + fragment.text)
    assert len(set(shown)) == 30


def test_the_voting_order_is_shuffled_per_person_but_stable(db, world):
    org, ann, bob, cid = world.org, world.ann, world.bob, world.cid
    contest = make_contest(db, org, "voting")
    for _ in range(12):
        make_entry(db, contest, ann)
    first = [e.id for e in submissions.gallery(db, bob, contest).items]
    assert first == [e.id for e in submissions.gallery(db, bob, contest).items]
    assert first != [e.id for e in submissions.gallery(db, cid, contest).items]
    assert sorted(first) == sorted(e.id for e in submissions.gallery(db, cid, contest).items)


# --- CSV ----------------------------------------------------------------------------------


def test_csv_export_for_excel_without_formulas(client, db, world):
    org, curator, ann, bob, cid = world.org, world.curator, world.ann, world.bob, world.cid
    contest = make_contest(db, org, "voting", title="Vår/Høst: beste bilde")
    evil = make_entry(db, contest, ann, caption='=HYPERLINK("http://evil";"klikk")')
    plus = make_entry(db, contest, bob, caption="+47 99 99 99 99")
    make_entry(db, contest, cid, caption="@SUM(1+1)", status="pending")
    make_entry(db, contest, cid, caption='-1; "sitat"\nny linje', status="rejected")
    voting.toggle_vote(db, cid, evil)
    voting.toggle_vote(db, curator, evil)
    voting.toggle_vote(db, ann, plus)
    contest.vote_closes_at = utcnow() - timedelta(minutes=1)
    db.add(contest)
    db.flush()
    login(client, db, curator)
    response = client.get(f"/{org.slug}/contests/{contest.id}/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == contest_results.CSV_HEADER
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id[str(evil.id)][4] == '\'=HYPERLINK("http://evil";"klikk")'
    assert by_id[str(evil.id)][8] == "2"
    assert by_id[str(plus.id)][4] == "'+47 99 99 99 99" and by_id[str(plus.id)][8] == "1"
    captions = [row[4] for row in rows[1:]]
    assert "'@SUM(1+1)" in captions and '\'-1; "sitat"\nny linje' in captions
    assert all(not c.startswith(("=", "+", "-", "@")) for row in rows[1:] for c in row)
    assert by_id[str(evil.id)][2] == "Ann Ansatt"


def test_csv_cell_prefixes_formula_starts():
    assert contest_results.csv_cell("=1+1") == "'=1+1"
    assert contest_results.csv_cell("\t=cmd") == "'\t=cmd"
    assert contest_results.csv_cell("Hei=1") == "Hei=1"
    assert contest_results.csv_cell(5) == "5"


# --- the job: results and retention ---------------------------------------------------------


def test_job_announces_results_once(db, world, factory):
    org, ann, bob = world.org, world.ann, world.bob
    contest = make_contest(db, org, "voting")
    entry = make_entry(db, contest, ann)
    voting.toggle_vote(db, bob, entry)
    db.flush()
    before = contest.vote_closes_at - timedelta(seconds=1)
    jobs.contest_tick(factory, before)
    db.refresh(contest)
    assert contest.results_announced_at is None

    after = contest.vote_closes_at + timedelta(minutes=1)
    assert "1 results announced" in jobs.contest_tick(factory, after)
    db.refresh(contest)
    assert contest.results_announced_at == after
    assert jobs.contest_tick(factory, after + timedelta(minutes=1)) == ""
    db.refresh(contest)
    assert contest.results_announced_at == after
    events = list(db.exec(select(AuditEvent).where(AuditEvent.action == "contest.results")))
    assert len(events) == 1
    assert events[0].detail["winners"] == [{"place": 1, "entry": entry.id, "votes": 1}]


def test_job_deletes_photos_past_retention_and_keeps_the_entries(
    client, db, world, media_dir, factory
):
    org, curator, ann, cid = world.org, world.curator, world.ann, world.cid
    org.contest_photo_retention_days = 30
    db.add(org)
    contest = make_contest(db, org, "submitting")
    login(client, db, ann)
    assert _send(client, org, contest, jpeg(), caption="Snø på taket").status_code == 303
    entry = db.exec(select(ContestEntry)).one()
    keys = [v["key"] for v in entry.image.variants]
    assert all((media_dir / k).is_file() for k in keys)
    submissions.moderate_entry(db, curator, entry, approve=True)
    contest.vote_closes_at = utcnow() - timedelta(days=10)
    contest.vote_opens_at = contest.vote_closes_at - DAY
    contest.submit_closes_at = contest.vote_opens_at
    contest.submit_opens_at = contest.submit_closes_at - DAY
    db.add(contest)
    db.commit()

    assert jobs.contest_tick(factory).startswith("1 results")  # announced, photo kept
    assert all((media_dir / k).is_file() for k in keys)

    later = utcnow() + timedelta(days=21)  # closed 31 days ago
    assert "1 photos deleted" in jobs.contest_tick(factory, later)
    db.refresh(entry)
    assert entry.image_id is not None and entry.image.variants == []
    assert entry.caption == "Snø på taket"
    assert not any((media_dir / k).exists() for k in keys)
    assert jobs.contest_tick(factory, later) == ""  # idempotent
    events = list(db.exec(select(AuditEvent).where(AuditEvent.action == "contest.photos_deleted")))
    assert len(events) == 1 and events[0].detail["photos"] == 1

    login(client, db, cid)
    page = client.get(f"/{org.slug}/contests/{contest.id}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "Snø på taket" in page.text and "The photo has been deleted" in page.text


def test_scheduler_runs_the_contest_job_every_minute():
    from app import scheduler

    specs = {job_id: (func, trigger) for func, trigger, job_id in scheduler.job_specs()}
    func, trigger = specs["contests"]
    assert func is jobs.contest_tick and trigger.interval_length == 60


# --- pages --------------------------------------------------------------------------------


def test_empty_index_explains_and_curators_may_create(client, db, world):
    org, curator, ann = world.org, world.curator, world.ann
    login(client, db, ann)
    page = client.get(f"/{org.slug}/contests", headers={"Accept-Language": "en"}).text
    assert "No photo competitions yet." in page and "colleagues vote" in page
    assert f'href="/{org.slug}/contests/new"' not in page
    assert re.search(rf'href="/{org.slug}/contests" aria-current="page"', page)
    login(client, db, curator)
    page = client.get(f"/{org.slug}/contests", headers={"Accept-Language": "en"}).text
    assert f'href="/{org.slug}/contests/new"' in page and "Create a competition" in page
    me = client.get(f"/{org.slug}/me").text
    assert f'href="/{org.slug}/contests/new"' in me


def test_index_lists_current_upcoming_and_recent_results(client, db, world):
    org, ann, bob, cid = world.org, world.ann, world.bob, world.cid
    now_c = make_contest(db, org, "voting", title="Pågår nå")
    soon = make_contest(db, org, "upcoming", title="Kommer snart")
    done = make_contest(db, org, "voting", title="Ferdig konkurranse")
    winner = make_entry(db, done, ann, caption="Vinnerbildet")
    voting.toggle_vote(db, bob, winner)
    done.vote_closes_at = utcnow() - timedelta(minutes=5)
    db.add(done)
    db.flush()
    login(client, db, cid)
    page = client.get(f"/{org.slug}/contests", headers={"Accept-Language": "en"}).text
    assert page.index("Pågår nå") < page.index("Kommer snart") < page.index("Recent results")
    assert page.index("Recent results") < page.index("Ferdig konkurranse")
    assert "Vinnerbildet" in page and "1st place" in page
    assert f"/{org.slug}/contests/{now_c.id}" in page and f"/{org.slug}/contests/{soon.id}" in page


def test_an_entry_of_another_competition_is_not_found(client, db, world):
    org, ann, bob = world.org, world.ann, world.bob
    one = make_contest(db, org, "voting")
    two = make_contest(db, org, "voting")
    entry = make_entry(db, two, ann)
    login(client, db, bob)
    url = f"/{org.slug}/contests/{one.id}/entries/{entry.id}/vote"
    assert post_form(client, url).status_code == 404
    with pytest.raises(NotFound):
        scope.entry_for(db, bob, one, entry.id or 0)


def test_hostile_captions_stay_text(client, db, world):
    org, ann, bob = world.org, world.ann, world.bob
    contest = make_contest(db, org, "closed", anonymous_voting=False)
    make_entry(db, contest, ann, caption='<img src=x onerror=alert(1)> hx-get="/x"')
    login(client, db, bob)
    page = client.get(f"/{org.slug}/contests/{contest.id}").text
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; hx-get=&#34;/x&#34;" in page


# --- API ----------------------------------------------------------------------------------


def _api(client, method, url, **kw):
    headers = {"X-CSRF-Token": csrf_token(client), **kw.pop("headers", {})}
    return client.request(method, url, headers=headers, **kw)


def test_api_create_read_and_roles(client, db, world):
    org, curator, ann = world.org, world.curator, world.ann
    base = f"/api/v1/orgs/{org.slug}/contests"
    body = {
        "title": "Sommerglede",
        "theme": "Sommer på jobb",
        "submit_opens_at": "2026-06-01T08:00:00",
        "submit_closes_at": "2026-06-20T08:00:00",
        "vote_opens_at": "2026-06-20T08:00:00",
        "vote_closes_at": "2026-06-30T08:00:00+02:00",
        "votes_per_person": 3,
    }
    login(client, db, ann)
    assert _api(client, "POST", base, json=body).status_code == 403
    login(client, db, curator)
    created = _api(client, "POST", base, json=body)
    assert created.status_code == 201, created.text
    data = created.json()
    assert data["votes_per_person"] == 3 and data["phase"] in {p.value for p in Phase}
    # A time without a zone is Oslo time: 08:00 in June is 06:00 UTC.
    assert data["submit_opens_at"].startswith("2026-06-01T06:00:00")
    bad = _api(client, "POST", base, json={**body, "vote_opens_at": "2026-06-19T08:00:00"})
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"]["vote_opens_at"]["code"] == "order"

    login(client, db, ann)
    listed = client.get(base).json()
    assert [c["id"] for c in listed] == [data["id"]]
    one = client.get(f"{base}/{data['id']}").json()
    assert one["title"] == "Sommerglede"
    assert _api(client, "PUT", f"{base}/{data['id']}", json=body).status_code == 403
    login(client, db, curator)
    updated = _api(client, "PUT", f"{base}/{data['id']}", json={**body, "title": "Ny tittel"})
    assert updated.status_code == 200 and updated.json()["title"] == "Ny tittel"


def test_api_submit_moderate_vote_and_results(client, db, world, media_dir):
    org, curator, ann, bob = world.org, world.curator, world.ann, world.bob
    contest = make_contest(db, org, "submitting")
    base = f"/api/v1/orgs/{org.slug}/contests/{contest.id}"
    login(client, db, ann)
    missing = _api(
        client,
        "POST",
        f"{base}/entries",
        data={"caption": "Uten samtykke"},
        files={"file": ("a.jpg", jpeg(), "image/jpeg")},
    )
    assert missing.status_code == 422
    assert missing.json()["error"]["fields"]["people_consent"]["code"] == "required"
    sent = _api(
        client,
        "POST",
        f"{base}/entries",
        data={"caption": "Med samtykke", "people_consent": "true"},
        files={"file": ("a.jpg", jpeg(), "image/jpeg")},
    )
    assert sent.status_code == 201, sent.text
    entry_id = sent.json()["id"]
    assert sent.json()["status"] == "pending"
    mine = client.get(f"{base}/entries", params={"mine": "true"}).json()
    assert [e["id"] for e in mine["items"]] == [entry_id]

    login(client, db, bob)
    assert (
        _api(
            client, "POST", f"{base}/entries/{entry_id}/moderate", json={"approve": True}
        ).status_code
        == 404
    )
    login(client, db, curator)
    short = _api(
        client,
        "POST",
        f"{base}/entries/{entry_id}/moderate",
        json={"approve": False, "reason": "no"},
    )
    assert (
        short.status_code == 422 and short.json()["error"]["fields"]["reason"]["code"] == "required"
    )
    ok = _api(client, "POST", f"{base}/entries/{entry_id}/moderate", json={"approve": True})
    assert ok.status_code == 200 and ok.json()["status"] == "approved"

    contest.submit_closes_at = utcnow() - timedelta(hours=2)
    contest.submit_opens_at = contest.submit_closes_at - DAY
    contest.vote_opens_at = utcnow() - timedelta(hours=1)
    db.add(contest)
    db.flush()
    login(client, db, bob)
    voted = _api(client, "POST", f"{base}/entries/{entry_id}/vote")
    assert voted.status_code == 200 and voted.json() == {
        "voted": True,
        "votes_used": 1,
        "votes_per_person": 1,
    }
    assert _api(client, "POST", f"{base}/entries/{entry_id}/vote").json()["voted"] is True
    assert len(votes(db)) == 1
    assert _api(client, "DELETE", f"{base}/entries/{entry_id}/vote").json()["voted"] is False
    _api(client, "POST", f"{base}/entries/{entry_id}/vote")
    assert client.get(f"{base}/results").status_code == 422

    contest.vote_closes_at = utcnow() - timedelta(minutes=1)
    db.add(contest)
    db.flush()
    assert _api(client, "POST", f"{base}/entries/{entry_id}/vote").status_code == 422
    results = client.get(f"{base}/results").json()
    assert results["contest"]["phase"] == "closed"
    assert results["winners"][0]["entry"]["id"] == entry_id and results["winners"][0]["votes"] == 1
    assert results["winners"][0]["entry"]["author"]["name"] == "Ann Ansatt"


def test_api_other_org_sees_nothing(client, db, world):
    org, ann = world.org, world.ann
    contest = make_contest(db, org, "voting")
    entry = make_entry(db, contest, ann)
    stranger = make_person(db, make_org(db), role="admin")
    login(client, db, stranger)
    base = f"/api/v1/orgs/{org.slug}/contests"
    assert client.get(base).status_code == 404
    own = f"/api/v1/orgs/{stranger.org.slug}/contests/{contest.id}"
    assert client.get(own).status_code == 404
    assert _api(client, "POST", f"{own}/entries/{entry.id}/vote").status_code == 404
    assert votes(db) == []


def test_htmx_vote_over_the_limit_shows_the_error_on_the_button(client, db, world):
    org, ann, bob, cid = world.org, world.ann, world.bob, world.cid
    contest = make_contest(db, org, "voting", votes_per_person=2)
    a, b, c = (make_entry(db, contest, p) for p in (ann, bob, ann))
    voting.toggle_vote(db, cid, a)
    voting.toggle_vote(db, cid, b)
    db.flush()
    login(client, db, cid)
    response = client.post(
        f"/{org.slug}/contests/{contest.id}/entries/{c.id}/vote",
        headers={"HX-Request": "true", "X-CSRF-Token": csrf_token(client), "Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert re.search(rf'id="vote-{c.id}" aria-pressed="false"', response.text)
    assert '<p class="error" role="alert">You have used all your votes.' in response.text
    assert {v.entry_id for v in votes(db, voter_id=cid.id)} == {a.id, b.id}


def test_api_jury_places(client, db, world):
    org, curator, ann, bob = world.org, world.curator, world.ann, world.bob
    contest = make_contest(db, org, "moderating", winner_rule=WinnerRule.jury)
    a, b = make_entry(db, contest, ann), make_entry(db, contest, bob)
    pending = make_entry(db, contest, bob, status="pending")
    url = f"/api/v1/orgs/{org.slug}/contests/{contest.id}/jury"
    login(client, db, ann)
    assert _api(client, "PUT", url, json={"places": {str(a.id): 1}}).status_code == 403
    login(client, db, curator)
    unknown = _api(client, "PUT", url, json={"places": {str(pending.id): 1}})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["fields"]["places"]["code"] == "unknown"
    assert _api(client, "PUT", url, json={"places": {str(a.id): 4}}).status_code == 422
    ok = _api(client, "PUT", url, json={"places": {str(a.id): 2, str(b.id): 1}})
    assert ok.status_code == 204
    db.refresh(a)
    db.refresh(b)
    assert (a.jury_place, b.jury_place) == (2, 1)
    votes_contest = make_contest(db, org, "moderating")
    entry = make_entry(db, votes_contest, ann)
    other = f"/api/v1/orgs/{org.slug}/contests/{votes_contest.id}/jury"
    refused = _api(client, "PUT", other, json={"places": {str(entry.id): 1}})
    assert refused.json()["error"]["fields"]["places"]["code"] == "not_jury"


def test_fewer_votes_per_person_takes_back_the_votes_above_the_limit(db, world):
    org, curator, ann, bob, cid = world.org, world.curator, world.ann, world.bob, world.cid
    contest = make_contest(db, org, "voting", votes_per_person=3)
    a, b, c = (make_entry(db, contest, p) for p in (ann, bob, ann))
    for entry in (a, b, c):
        voting.toggle_vote(db, cid, entry)
    data = service.ContestInput.of(contest)
    data.votes_per_person = 1
    service.update_contest(db, curator, contest, data)
    assert [(v.entry_id, v.slot) for v in votes(db, voter_id=cid.id)] == [(a.id, 1)]
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "contest.update")).one()
    assert event.detail["votes_removed"] == 2
    voting.toggle_vote(db, cid, b)  # one vote now: it moves
    assert [(v.entry_id, v.slot) for v in votes(db, voter_id=cid.id)] == [(b.id, 1)]
