"""A form that could not be sent is kept, so that nothing a person typed is lost.

When a form arrives with an expired token, or after the person's session ran out, the request
is refused (nothing of it is written) and the text fields travel in a signed, short-lived
cookie to `/{org}/resend`. There, once the person is signed in again, the page shows what they wrote
in a form with a fresh token: nothing is sent without their click. Files cannot travel in a
cookie; the page says so. The cookie is signed with the app's secret, so a page elsewhere
cannot plant a form in it.
"""

import json
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import UploadFile

from app.config import get_settings
from app.web import CSRF_FIELD, is_safe_next

COOKIE = "tod_resend"
MAX_AGE = 3600  # an hour: long enough to find the login e-mail, short enough to be forgotten
MAX_BYTES = 3800  # what fits in one cookie beside its name and attributes


@dataclass(frozen=True)
class Kept:
    """What a refused form carried: where it was going and its text fields, in order."""

    action: str
    fields: list[tuple[str, str]]
    dropped_files: bool


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt="resend")


async def refused_form(request: Request) -> Kept | None:
    """The text fields of a refused form post, or None when it was not a form to keep."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    action = request.url.path
    if not is_safe_next(action):
        return None
    form = await request.form()
    fields: list[tuple[str, str]] = []
    dropped = False
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            dropped = dropped or bool(value.filename)
        elif name != CSRF_FIELD:
            fields.append((name, value))
    return Kept(action, fields, dropped)


def keep(response: Response, kept: Kept) -> bool:
    """Put the form in the cookie; False (and nothing set) when it is too large to carry."""
    value = _signer().dumps([kept.action, kept.fields, kept.dropped_files])
    if len(value) > MAX_BYTES:
        return False
    response.set_cookie(
        COOKIE,
        value,
        max_age=MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=get_settings().https,
    )
    return True


def kept(request: Request) -> Kept | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        action, fields, dropped = _signer().loads(raw, max_age=MAX_AGE)
    except (BadSignature, ValueError, TypeError, json.JSONDecodeError):
        return None
    if not isinstance(action, str) or not is_safe_next(action) or not isinstance(fields, list):
        return None
    pairs = [(str(p[0]), str(p[1])) for p in fields if isinstance(p, list) and len(p) == 2]
    return Kept(action, pairs, bool(dropped))


def forget(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")
