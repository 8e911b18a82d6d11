"""What a new user meets on a phone: a refused send, the keyboard under the bottom bar, value
descriptions, the accessibility statement, an expired session, deleting, the daily goal.

Elements are found by id, name, class or href, never by their translated wording; numbers and
demo names are data.
"""

import re
import secrets

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, col, select

from app.orgs.models import Person, Value
from app.recognition import progress
from app.recognition.giving import give_recognition
from app.recognition.models import Recognition
from tests.e2e.conftest import PHONE, format_violations, log_in_as, run_axe, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

ORG = "asnes"
GIVE_FORM = f'form.give-form[action="/{ORG}/give"]'
SEND = f"{GIVE_FORM} button[type=submit]:not([name=search])"


def _people(live_server, n: int) -> list[Person]:
    with Session(live_server.engine) as session:
        me = live_server.person(ORG, "employee")
        org_id = session.exec(select(Person.org_id).where(Person.email == me.email)).one()
        people = session.exec(
            select(Person)
            .where(col(Person.active).is_(True), Person.email != me.email)
            .where(Person.org_id == org_id)
            .order_by(col(Person.id))
            .limit(n)
        ).all()
        return list(people)


def _give_as(live_server, giver_email: str, count: int = 1) -> list[int]:
    """Recognitions made through the service, as the give form would make them."""
    others = [p for p in _people(live_server, 4) if p.email != giver_email]
    with Session(live_server.engine) as session:
        giver = session.exec(select(Person).where(Person.email == giver_email)).one()
        value_id = session.exec(
            select(Value.id).where(Value.org_id == giver.org_id, col(Value.active).is_(True))
        ).first()
        ids = []
        for i in range(count):
            rec, _ = give_recognition(
                session,
                giver=giver,
                recipient_ids=[others[i % len(others)].id],
                value_ids=[value_id],
                text=f"Takk for at du stilte opp i dag, nummer {i + 1}.",
                idempotency_key=secrets.token_urlsafe(12),
            )
            ids.append(rec.id)
        session.commit()
        return ids


def _delete(live_server, ids: list[int]) -> None:
    with Session(live_server.engine) as session:
        for rec_id in ids:
            if (rec := session.get(Recognition, rec_id)) is not None:
                session.delete(rec)
        session.commit()


def test_a_refused_send_puts_focus_on_the_error_summary(page: Page, live_server):
    log_in_as(page, live_server.person(ORG, "employee").email)
    page.goto(f"/{ORG}/give")
    page.locator(SEND).click()
    page.wait_for_load_state()
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    # Its links lead to the fields.
    first = summary.locator("a").first
    href = first.get_attribute("href")
    assert href and page.locator(href).count() == 1
    screenshot(page, "give-refused-phone")


def test_no_focused_control_of_the_give_form_hides_under_the_bottom_nav(page: Page, live_server):
    log_in_as(page, live_server.person(ORG, "employee").email)
    page.goto(f"/{ORG}/give")
    controls = page.evaluate(
        """(form) => [...document.querySelector(form).querySelectorAll(
              'input:not([type=hidden]), textarea, select, button')].length""",
        GIVE_FORM,
    )
    assert controls >= 5
    page.locator("#main").focus()
    seen = set()
    for _ in range(controls + 30):
        page.keyboard.press("Tab")
        where = page.evaluate(
            """(form) => {
              const el = document.activeElement;
              if (!el.closest(form)) return null;
              // A visually hidden checkbox is seen through its label (the chip).
              const label = el.id && document.querySelector(`label[for="${el.id}"]`);
              const box = (label || el).getBoundingClientRect();
              const nav = document.querySelector('.bottom-nav').getBoundingClientRect();
              return {key: el.name + ':' + el.id + ':' + el.value,
                      bottom: box.bottom, top: box.top, navTop: nav.top};
            }""",
            GIVE_FORM,
        )
        if where is None:
            if seen:
                break
            continue
        seen.add(where["key"])
        assert where["top"] >= 0, where
        assert where["bottom"] <= where["navTop"], f"covered by the bottom nav: {where}"
    assert len(seen) >= 5, seen


def test_a_value_description_stays_inside_a_390_px_screen(page: Page, live_server):
    log_in_as(page, live_server.person(ORG, "employee").email)
    page.goto(f"/{ORG}/give")
    chips = page.locator(".value-picker label")
    assert chips.count() >= 3
    checked = 0
    for i in range(chips.count()):
        chips.nth(i).hover()
        desc = page.locator(".value-picker .value-desc:visible")
        if not desc.count():
            continue
        box = desc.first.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        checked += 1
    assert checked >= 1, "no value description was shown: the test checked nothing"
    screenshot(page, "value-description-phone")


@pytest.mark.parametrize(("locale", "width"), [("nb-NO", 360), ("nn-NO", 360), ("sv-SE", 390)])
def test_the_accessibility_statement_fits_a_phone(new_context, live_server, locale, width):
    page = new_context(locale=locale, viewport={"width": width, "height": 800}).new_page()
    page.goto("/accessibility")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{locale} at {width} px: {overflow} px too wide"
    screenshot(page, f"accessibility-{locale}-{width}")


def test_an_expired_session_keeps_what_was_typed(new_context, live_server):
    context = new_context(bypass_csp=True)
    page = context.new_page()
    me = live_server.person(ORG, "employee")
    log_in_as(page, me.email)
    page.goto(f"/{ORG}/give")
    text = f"Hjalp meg med vaktlista i dag, takk! {secrets.token_hex(3)}"
    page.locator("textarea[name=text]").fill(text)
    # The session ends (expired, or logged out in another tab) while the form is open.
    context.clear_cookies(name="tod_session")
    page.locator(SEND).click()
    page.wait_for_load_state()
    assert "/login" in page.url
    quick = page.locator(f'form[action="/auth/demo"]:has(input[value="{me.email}"])').first
    quick.get_by_role("button").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/{ORG}/resend"), page.url
    expect(page.locator("blockquote", has_text=text)).to_be_visible()
    violations = run_axe(page)
    assert violations == [], format_violations({"resend": violations})
    screenshot(page, "resend-phone")
    # Sending it goes back to the give form, which shows what is still missing, text kept.
    page.locator(f'form[action="/{ORG}/give"] button[type=submit]').click()
    page.wait_for_load_state()
    assert page.locator("textarea[name=text]").input_value() == text


def test_delete_asks_first_on_a_phone(new_context, live_server):
    page = new_context(bypass_csp=True).new_page()
    me = live_server.person(ORG, "employee")
    [rec_id] = _give_as(live_server, me.email)
    try:
        log_in_as(page, me.email)
        page.goto(f"/{ORG}/r/{rec_id}")
        page.locator(f'a[href="/{ORG}/r/{rec_id}/delete"]').click()
        page.wait_for_load_state()
        assert page.url.endswith(f"/r/{rec_id}/delete")
        violations = run_axe(page)
        assert violations == [], format_violations({"delete": violations})
        screenshot(page, "delete-question-phone")
        with Session(live_server.engine) as session:
            assert session.get(Recognition, rec_id) is not None  # asking deletes nothing
        page.locator(f'form[action="/{ORG}/r/{rec_id}/delete"] button[type=submit]').click()
        page.wait_for_load_state()
        expect(page.locator(".flash")).to_be_visible()
        with Session(live_server.engine) as session:
            assert session.get(Recognition, rec_id) is None
    finally:
        _delete(live_server, [rec_id])


def test_past_the_goal_the_card_says_reached_and_giving_stays_open(page: Page, live_server):
    giver = live_server.person(ORG, "leader")
    ids = _give_as(live_server, giver.email, count=4)
    try:
        log_in_as(page, giver.email)
        page.goto(f"/{ORG}/")
        with Session(live_server.engine) as session:
            person = session.exec(select(Person).where(Person.email == giver.email)).one()
            today = progress.progress(session, person)
        assert today.given_today >= 4 > today.goal
        heading = page.locator("#progress-title").inner_text()
        # The count alone, not "4 of 3": the goal is reached, not overrun.
        assert re.findall(r"\d+", heading) == [str(today.given_today)], heading
        page.goto(f"/{ORG}/given/{ids[-1]}")
        expect(page.locator(f'.button-row a[href="/{ORG}/give"]')).to_be_visible()
        screenshot(page, "goal-reached-phone")
    finally:
        _delete(live_server, ids)
