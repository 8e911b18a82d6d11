"""The big screen and its server-sent events: the screen page (curator or the screen link's
key), the screen's stream, the phones' results stream and the API's stream.

A stream never holds a database session while it waits: the caller is checked in a short
session that is closed before the first byte, and each frame is rendered once per process in a
session of its own (`render_frame`, called by the hub), then sent as the same bytes to every
listener.
"""

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from fastapi.sse import EventSourceResponse, format_sse_event
from sqlmodel import Session

from app.access import OptionalPerson, optional_person
from app.config import get_settings
from app.db import SessionDep, SessionFactoryDep, new_session
from app.errors import NotAuthenticated, NotFound, PermissionDenied
from app.kernel.apischema import ERRORS
from app.live import service, words
from app.live.hub import HUB, Frame
from app.live.models import Kind, LiveSession, State
from app.orgs.models import Organisation
from app.web import PathId, env, render

router = APIRouter(include_in_schema=False)
api_router = APIRouter(tags=["live"], responses=ERRORS)

KeyParam = Annotated[str, Query(max_length=64)]
STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def qr_svg(url: str, label: str) -> str:
    """An inline SVG (attributes only: it passes the CSP) that the phone's camera opens."""
    return str(
        segno.make(url, error="m").svg_inline(
            scale=1, omitsize=True, dark="#000000", light="#ffffff", svgclass="qr", title=label
        )
    )


def _allowed(live: LiveSession, org: str, key: str, person: Any) -> None:
    """The screen: a curator of the session's organisation, or the screen link's key."""
    if live.org.slug != org:
        raise NotFound()
    if service.screen_allowed(live, key, person):
        return
    if person is None and not key:
        raise NotAuthenticated()
    if person is not None and person.org_id == live.org_id and not key:
        raise PermissionDenied()
    raise NotFound()


@router.get("/{org}/live/{live_id}/screen")
def screen(
    request: Request,
    session: SessionDep,
    person: OptionalPerson,
    org: str,
    live_id: PathId,
    key: KeyParam = "",
) -> Response:
    live = session.get(LiveSession, live_id)
    if live is None:
        raise NotFound()
    _allowed(live, org, key, person)
    request.state.org = live.org
    request.state.locale = live.org.locale  # the hall reads the organisation's language
    if live.kind == Kind.cloud:
        words.warm_soon(live.org.locale)
    url = f"{get_settings().base_url.rstrip('/')}/live/{live.code}"
    stream = f"/{org}/live/{live.id}/screen/stream" + (f"?key={key}" if key else "")
    ctx = _results_context(session, live, request)
    ctx |= {"join_url": url, "stream_url": stream}
    ctx["qr"] = qr_svg(url, live.code)
    response = render(request, "live/screen.html", ctx)
    response.headers["Cache-Control"] = "no-store"
    return response


def _results_context(session: Session, live: LiveSession, request: Any) -> dict[str, Any]:
    return {
        "request": request,
        "live": live,
        "tally": service.tally(session, live),
        "State": State,
    }


def _reader(factory: Callable[[], Session]) -> Session:
    # Production: a read-only session that never takes SQLite's write lock. Tests replace the
    # factory with sessions inside their own transaction.
    return new_session(readonly=True) if factory is new_session else factory()


def render_frame(factory: Callable[[], Session], live_id: int) -> Frame:
    """One session's screen and phone fragments, each encoded once as an SSE event."""
    with _reader(factory) as session:
        live = session.get(LiveSession, live_id)
        if live is None or live.kind != Kind.cloud or words.is_warm(live.org.locale):
            return _frame(session, live)
        locale = live.org.locale
    # Outside any transaction: loading a language's dictionaries takes seconds, once.
    words.warm(locale)
    with _reader(factory) as session:
        return _frame(session, session.get(LiveSession, live_id))


def _frame(session: Session, live: LiveSession | None) -> Frame:
    if live is None:
        gone = format_sse_event(data_str="", event="gone", id="0")
        return Frame(version=-1, screen=gone, phone=gone, gone=True)
    org: Organisation = live.org
    ctx = _results_context(session, live, SimpleNamespace(state=SimpleNamespace(locale=org.locale)))
    screen_html = env.get_template("live/_results.html").render(ctx)
    ctx["show_results"] = live.state == State.closed and live.results_shared
    phone_html = env.get_template("live/_phone_results.html").render(ctx)
    event_id = str(live.version)
    return Frame(
        version=live.version,
        screen=format_sse_event(data_str=screen_html, id=event_id),
        phone=format_sse_event(data_str=phone_html, id=event_id),
    )


def _check_screen(
    request: Request, factory: Callable[[], Session], org: str, live_id: int, key: str
) -> int:
    with _reader(factory) as session:
        person = optional_person(request, session, factory)
        live = session.get(LiveSession, live_id)
        if live is None:
            raise NotFound()
        _allowed(live, org, key, person)
        assert live.id is not None
        return live.id


def _stream(
    request: Request, factory: Callable[[], Session], live_id: int, *, phone: bool
) -> Response:
    url = get_settings().database_url
    return EventSourceResponse(
        HUB.listen(
            live_id,
            lambda i: render_frame(factory, i),
            last_event_id=request.headers.get("last-event-id"),
            phone=phone,
            database_url=url if url.startswith("postgresql") else None,
        ),
        headers=STREAM_HEADERS,
    )


@router.get("/{org}/live/{live_id}/screen/stream")
async def screen_stream(
    request: Request, factory: SessionFactoryDep, org: str, live_id: PathId, key: KeyParam = ""
) -> Response:
    checked = await asyncio.to_thread(_check_screen, request, factory, org, live_id, key)
    return _stream(request, factory, checked, phone=False)


def _check_code(factory: Callable[[], Session], code: str) -> int:
    with _reader(factory) as session:
        live = service.session_by_code(session, code)
        assert live.id is not None
        return live.id


@router.get("/live/{code}/stream")
async def phone_stream(request: Request, factory: SessionFactoryDep, code: str) -> Response:
    """What the phones show once the curator shares a closed session's results."""
    live_id = await asyncio.to_thread(_check_code, factory, code[:40])
    return _stream(request, factory, live_id, phone=True)


@api_router.get(
    "/orgs/{org}/live/{live_id}/stream",
    summary="The big screen's event stream",
    responses={
        200: {
            "description": (
                "Server-sent events. Each event is the screen's results as an HTML fragment; "
                "its id is the session's version. Reconnect with `Last-Event-ID` to get the "
                "current state only if it changed. A `: ping` comment every 15 s."
            ),
            # One server-sent event: its `data` the HTML fragment, its `id` the version.
            "content": {
                "text/event-stream": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "data": {"type": "string"},
                            "id": {"type": "string"},
                            "event": {"type": "string"},
                            "retry": {"type": "integer"},
                        },
                    }
                }
            },
        }
    },
)
async def api_stream(
    request: Request, factory: SessionFactoryDep, org: str, live_id: PathId
) -> Response:
    """Curators (a token or the session cookie) follow a session as the screen does."""
    checked = await asyncio.to_thread(_check_screen, request, factory, org, live_id, "")
    return _stream(request, factory, checked, phone=False)
