"""A photo competition in the browser, on a phone: an employee sends a photo with the camera
form, a curator approves it, a colleague votes by keyboard, the podium shows the winner, and
axe-core finds nothing on any of the pages on the way.

The competition is made and moved on (submitting -> voting -> closed) in the live server's
database, as a curator's "now" buttons would. Elements are found by id, name, role or href,
never by their (translated) wording.
"""

import io
import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect
from sqlmodel import Session, col, select

from app.config import get_settings
from app.contests.models import Contest, ContestEntry, ContestVote, EntryStatus
from app.kernel.clock import utcnow
from app.media.models import MediaImage
from app.orgs.models import Organisation, Person, Role
from tests.e2e.conftest import (
    DESKTOP,
    PHONE,
    format_violations,
    log_in_as,
    run_axe,
    screenshot,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

ORG = "asnes"


def phone_jpeg() -> bytes:
    """A small photo as a phone would send it: a JPEG with something on it."""
    img = Image.new("RGB", (640, 480), (40, 90, 140))
    draw = ImageDraw.Draw(img)
    draw.ellipse((220, 140, 420, 340), fill=(240, 200, 60))
    draw.rectangle((0, 380, 640, 480), fill=(30, 120, 60))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


@pytest.fixture
def media_folder(tmp_path, monkeypatch) -> Iterator[None]:
    """The live server runs in this process: point its media storage at a temporary folder,
    with a copy of the demo's photos (its competitions are on the pages this test checks)."""
    seeded = Path(get_settings().media_url.removeprefix("file:"))
    if seeded.is_dir():
        shutil.copytree(seeded, tmp_path / "media")
    monkeypatch.setenv("TOD_MEDIA_URL", f"file:{tmp_path / 'media'}")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def contest(live_server, media_folder) -> Iterator[dict[str, Any]]:
    """A competition open for photos now; removed again (with its photos) afterwards."""
    now = utcnow()
    with Session(live_server.engine) as db:
        org = db.exec(select(Organisation).where(Organisation.slug == ORG)).one()
        curator = db.exec(
            select(Person).where(Person.org_id == org.id, Person.role == Role.curator)
        ).first()
        row = Contest(
            org_id=org.id,
            title=f"Vinterlys {uuid.uuid4().hex[:6]}",
            theme="Vis oss lyset i mørketida.",
            submit_opens_at=now - timedelta(hours=1),
            submit_closes_at=now + timedelta(hours=1),
            vote_opens_at=now + timedelta(hours=1),
            vote_closes_at=now + timedelta(hours=2),
            anonymous_voting=True,
            created_by_id=curator.id if curator else None,
        )
        db.add(row)
        db.commit()
        data = {"id": row.id, "title": row.title}
    yield data
    with Session(live_server.engine) as db:
        entries = db.exec(select(ContestEntry).where(ContestEntry.contest_id == data["id"])).all()
        images = [e.image_id for e in entries]
        db.delete(db.get(Contest, data["id"]))
        db.commit()
        for image_id in images:
            if (image := db.get(MediaImage, image_id)) is not None:
                db.delete(image)
        db.commit()


def move_to(live_server, contest_id: int, phase: str) -> None:
    """Move the windows so that the competition is in `phase` now."""
    now = utcnow()
    h = timedelta(hours=1)
    windows = {
        "voting": (now - 3 * h, now - h, now - h, now + h),
        "closed": (now - 4 * h, now - 3 * h, now - 2 * h, now - timedelta(seconds=1)),
    }[phase]
    with Session(live_server.engine) as db:
        row = db.get(Contest, contest_id)
        assert row is not None
        (row.submit_opens_at, row.submit_closes_at, row.vote_opens_at, row.vote_closes_at) = windows
        db.add(row)
        db.commit()


def other_employee(live_server, not_email: str) -> str:
    with Session(live_server.engine) as db:
        email = db.exec(
            select(Person.email)
            .join(Organisation, col(Organisation.id) == Person.org_id)
            .where(
                Organisation.slug == ORG,
                Person.role == Role.employee,
                col(Person.active).is_(True),
                col(Person.locale).is_(None),
                Person.email != not_email,
            )
            .order_by(col(Person.name))
        ).first()
    assert email, "the demo has only one employee"
    return email


def check(page: Page, name: str, found: dict[str, list[dict[str, Any]]]) -> None:
    if violations := run_axe(page):
        found[name] = violations
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size or PHONE
    assert width <= viewport["width"], f"{name} scrolls sideways: {width} px"


def test_a_photo_competition_from_photo_to_podium(new_context, live_server, contest):
    found: dict[str, list[dict[str, Any]]] = {}
    base = f"/{ORG}/contests/{contest['id']}"
    photographer = live_server.person(ORG, "employee").email
    voter_email = other_employee(live_server, photographer)
    caption = f"Lys i vinduet på Flisa ({uuid.uuid4().hex[:6]})"

    # An employee finds the competition from the bottom navigation.
    page = new_context(bypass_csp=True, viewport=PHONE).new_page()
    log_in_as(page, photographer)
    page.locator(f'nav.bottom-nav a[href="/{ORG}/contests"]').click()
    expect(page).to_have_url(re.compile(rf"/{ORG}/contests$"))
    expect(page.locator(f'nav.bottom-nav a[href="/{ORG}/contests"]')).to_have_attribute(
        "aria-current", "page"
    )
    check(page, "contests index", found)
    page.locator(f'a[href="{base}"]').first.click()
    expect(page).to_have_url(re.compile(rf"{base}$"))
    photo_input = page.locator("form.entry-form input#f-photo")
    expect(photo_input).to_have_attribute("capture", "environment")
    expect(photo_input).to_have_attribute("accept", "image/*")
    check(page, "contest, open for photos", found)

    # Without the consent box the form comes back with the error next to it.
    photo_input.set_input_files(
        files=[{"name": "IMG_2041.jpg", "mimeType": "image/jpeg", "buffer": phone_jpeg()}]
    )
    page.locator("#f-caption").fill(caption)
    with page.expect_response(lambda r: r.request.method == "POST" and "/entries" in r.url) as r:
        page.locator("form.entry-form button[type=submit]").click()
    assert r.value.status == 422
    expect(page.locator("#f-people_consent-error")).to_be_visible()
    expect(page.locator("#f-people_consent")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-caption")).to_have_value(caption)
    check(page, "contest, entry with an error", found)

    page.locator("#f-photo").set_input_files(
        files=[{"name": "IMG_2041.jpg", "mimeType": "image/jpeg", "buffer": phone_jpeg()}]
    )
    page.locator("#f-people_consent").check()
    page.locator("form.entry-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"{base}(#my-entries)?$"))
    mine = page.locator("#my-entries li.my-entry", has_text=caption)
    expect(mine).to_have_count(1)
    expect(mine.locator(".entry-status-pending")).to_have_count(1)
    screenshot(page, "contest-sent-phone")
    with Session(live_server.engine) as db:
        entry = db.exec(select(ContestEntry).where(ContestEntry.contest_id == contest["id"])).one()
        assert entry.status == EntryStatus.pending and entry.people_consent
        entry_id = entry.id

    # A curator approves it from the moderation queue.
    curator = new_context(bypass_csp=True, viewport=PHONE).new_page()
    log_in_as(curator, live_server.person(ORG, "curator").email)
    curator.goto(f"{base}/moderate")
    check(curator, "moderation queue", found)
    approve = curator.locator(
        f'form[action="{base}/entries/{entry_id}/moderate"]:has(input[name=decision][value=approve])'
    )
    approve.locator("button[type=submit]").click()
    expect(curator).to_have_url(re.compile(rf"{base}/moderate$"))
    with Session(live_server.engine) as db:
        assert db.get(ContestEntry, entry_id).status == EntryStatus.approved

    # Voting opens; a colleague votes by keyboard, in place (htmx), without a reload.
    move_to(live_server, contest["id"], "voting")
    voter = new_context(bypass_csp=True, viewport=PHONE).new_page()
    log_in_as(voter, voter_email)
    voter.goto(base)
    item = voter.locator(f"#entry-{entry_id}")
    expect(item).to_be_visible()
    expect(item.locator("img")).to_have_attribute("alt", caption)
    expect(item.locator("img")).to_have_attribute("loading", "lazy")
    button = voter.locator(f"#vote-{entry_id}")
    expect(button).to_have_attribute("aria-pressed", "false")
    check(voter, "contest, voting", found)
    voter.evaluate("window.__sameDocument = true")
    button.focus()
    with voter.expect_response(lambda r: r.url.endswith(f"/entries/{entry_id}/vote")):
        voter.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-pressed", "true")
    assert voter.evaluate("window.__sameDocument === true"), "the page was reloaded"
    assert voter.evaluate(f"document.activeElement?.id === 'vote-{entry_id}'"), "focus was lost"
    screenshot(voter, "contest-voting-phone", readme=True)
    with Session(live_server.engine) as db:
        rows = db.exec(select(ContestVote).where(ContestVote.entry_id == entry_id)).all()
        assert len(rows) == 1
    # The photographer cannot vote for their own photo and sees no count.
    page.goto(base)
    expect(page.locator(f"#vote-{entry_id}")).to_have_count(0)
    expect(page.locator(".entry-votes")).to_have_count(0)

    # Voting closes: the podium names the winner.
    move_to(live_server, contest["id"], "closed")
    voter.goto(base)
    podium = voter.locator("ol.podium li.place-1")
    expect(podium).to_contain_text(caption)
    check(voter, "contest, results", found)
    screenshot(voter, "contest-results-phone")

    # The curators' pages are desktop work: check them there too.
    desk = new_context(bypass_csp=True, viewport=DESKTOP).new_page()
    log_in_as(desk, live_server.person(ORG, "curator").email)
    for path in (f"/{ORG}/contests", base, f"{base}/moderate", f"{base}/edit"):
        desk.goto(path)
        check(desk, f"desktop {path}", found)

    assert not found, "axe-core violations:\n" + format_violations(found)
