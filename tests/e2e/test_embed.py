"""The intranet widget in a real browser: framed from an allowed origin, refused elsewhere.

Two tiny HTTP servers on 127.0.0.1 play the intranet: another port is another origin. One of
them is in the demo organisation's intranet origins, the other is not.
"""

import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Frame, Page, expect
from sqlmodel import Session, col, select

from app.config import get_settings
from app.demo.photos import make_photo
from app.kernel.clock import utcnow
from app.media import service as media
from app.media.models import MediaImage
from app.orgs.models import Organisation, Person, Value
from app.recognition.giving import give_recognition
from app.weekly.models import ConsentAnswer, Feature, FeatureConsent, FeatureStatus
from tests.e2e.conftest import (
    DESKTOP,
    PHONE,
    LiveServer,
    format_violations,
    log_in_as,
    run_axe,
    screenshot,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

ORG = "asnes"
HEADLINE = "Nattevakta som holdt hjulene i gang"
BODY = (
    "Da halve avdelingen var syk, tok hun tre ekstra vakter og holdt humøret oppe hos alle.\n\n"
    "Beboerne merket ingenting, og kollegene sier de aldri har følt seg så godt ivaretatt."
)
HOST_PAGE = """<!doctype html>
<html lang="nb"><head><meta charset="utf-8"><title>Intranett</title></head>
<body><main><h1>Intranettet</h1>
<script src="{src}" async></script>
<p id="after">Teksten etter widgeten.</p>
</main></body></html>
"""


@contextmanager
def intranet(page_html: str) -> Iterator[str]:
    """A throwaway web server on loopback that answers every GET with `page_html`."""
    body = page_html.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def app_base_url(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """widget.js names the app's origin from TOD_BASE_URL: make it the live server's."""
    monkeypatch.setenv("TOD_BASE_URL", live_server.url)
    get_settings.cache_clear()
    yield live_server.url
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def allowed_host(live_server: LiveServer, app_base_url: str) -> Iterator[str]:
    """An intranet origin in the demo organisation's list; the list is restored afterwards."""
    with intranet(HOST_PAGE.format(src=f"{app_base_url}/embed/{ORG}/widget.js")) as origin:
        with Session(live_server.engine) as session:
            org = session.exec(select(Organisation).where(Organisation.slug == ORG)).one()
            saved = list(org.intranet_origins)
            org.intranet_origins = [origin]
            session.add(org)
            session.commit()
        try:
            yield origin
        finally:
            with Session(live_server.engine) as session:
                org = session.exec(select(Organisation).where(Organisation.slug == ORG)).one()
                org.intranet_origins = saved
                session.add(org)
                session.commit()


@pytest.fixture
def published(live_server: LiveServer) -> Iterator[int]:
    """A feature published now in the live server's database, every named person agreeing."""
    with Session(live_server.engine) as session:
        org = session.exec(select(Organisation).where(Organisation.slug == ORG)).one()
        people = session.exec(
            select(Person)
            .where(
                Person.org_id == org.id,
                col(Person.active).is_(True),
                col(Person.feature_opt_out).is_(False),
            )
            .order_by(col(Person.id))
            .limit(2)
        ).all()
        giver, recipient = people
        value = session.exec(select(Value).where(Value.org_id == org.id)).first()
        assert value is not None and giver.id and recipient.id and value.id
        rec, _ = give_recognition(
            session,
            giver=giver,
            recipient_ids=[recipient.id],
            value_ids=[value.id],
            text="Takk for at du tok de ekstra vaktene da vi trengte det!",
            feature_consent=True,
            idempotency_key=f"e2e-embed-{secrets.token_hex(6)}",
        )
        # A week no other test uses; "current" means the newest publication, not this week.
        # The curator's photo, through the real pipeline.
        photo = media.save_upload(
            session, org, giver, make_photo(41, "indoor", "autumn"), alt="Vaktrommet en høstkveld"
        )
        feature = Feature(
            org=org,
            recognition=rec,
            image=photo,
            iso_year=1999,
            iso_week=52,
            status=FeatureStatus.published,
            headline=HEADLINE,
            body=BODY,
            published_at=utcnow(),  # the newest publication: later than every demo one
        )
        feature.consents.append(
            FeatureConsent(
                person=recipient,
                answer=ConsentAnswer.yes,
                token_hash=secrets.token_hex(32),
                answered_at=utcnow(),
            )
        )
        session.add(feature)
        session.commit()
        feature_id, rec_id, photo_id = feature.id, rec.id, photo.id
    try:
        assert feature_id is not None
        yield feature_id
    finally:
        with Session(live_server.engine) as session:
            for row in (session.get(Feature, feature_id), session.get(type(rec), rec_id)):
                if row is not None:
                    session.delete(row)
            session.commit()
            if (image := session.get(MediaImage, photo_id)) is not None:
                media.delete_image(session, image)
            session.commit()


@pytest.fixture
def no_feature(live_server: LiveServer) -> Iterator[None]:
    """The widget with nothing published: the demo's published features set aside meanwhile."""
    with Session(live_server.engine) as session:
        org = session.exec(select(Organisation).where(Organisation.slug == ORG)).one()
        rows = session.exec(
            select(Feature).where(
                Feature.org_id == org.id, Feature.status == FeatureStatus.published
            )
        ).all()
        hidden = [row.id for row in rows]
        for row in rows:
            row.status = FeatureStatus.withdrawn
            session.add(row)
        session.commit()
    try:
        yield
    finally:
        with Session(live_server.engine) as session:
            for feature_id in hidden:
                row = session.get(Feature, feature_id)
                if row is not None:
                    row.status = FeatureStatus.published
                    session.add(row)
            session.commit()


def _collect_console(page: Page) -> list[str]:
    messages: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            messages.append(message.text)

    page.on("console", on_console)
    return messages


def _widget_frame(page: Page) -> Frame:
    handle = page.locator("main iframe").element_handle()
    assert handle is not None
    frame = handle.content_frame()
    assert frame is not None
    return frame


def test_widget_on_an_allowed_intranet_shows_the_feature_and_fits_its_content(
    new_context: Callable[..., Any], allowed_host: str, published: int, live_server: LiveServer
):
    page = new_context(viewport=PHONE).new_page()
    problems = _collect_console(page)
    page.goto(allowed_host)
    iframe = page.locator("main iframe")
    expect(iframe).to_have_attribute("title", "Ukens ESS – Åsnes kommune")
    expect(iframe).to_have_attribute("loading", "lazy")
    # Inserted right after the script tag, before the text that follows it.
    assert (
        page.evaluate("document.querySelector('main script').nextElementSibling.tagName")
        == "IFRAME"
    )
    frame = _widget_frame(page)
    expect(frame.get_by_role("heading", level=1)).to_have_text(HEADLINE)
    assert frame.url.startswith(f"{live_server.url}/embed/{ORG}/feature")
    # The photo comes from the public route, framed on another origin, with no cookie.
    photo = frame.locator("picture img")
    expect(photo).to_have_attribute("alt", "Vaktrommet en høstkveld")
    frame.wait_for_function(
        "() => { const i = document.querySelector('picture img');"
        " return i.complete && i.naturalWidth > 0; }"
    )
    assert f"/embed/{ORG}/photo/{published}/" in (photo.evaluate("i => i.currentSrc") or "")

    def fits() -> None:
        content = frame.evaluate(
            "Math.ceil(document.documentElement.getBoundingClientRect().height)"
        )
        page.wait_for_function(
            "(h) => Math.abs(document.querySelector('main iframe')"
            ".getBoundingClientRect().height - h) <= 3",
            arg=content,
        )
        assert frame.evaluate("document.documentElement.scrollHeight <= window.innerHeight + 1"), (
            "the frame still scrolls"
        )

    fits()
    phone_height = iframe.bounding_box()["height"]  # type: ignore[index]
    screenshot(page, "widget-on-intranet-phone", readme=True)
    # Wider: fewer lines of text but a larger photo; the frame follows its content.
    page.set_viewport_size(DESKTOP)
    page.wait_for_function(
        "(h) => Math.abs(document.querySelector('main iframe').getBoundingClientRect().height"
        " - h) > 10",
        arg=phone_height,
    )
    fits()
    page.wait_for_load_state("networkidle")
    assert not problems, "\n".join(problems)


def test_widget_on_another_origin_is_refused_by_the_browser(
    new_context: Callable[..., Any], allowed_host: str, published: int, app_base_url: str
):
    page_html = HOST_PAGE.format(src=f"{app_base_url}/embed/{ORG}/widget.js")
    with intranet(page_html) as stranger:
        assert stranger != allowed_host
        page = new_context().new_page()
        problems = _collect_console(page)
        page.goto(stranger)
        iframe = page.locator("main iframe")
        expect(iframe).to_be_attached()
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)
        refused = [m for m in problems if "frame-ancestors" in m]
        assert refused, f"no frame-ancestors refusal in the console: {problems}"
        frame = _widget_frame(page)
        assert HEADLINE not in (frame.content() if not frame.is_detached() else "")
        # No height ever came from it: the frame keeps the height widget.js gave it.
        assert iframe.evaluate("el => el.style.height") == "420px"


@pytest.mark.parametrize("state", ["feature", "empty"])
def test_widget_page_has_no_accessibility_violations(
    new_context: Callable[..., Any], live_server: LiveServer, state: str, request: Any
):
    request.getfixturevalue("published" if state == "feature" else "no_feature")
    violations: dict[str, list[dict[str, Any]]] = {}
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = new_context(viewport=viewport, bypass_csp=True).new_page()
        page.goto(f"/embed/{ORG}/feature")
        if state == "feature":
            expect(page.get_by_role("heading", level=1)).to_have_text(HEADLINE)
        found = run_axe(page)
        if found:
            violations[f"{state} {name}"] = found
        page.close()
    assert not violations, format_violations(violations)


def test_admin_embed_page_previews_the_widget_in_the_app_itself(
    new_context: Callable[..., Any], live_server: LiveServer, published: int, app_base_url: str
):
    """frame-ancestors includes 'self': the admin's preview frames the widget page."""
    violations: dict[str, list[dict[str, Any]]] = {}
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = new_context(viewport=viewport, bypass_csp=True).new_page()
        log_in_as(page, live_server.person(ORG, "admin").email)
        page.goto(f"/{ORG}/admin/embed")
        expect(page.locator("pre code").first).to_contain_text(
            f'<script src="{app_base_url}/embed/{ORG}/widget.js" async></script>'
        )
        expect(page.locator("pre[data-copy] + button")).to_have_count(2)  # added by copy.js
        preview = page.frame_locator("iframe[src$='/embed/asnes/feature']")
        expect(preview.get_by_role("heading", level=1)).to_have_text(HEADLINE)
        if name == "desktop":
            screenshot(page, "admin-embed", readme=True)
        found = run_axe(page)
        if found:
            violations[f"admin embed {name}"] = found
        page.close()
    assert not violations, format_violations(violations)
