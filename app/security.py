"""CSRF checks and rate limits, as dependencies every unsafe route carries."""

import time
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, delete

from app.access import bearer_token, optional_person
from app.auth.models import RateLimitHit
from app.config import get_settings
from app.db import SAFE_METHODS, SessionDep
from app.errors import CsrfFailed, RateLimited
from app.orgs.models import Person
from app.web import CSRF_FIELD, CSRF_HEADER, csrf_valid

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def csrf_protect(request: Request) -> AsyncIterator[None]:
    """Unsafe requests made with cookies must come from the app's own origin and carry the
    CSRF token (form field or header); bearer-token calls carry no ambient authority."""
    form = None
    if request.method not in SAFE_METHODS and bearer_token(request) is None:
        submitted = request.headers.get(CSRF_HEADER)
        if not submitted and request.headers.get("content-type", "").startswith(FORM_TYPES):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            submitted = value if isinstance(value, str) else None
        if not same_origin(request) or not csrf_valid(request, submitted):
            if form is not None:
                await form.close()
            raise CsrfFailed()
    try:
        yield
    finally:
        # Uploaded files are spooled to temporary files: close them when the request is done.
        if form is not None:
            await form.close()


def _origin(url: str) -> str:
    """ "scheme://host[:port]" of a URL, lowercased, without the scheme's default port."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not scheme or not host:
        return ""
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def same_origin(request: Request) -> bool:
    """The request comes from one of the app's own pages: its `Origin` (or, when a browser
    leaves that out, its `Referer`) is the configured base URL's origin.

    In development the address the browser used also counts (`make run` on localhost, the
    browser tests on a free port). A request with neither header is refused: every browser
    sends `Origin` with a POST, so only something unusual leaves both out.
    """
    sent = request.headers.get("origin") or request.headers.get("referer")
    if not sent:
        return False
    origin = _origin(sent)
    if not origin:
        return False
    settings = get_settings()
    if origin == _origin(settings.base_url):
        return True
    return settings.dev and origin == _origin(str(request.base_url))


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def hit(session: Session, key: str, *, limit: int, per_seconds: int, commit: bool = True) -> None:
    """Count one event for `key` in the current window; RateLimited past `limit`.

    Counted in the database so that every app process shares the same budget. With
    `commit=False` the count is part of the request's own transaction (committed with its
    write, or not at all): one write transaction per request instead of two.
    """
    now = time.time()
    window = int(now // per_seconds)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(RateLimitHit)
        .values(key=key, window=window, count=1)
        .on_conflict_do_update(
            index_elements=["key", "window"],
            set_={"count": RateLimitHit.count + 1},
        )
        .returning(col(RateLimitHit.count))
    )
    count = session.execute(stmt).scalar_one()
    if count == 1:  # the key's first event in this window: its older windows are done with
        session.execute(
            delete(RateLimitHit).where(
                col(RateLimitHit.key) == key, col(RateLimitHit.window) < window
            )
        )
    if commit:
        session.commit()
    if count > limit:
        raise RateLimited(retry_after=max(1, int((window + 1) * per_seconds - now)))


def limit_writes(
    request: Request,
    session: SessionDep,
    person: Annotated[Person | None, Depends(optional_person)],
) -> None:
    if request.method in SAFE_METHODS:
        return
    key = f"write:p{person.id}" if person else f"write:ip:{client_ip(request)}"
    hit(session, key, limit=get_settings().write_rate_per_minute, per_seconds=60, commit=False)


PROTECT = [Depends(csrf_protect), Depends(limit_writes)]
