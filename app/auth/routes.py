"""Login by magic link, the dev-only demo login, logout."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import Response
from sqlmodel import col, select

from app import i18n, mail
from app.access import SESSION_COOKIE, OptionalPerson
from app.auth import service
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


def _login_page(
    request: Request,
    session: SessionDep,
    *,
    email: str = "",
    error: str | None = None,
    next_url: str = "",
    status_code: int = 200,
) -> Response:
    settings = get_settings()
    return render(
        request,
        "auth/login.html",
        {
            "email": email,
            "error": error,
            "next": next_url if is_safe_next(next_url) else "",
            "demo": _demo_people(session) if settings.dev else None,
            "featured_roles": [Role.employee, Role.leader, Role.curator, Role.admin],
        },
        status_code=status_code,
    )


@router.get("/login")
def login_form(
    request: Request, session: SessionDep, person: OptionalPerson, next: str = ""
) -> Response:
    return _login_page(request, session, next_url=next)


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
    if raw := request.cookies.get(SESSION_COOKIE):
        service.end_session(session, raw)
        session.commit()
    _ = i18n.gettext_for(request)
    response = redirect(request, "/login", message=_("You are logged out."))
    response.delete_cookie(SESSION_COOKIE, path="/")
    # A phone may be shared: nothing cached while signed in stays for the next person.
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response
