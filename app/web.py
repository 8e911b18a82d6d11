"""Templates, full-page or fragment rendering, CSRF tokens and flash messages."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import AsyncIterator, Mapping
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from jinja2_fragments.fastapi import Jinja2Blocks
from starlette.datastructures import FormData
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app import i18n
from app.config import ROOT, get_settings
from app.errors import Problem
from app.kernel.forms import MAX_ID

STATIC_DIR = ROOT / "static"
# A row id in a URL: beyond what the database stores is a 422, never a database error.
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
# A page number as typed in a URL ("2", or anything: page_number() reads it).
PageParam = Annotated[str, Query(max_length=10)]
CSRF_COOKIE = "tod_csrf"
SESSION_COOKIE = "tod_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
FLASH_COOKIE = "tod_flash"

env = Environment(
    loader=FileSystemLoader(str(ROOT / "templates")),
    autoescape=select_autoescape(default=True),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Blocks(env=env)
env.auto_reload = get_settings().dev  # production never re-reads templates from disk
env.install_gettext_callables(i18n.jinja_gettext, i18n.jinja_ngettext, newstyle=True)  # type: ignore[attr-defined]
env.filters["date"] = i18n.format_date
env.filters["datetime"] = i18n.format_datetime
env.filters["number"] = i18n.format_number
env.globals["LOCALES"] = i18n.LOCALES


@lru_cache(maxsize=256)
def _static_hash(path: str) -> str:
    try:
        return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]
    except OSError:
        return ""


HASHED_NAME = re.compile(r"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{10})(?P<ext>\.[A-Za-z0-9]+)$")


def static_url(path: str) -> str:
    """`/static/css/app.<content hash>.css`: cached for a year, a new name when it changes.

    `StaticAssets` serves the file under that name (and under its plain one, as before).
    """
    if get_settings().dev:
        _static_hash.cache_clear()
    digest = _static_hash(path)
    stem, dot, ext = path.rpartition(".")
    if not digest or not dot or "/" in ext:
        return f"/static/{path}"
    return f"/static/{stem}.{digest}.{ext}"


IMMUTABLE = "public, max-age=31536000, immutable"


class StaticAssets(StaticFiles):
    """Static files; a name with the file's current content hash is cached forever."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        match = HASHED_NAME.match(path)
        if match is None or (STATIC_DIR / path).is_file():
            return await super().get_response(path, scope)
        plain = match["stem"] + match["ext"]
        response = await super().get_response(plain, scope)
        if response.status_code in (200, 304):
            # An old hash (a page rendered before a deploy) still gets today's file, but not
            # for a year.
            current = _static_hash(plain) == match["hash"]
            response.headers["Cache-Control"] = IMMUTABLE if current else "no-cache"
        return response


env.globals["static_url"] = static_url


def _csrf_mac(request: Request, raw: str) -> str:
    """HMAC of the browser's CSRF cookie and its session cookie.

    Binding the token to the session means a (cookie, token) pair an attacker got in their own
    browser, and planted in the victim's (a sibling subdomain can set cookies), does not work
    with the victim's session; a token from before logging in stops working after it.
    """
    session = request.cookies.get(SESSION_COOKIE, "")
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"{raw}\x00{session}".encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The form token: bound to the per-browser CSRF cookie and the session, so not forgeable.

    A browser without the cookie gets one with this response (app/middleware.py sets it).
    """
    raw = getattr(request.state, "csrf_cookie", "") or ""
    if not raw:
        raw = request.state.csrf_cookie = request.state.csrf_cookie_new = new_csrf_cookie()
    return _csrf_mac(request, raw)


def csrf_valid(request: Request, submitted: str | None) -> bool:
    raw = request.cookies.get(CSRF_COOKIE)
    if not raw or not submitted:
        return False
    return hmac.compare_digest(_csrf_mac(request, raw), submitted)


def new_csrf_cookie() -> str:
    return secrets.token_urlsafe(24)


env.globals["csrf_token"] = csrf_token
env.globals["CSRF_FIELD"] = CSRF_FIELD


def _flash_signer() -> URLSafeSerializer:
    return URLSafeSerializer(get_settings().secret_key, salt="flash")


def flash(response: Response, message: str, kind: str = "success") -> None:
    """Show `message` (already translated) once on the next page."""
    value = _flash_signer().dumps({"m": message, "k": kind})
    response.set_cookie(
        FLASH_COOKIE, value, max_age=60, httponly=True, samesite="lax", secure=get_settings().https
    )


def pop_flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = _flash_signer().loads(raw)
    except BadSignature:
        return None
    request.state.clear_flash = True
    return {"message": str(data.get("m", "")), "kind": str(data.get("k", "success"))}


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true" and not request.headers.get(
        "hx-history-restore-request"
    )


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a page, or only `block` of it when htmx asks for a fragment."""
    ctx: dict[str, Any] = {
        "person": getattr(request.state, "person", None),
        "org": getattr(request.state, "org", None),
        "locale": i18n.request_locale(request),
        "flash": pop_flash(request),
    }
    ctx.update(context or {})
    if block and is_htmx(request):
        response = templates.TemplateResponse(
            request, name, ctx, status_code=status_code, block_name=block
        )
    else:
        response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    response.headers["Vary"] = "HX-Request"
    if getattr(request.state, "clear_flash", False):
        response.delete_cookie(FLASH_COOKIE)
    return response  # type: ignore[return-value]


def form_page(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    blank: dict[str, str],
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page with an "add" form: empty (200), or the form as sent with its errors (422)."""
    return render(
        request,
        name,
        {**context, "form": form or blank, "errors": errors or {}},
        status_code=422 if errors else 200,
    )


def redirect(request: Request, url: str, *, message: str | None = None) -> Response:
    """Post/Redirect/Get that also works for htmx (which follows with a full page)."""
    if is_htmx(request):
        response: Response = Response(status_code=204, headers={"HX-Location": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if message:
        flash(response, message)
    return response


def is_safe_next(url: str) -> bool:
    """Only same-site paths: "/x" yes, "//evil.example" and "https://..." no."""
    return url.startswith("/") and not url.startswith("//") and "\\" not in url


def field_errors(request: Request, errors: Mapping[str, Problem]) -> dict[str, str]:
    """A service's problems in the request's language, for showing next to their fields."""
    _ = i18n.gettext_for(request)
    return {field: _(problem.message) for field, problem in errors.items()}


# --- forms read by hand (admin pages) --------------------------------------------------


async def close_form(request: Request) -> AsyncIterator[None]:
    """Close the parsed form when the request is done: uploads are spooled temporary files."""
    try:
        yield
    finally:
        await request.close()


class Fields:
    """A submitted form's text fields: a file or a missing field reads as ""."""

    def __init__(self, form: FormData) -> None:
        self._form = form

    def get(self, key: str) -> str:
        value = self._form.get(key)
        return value if isinstance(value, str) else ""

    def getlist(self, key: str) -> list[str]:
        return [v for v in self._form.getlist(key) if isinstance(v, str)]

    def flag(self, key: str) -> bool:
        return self.get(key) in ("on", "true", "1")

    def pick(self, keys: tuple[str, ...]) -> dict[str, str]:
        return {k: self.get(k) for k in keys}


async def form_fields(request: Request) -> Fields:
    return Fields(await request.form())


FieldsDep = Annotated[Fields, Depends(form_fields)]
