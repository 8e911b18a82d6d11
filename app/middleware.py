"""ASGI middleware: request ids, one log line per request, security headers, CSRF cookie."""

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import i18n
from app.config import get_settings
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
            org = state.get("org")
            log.info(
                json.dumps(
                    {
                        "request_id": request_id,
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                        "org": getattr(org, "slug", None),
                    }
                )
            )


def _cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed cookie header must not break the request
        return {}
    return {k: v.value for k, v in jar.items()}
