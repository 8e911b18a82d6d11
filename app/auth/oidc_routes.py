"""Log in with the organisation's identity provider (Microsoft Entra ID): leave and come back.

Both steps are GET requests (the provider sends the browser back with a GET, and a form that
redirected to the provider would be stopped by the CSP's `form-action 'self'`). They read and
write through their own short sessions, never holding a database lock while the provider is
asked something.
"""

import hmac
import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, select

from app import i18n
from app.access import SESSION_COOKIE
from app.auth import oidc
from app.auth import service as auth
from app.auth.models import OidcProvider
from app.auth.oidc_config import provider_for
from app.config import get_settings
from app.db import SessionFactoryDep
from app.errors import NotFound
from app.orgs.models import Organisation
from app.security import client_ip, hit
from app.web import is_safe_next, render

router = APIRouter(include_in_schema=False)
log = logging.getLogger("tod.oidc")

STATE_COOKIE = "tod_oidc"
STATE_PATH = "/auth/oidc"


def _org_and_provider(session: Session, slug: str) -> tuple[Organisation, OidcProvider]:
    org = session.exec(select(Organisation).where(Organisation.slug == slug)).first()
    provider = provider_for(session, org) if org is not None else None
    if org is None or provider is None:
        raise NotFound()
    return org, provider


def _failed(request: Request, failure: oidc.LoginFailed, org: Organisation | None) -> Response:
    log.warning("oidc login failed: %r", str(failure))  # repr: the detail may quote the provider
    _ = i18n.gettext_for(request)
    status = 503 if failure.reason == oidc.UNAVAILABLE else 400
    if failure.reason in (oidc.UNKNOWN_PERSON, oidc.INACTIVE_PERSON):
        status = 403
    message = _(failure.reason) % {"org": org.name if org else ""}
    response = render(
        request,
        "auth/oidc_failed.html",
        {
            "message": message,
            "login_org": org,
            "retry": status == 503 or failure.reason == oidc.ATTEMPT_INVALID,
        },
        status_code=status,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/auth/oidc/start")
def oidc_start(
    request: Request,
    factory: SessionFactoryDep,
    org: Annotated[str, Query(max_length=40)] = "",
    next: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    """Leave for the provider with a new one-time state, nonce and PKCE challenge."""
    settings = get_settings()
    with factory() as session:
        # Generous: a whole town hall may log in from one address in the morning.
        hit(
            session,
            f"oidc:ip:{client_ip(request)}",
            limit=settings.login_rate_per_hour * 60,
            per_seconds=3600,
        )
        found, provider = _org_and_provider(session, org)
        session.commit()  # no lock held while the provider's metadata is fetched
        try:
            oidc.metadata(provider.issuer, oidc.Deadline())
            target = oidc.begin(session, found, provider, next if is_safe_next(next) else "")
        except oidc.LoginFailed as failure:
            session.rollback()
            return _failed(request, failure, found)
        session.commit()
    response = RedirectResponse(target.url, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        STATE_COOKIE,
        target.state,
        max_age=oidc.ATTEMPT_MINUTES * 60,
        path=STATE_PATH,
        httponly=True,
        samesite="lax",  # sent when the provider sends the browser back (a top-level GET)
        secure=settings.https,
    )
    return response


@router.get("/auth/oidc/callback")
def oidc_callback(
    request: Request,
    factory: SessionFactoryDep,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=4000)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Come back from the provider: check the state, swap the code, log the person in."""
    cookie = request.cookies.get(STATE_COOKIE, "")
    if not state or not cookie or not hmac.compare_digest(state.encode(), cookie.encode()):
        # Not the browser that started this login (or a replayed, forged answer).
        return _clear_state(_failed(request, oidc.LoginFailed(oidc.ATTEMPT_INVALID), None))
    with factory() as session:
        try:
            attempt = oidc.claim_attempt(session, state)
        except oidc.LoginFailed as failure:
            session.rollback()
            return _clear_state(_failed(request, failure, None))
        session.commit()
        org = session.get(Organisation, attempt.org_id)
        provider = provider_for(session, org) if org is not None else None
        session.commit()
        if org is None or provider is None:
            return _clear_state(_failed(request, oidc.LoginFailed(oidc.MISCONFIGURED), org))
        if error or not code:
            return _clear_state(_failed(request, oidc.LoginFailed(oidc.CANCELLED, error), org))
        try:
            who = oidc.exchange(provider, attempt, code)  # the network: no transaction open
            person = oidc.person_for_identity(session, org, provider, who)
        except oidc.LoginFailed as failure:
            session.rollback()
            return _clear_state(_failed(request, failure, org))
        if old := request.cookies.get(SESSION_COOKIE):
            auth.end_session(session, old)
        raw = auth.start_session(session, person, user_agent=request.headers.get("user-agent", ""))
        session.commit()
        home = f"/{org.slug}/"
        target = attempt.next_url if attempt.next_url.startswith(home) else home
    response = RedirectResponse(target, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.https,
        path="/",
    )
    return _clear_state(response)


def _clear_state(response: Response) -> Response:
    response.delete_cookie(STATE_COOKIE, path=STATE_PATH)
    return response
