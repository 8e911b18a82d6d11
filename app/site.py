"""Pages outside any organisation: start, language, accessibility statement, health."""

from typing import Annotated

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy import text

from app import i18n, resend
from app.access import MemberDep, OptionalPerson
from app.db import SessionDep, get_engine
from app.middleware import LANG_COOKIE
from app.migrate import alembic_config
from app.security import csrf_protect
from app.web import STATIC_DIR, is_safe_next, redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/")
def start(person: OptionalPerson) -> Response:
    if person is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(f"/{person.org.slug}/", status_code=303)


@router.post("/lang", dependencies=[Depends(csrf_protect)])
def choose_language(
    request: Request,
    session: SessionDep,
    person: OptionalPerson,
    lang: Annotated[str, Form(max_length=5)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """Remember the chosen language: on the person when signed in, in a cookie otherwise."""
    chosen = i18n.normalise(lang)
    if chosen is None:
        return redirect(request, next if is_safe_next(next) else "/")
    if person is not None:
        person.locale = chosen
        session.add(person)
        session.commit()
    request.state.locale = chosen
    response = redirect(request, next if is_safe_next(next) else "/")
    response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


@router.get("/accessibility")
def accessibility(request: Request, person: OptionalPerson) -> Response:
    """The statement under the law of the reader's organisation (by language when signed out)."""
    if person is not None:
        country = person.org.country
    else:
        country = "SE" if request.state.locale == "sv" else "NO"
    return render(request, "pages/accessibility.html", {"country": country})


@router.get("/{org}/resend")
def resend_page(request: Request, m: MemberDep) -> Response:
    """A form that was refused (expired page or session), shown again to be sent by a click."""
    kept = resend.kept(request)
    if kept is None or not kept.action.startswith(f"/{m.org.slug}/"):
        return redirect(request, f"/{m.org.slug}/")
    # Free text the person wrote, shown so they can see what will be sent.
    written = [value for _name, value in kept.fields if len(value.split()) > 2]
    response = render(request, "errors/resend.html", {"kept": kept, "written": written})
    response.headers["Cache-Control"] = "private, no-store"
    return response


@router.get("/sw.js")
def service_worker() -> Response:
    """The service worker, from the site's root so that it may serve every page."""
    return Response(
        (STATIC_DIR / "js" / "sw.js").read_bytes(),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@router.get("/offline")
def offline(request: Request, person: OptionalPerson) -> Response:
    """What the service worker shows when a page cannot load: no personal data, so it may be
    cached on a phone that several people share; in the reader's language."""
    response = render(request, "pages/offline.html")
    response.headers["Cache-Control"] = "no-cache"
    return response


@router.get("/healthz")
def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")


@router.get("/readyz")
def readyz() -> JSONResponse:
    """Ready when the database answers and its schema is at the newest migration."""
    try:
        with get_engine().connect().execution_options(tod_readonly=True) as conn:
            conn.execute(text("SELECT 1"))
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception as exc:  # any database failure means not ready
        return JSONResponse({"ready": False, "reason": type(exc).__name__}, status_code=503)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if current != head:
        return JSONResponse(
            {"ready": False, "reason": "migrations pending", "current": current, "head": head},
            status_code=503,
        )
    return JSONResponse({"ready": True, "revision": current})


@router.get("/robots.txt")
def robots() -> PlainTextResponse:
    return PlainTextResponse("User-agent: *\nDisallow: /\n")
