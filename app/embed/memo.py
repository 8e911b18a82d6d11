"""The widget's answers kept for a few seconds, and the fast path that serves them.

Every widget answer is the same for every caller (no login, no cookie), so it is rendered once
into a `Rendered` (body, headers, ETag) and remembered by URL for MEMO_SECONDS; the ASGI
`WidgetFastPath` answers the two hottest URLs from it before FastAPI routes the request.
"""

import hashlib
import re
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlmodel import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from app import i18n
from app.config import get_settings
from app.db import get_session_factory, new_session

T = TypeVar("T")

PAGE_CACHE = "public, max-age=60, stale-while-revalidate=300"
MISSING_CACHE = "public, max-age=60"
MEMO_SECONDS = 5.0


def not_found() -> Response:
    # Plain and briefly cacheable: a mistyped slug on a busy intranet costs one request a minute.
    return Response(
        "Not found\n",
        status_code=404,
        media_type="text/plain",
        headers={"Cache-Control": MISSING_CACHE},
    )


def etag_for(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    # Weak comparison, as RFC 9110 asks for If-None-Match: W/"x" matches "x".
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return etag in tags


@dataclass(frozen=True)
class Rendered:
    """One widget answer, ready to send to anyone who asks for the same URL."""

    body: bytes
    media_type: str
    headers: dict[str, str] = field(default_factory=dict)  # depend on the organisation only
    cors_origins: tuple[str, ...] = ()
    etag: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "etag", etag_for(self.body))


class Memo:
    """The latest rendering of each widget URL for a few seconds, in production only.

    Every intranet page view asks for the widget; browsers may keep an answer for a minute
    (Cache-Control) anyway, so keeping it here for MEMO_SECONDS more changes nothing a reader
    can see, and turns a burst of views into one database read per process. Nothing in it is
    shared or needs invalidating: each process forgets on its own. Dev mode (the tests) always
    renders afresh. Only the event loop's thread touches it.
    """

    def __init__(self, seconds: float, size: int = 1000) -> None:
        self.seconds = seconds
        self.size = size
        self.clock: Callable[[], float] = time.monotonic
        self._items: dict[Hashable, tuple[float, Rendered | None]] = {}

    async def get(
        self, request: Request, key: Hashable, make: Callable[[Session], Rendered | None]
    ) -> Rendered | None:
        """The remembered answer, or `make(session)` run in a worker thread and remembered."""
        use = not get_settings().dev
        hit = self._items.get(key) if use else None
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        value = await run_in_threadpool(with_read_session, request, make)
        if use:
            if len(self._items) >= self.size:
                self._items.clear()  # a burst of unknown slugs must not grow it without bound
            self._items[key] = (self.clock() + self.seconds, value)
        return value

    def peek(self, key: Hashable) -> tuple[bool, Rendered | None]:
        """(True, answer) while a remembered answer is fresh (None: a remembered 404)."""
        hit = None if get_settings().dev else self._items.get(key)
        if hit is None or hit[0] <= self.clock():
            return False, None
        return True, hit[1]

    def clear(self) -> None:
        self._items.clear()


def with_read_session(request: Request, make: Callable[[Session], T]) -> T:
    """Run `make` with a read-only session, opened only now (a memo hit needs none).

    The routes are async so that a memo hit never waits for a worker thread or a database
    connection, which a session dependency would cost on every request. Tests and the browser
    tests point get_session_factory at their own databases: honour that override.
    """
    override = request.app.dependency_overrides.get(get_session_factory)
    session = override()() if override is not None else new_session(readonly=True)
    try:
        return make(session)
    finally:
        session.close()


MEMO = Memo(MEMO_SECONDS)
# The two URLs every intranet page view asks for, and their memo keys' first part.
HOT_PATH = re.compile(r"^/embed/([a-z0-9-]{1,40})/(feature|feature\.json)$")


class WidgetFastPath:
    """Answer memo hits of the widget page and its JSON before FastAPI routes the request.

    Routing through FastAPI (dozens of routes, dependency solving) cost about three times
    what the answer itself costs; a hit needs none of it. Everything else, and every miss,
    goes on to the app, whose route renders and remembers the answer. Mounted inside the
    request-context middleware, so the security headers, request id and log line are the same.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            match = HOT_PATH.match(scope["path"])
            if match is not None:
                request = Request(scope)
                slug, name = match.groups()
                fresh, rendered = MEMO.peek((name, slug, lang_param(request)))
                if fresh:
                    scope.setdefault("state", {})["memo_hit"] = (
                        True  # logged in batches (middleware)
                    )
                    response = answer(request, rendered, cors=name == "feature.json")
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def answer(
    request: Request,
    rendered: Rendered | None,
    *,
    cache_control: str = PAGE_CACHE,
    cors: bool = False,
) -> Response:
    """200 with an ETag, 304 when the caller has these bytes already, or the plain 404."""
    if rendered is None:
        return not_found()
    # A 304 repeats the headers a cache must update (CSP and CORS included: browsers merge
    # them into the stored response, and the middleware's defaults would otherwise land there).
    headers = {"ETag": rendered.etag, "Cache-Control": cache_control, **rendered.headers}
    if cors:
        headers["Vary"] = "Origin"
        origin = request.headers.get("origin", "")
        if origin and origin in rendered.cors_origins:
            headers["Access-Control-Allow-Origin"] = origin
    if etag_matches(request.headers.get("if-none-match"), rendered.etag):
        return Response(status_code=304, headers=headers)
    return Response(rendered.body, media_type=rendered.media_type, headers=headers)


def lang_param(request: Request) -> str | None:
    return i18n.normalise(request.query_params.get("lang"))
