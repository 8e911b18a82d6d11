"""Ukens ESS in the browser, on a phone: a curator picks this week's winning competition photo,
sees it in the widget preview, uploads another photo, then shows none; axe-core finds nothing.

The demo announced a competition's results this week, so its winner is a candidate.
Elements are found by id, name or href, never by their (translated) wording.
"""

import io
import re
from typing import Any

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DESKTOP, PHONE, format_violations, log_in_as, run_axe, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

PREVIEW_IMG = "#preview-panes .preview-phone picture img"


def phone_jpeg() -> bytes:
    img = Image.new("RGB", (800, 600), (180, 120, 60))
    ImageDraw.Draw(img).rectangle((200, 150, 600, 450), fill=(30, 80, 140))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def check(page: Page, name: str, found: dict[str, list[dict[str, Any]]]) -> None:
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        if violations := run_axe(page):
            found[f"{name} @{size['width']}"] = violations
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} scrolls sideways at 390 px ({width} px)"


def save_photo_choice(page: Page) -> None:
    page.locator('.feature-photo button[type="submit"]').click()
    page.wait_for_load_state()
    expect(page.locator(".flash")).to_have_count(1)


def test_curator_features_the_winning_photo_and_chooses_its_photo(new_context, live_server):
    found: dict[str, list[dict[str, Any]]] = {}
    page = new_context(bypass_csp=True).new_page()
    log_in_as(page, live_server.person("asnes", "curator").email)

    page.goto("/asnes/curate")
    winner = page.locator('form[action="/asnes/curate/pick"]:has(input[name="entry_id"])')
    expect(winner).to_have_count(1)
    expect(page.locator(".candidate-entry picture img")).to_be_visible()
    check(page, "candidates", found)
    screenshot(page, "curate-candidates-phone")

    winner.get_by_role("button").click()
    page.wait_for_load_state()
    assert re.search(r"/asnes/curate/\d+$", page.url), page.url
    # The winning photo comes along: the preview shows it, from the members-only route.
    preview = page.locator(PREVIEW_IMG)
    expect(preview).to_be_visible()
    assert "/asnes/media/" in (preview.get_attribute("src") or "")
    assert page.locator("#f-photo-subject").is_checked()

    # Another photo, from the phone.
    page.locator("#f-photo-upload").check()
    page.locator("#f-photo").set_input_files(
        files=[{"name": "IMG_2041.JPG", "mimeType": "image/jpeg", "buffer": phone_jpeg()}]
    )
    page.locator("#f-photo-alt").fill("Kaffebordet på Servicetorget")
    save_photo_choice(page)
    expect(page.locator(PREVIEW_IMG)).to_have_attribute("alt", "Kaffebordet på Servicetorget")
    assert page.locator("#f-photo-keep").is_checked()
    assert page.evaluate(
        "() => [...document.querySelectorAll('#preview-panes img')].every("
        "i => i.complete && i.naturalWidth > 0)"
    ), "the preview's photo did not load"
    check(page, "editor with an uploaded photo", found)
    page.locator("#photo-h").scroll_into_view_if_needed()
    screenshot(page, "curate-editor-photo-phone")

    # An upload that is not a photo: explained in place, nothing changes.
    page.locator("#f-photo-upload").check()
    page.locator("#f-photo").set_input_files(
        files=[{"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": b"<html>no</html>"}]
    )
    page.locator('.feature-photo button[type="submit"]').click()
    page.wait_for_load_state()
    expect(page.locator("#f-photo-error")).to_be_visible()
    expect(page.locator(PREVIEW_IMG)).to_have_attribute("alt", "Kaffebordet på Servicetorget")
    check(page, "editor with a photo error", found)

    # No photo at all, then back to the winning photo.
    page.locator("#f-photo-none").check()
    save_photo_choice(page)
    expect(page.locator(PREVIEW_IMG)).to_have_count(0)
    page.locator("#f-photo-subject").check()
    save_photo_choice(page)
    expect(page.locator(PREVIEW_IMG)).to_be_visible()

    # A new headline, then the photo card's Save: one form, so the headline is saved too.
    headline = "Kaffebordet som samlet Servicetorget"
    page.locator("#f-headline").fill(headline)
    page.locator("#f-photo-none").check()
    save_photo_choice(page)
    page.reload()
    assert page.locator("#f-headline").input_value() == headline

    # Unsaved text: leaving the page asks first.
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.locator("#f-body").press_sequentially(" Takk!")
    page.locator('a[href="/asnes/curate"]').first.click()
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"], asked
    assert re.search(r"/asnes/curate/\d+(#[\w-]+)?$", page.url), page.url  # still there

    assert not found, "axe-core violations:\n" + format_violations(found)
