"""axe-core finds no WCAG 2.1 A/AA or best-practice violations, on a phone and a desktop.

The pages come from a crawl of the links a signed-in admin can follow, so new pages are
checked without anyone having to list them here.
"""

import re
from collections import deque
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import Page
from sqlmodel import Session, select

from app.auth.service import create_magic_link
from app.orgs.models import Person
from tests.e2e.conftest import DESKTOP, PHONE, format_violations, log_in_as, run_axe

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

MAX_PAGES = 40
PER_SHAPE = 2  # /asnes/admin/people/17 and /18 use the same template: check two of them
SKIP_PREFIXES = ("/auth/", "/static/", "/api/", "/embed/", "/media/")
ANONYMOUS_PAGES = ["/login", "/accessibility", "/no/such/page", "/auth/magic/invalid-token"]


def _shape(path: str) -> str:
    return re.sub(r"/\d+(?=/|$)", "/{id}", path)


def _follow(href: str) -> str | None:
    """The same-origin page a link leads to, or None when the crawl should skip it."""
    if not href.startswith("/") or href.startswith("//"):
        return None
    parts = urlsplit(href)
    path = parts.path
    if path.startswith(SKIP_PREFIXES) or "logout" in path:
        return None
    if re.search(r"\.(css|js|csv|json|atom|xml|png|jpe?g|webp|svg|ico|txt)$", path):
        return None
    query = parse_qsl(parts.query)
    for key, value in query:
        if key == "page" and value.isdigit() and int(value) > 2:
            return None
    return path + (f"?{parts.query}" if parts.query else "")


# What axe cannot see on a phone: sideways scrolling, and the fixed bottom navigation
# covering the end of the page.
LAYOUT_JS = """() => {
    const problems = [];
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) {
        const sticksOut = el => el && el.getBoundingClientRect().right > root.clientWidth + 1;
        const wide = [...document.querySelectorAll('body *')]
            .filter(el => sticksOut(el) && !sticksOut(el.parentElement))
            .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : ''));
        problems.push(`scrolls sideways (${root.scrollWidth} > ${root.clientWidth} px): `
                      + wide.slice(0, 5).join(', '));
    }
    const nav = document.querySelector('nav.bottom-nav');
    if (nav && getComputedStyle(nav).position === 'fixed') {
        window.scrollTo(0, root.scrollHeight);
        const navTop = nav.getBoundingClientRect().top;
        const last = document.querySelector('.site-footer') || document.querySelector('main');
        const bottom = last.getBoundingClientRect().bottom;
        if (bottom > navTop + 1) problems.push(`the bottom navigation covers the page end`);
        window.scrollTo(0, 0);
    }
    return problems;
}"""


class Audit:
    """What the checks found, page by page."""

    def __init__(self) -> None:
        self.checked: list[str] = []
        self.violations: dict[str, list[dict[str, Any]]] = {}
        self.problems: list[str] = []  # layout, broken links

    def check(self, page: Page, label: str) -> None:
        """axe at phone and desktop width, layout at phone width, on the page as it is now."""
        where = f"{label} {urlsplit(page.url).path}"
        page.set_viewport_size(PHONE)
        self.problems += [f"{where} @390: {p}" for p in page.evaluate(LAYOUT_JS)]
        for size in (PHONE, DESKTOP):
            page.set_viewport_size(size)
            if violations := run_axe(page):
                self.violations[f"{where} @{size['width']}"] = violations
        page.set_viewport_size(PHONE)

    def visit(self, page: Page, url: str, label: str) -> None:
        page.goto(url)
        self.checked.append(url)
        self.check(page, label)

    def crawl(self, page: Page, start: str, label: str) -> None:
        """Breadth-first over same-origin GET links that answer with HTML, checking each."""
        queue, seen = deque([start]), {start, *self.checked}
        shapes: dict[str, int] = {}
        visited = 0
        while queue and visited < MAX_PAGES:
            url = queue.popleft()
            shape = _shape(urlsplit(url).path)
            if shapes.get(shape, 0) >= PER_SHAPE:
                continue
            response = page.request.get(url, max_redirects=0)
            status, kind = response.status, response.headers.get("content-type", "")
            response.dispose()
            if status >= 400:
                self.problems.append(f"{label}: the link {url} answers {status}")
            if status >= 300 or "text/html" not in kind:
                continue
            shapes[shape] = shapes.get(shape, 0) + 1
            visited += 1
            self.visit(page, url, label)
            for href in page.eval_on_selector_all(
                "a[href]", "els => els.map(e => e.getAttribute('href'))"
            ):
                target = _follow(href.split("#")[0])
                if target and target not in seen:
                    seen.add(target)
                    queue.append(target)

    def report(self) -> str:
        return "\n".join(
            [
                f"checked {len(self.checked)} pages at 390 and 1280 px:",
                *(f"  {url}" for url in self.checked),
                *(
                    ["axe-core violations:", format_violations(self.violations)]
                    * bool(self.violations)
                ),
                *(["other problems:", *self.problems] * bool(self.problems)),
            ]
        )


def test_axe_on_every_page(new_context, live_server):
    audit = Audit()

    anonymous = new_context(bypass_csp=True).new_page()
    for url in ANONYMOUS_PAGES:
        audit.visit(anonymous, url, "anonymous")

    admin = new_context(bypass_csp=True).new_page()
    log_in_as(admin, live_server.person("asnes", "admin").email)
    audit.crawl(admin, "/asnes/", "asnes admin")
    assert "/asnes/admin" in audit.checked, "the crawl did not reach the administration"
    audit.visit(admin, "/asnes/no-such-page", "asnes admin")

    swede = new_context(bypass_csp=True, locale="sv-SE").new_page()
    log_in_as(swede, live_server.person("avesta", "employee").email)
    audit.crawl(swede, "/avesta/", "avesta employee")
    audit.visit(swede, "/avesta/admin", "avesta employee")  # the 403 page

    print(audit.report())
    assert not audit.violations and not audit.problems, audit.report()


def _axe_both_sizes(page: Page, label: str, found: dict[str, list]) -> None:
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        if violations := run_axe(page):
            found[f"{label} @{size['width']}"] = violations
    page.set_viewport_size(PHONE)


def test_axe_on_states_a_crawl_does_not_reach(new_context, live_server):
    """Pages after a POST, an open menu, a flash message, a valid magic link."""
    found: dict[str, list] = {}
    page = new_context(bypass_csp=True).new_page()

    page.goto("/login")
    page.locator("details.lang-menu > summary").click()
    _axe_both_sizes(page, "language menu open", found)

    page.goto("/login")
    page.locator("#f-email").fill("not-an-address")
    page.locator('form[action="/login"] button[type="submit"]').click()
    page.wait_for_load_state()
    assert page.locator("#f-email[aria-invalid=true]").count() == 1
    _axe_both_sizes(page, "login with an error", found)

    page.locator("#f-email").fill("nobody@example.no")
    page.locator('form[action="/login"] button[type="submit"]').click()
    page.wait_for_load_state()
    _axe_both_sizes(page, "check your e-mail", found)

    employee = live_server.person("asnes", "employee")
    with Session(live_server.engine) as session:
        person = session.exec(select(Person).where(Person.email == employee.email)).one()
        raw = create_magic_link(session, person)
        session.commit()
    page.goto(f"/auth/magic/{raw}")
    _axe_both_sizes(page, "magic link confirmation", found)
    page.locator('main form button[type="submit"]').click()
    page.wait_for_load_state()
    assert page.url.endswith("/asnes/")

    page.goto("/asnes/give")
    page.locator('form[action="/asnes/give"] button[type="submit"]:not([name="search"])').click()
    page.wait_for_load_state()
    assert page.locator(".error-summary").count() == 1
    _axe_both_sizes(page, "give with errors", found)

    page.goto("/asnes/me")
    page.locator('form[action="/asnes/me/language"] button[type="submit"]').click()
    page.wait_for_load_state()
    assert page.locator(".flash").count() == 1
    _axe_both_sizes(page, "me with a flash message", found)

    assert not found, "axe-core violations:\n" + format_violations(found)
