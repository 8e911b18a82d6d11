"""Storskjerm in a browser: phones answer, the big screen shows it over server-sent events,
the curator hides an answer and it disappears, the screen reconnects after the server restarts
(and catches up on what it missed); axe-core on the join page, the phone page and the screen.

The server is this module's own (uvicorn in a thread on a fixed port), so it can be stopped
and started again while the screen stays open.
"""

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import Request
from playwright.sync_api import ConsoleMessage, Page, expect
from sqlmodel import Session, select

from app import db as app_db
from app.auth.service import start_session
from app.live import service
from app.live.hub import HUB
from app.live.models import LiveSession
from app.migrate import upgrade
from app.orgs.models import Organisation, Person, Role
from tests.e2e.conftest import DESKTOP, PHONE, format_violations, run_axe, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: Any) -> None:  # as `python -m app serve` does
        HUB.close_threadsafe()
        super().handle_exit(sig, frame)


@dataclass
class Hall:
    url: str
    port: int
    app: Any
    engine: Any
    live_id: int
    code: str
    key: str
    curator_cookie: str
    server: Any = None
    thread: threading.Thread | None = None

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, lifespan="on",
            log_level="warning", access_log=False, timeout_graceful_shutdown=3,
        )  # fmt: skip
        self.server = _Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        self._sock = sock

    def stop(self) -> None:
        HUB.close_threadsafe()
        self.server.should_exit = True
        assert self.thread is not None
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "the server did not stop"
        self._sock.close()

    def answer(self, person_email: str, text: str) -> None:
        with Session(self.engine, expire_on_commit=False) as s:
            live = s.get(LiveSession, self.live_id)
            person = s.exec(select(Person).where(Person.email == person_email)).one()
            assert live is not None
            service.answer(s, live, service.Participant.member(person), text=text)
            s.commit()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    tmp: Path = tmp_path_factory.mktemp("e2e-live")
    url = f"sqlite:///{tmp / 'live.db'}"
    upgrade(url)
    engine = app_db.make_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        org = Organisation(slug="storsal", name="Storsal kommune", locale="nb")
        s.add(org)
        s.flush()
        curator = Person(org_id=org.id, email="kurator@storsal.no", name="Kari", role=Role.curator)
        s.add_all([curator, Person(org_id=org.id, email="eva@storsal.no", name="Eva")])
        s.flush()
        live = service.create_session(
            s, org, actor=curator, question="Hva gjør deg stolt av jobben?", kind="cloud",
            allow_anonymous=True,
        )  # fmt: skip
        service.set_state(s, live, "open", actor=curator)
        cookie = start_session(s, curator)
        s.commit()
        assert live.id is not None
        live_id, code, key = live.id, live.code, live.screen_key
    from app.main import create_app

    application = create_app()

    def session_for_request(request: Request) -> Iterator[Session]:
        session = app_db.new_session(readonly=request.method in app_db.SAFE_METHODS, engine=engine)
        try:
            yield session
        finally:
            session.close()

    def session_factory() -> Callable[[], Session]:
        return lambda: app_db.new_session(engine=engine)

    application.dependency_overrides[app_db.get_session] = session_for_request
    application.dependency_overrides[app_db.get_session_factory] = session_factory
    port = _free_port()
    h = Hall(
        url=f"http://127.0.0.1:{port}", port=port, app=application, engine=engine,
        live_id=live_id, code=code, key=key, curator_cookie=cookie,
    )  # fmt: skip
    h.start()
    yield h
    h.stop()
    engine.dispose()


def _watch(page: Page, problems: list[str]) -> None:
    def on_console(message: ConsoleMessage) -> None:
        # The screen's reconnect attempts while the server is down are expected network errors.
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: page error: {error}"))
    page.add_init_script(
        """document.addEventListener('securitypolicyviolation', (e) =>
            console.error(`CSP: ${e.violatedDirective} blocked ${e.blockedURI}`));"""
    )


def test_phones_answer_the_screen_shows_it_hides_and_reconnects(browser, hall: Hall) -> None:
    problems: list[str] = []
    screen_ctx = browser.new_context(base_url=hall.url, viewport=DESKTOP, locale="nb-NO")
    screen = screen_ctx.new_page()
    _watch(screen, problems)
    screen.goto(f"/storsal/live/{hall.live_id}/screen?key={hall.key}")
    expect(screen.locator(".screen-code")).to_contain_text(hall.code)
    expect(screen.locator(".screen-count")).to_contain_text("0 svar")
    screen.evaluate("window.__sameScreen = true")

    phones = []
    for word in ["samarbeid", "samarbeidet", "tull"]:
        ctx = browser.new_context(base_url=hall.url, viewport=PHONE, locale="nb-NO")
        phone = ctx.new_page()
        _watch(phone, problems)
        phone.goto(f"/live/{hall.code}")
        phone.get_by_label("Svaret ditt: ett til tre ord").fill(word)
        phone.get_by_role("button", name="Send").click()
        # The first answer may wait for the language's dictionaries (loading once, seconds).
        expect(phone.locator("#answer .flash")).to_contain_text("Takk!", timeout=20000)
        phones.append((ctx, phone))
    results = screen.locator(".screen-results")
    expect(results.locator(".screen-count")).to_contain_text("3 svar", timeout=5000)
    # Inflected forms are one word, counted twice.
    expect(results.locator(".cloud li").filter(has_text="samarbeid")).to_have_count(1)
    expect(results.locator(".cloud li").filter(has_text="samarbeid")).to_contain_text("2")
    expect(results).to_contain_text("tull")
    screenshot(screen, "live-screen-desktop")
    screenshot(phones[0][1], "live-phone")

    # The curator hides "tull": it leaves the screen at once.
    desk_ctx = browser.new_context(base_url=hall.url, viewport=DESKTOP, locale="nb-NO")
    desk_ctx.add_cookies([{"name": "tod_session", "value": hall.curator_cookie, "url": hall.url}])
    desk = desk_ctx.new_page()
    _watch(desk, problems)
    desk.goto(f"/storsal/live/{hall.live_id}")
    row = desk.locator("#answers li").filter(has_text="tull")
    row.get_by_role("button", name="Skjul").click()
    expect(row.get_by_role("button", name="Gjenopprett")).to_be_visible()
    expect(results).not_to_contain_text("tull", timeout=3000)

    # The server restarts; meanwhile someone answers. The screen reconnects and catches up,
    # without a reload.
    hall.stop()
    hall.answer("eva@storsal.no", "arbeidsglede")
    hall.start()
    expect(results).to_contain_text("arbeidsglede", timeout=15000)
    expect(results.locator(".screen-count")).to_contain_text("4 svar")
    assert screen.evaluate("window.__sameScreen") is True
    assert problems == [], "\n".join(problems)
    for ctx, _ in phones:
        ctx.close()
    desk_ctx.close()
    screen_ctx.close()


def test_live_pages_are_accessible_on_phone_and_desktop(browser, hall: Hall) -> None:
    found: dict[str, list[dict[str, Any]]] = {}
    for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        ctx = browser.new_context(
            base_url=hall.url, viewport=viewport, locale="nb-NO", bypass_csp=True
        )
        page = ctx.new_page()
        for name, path in (
            ("join", "/live"),
            ("join error", "/live?code=ZZZZZZ"),
            ("phone", f"/live/{hall.code}"),
            ("screen", f"/storsal/live/{hall.live_id}/screen?key={hall.key}"),
        ):
            page.goto(path)
            found[f"{name} ({label})"] = run_axe(page)
        page.goto(f"/live/{hall.code}")
        page.get_by_role("button").filter(has_text="Send").or_(
            page.get_by_role("button", name="Endre svaret mitt")
        ).first.click()
        expect(page.locator("#f-text-error")).to_be_visible()
        found[f"phone with an error ({label})"] = run_axe(page)
        if label == "phone":
            page.goto(f"/storsal/live/{hall.live_id}/screen?key={hall.key}")
            screenshot(page, "live-screen-phone")
        ctx.close()
    violations = {k: v for k, v in found.items() if v}
    assert not violations, format_violations(violations)
