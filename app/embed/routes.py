"""The public, read-only widget: iframe page, widget.js, JSON, Atom feed and oEmbed.

Nothing here looks at who is asking (no login, no cookie): every answer is the same for every
caller, so browsers and shared caches may keep it (Cache-Control, ETag, 304). Framing is allowed
only from the organisation's intranet origins (and the app itself, for the admin preview).
"""

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from html import escape
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlmodel import Session, select

from app import i18n
from app.config import get_settings
from app.db import SessionDep
from app.embed import service
from app.embed.memo import (
    MEMO,
    MISSING_CACHE,
    Rendered,
    answer,
    etag_matches,
    lang_param,
    not_found,
    with_read_session,
)
from app.embed.snippets import iframe_snippet, widget_title
from app.errors import N_
from app.kernel.forms import parse_id
from app.media import service as media
from app.media.pipeline import CONTENT_TYPES
from app.media.serving import VARIANT_RE, variant_headers
from app.media.storage import MissingObject, get_storage
from app.orgs import presentation as org_presentation
from app.orgs.models import Organisation
from app.web import STATIC_DIR, env
from app.weekly import presentation, public, schedule
from app.weekly.models import Feature

log = logging.getLogger("tod.embed")

router = APIRouter(include_in_schema=False)

SCRIPT_CACHE = "public, max-age=300"
# No stale-while-revalidate: a withdrawn feature's photo must stop being served within a minute.
PHOTO_CACHE = "public, max-age=60"
PROVIDER = "Tre om dagen"
OEMBED_WIDTH, OEMBED_HEIGHT = 600, 420
WIDGET_HEIGHT = 420  # before the frame reports its real height
SLUG_RE = re.compile(r"^[a-z0-9-]{1,40}$")
_CONFIG_RE = re.compile(r"/\*CONFIG\*/.*?/\*CONFIG\*/", re.S)


# --- helpers --------------------------------------------------------------------------------


def app_origin() -> str:
    parts = urlsplit(get_settings().base_url)
    return f"{parts.scheme}://{parts.netloc}"


def org_for(session: Session, slug: str) -> Organisation | None:
    if not SLUG_RE.match(slug):
        return None
    return session.exec(select(Organisation).where(Organisation.slug == slug)).first()


def use_locale(request: Request, org: Organisation) -> str:
    """The organisation's language, or `?lang=` when it names a supported one."""
    locale = (
        i18n.normalise(request.query_params.get("lang"))
        or i18n.normalise(org.locale)
        or i18n.DEFAULT_LOCALE
    )
    request.state.locale = locale
    return locale


def frame_csp(org: Organisation) -> str:
    ancestors = " ".join(["'self'", *org.intranet_origins])
    # The photo's URLs are absolute (base_url): allow that origin by name as well as 'self'.
    images = " ".join(dict.fromkeys(["'self'", app_origin(), "data:"]))
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src {images}; "
        "connect-src 'none'; form-action 'none'; base-uri 'none'; object-src 'none'; "
        f"frame-ancestors {ancestors}"
    )


def _gettext(request: Request) -> Callable[[str], str]:
    """Translations for the language use_locale() chose for this answer."""
    return i18n.gettext_for(request)


def render(name: str, request: Request, **context: Any) -> bytes:
    return env.get_template(name).render(request=request, **context).encode()


def photo_json(photo: media.Picture | None) -> dict[str, Any] | None:
    if photo is None:
        return None
    return {
        "alt": photo.alt,
        "width": photo.width,
        "height": photo.height,
        "src": photo.src,
        "srcset": {"webp": photo.webp_srcset, "jpeg": photo.jpeg_srcset},
    }


def feature_json(org: Organisation, feature: Feature, ctx: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": feature.id,
        "year": feature.iso_year,
        "week": feature.iso_week,
        "headline": feature.headline,
        "body": feature.body,
        "published_at": feature.published_at.isoformat() if feature.published_at else None,
        "updated_at": feature.updated_at.isoformat(),
        "values": [{"name": v.name, "colour": v.colour} for v in ctx["values"]],
        "people": [{"name": p.name} for p in ctx["people"]],
        "image": photo_json(ctx["photo"]),
    }


# --- the iframe page ------------------------------------------------------------------------


@router.get("/embed/{org}/feature")
async def feature_page(request: Request, org: str) -> Response:
    """The page an intranet frames: the current feature, or when the next one appears."""
    key = ("feature", org, lang_param(request))
    return answer(request, await MEMO.get(request, key, lambda s: _feature_page(request, s, org)))


def _feature_page(request: Request, session: Session, slug: str) -> Rendered | None:
    o = org_for(session, slug)
    if o is None:
        return None
    locale = use_locale(request, o)
    base = get_settings().base_url
    feature = public.current_feature(session, o)
    context: dict[str, Any] = {
        "locale": locale,
        "org": o,
        "feature_name": o.display_feature_name,
        "app_url": f"{base}/{o.slug}/",
        "origins": [*o.intranet_origins, app_origin()],
        "oembed_url": "/oembed?" + urlencode({"url": f"{base}/embed/{o.slug}/feature"}),
    }
    if feature is not None:
        context.update(presentation.widget_context(session, o, feature, gettext=_gettext(request)))
        context["heading"] = "h1"
    else:
        # "mandag 23. november" and "07:00": the language's full date without the year.
        next_day, next_time = schedule.moment_text(
            o, schedule.next_publish_at(o), locale, day="full"
        )
        context.update(
            first=not service.ever_published(session, o),
            next_day=next_day,
            next_time=next_time,
        )
    return Rendered(
        render("embed/feature.html", request, **context),
        "text/html; charset=utf-8",
        headers={"Content-Security-Policy": frame_csp(o)},
    )


@router.get("/embed/{org}/theme.css")
async def theme_css(request: Request, org: str) -> Response:
    """The organisation's colours, under /embed/ so that no cookie comes with them."""

    def make(session: Session) -> Rendered | None:
        if (o := org_for(session, org)) is None:
            return None
        return Rendered(org_presentation.theme_css(session, o).encode(), "text/css; charset=utf-8")

    rendered = await MEMO.get(request, ("theme", org), make)
    return answer(request, rendered, cache_control=SCRIPT_CACHE)


# --- the feature's photo --------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoVariant:
    key: str
    etag: str
    headers: dict[str, str]


@router.get("/embed/{org}/photo/{feature_id}/{image_id}/{variant}")
async def feature_photo(
    request: Request, org: str, feature_id: str, image_id: str, variant: str
) -> Response:
    """A public feature's own photo (`800.webp`, `320.jpg`, ...), for anyone, only while the
    feature is public: a draft's, a withdrawn one's or any other image of the organisation is
    the plain 404. Checked at every request (no memo, no stale-while-revalidate), so a
    withdrawal takes effect within the minute browsers and shared caches may keep it.
    """
    fid, iid, match = parse_id(feature_id), parse_id(image_id), VARIANT_RE.match(variant)
    if fid is None or iid is None or match is None:
        return not_found()
    width, fmt = int(match.group(1)), match.group(2)

    def find(session: Session) -> PhotoVariant | None:
        o = org_for(session, org)
        meta = service.public_variant(session, o, fid, iid, width, fmt) if o else None
        if meta is None:
            return None
        etag, headers = variant_headers(meta, iid, PHOTO_CACHE)
        return PhotoVariant(meta["key"], etag, headers)

    # The read session is closed again before the (possibly slow) storage read.
    found: PhotoVariant | None = await run_in_threadpool(with_read_session, request, find)
    if found is None:
        return not_found()
    if etag_matches(request.headers.get("if-none-match"), found.etag):
        return Response(status_code=304, headers=found.headers)
    try:
        data = await run_in_threadpool(get_storage().get, found.key)
    except MissingObject:
        log.warning("media key %s of image %s is missing", found.key, iid)
        return not_found()
    return Response(data, media_type=CONTENT_TYPES[fmt], headers=found.headers)


# --- widget.js ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _widget_source(mtime: float) -> str:
    return (STATIC_DIR / "embed" / "widget.js").read_text(encoding="utf-8")


@router.get("/embed/{org}/widget.js")
async def widget_js(
    request: Request,
    org: str,
    lang: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    """One <script async> tag: inserts the iframe after itself and follows its height."""
    code = i18n.normalise(lang)

    def make(session: Session) -> Rendered | None:
        o = org_for(session, org)
        if o is None:
            return None
        src = f"{get_settings().base_url}/embed/{o.slug}/feature"
        config = {
            "src": f"{src}?lang={code}" if code else src,
            "origin": app_origin(),
            "title": widget_title(o),
            "height": WIDGET_HEIGHT,
        }
        # "<" escaped too: the config stays inert even if someone pastes the file inline.
        literal = json.dumps(config, ensure_ascii=True).replace("<", "\\u003c")
        path = STATIC_DIR / "embed" / "widget.js"
        source = _widget_source(path.stat().st_mtime)
        body = _CONFIG_RE.sub(lambda _m: literal, source, count=1).encode()
        return Rendered(body, "application/javascript; charset=utf-8")

    rendered = await MEMO.get(request, ("widget.js", org, code), make)
    return answer(request, rendered, cache_control=SCRIPT_CACHE)


# --- JSON and Atom --------------------------------------------------------------------------


@router.get("/embed/{org}/feature.json")
async def feature_json_route(request: Request, org: str) -> Response:
    """The current feature as JSON, readable by scripts on the organisation's intranet."""
    key = ("feature.json", org, lang_param(request))
    rendered = await MEMO.get(request, key, lambda s: _feature_json(request, s, org))
    return answer(request, rendered, cors=True)


def _feature_json(request: Request, session: Session, slug: str) -> Rendered | None:
    o = org_for(session, slug)
    if o is None:
        return None
    locale = use_locale(request, o)
    base = get_settings().base_url
    feature = public.current_feature(session, o)
    data: dict[str, Any] = {
        "org": {"slug": o.slug, "name": o.name, "locale": locale},
        "feature_name": o.display_feature_name,
        "feature": None,
        "next_publish_at": schedule.next_publish_at(o).astimezone(ZoneInfo(o.timezone)).isoformat(),
        "links": {
            "app": f"{base}/{o.slug}/",
            "widget": f"{base}/embed/{o.slug}/feature",
            "atom": f"{base}/embed/{o.slug}/feed.atom",
        },
    }
    if feature is not None:
        ctx = presentation.widget_context(session, o, feature, gettext=_gettext(request))
        data["feature"] = feature_json(o, feature, ctx)
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Rendered(body, "application/json", cors_origins=tuple(o.intranet_origins))


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_safe(text: str) -> str:
    return _XML_INVALID.sub("", text)


RESULTS_TEXT = N_(
    "The photo competition %(title)s has closed and its winners are announced in Tre om dagen."
)


@dataclass(frozen=True)
class AtomEntry:
    id: str  # a tag: URI that stays the same for the organisation's week
    title: str
    published: datetime
    updated: datetime
    html: str  # the widget's fragment; the template escapes it once more for type="html"
    url: str = ""  # the entry's own page; the app's home when empty


@router.get("/embed/{org}/feed.atom")
async def feed_atom(request: Request, org: str) -> Response:
    """Atom 1.0: the published features and the announced competition results, newest first."""
    key = ("feed.atom", org, lang_param(request))
    return answer(request, await MEMO.get(request, key, lambda s: _feed_atom(request, s, org)))


def _feed_atom(request: Request, session: Session, slug: str) -> Rendered | None:
    o = org_for(session, slug)
    if o is None:
        return None
    locale = use_locale(request, o)
    base = get_settings().base_url
    host = urlsplit(base).hostname or "localhost"
    tag = f"tag:{host},{o.created_at:%Y-%m-%d}:{o.slug}"
    entries: list[AtomEntry] = []
    for feature in public.archive(session, o, limit=service.ARCHIVE_LIMIT):
        ctx = presentation.widget_context(session, o, feature, gettext=_gettext(request))
        html = env.get_template("embed/_feature.html").render(
            request=request, locale=locale, heading="h2", **ctx
        )
        published = feature.published_at or feature.updated_at
        entries.append(
            AtomEntry(
                id=f"{tag}/feature/{feature.iso_year}-W{feature.iso_week:02d}",
                title=xml_safe(feature.headline),
                published=published,
                updated=max(published, feature.updated_at),
                html=xml_safe(html),
            )
        )
    gettext = i18n.catalog(locale).gettext
    for contest in service.announced_contests(session, o):
        title = gettext("Results: %(title)s") % {"title": contest.title}
        url = f"{base}/{o.slug}/contests/{contest.id}"
        # No photo and no names: the photographers agreed to be shown in the competition,
        # not on a public feed. Whoever may see them follows the link and logs in.
        text = gettext(RESULTS_TEXT) % {"title": contest.title}
        link = gettext("See the winners")
        html = f'<p>{escape(text)}</p><p><a href="{escape(url)}">{escape(link)}</a></p>'
        announced = contest.results_announced_at or contest.vote_closes_at
        entries.append(
            AtomEntry(
                id=f"{tag}/contest/{contest.id}",
                title=xml_safe(title),
                published=announced,
                updated=announced,
                html=xml_safe(html),
                url=url,
            )
        )
    entries.sort(key=lambda e: e.published, reverse=True)
    entries = entries[: service.ARCHIVE_LIMIT]
    body = render(
        "embed/feed.atom",
        request,
        locale=locale,
        org=o,
        feed_id=f"{tag}/features",
        title=xml_safe(f"{o.display_feature_name} – {o.name}"),
        self_url=f"{base}/embed/{o.slug}/feed.atom",
        app_url=f"{base}/{o.slug}/",
        author=xml_safe(o.name),
        updated=max((e.updated for e in entries), default=o.created_at),
        entries=entries,
    )
    return Rendered(body, "application/atom+xml; charset=utf-8")


# --- oEmbed ---------------------------------------------------------------------------------


def _slug_from_url(url: str) -> str | None:
    """The organisation an app or widget URL belongs to: /{org}/... or /embed/{org}/..."""
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != app_origin():
        return None
    segments = [s for s in parts.path.split("/") if s]
    if segments[:1] == ["embed"]:
        segments = segments[1:]
    return segments[0] if segments else None


def _size(requested: int | None, default: int) -> int:
    # oEmbed: the answer must fit inside maxwidth/maxheight.
    return default if requested is None else min(requested, default)


THUMBNAIL_WIDTH = 800


def oembed_thumbnail(
    org: Organisation, feature: Feature, maxwidth: int | None, maxheight: int | None
) -> dict[str, Any]:
    """thumbnail_url/_width/_height (all three or none, as oEmbed 1.0 asks): the widest JPEG
    up to 800 px that fits inside maxwidth/maxheight, like the rest of the answer."""
    image = feature.image
    if image is None or image.org_id != org.id:
        return {}
    fits = [
        v
        for v in media.variants_of(image, "jpg")
        if (maxwidth is None or v["width"] <= maxwidth)
        and (maxheight is None or v["height"] <= maxheight)
    ]
    chosen = [v for v in fits if v["width"] <= THUMBNAIL_WIDTH] or fits[:1]
    if not chosen:
        return {}
    v = chosen[-1]
    url_for = public.public_photo_url(org, feature)
    return {
        "thumbnail_url": media.variant_url(image, v["width"], "jpg", url_for),
        "thumbnail_width": v["width"],
        "thumbnail_height": v["height"],
    }


@router.get("/oembed")
def oembed(
    request: Request,
    session: SessionDep,
    url: Annotated[str, Query(max_length=2000)] = "",
    format: Annotated[str, Query(max_length=10)] = "json",
    maxwidth: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    maxheight: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> Response:
    """oEmbed 1.0 (type "rich"): the iframe snippet for a link to the app or the widget."""
    slug = _slug_from_url(url)
    o = org_for(session, slug) if slug else None
    if o is None:
        return not_found()
    if format != "json":
        return Response(
            "Only format=json is supported\n",
            status_code=501,
            media_type="text/plain",
            headers={"Cache-Control": MISSING_CACHE},
        )
    use_locale(request, o)
    width = _size(maxwidth, OEMBED_WIDTH)
    height = _size(maxheight, OEMBED_HEIGHT)
    feature = public.current_feature(session, o)
    base = get_settings().base_url
    data = {
        "type": "rich",
        "version": "1.0",
        "title": feature.headline if feature else widget_title(o),
        "author_name": o.name,
        "author_url": f"{base}/{o.slug}/",
        "provider_name": PROVIDER,
        "provider_url": f"{base}/",
        "cache_age": 60,
        "html": iframe_snippet(o, width=width, height=height),
        "width": width,
        "height": height,
    }
    if feature is not None:
        data.update(oembed_thumbnail(o, feature, maxwidth, maxheight))
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return answer(request, Rendered(body, "application/json"))
