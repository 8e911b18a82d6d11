"""create_app(): routers, middleware, error pages, lifespan."""

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from app import i18n, resend, scheduler
from app.auth.oidc_admin_routes import router as oidc_admin_router
from app.auth.oidc_routes import router as oidc_router
from app.auth.routes import router as auth_router
from app.config import get_settings
from app.contests.api import router as contests_api_router
from app.contests.routes import router as contests_router
from app.db import RETRY_AFTER_SECONDS, unavailable
from app.embed.admin_routes import router as embed_admin_router
from app.embed.memo import WidgetFastPath
from app.embed.routes import router as embed_router
from app.errors import (
    N_,
    CsrfFailed,
    Invalid,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from app.home.routes import router as home_router
from app.insights.api import router as insights_api_router
from app.insights.routes import router as insights_router
from app.live import hub as live_hub
from app.live.api import router as live_api_router
from app.live.routes import router as live_router
from app.live.screen_routes import api_router as live_stream_api_router
from app.live.screen_routes import router as live_screen_router
from app.media.api import router as media_api_router
from app.media.limits import BodyLimitMiddleware
from app.media.routes import router as media_router
from app.media.storage import StorageFull
from app.middleware import Compress, RequestContextMiddleware, WriterGate
from app.orgs.admin_people_routes import router as admin_people_router
from app.orgs.admin_routes import router as admin_router
from app.orgs.api import router as api_router
from app.orgs.routes import router as org_router
from app.privacy.routes import api_router as privacy_api_router
from app.privacy.routes import router as privacy_router
from app.recognition.api import router as recognition_api_router
from app.recognition.routes import router as recognition_router
from app.scim.admin_routes import router as scim_admin_router
from app.scim.routes import router as scim_router
from app.security import same_origin
from app.site import router as site_router
from app.stories.routes import router as stories_router
from app.web import STATIC_DIR, StaticAssets, redirect, render
from app.weekly.curate_routes import router as curate_router
from app.weekly.routes import public_router as feature_public_router
from app.weekly.routes import router as feature_router
from app.weekly.webhook_routes import router as webhook_router

log = logging.getLogger("tod")

API_PREFIX = "/api/v1"
MALFORMED = N_(
    "The request body could not be read. Send JSON, or multipart form data for files, "
    "with the Content-Type that says which."
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()  # fail at start, not at the first request, on bad settings
    app.state.scheduler = None
    if settings.scheduler == "on":
        if settings.workers > 1:
            log.warning(
                "TOD_SCHEDULER=on with %d workers runs a scheduler in each; the jobs are safe "
                "but wasteful: set TOD_SCHEDULER=off and run `python -m app scheduler` once",
                settings.workers,
            )
        app.state.scheduler = scheduler.start_in_process()
    # Everything loaded so far (modules, templates, settings) lives as long as the process:
    # keep it out of the garbage collector's full passes, which otherwise walk it every time
    # (a full pass took ~70 ms during the weekly ranking; ~7 ms after this).
    gc.freeze()
    live_hub.HUB.open()
    if settings.database_url.startswith("postgresql"):
        live_hub.HUB.start_listening(settings.database_url)
    try:
        yield
    finally:
        live_hub.HUB.close()  # open screens' streams end, so the server stops promptly
        if app.state.scheduler is not None:
            # Waits for a running job; off the event loop so other shutdown work goes on.
            await asyncio.to_thread(scheduler.shutdown, app.state.scheduler)


def create_app() -> FastAPI:
    settings = get_settings()
    if not logging.getLogger().handlers:
        # A worker process of `serve --workers N` starts afresh (spawn) without the CLI's
        # logging set-up: without this its request lines and errors would go nowhere.
        logging.basicConfig(level=settings.log_level, format="%(message)s")
    app = FastAPI(
        title="Tre om dagen",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    # Inside the request context, so that a 413 gets the security headers and a request id.
    # Innermost: compresses what the routes answer (pages, JSON, CSS and JS; never images or
    # event streams); the widget's memo hits are answered before it, uncompressed.
    app.add_middleware(Compress, minimum_size=1024, compresslevel=6)
    # SQLite: unsafe requests queue in arrival order once their body has arrived.
    app.add_middleware(WriterGate, enabled=settings.database_url.startswith("sqlite"))
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(WidgetFastPath)  # memo hits of the widget skip the routing
    app.add_middleware(RequestContextMiddleware, on_error=_server_error)
    app.mount("/static", StaticAssets(directory=STATIC_DIR), name="static")
    app.include_router(site_router)
    # The public widget early: its hot URLs match quickly, and "/embed/..." is never an org slug.
    app.include_router(embed_router)
    app.include_router(auth_router)
    app.include_router(oidc_router)
    app.include_router(feature_public_router)  # /consent/{token}: the e-mail's one-click page
    app.include_router(live_router)  # /live/{code} before "/{org}/...": "live" is reserved
    app.include_router(live_screen_router)
    app.include_router(api_router, prefix=API_PREFIX)
    app.include_router(recognition_api_router, prefix=API_PREFIX)
    app.include_router(media_api_router, prefix=API_PREFIX)
    app.include_router(contests_api_router, prefix=API_PREFIX)
    app.include_router(privacy_api_router, prefix=API_PREFIX)
    app.include_router(scim_router)  # /scim/v2/{org}/...: bearer token, SCIM errors
    app.include_router(insights_api_router, prefix=API_PREFIX)
    app.include_router(live_api_router, prefix=API_PREFIX)
    app.include_router(live_stream_api_router, prefix=API_PREFIX)
    # Org pages last: "/{org}/..." would otherwise shadow fixed paths.
    app.include_router(embed_admin_router)
    app.include_router(admin_router)
    app.include_router(privacy_router)  # /{org}/personvern, /{org}/admin/people/{id}/erase, ...
    app.include_router(oidc_admin_router)  # /{org}/admin/login...
    app.include_router(admin_people_router)  # /{org}/admin/people...: no path of admin_router
    app.include_router(scim_admin_router)  # /{org}/admin/scim...
    app.include_router(webhook_router)
    app.include_router(curate_router)
    app.include_router(feature_router)
    app.include_router(contests_router)
    app.include_router(stories_router)
    app.include_router(insights_router)
    app.include_router(org_router)
    app.include_router(home_router)
    app.include_router(recognition_router)
    app.include_router(media_router)
    _install_error_handlers(app)
    if settings.dev:
        log.warning("running in dev mode: demo login is on")
    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _error(request: Request, status: int, code: str, message: str, **extra: Any) -> Response:
    _ = i18n.gettext_for(request)
    if _wants_json(request):
        body: dict[str, Any] = {"error": {"code": code, "message": _(message), **extra}}
        return JSONResponse(body, status_code=status)
    return render(
        request,
        "errors/error.html",
        {"status": status, "message": _(message), "request_id": request.state.request_id},
        status_code=status,
    )


async def _keep_refused_form(request: Request) -> Response | None:
    """A refused page form (expired token or session): keep what was typed, then resend it.

    The person goes to the page that sends it again, through the login first when signed out.
    None when there is nothing to keep.
    """
    if _wants_json(request) or request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    if not same_origin(request):
        return None  # a form from another site is refused, never staged to be sent
    route = request.scope.get("route")
    if not getattr(route, "path", "").startswith("/{org}/"):
        return None  # only an organisation's pages: a login or language form is not kept
    kept = await resend.refused_form(request)
    if kept is None or not kept.fields:
        return None
    # Signed out, the page sends the person through the login and back (it needs a member).
    response = redirect(request, f"/{request.path_params['org']}/resend")
    return response if resend.keep(response, kept) else None


async def _server_error(scope: Scope) -> Response:
    request = Request(scope)
    return _error(
        request, 500, "server_error", N_("Something went wrong on our side. We have logged it.")
    )


METHODS = ("DELETE", "GET", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    """The methods some route answers at this path, asked of the routes themselves."""
    allowed = []
    for method in METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.routes):
            allowed.append(method)
    return allowed


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return _error(request, 404, "not_found", N_("We could not find that page."))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _error(request, 404, "not_found", N_("We could not find that page."))
        if exc.status_code == 405:
            response = _error(
                request, 405, "method_not_allowed", N_("That action is not possible here.")
            )
            # RFC 9110: a 405 lists what the path allows, from every route of that path
            # (Starlette names only the first route's methods).
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
            return response
        if exc.status_code == 413:
            return _error(request, 413, "too_large", N_("The file is too large."))
        if exc.status_code == 400:
            # A body FastAPI could not parse (broken multipart, undecodable bytes): the same
            # documented 422 as any other input that is not valid, saying what to send.
            fields = {
                "request": {
                    "code": "malformed",
                    "message": i18n.gettext_for(request)(MALFORMED),
                }
            }
            return _error(
                request, 422, "invalid", N_("Some of the input was not valid."), fields=fields
            )
        return _error(request, exc.status_code, "error", N_("Something went wrong."))

    @app.exception_handler(PermissionDenied)
    async def forbidden(request: Request, exc: PermissionDenied) -> Response:
        return _error(request, 403, "forbidden", N_("You do not have access to this page."))

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        if (kept := await _keep_refused_form(request)) is not None:
            return kept
        return _error(
            request,
            403,
            "csrf",
            N_("The page had expired, so nothing was sent. Reload it and try again."),
        )

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        if _wants_json(request):
            response = _error(
                request, 401, "not_authenticated", N_("Log in or send a valid API token.")
            )
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        if (kept := await _keep_refused_form(request)) is not None:
            return kept
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(RateLimited)
    async def rate_limited(request: Request, exc: RateLimited) -> Response:
        response = _error(
            request, 429, "rate_limited", N_("Too many attempts. Wait a little and try again.")
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> Response:
        """The database cannot serve us for now: 503 and when to try again; else a 500."""
        if not unavailable(exc):
            raise exc
        log.warning(
            "database unavailable (%s: %s), answered 503 to %s %s",
            type(exc.orig).__name__,
            str(exc.orig).splitlines()[0] if str(exc.orig) else "",
            request.method,
            request.url.path,
        )
        response = _error(
            request,
            503,
            "unavailable",
            N_("The service is unavailable for a moment. Try again in a few seconds."),
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.exception_handler(StorageFull)
    async def storage_full(request: Request, exc: StorageFull) -> Response:
        """No room for a photo: the request was rolled back and its files deleted."""
        log.error("media storage full: could not write %s", exc)
        response = _error(
            request,
            503,
            "storage_full",
            N_(
                "There is no room to save photos right now, so nothing was saved. Try again "
                "later, or without a photo."
            ),
        )
        response.headers["Retry-After"] = "60"
        return response

    @app.exception_handler(Invalid)
    async def invalid(request: Request, exc: Invalid) -> Response:
        _ = i18n.gettext_for(request)
        fields = {f: {"code": p.code, "message": _(p.message)} for f, p in exc.errors.items()}
        return _error(
            request, 422, "invalid", N_("Some of the input was not valid."), fields=fields
        )

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> Response:
        fields: dict[str, dict[str, str]] = {}
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form")]
            code = str(err.get("type", "invalid"))
            message = str(err.get("msg", ""))
            if code == "json_invalid":
                code, message = "malformed", i18n.gettext_for(request)(MALFORMED)
                loc = []
            fields[".".join(loc) or "request"] = {"code": code, "message": message}
        return _error(
            request, 422, "invalid", N_("Some of the input was not valid."), fields=fields
        )


app = create_app()
