"""Who is calling: the FastAPI dependencies of pages and the JSON API (caller, member, role).

What a caller may read is decided below the web layer, in `app.kernel.scope.in_org` and each
feature's `scope.py`; nothing here loads a protected row.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request

from app import i18n
from app.auth import service as auth
from app.db import SAFE_METHODS, SessionDep, SessionFactoryDep
from app.errors import NotAuthenticated, NotFound, PermissionDenied
from app.kernel.clock import utcnow
from app.orgs.models import Organisation, Person
from app.web import SESSION_COOKIE as SESSION_COOKIE  # re-exported: where routes look for it


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def optional_person(
    request: Request, session: SessionDep, factory: SessionFactoryDep
) -> Person | None:
    """The caller from `Authorization: Bearer` or the session cookie; sets the locale."""
    if hasattr(request.state, "person"):
        return request.state.person
    person: Person | None = None
    if (raw := bearer_token(request)) is not None:
        token = auth.api_token_for(session, raw)
        if token is None:
            raise NotAuthenticated()
        person = token.person
        request.state.via_token = True
        stale = (
            token.last_used_at is None or token.last_used_at < utcnow() - auth.TOKEN_USE_RESOLUTION
        )
        if stale and token.id is not None:
            if request.method in SAFE_METHODS:
                # Its own short write transaction: GET requests read without the write lock.
                with factory() as writer:
                    auth.record_token_use(writer, token.id)
                    writer.commit()
            else:
                # The request already holds the write lock (SQLite begins IMMEDIATE): a second
                # writing session would wait for it until the busy timeout. Record the use in
                # the request's own transaction, committed with its work.
                auth.record_token_use(session, token.id)
    elif raw_cookie := request.cookies.get(SESSION_COOKIE):
        person = auth.person_for_session(session, raw_cookie)
    request.state.person = person
    if person is not None:
        request.state.org = person.org
        request.state.locale = (
            person.locale or getattr(request.state, "browser_locale", None) or person.org.locale
        )
    return person


def current_person(person: Annotated[Person | None, Depends(optional_person)]) -> Person:
    if person is None:
        raise NotAuthenticated()
    return person


@dataclass(frozen=True)
class Member:
    """A signed-in person acting inside their own organisation."""

    org: Organisation
    person: Person


def member(
    request: Request,
    person: Annotated[Person, Depends(current_person)],
    org: Annotated[str, Path(max_length=40)],
) -> Member:
    # A slug of another organisation looks exactly like one that does not exist.
    if person.org.slug != org:
        raise NotFound()
    return Member(org=person.org, person=person)


def admin(m: Annotated[Member, Depends(member)]) -> Member:
    if not m.person.is_admin:
        raise PermissionDenied()
    return m


def curator(m: Annotated[Member, Depends(member)]) -> Member:
    if not m.person.is_curator:
        raise PermissionDenied()
    return m


OptionalPerson = Annotated[Person | None, Depends(optional_person)]
CurrentPerson = Annotated[Person, Depends(current_person)]
MemberDep = Annotated[Member, Depends(member)]
AdminDep = Annotated[Member, Depends(admin)]
CuratorDep = Annotated[Member, Depends(curator)]


def set_browser_locale(request: Request, chosen: str | None, accept: str | None) -> None:
    request.state.browser_locale = i18n.normalise(chosen) or i18n.from_accept_language(accept)
    request.state.locale = request.state.browser_locale or i18n.DEFAULT_LOCALE
