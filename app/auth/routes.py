"""The login page (the organisation's provider first, then the magic link), magic links, the
dev-only demo login, logout."""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import Response
from sqlmodel import col, select

from app import i18n, mail
from app.access import SESSION_COOKIE, OptionalPerson
from app.auth import oidc, service
from app.auth.oidc_config import provider_for
from app.config import get_settings
from app.db import SessionDep
from app.errors import Invalid, NotFound
from app.orgs.models import Organisation, Person, Role
from app.security import PROTECT, client_ip, hit
from app.web import is_safe_next, redirect, render

router = APIRouter(include_in_schema=False)


def _set_session_cookie(response: Response, raw: str) -> None:
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


def _demo_people(session: SessionDep) -> list[tuple[Organisation, list[Person]]]:
    orgs = session.exec(select(Organisation).order_by(col(Organisation.id))).all()
    result = []
    for org in orgs:
        people = session.exec(
            select(Person)
            .where(Person.org_id == org.id, col(Person.active).is_(True))
            .order_by(Person.name)
        ).all()
        result.append((org, list(people)))
    return result


def _login_org(session: SessionDep, slug: str, next_url: str) -> Organisation | None:
    """The organisation a login page is for: `?org=`, or the first part of `next`."""
    if not slug and is_safe_next(next_url):
        slug = next_url.strip("/").split("/", 1)[0]
    if not slug or len(slug) > 40:
        return None
    return session.exec(select(Organisation).where(Organisation.slug == slug)).first()


def _login_page(
    request: Request,
    session: SessionDep,
    *,
    email: str = "",
    error: str | None = None,
    next_url: str = "",
    org_slug: str = "",
    signed_out: bool = False,
    status_code: int = 200,
) -> Response:
    settings = get_settings()
    next_url = next_url if is_safe_next(next_url) else ""
    org = _login_org(session, org_slug, next_url)
    provider = provider_for(session, org) if org is not None else None
    provider_logout = None
    if org is not None and provider is not None and signed_out:
        after = f"{settings.base_url}/login?{urlencode({'org': org.slug})}"
        provider_logout = oidc.end_session_url(provider, after)
    return render(
        request,
        "auth/login.html",
        {
            "email": email,
            "error": error,
            "next": next_url,
            "login_org": org,
            "oidc_start": (
                f"/auth/oidc/start?{urlencode({'org': org.slug, 'next': next_url})}"
                if provider is not None and org is not None
                else None
            ),
            "magic_link": org is None or org.magic_link_login or provider is None,
            "provider_logout": provider_logout,
            "demo": _demo_people(session) if settings.dev else None,
            "featured_roles": [Role.employee, Role.leader, Role.curator, Role.admin],
        },
        status_code=status_code,
    )


@router.get("/login")
def login_form(
    request: Request,
    session: SessionDep,
    person: OptionalPerson,
    next: Annotated[str, Query(max_length=500)] = "",
    org: Annotated[str, Query(max_length=40)] = "",
    out: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    return _login_page(request, session, next_url=next, org_slug=org, signed_out=out == "1")


@router.post("/login", dependencies=PROTECT)
def login_send(
    request: Request,
    session: SessionDep,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=254)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Send a login link to every active person with this address; reveal nothing about it."""
    _ = i18n.gettext_for(request)
    email = email.strip().lower()
    if "@" not in email or len(email) < 3:
        return _login_page(
            request,
            session,
            email=email,
            next_url=next,
            status_code=422,
            error=_("Write the e-mail address you use at work, like kari.nordmann@kommune.no."),
        )
    settings = get_settings()
    hit(
        session,
        f"login:ip:{client_ip(request)}",
        limit=settings.login_rate_per_hour * 3,
        per_seconds=3600,
    )
    hit(session, f"login:email:{email}", limit=settings.login_rate_per_hour, per_seconds=3600)
    for person in service.people_for_email(session, email):
        raw = service.create_magic_link(session, person)
        link = f"{settings.base_url}/auth/magic/{raw}"
        if is_safe_next(next):
            link += f"?next={next}"
        background.add_task(mail.send, _login_mail(person, link))
    session.commit()
    return render(request, "auth/check_email.html", {"email": email})


def _login_mail(person: Person, link: str):
    cat = i18n.catalog(person.locale or person.org.locale)
    _ = cat.gettext
    minutes = get_settings().magic_link_minutes
    subject = _("Your login link for Tre om dagen")
    text = "\n\n".join(
        [
            _("Hi %(name)s,") % {"name": person.name},
            _("Open this link to log in to %(org)s. It works once, within %(minutes)d minutes:")
            % {"org": person.org.name, "minutes": minutes},
            link,
            _("If you did not ask for it, you can ignore this e-mail."),
        ]
    )
    return mail.build(person.email, subject, text)


@router.get("/auth/magic/{token}")
def magic_confirm(request: Request, session: SessionDep, token: str, next: str = "") -> Response:
    """Show a button instead of logging in on GET: mail scanners open links too."""
    _ = i18n.gettext_for(request)
    try:
        link = service.find_magic_link(session, token[:100])
    except Invalid as exc:
        return render(request, "auth/magic.html", {"error": _(exc.first.message)}, status_code=400)
    return render(request, "auth/magic.html", {"target": link.person, "token": token, "next": next})


@router.post("/auth/magic/{token}", dependencies=PROTECT)
def magic_login(
    request: Request,
    session: SessionDep,
    token: str,
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    _ = i18n.gettext_for(request)
    try:
        person = service.consume_magic_link(session, token[:100])
    except Invalid as exc:
        session.rollback()
        return render(request, "auth/magic.html", {"error": _(exc.first.message)}, status_code=400)
    return _log_in(request, session, person, next)


def _log_in(request: Request, session: SessionDep, person: Person, next_url: str) -> Response:
    if old := request.cookies.get(SESSION_COOKIE):
        service.end_session(session, old)
    raw = service.start_session(session, person, user_agent=request.headers.get("user-agent", ""))
    session.commit()
    home = f"/{person.org.slug}/"
    target = next_url if is_safe_next(next_url) and next_url.startswith(home) else home
    request.state.locale = person.locale or request.state.locale
    response = redirect(request, target)
    _set_session_cookie(response, raw)
    return response


@router.post("/auth/demo", dependencies=PROTECT)
def demo_login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=254)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Dev mode only: log in as any demo person without e-mail (and back where they were)."""
    if not get_settings().dev:
        raise NotFound()
    people = service.people_for_email(session, email)
    if not people:
        _ = i18n.gettext_for(request)
        return _login_page(
            request,
            session,
            email=email,
            status_code=422,
            error=_("No active person has that e-mail address."),
        )
    return _log_in(request, session, people[0], next)


@router.post("/auth/logout", dependencies=PROTECT)
def logout(request: Request, session: SessionDep) -> Response:
    """End the app's session; the login page then offers the provider's logout too."""
    target = "/login"
    if raw := request.cookies.get(SESSION_COOKIE):
        person = service.person_for_session(session, raw)
        if person is not None:
            target = f"/login?{urlencode({'org': person.org.slug, 'out': '1'})}"
        service.end_session(session, raw)
        session.commit()
    _ = i18n.gettext_for(request)
    response = redirect(request, target, message=_("You are logged out."))
    response.delete_cookie(SESSION_COOKIE, path="/")
    # A phone may be shared: nothing cached while signed in stays for the next person.
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response
