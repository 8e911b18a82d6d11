"""An organisation's own pages for its members: home, me, theme."""

import hashlib
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import select

from app import i18n
from app.access import MemberDep
from app.db import SessionDep
from app.orgs.models import EmailFrequency, Value
from app.orgs.scope import org_by_slug
from app.orgs.service import text_on
from app.recognition.service import FeedKind, feed
from app.security import PROTECT
from app.web import redirect, render
from app.weekly.routes import pending_consents

router = APIRouter(prefix="/{org}", include_in_schema=False)

FEATURE_CHOICES = ("ask", "always", "never")


@router.get("/me")
def me(request: Request, session: SessionDep, m: MemberDep) -> Response:
    return render(
        request,
        "orgs/me.html",
        {
            "received": feed(session, m.person, kind=FeedKind.to_me, limit=3),
            "given": feed(session, m.person, kind=FeedKind.from_me, limit=3),
            "frequencies": list(EmailFrequency),
            "pending_consents": pending_consents(session, m.person),
        },
    )


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
    o = org_by_slug(session, org)
    values = session.exec(select(Value).where(Value.org_id == o.id)).all()
    lines = [
        ":root {",
        f"  --primary: {o.theme_primary};",
        f"  --on-primary: {text_on(o.theme_primary)};",
        f"  --accent: {o.theme_accent};",
        f"  --on-accent: {text_on(o.theme_accent)};",
        "}",
    ]
    for v in values:
        lines.append(f".value-{v.id} {{ --value: {v.colour}; --on-value: {text_on(v.colour)}; }}")
    body = "\n".join(lines) + "\n"
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:16] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/css", headers=headers)
