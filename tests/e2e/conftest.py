"""Browser tests: the app served by uvicorn on loopback, driven by Debian's Chromium.

One live server and one Chromium per test session; a fresh browser context per test.
The server has its own SQLite file and its own engine, so the database fixtures of the
other tests (which repoint the app's cached engine) never reach it.
"""

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen

import pytest
import uvicorn
from fastapi import Request
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app import db as app_db
from app.config import ROOT, get_settings
from app.migrate import upgrade

SCREENSHOTS = Path(__file__).parent / "screenshots"
README_SCREENSHOTS = ROOT / "docs" / "screenshots"
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def pytest_configure(config: pytest.Config) -> None:
    # xdist registers this marker itself; `-p no:xdist` with --strict-markers needs it too.
    config.addinivalue_line("markers", "xdist_group(name): run the group in one xdist worker")


@dataclass(frozen=True)
class DemoPerson:
    email: str
    name: str

    @property
    def first_name(self) -> str:
        return self.name.split(" ")[0]


@dataclass(frozen=True)
class LiveServer:
    url: str
    engine: Engine
    # (org slug, role) -> the first active person with that role, by name
    people: dict[tuple[str, str], DemoPerson]

    def person(self, org: str, role: str) -> DemoPerson:
        return self.people[(org, role)]


def _seed(engine: Engine) -> dict[tuple[str, str], DemoPerson]:
    from app.demo.seed import seed_demo
    from app.orgs.models import Organisation, Person

    with Session(engine) as session:
        seed_demo(session)
        session.commit()
        people: dict[tuple[str, str], DemoPerson] = {}
        rows = session.exec(
            select(Organisation.slug, Person.role, Person.email, Person.name)
            .join(Person, Person.org_id == Organisation.id)  # type: ignore[arg-type]
            # People who follow the browser's language keep the language tests predictable.
            .where(col(Person.active).is_(True), col(Person.locale).is_(None))
            .order_by(col(Person.name))
        ).all()
        for slug, role, email, name in rows:
            people.setdefault((slug, str(role)), DemoPerson(email=email, name=name))
    return people


def _wait_until_up(url: str, thread: threading.Thread, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the live server stopped while starting")
        try:
            with urlopen(f"{url}/healthz", timeout=1) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except (URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    raise RuntimeError(f"the live server did not answer {url}/healthz within {timeout} s")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{tmp / 'e2e.db'}"
    upgrade(url)
    engine = app_db.make_engine(url)
    people = _seed(engine)

    # Build the app against this database, then give the process its previous settings back:
    # the server keeps its own engine through the overrides below.
    saved = {k: os.environ.get(k) for k in ("TOD_DATABASE_URL", "TOD_MEDIA_URL")}
    os.environ["TOD_DATABASE_URL"] = url
    os.environ["TOD_MEDIA_URL"] = f"file:{tmp / 'media'}"
    get_settings.cache_clear()
    app_db.get_engine.cache_clear()
    try:
        from app.main import create_app

        application = create_app()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        app_db.get_engine.cache_clear()

    def session_for_request(request: Request) -> Iterator[Session]:
        readonly = request.method in app_db.SAFE_METHODS
        session = app_db.new_session(readonly=readonly, engine=engine)
        try:
            yield session
        finally:
            session.close()

    def session_factory() -> Callable[[], Session]:
        return lambda: app_db.new_session(engine=engine)

    application.dependency_overrides[app_db.get_session] = session_for_request
    application.dependency_overrides[app_db.get_session_factory] = session_factory

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        application,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, thread)
        yield LiveServer(url=base, engine=engine, people=people)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        engine.dispose()


@pytest.fixture(scope="session")
def browser(live_server: LiveServer) -> Iterator[Browser]:
    """One headless Chromium for the whole session (depends on the server: closed first)."""
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_context(
    browser: Browser, live_server: LiveServer
) -> Iterator[Callable[..., BrowserContext]]:
    """Make browser contexts (phone-sized, bokmål) that are closed after the test."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        settings: dict[str, Any] = {
            "base_url": live_server.url,
            "viewport": PHONE,
            "locale": "nb-NO",
            **options,
        }
        context = browser.new_context(**settings)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    return new_context().new_page()


def log_in_as(page: Page, email: str) -> None:
    """Log in through the demo login on /login, as a person would: by clicking a button."""
    page.goto("/login")
    quick = page.locator(f'form[action="/auth/demo"]:has(input[type=hidden][value="{email}"])')
    if quick.count():
        quick.first.get_by_role("button").click()
    else:
        select = page.locator(f'form[action="/auth/demo"] select:has(option[value="{email}"])')
        select.select_option(email)
        select.locator("xpath=ancestor::form").get_by_role("button").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, f"demo login as {email} failed: still on {page.url}"


def run_axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the current page (the context must bypass the CSP)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE_JS.read_text(encoding="utf-8"))
    return page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {
                runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
            });
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map(n => n.target.join(' ')),
            }));
        }""",
        AXE_TAGS,
    )


def format_violations(violations_by_page: dict[str, list[dict[str, Any]]]) -> str:
    lines = []
    for where, violations in violations_by_page.items():
        for v in violations:
            targets = ", ".join(v["targets"][:5])
            more = f" (+{len(v['targets']) - 5} more)" if len(v["targets"]) > 5 else ""
            lines.append(f"{where}: [{v['impact']}] {v['id']}: {v['help']} -> {targets}{more}")
    return "\n".join(lines)


def screenshot(page: Page, name: str, *, readme: bool = False) -> Path:
    """Save a screenshot; with TOD_README_SCREENSHOTS=1 also refresh docs/screenshots/."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    if readme and os.environ.get("TOD_README_SCREENSHOTS") == "1":
        README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, README_SCREENSHOTS / f"{name}.png")
    return path
