"""A member's own settings and the organisation's theme (the pages are app.home)."""

import hashlib
import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from app import i18n
from app.access import MemberDep
from app.db import SessionDep
from app.errors import NotFound
from app.orgs.models import EmailFrequency
from app.orgs.presentation import ICON_SIZES, app_icon, theme_css, web_manifest
from app.orgs.scope import org_by_slug
from app.security import PROTECT
from app.web import redirect

router = APIRouter(prefix="/{org}", include_in_schema=False)

FEATURE_CHOICES = ("ask", "always", "never")


@router.post("/me/notifications", dependencies=PROTECT)
def me_notifications(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    email_frequency: Annotated[str, Form(max_length=10)] = "",
    feature_choice: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """E-mail frequency and the standing choice about being featured: ask, always or never."""
    _ = i18n.gettext_for(request)
    try:
        frequency = EmailFrequency(email_frequency)
    except ValueError:
        return redirect(request, f"/{m.org.slug}/me")
    if feature_choice not in FEATURE_CHOICES:
        return redirect(request, f"/{m.org.slug}/me")
    m.person.email_frequency = frequency
    # One choice sets both flags, so "always" and "never" can never both be on.
    m.person.feature_always_agree = feature_choice == "always"
    m.person.feature_opt_out = feature_choice == "never"
    session.add(m.person)
    session.commit()
    return redirect(request, f"/{m.org.slug}/me", message=_("Your settings are saved."))


@router.post("/me/language", dependencies=PROTECT)
def me_language(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    lang: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """An empty choice means: follow the browser, then the organisation."""
    m.person.locale = i18n.normalise(lang)
    session.add(m.person)
    session.commit()
    request.state.locale = m.person.locale or request.state.browser_locale or m.org.locale
    _ = i18n.gettext_for(request)
    return redirect(request, f"/{m.org.slug}/me", message=_("Your language is saved."))


@router.get("/theme.css")
def theme(request: Request, session: SessionDep, org: str) -> Response:
    """The organisation's colours as CSS variables (CSP allows no inline styles)."""
    body = theme_css(session, org_by_slug(session, org))
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:16] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/css", headers=headers)


@router.get("/manifest.webmanifest")
def manifest(session: SessionDep, org: str) -> Response:
    """The installable app of the organisation: its name, colours and icons (public, like
    its theme: a browser fetches the manifest without cookies)."""
    body = json.dumps(web_manifest(org_by_slug(session, org)), ensure_ascii=False)
    return Response(
        body,
        media_type="application/manifest+json",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get("/icon-{size}.png")
def icon(session: SessionDep, org: str, size: int) -> Response:
    if size not in ICON_SIZES:
        raise NotFound()
    png = app_icon(org_by_slug(session, org), size)
    return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=3600"})
