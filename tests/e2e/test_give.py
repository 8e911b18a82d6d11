"""Giving recognition in the browser: keyboard only, without JavaScript, double clicks,
the feed's infinite scroll, reactions with htmx, and a narrow phone.

Elements are found by id, name, role or href, never by their (translated) wording. Names of
people and values are demo data, not interface text, so they may be matched.
"""

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, col, func, select

from app.orgs.models import Person
from app.recognition.models import Recognition
from tests.e2e.conftest import (
    PHONE,
    format_violations,
    log_in_as,
    run_axe,
    screenshot,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

ORG = "asnes"
GIVE_FORM = f'form.give-form[action="/{ORG}/give"]'
SEND = f"{GIVE_FORM} button[type=submit]:not([name=search])"
SEARCH_BUTTON = f"{GIVE_FORM} button[name=search]"
RESULT_BOXES = "#people-results input[name=recipients]"
GIVEN_URL = re.compile(rf"/{ORG}/given/(\d+)$")
# "ase" without the ring must find the demo's "Åse Åsheim" (app/orgs/demo.py).
SEARCH, FOUND = "ase", re.compile(r"^\s*Åse\b")


def focused(page: Page, js: str) -> object:
    """Evaluate `js` (an expression over `el`) on the focused element."""
    return page.evaluate(f"(() => {{ const el = document.activeElement; return {js}; }})()")


def tab_until(page: Page, selector: str, limit: int = 40) -> None:
    """Press Tab until the focused element matches the CSS selector."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => !!document.activeElement?.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[16:24]
    return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")


def counted(text: str) -> re.Pattern[str]:
    """The counter's wording is translated; the number of characters in it is not."""
    return re.compile(rf"(^|\D){len(text)}\D")


def unique_text() -> str:
    return f"Takk for hjelpen! ({uuid.uuid4().hex[:10]})"


def given_id(page: Page) -> int:
    match = GIVEN_URL.search(page.url)
    assert match, f"not a confirmation page: {page.url}"
    return int(match.group(1))


def count_recognitions(live_server, text: str) -> int:
    with Session(live_server.engine) as session:
        return session.exec(
            select(func.count()).select_from(Recognition).where(col(Recognition.text) == text)
        ).one()


def person_id(live_server, email: str) -> int:
    with Session(live_server.engine) as session:
        person = session.exec(select(Person).where(Person.email == email)).one()
        assert person.id is not None
        return person.id


_SIGNED_IN: dict[tuple[str, str], dict] = {}


def signed_in(new_context, live_server, role: str, *, fresh: bool = False, **options) -> Page:
    """A page signed in as the org's first person with `role`, through the demo login form
    the first time (or when `fresh`), with the cookies of that login afterwards."""
    email = live_server.person(ORG, role).email
    key = (live_server.url, email)
    if key in _SIGNED_IN and not fresh:
        return new_context(storage_state=_SIGNED_IN[key], **options).new_page()
    context = new_context(**options)
    page = context.new_page()
    log_in_as(page, email)
    _SIGNED_IN[key] = context.storage_state()
    return page


def undo(page: Page, rec_id: int) -> None:
    """Take a recognition back from its confirmation page (keeps the shared data tidy)."""
    page.goto(f"/{ORG}/given/{rec_id}")
    page.locator("form.undo button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/{ORG}/$"))


def test_give_by_keyboard_only(new_context, live_server):
    page = signed_in(new_context, live_server, "employee", fresh=True, bypass_csp=True)
    found: dict[str, list] = {}

    # The error state first: sending an empty form answers 422 with the errors shown.
    page.goto(f"/{ORG}/give")
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith(f"/{ORG}/give")
    ) as posted:
        page.locator(SEND).click()
    assert posted.value.status == 422
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#f-recipients.has-error")).to_have_count(1)
    expect(page.locator("#f-values.has-error")).to_have_count(1)
    expect(page.locator("#f-text")).to_have_attribute("aria-invalid", "true")
    if violations := run_axe(page):
        found["give with errors"] = violations

    # From the home page to the big give link by Tab, and Enter.
    page.goto(f"/{ORG}/")
    tab_until(page, f'p.give-cta a[href="/{ORG}/give"]')
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/{ORG}/give$"))

    # Type-ahead without the accent; wait for htmx to swap in the results.
    tab_until(page, "#give-q")
    with page.expect_response(lambda r: f"/{ORG}/give/people" in r.url and "q=ase" in r.url):
        page.keyboard.type(SEARCH)
    names = page.locator("#people-results .person-name")
    expect(names.filter(has_text=FOUND).first).to_be_visible()
    shot = screenshot(page, "give-phone", readme=True)
    assert png_size(shot) == (PHONE["width"], PHONE["height"]), "not a phone viewport"

    # The first result by Tab, ticked with Space: it moves to the chosen list, focus stays.
    tab_until(page, RESULT_BOXES)
    first_id = page.locator(RESULT_BOXES).first.get_attribute("id")
    assert focused(page, "el.id") == first_id, "Tab did not reach the first result"
    colleague = page.locator(f'label[for="{first_id}"] .person-name').inner_text().strip()
    page.keyboard.press("Space")
    assert focused(page, "el.id") == first_id, "focus left the ticked colleague"
    assert focused(page, "el.checked && !!el.closest('#chosen')")
    expect(page.locator(f"#people-results #{first_id}")).to_have_count(0)

    # A value, then the text with its live counter.
    tab_until(page, "#f-values input[name=values]")
    value_id = focused(page, "el.id")
    value = page.locator(f'label[for="{value_id}"]').inner_text().strip()
    page.keyboard.press("Space")
    assert focused(page, "el.checked")
    tab_until(page, "#f-text")
    text = unique_text()
    page.keyboard.type(text)
    expect(page.locator("#text-counter")).to_have_text(counted(text))
    if violations := run_axe(page):
        found["give, filled in"] = violations

    tab_until(page, SEND)
    page.keyboard.press("Enter")
    expect(page).to_have_url(GIVEN_URL)
    rec_id = given_id(page)

    confirmation = page.locator("section.confirmation")
    expect(confirmation).to_contain_text(colleague)
    expect(confirmation).to_contain_text(value)
    dots = page.locator(".progress-card .progress-dots > li")
    assert dots.count() >= 1
    assert page.locator(".progress-card .progress-dots > li.done").count() >= 1
    if violations := run_axe(page):
        found["confirmation"] = violations
    screenshot(page, "given-phone")

    # Undo by keyboard: the recognition leaves the feed.
    assert text in page.request.get(f"/{ORG}/").text(), "the new recognition is not in the feed"
    tab_until(page, "form.undo button[type=submit]")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/{ORG}/$"))
    expect(page.locator(".flash")).to_be_visible()
    expect(page.locator("article.rec-card", has_text=text)).to_have_count(0)
    assert count_recognitions(live_server, text) == 0
    response = page.request.get(f"/{ORG}/r/{rec_id}")
    assert response.status == 404

    assert not found, "axe-core violations:\n" + format_violations(found)


def test_give_without_javascript(new_context, live_server):
    page = signed_in(new_context, live_server, "leader", fresh=True, java_script_enabled=False)
    page.goto(f"/{ORG}/give")

    text = unique_text()
    page.locator("#f-text").fill(text)
    page.locator("#give-q").fill(SEARCH)
    page.locator(SEARCH_BUTTON).click()

    # The form came back from the server (a POST: no token in the URL) with the search done
    # and the input kept.
    expect(page).to_have_url(re.compile(rf"/{ORG}/give$"))
    expect(page.locator("#give-q")).to_have_value(SEARCH)
    expect(page.locator("#f-text")).to_have_value(text)
    expect(page.locator("#text-counter")).to_have_text(counted(text))
    hit = page.locator("#people-results li.person-option").filter(
        has=page.locator(".person-name", has_text=FOUND)
    )
    expect(hit).to_have_count(1)
    colleague = hit.locator(".person-name").inner_text().strip()

    hit.locator("input[name=recipients]").check()
    page.locator("#f-values input[name=values]").first.check()
    page.locator(SEND).click()

    expect(page).to_have_url(GIVEN_URL)
    expect(page.locator("section.confirmation")).to_contain_text(colleague)
    assert count_recognitions(live_server, text) == 1
    undo(page, given_id(page))


def test_double_click_on_send_gives_once(new_context, live_server):
    page = signed_in(new_context, live_server, "curator")
    colleague = live_server.person(ORG, "employee")
    colleague_id = person_id(live_server, colleague.email)

    page.goto(f"/{ORG}/give?to={colleague_id}")
    expect(page.locator("#chosen input[name=recipients]:checked")).to_have_count(1)
    page.locator("#f-values input[name=values]").first.check()
    text = unique_text()
    page.locator("#f-text").fill(text)
    page.locator(SEND).dblclick()

    expect(page).to_have_url(GIVEN_URL)
    expect(page.locator("section.confirmation")).to_contain_text(colleague.name)
    rec_id = given_id(page)
    page.goto(f"/{ORG}/?feed=from_me")
    expect(page.locator("article.rec-card", has_text=text)).to_have_count(1)
    assert count_recognitions(live_server, text) == 1
    undo(page, rec_id)

    # Chromium sends a double-clicked form once; two sends that race each other with the
    # same form (idempotency key) must still make one recognition.
    page.goto(f"/{ORG}/give?to={colleague_id}")
    page.locator("#f-values input[name=values]").first.check()
    text = unique_text()
    page.locator("#f-text").fill(text)
    landed = page.evaluate(
        """async (sel) => {
            const form = document.querySelector(sel);
            const send = () => fetch(form.action, {method: "POST", body: new FormData(form)});
            const answers = await Promise.all([send(), send()]);
            return answers.map(a => [a.status, new URL(a.url).pathname]);
        }""",
        GIVE_FORM,
    )
    assert [status for status, _ in landed] == [200, 200], landed
    assert landed[0][1] == landed[1][1] and GIVEN_URL.search(landed[0][1]), landed
    assert count_recognitions(live_server, text) == 1
    undo(page, int(GIVEN_URL.search(landed[0][1]).group(1)))


# Recognitions' cards; the feed also shows a photo competition's results (the demo has one).
REC_CARD = "article.rec-card[aria-labelledby^='rec-']"


def card_ids(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        REC_CARD,
        "els => els.map(e => e.getAttribute('aria-labelledby'))",
    )


def test_feed_scrolls_on_with_htmx(new_context, live_server):
    page = signed_in(new_context, live_server, "employee")
    page.goto(f"/{ORG}/")
    page.evaluate("window.__sameDocument = true")
    first = card_ids(page)
    assert len(first) == 20, f"expected a first page of 20, got {len(first)}"
    more = page.locator("ol.feed > li.feed-more a")
    expect(more).to_have_count(1)
    first_href = more.get_attribute("href")

    for pages in (2, 3):
        page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        page.wait_for_function(
            "([sel, n]) => document.querySelectorAll(sel).length > n",
            arg=[REC_CARD, 20 * (pages - 1)],
        )
        ids = card_ids(page)
        assert len(ids) > 20 * (pages - 1)
        assert len(ids) == len(set(ids)), "a recognition came twice"
        assert ids[: len(first)] == first, "the first page changed"
        # Every card sits in its own item of the one list; there is one "more" link.
        expect(page.locator(f"ol.feed > li > {REC_CARD}")).to_have_count(len(ids))
        expect(page.locator("li.feed-more")).to_have_count(1)

    assert more.get_attribute("href") != first_href
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"


def test_reaction_toggles_in_place(new_context, live_server):
    page = signed_in(new_context, live_server, "employee")
    page.goto(f"/{ORG}/")
    card = page.locator(REC_CARD).first
    rec = re.fullmatch(r"rec-(\d+)-title", card.get_attribute("aria-labelledby") or "")
    assert rec
    bar = f"#reactions-{rec.group(1)}"
    kind = page.locator(f"{bar} button[name=kind][aria-pressed=false]").first.get_attribute("value")
    button = page.locator(f"{bar} button[name=kind][value={kind}]")
    count = button.locator(".reaction-count")
    before = int(count.inner_text())
    page.evaluate("window.__sameDocument = true")

    with page.expect_response(lambda r: r.url.endswith(f"/r/{rec.group(1)}/react")):
        button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(count).to_have_text(str(before + 1))

    # Again by keyboard: the reaction is taken back and focus stays on the button.
    button.focus()
    with page.expect_response(lambda r: r.url.endswith(f"/r/{rec.group(1)}/react")):
        page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(count).to_have_text(str(before))
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    assert focused(page, f"!!el.closest('{bar}') && el.matches('button')"), (
        "focus was lost when the reactions were swapped"
    )


def test_give_page_fits_320_px(new_context, live_server):
    page = signed_in(new_context, live_server, "curator", viewport={"width": 320, "height": 640})
    page.goto(f"/{ORG}/give")
    with page.expect_response(lambda r: f"/{ORG}/give/people" in r.url):
        page.locator("#give-q").fill(SEARCH)
    expect(page.locator("#people-results .person-name", has_text=FOUND).first).to_be_visible()
    page.locator(RESULT_BOXES).first.check()
    expect(page.locator("#chosen input[name=recipients]")).to_have_count(1)

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320, f"the give page scrolls sideways: {width} px"

    send = page.locator(SEND)
    send.scroll_into_view_if_needed()
    expect(send).to_be_in_viewport()
    box = send.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320
    # Nothing (such as the fixed bottom navigation) lies on top of it.
    hit = page.evaluate(
        "([x, y, s]) => !!document.elementFromPoint(x, y)?.closest(s)",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, SEND],
    )
    assert hit, "the send button is covered"
