"""ASGI middleware: request ids, one log line per request, security headers, CSRF cookie."""

import asyncio
import json
import logging
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import NoInspectionAvailable
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import i18n
from app.config import get_settings
from app.db import SAFE_METHODS
from app.web import CSRF_COOKIE

log = logging.getLogger("tod.request")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors 'none'"
)
LANG_COOKIE = "tod_lang"
# Every answer that says nothing about caching is kept by no cache: signed-in pages, API answers,
# redirects and error pages hold someone's data (a shared municipal PC, a proxy). Answers that
# may be kept say so themselves: static files, the public widget, photos, the theme.
NO_STORE = "private, no-store"
CACHEABLE_PREFIXES = ("/static/",)


class RequestContextMiddleware:
    """Everything every response needs, done once, without buffering bodies."""

    def __init__(self, app: ASGIApp, on_error: Callable[[Scope], Awaitable[Response]]) -> None:
        self.app = app
        self.on_error = on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = get_settings()
        started = time.perf_counter()
        request_id = secrets.token_hex(8)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        cookies = _cookies(headers.get("cookie", ""))
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        chosen = i18n.normalise(cookies.get(LANG_COOKIE))
        state["browser_locale"] = chosen or i18n.from_accept_language(
            headers.get("accept-language")
        )
        state["locale"] = state["browser_locale"] or i18n.DEFAULT_LOCALE
        # The CSRF cookie is made only when a page asks for a form token (app.web.csrf_token):
        # JSON, photos, static files and the public widget (framed by other sites, kept by
        # shared caches) never set a cookie.
        state["csrf_cookie"] = cookies.get(CSRF_COOKIE)
        status = 500
        started_response = False
        path: str = scope.get("path", "")

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                h = MutableHeaders(scope=message)
                h["X-Request-ID"] = request_id
                h.setdefault("Content-Security-Policy", CSP)
                h.setdefault("X-Content-Type-Options", "nosniff")
                h.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
                h.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
                if not path.startswith(CACHEABLE_PREFIXES):
                    h.setdefault("Cache-Control", NO_STORE)
                if "frame-ancestors 'none'" in h.get("Content-Security-Policy", ""):
                    h.setdefault("X-Frame-Options", "DENY")
                if settings.https:
                    h.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
                new_csrf = state.get("csrf_cookie_new")
                if new_csrf:
                    secure = "; Secure" if settings.https else ""
                    h.append(
                        "Set-Cookie",
                        f"{CSRF_COOKIE}={new_csrf}; Path=/; HttpOnly; SameSite=Lax{secure}",
                    )
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception("unhandled error in request %s", request_id)
            if started_response:
                raise
            response = await self.on_error(scope)
            await response(scope, receive, send_wrapper)
        finally:
            if state.get("memo_hit") and status < 400:
                MEMO_HITS.count(status)
            else:
                org = state.get("org")
                log.info(
                    json.dumps(
                        {
                            "request_id": request_id,
                            "method": scope.get("method"),
                            "path": scope.get("path"),
                            "status": status,
                            "ms": round((time.perf_counter() - started) * 1000, 1),
                            "org": _loaded_slug(org),
                        }
                    )
                )


def _loaded_slug(org: object) -> str | None:
    """The organisation's slug as the request last had it, without a query: the request's
    session is closed by now, and a rolled-back one left its objects expired."""
    if org is None:
        return None
    try:
        return sa_inspect(org).dict.get("slug")
    except NoInspectionAvailable:
        return getattr(org, "slug", None)


def _cookies(header: str) -> dict[str, str]:
    # Starlette's parser (what `Request.cookies` uses): lenient with a malformed header, and
    # many times faster than http.cookies.SimpleCookie, which every request paid for.
    return cookie_parser(header) if header else {}


class HitLog:
    """The widget's memo hits (the intranet's every page view) in one log line per second
    at most, with their count by status, instead of a line each: the line cost about as much
    as the answer."""

    def __init__(self, every_seconds: float = 1.0) -> None:
        self.every = every_seconds
        self.counts: dict[int, int] = {}
        self.since = time.monotonic()

    def count(self, status: int) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1
        now = time.monotonic()
        if now - self.since >= self.every:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self.counts and log.isEnabledFor(logging.INFO):
            log.info(
                json.dumps(
                    {
                        "widget_memo_hits": {str(k): v for k, v in sorted(self.counts.items())},
                        "seconds": round(now - self.since, 1),
                    }
                )
            )
        self.counts, self.since = {}, now


MEMO_HITS = HitLog()


class Compress(GZipMiddleware):
    """gzip for clients that accept it (Starlette's middleware: skips images, event streams
    and small bodies), except the public widget: shared caches and intranet pages keep its
    one representation and ETag."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/embed/"):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class WriterGate:
    """On SQLite, unsafe requests run one at a time in this process, in arrival order.

    SQLite has one write lock. Twenty writers that each `BEGIN IMMEDIATE` and wait in its busy
    handler (sleeps of up to 100 ms, whoever retries at the right moment wins) made a p99 of
    seconds and, past the busy timeout, "database is locked". Here they queue on an
    `asyncio.Lock` instead (FIFO, on the event loop: never a worker thread blocked on it), so
    the database sees one writer at a time and the lock is free the moment it is released.

    The request body is read completely before the request queues (spooled to a temporary
    file past 1 MB), so a phone uploading a photo slowly never holds up the others; a body
    over the limit is refused by `BodyLimitMiddleware` as before. Reads never queue here.
    PostgreSQL (row locks) passes straight through.
    """

    SPOOL = 1024 * 1024
    CHUNK = 64 * 1024

    def __init__(self, app: ASGIApp, enabled: bool) -> None:
        self.app = app
        self.enabled = enabled
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _gate(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:  # a test client's new loop
            self._lock, self._loop = asyncio.Lock(), loop
        return self._lock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.enabled or scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        with tempfile.SpooledTemporaryFile(max_size=self.SPOOL) as body:
            failure: HTTPException | None = None
            try:
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return  # the client went away before it finished sending: nobody to answer
                    body.write(message.get("body", b""))
                    if not message.get("more_body", False):
                        break
            except HTTPException as exc:  # 413 from BodyLimitMiddleware: the app answers it
                failure = exc
            size = body.tell()
            body.seek(0)
            done = False

            async def replay() -> Message:
                nonlocal done
                if failure is not None:
                    raise failure
                if done:
                    return await receive()  # after the body: wait for the client to go away
                chunk = body.read(self.CHUNK)
                done = body.tell() >= size
                return {"type": "http.request", "body": chunk, "more_body": not done}

            async with self._gate():
                await self.app(scope, replay, send)
