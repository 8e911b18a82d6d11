"""Serving photos: only through the app, only to people who may see them."""

import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from app.access import MemberDep
from app.db import SessionDep
from app.errors import NotFound
from app.media import service
from app.media.pipeline import CONTENT_TYPES
from app.media.storage import MissingObject, get_storage
from app.web import env

log = logging.getLogger("tod.media")

router = APIRouter(prefix="/{org}", include_in_schema=False)

VARIANT_RE = re.compile(r"^([1-9][0-9]{0,4})\.(webp|jpg)$")
# Private: the URL is access-checked, so no shared cache may keep it. Immutable: a variant's
# bytes never change under its URL (a new photo is a new image id).
CACHE_CONTROL = "private, max-age=31536000, immutable"

env.globals["picture"] = service.picture  # templates: picture(rec.photo, default_alt)


def variant_headers(
    meta: dict[str, Any], image_id: int, cache_control: str
) -> tuple[str, dict[str, str]]:
    """(ETag, headers) for serving one stored variant, here and in the public widget."""
    # The key is the hash of the bytes: a strong validator for free.
    etag = '"' + meta["key"].rsplit("/", 1)[-1].split(".", 1)[0] + '"'
    return etag, {
        "ETag": etag,
        "Cache-Control": cache_control,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'",
        "Content-Disposition": (
            f'inline; filename="photo-{image_id}-{meta["width"]}.{meta["format"]}"'
        ),
    }


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {c.strip().removeprefix("W/") for c in header.split(",")}
    return "*" in candidates or etag in candidates


@router.get("/media/{image_id}/{variant}")
def serve(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    image_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    variant: Annotated[str, Path(max_length=40)],
) -> Response:
    """One variant, e.g. `800.webp` or `320.jpg`, of a photo the viewer may see."""
    image = service.image_for(session, m.person, image_id)
    match = VARIANT_RE.match(variant)
    if match is None:
        raise NotFound()
    width, fmt = int(match.group(1)), match.group(2)
    meta = next((v for v in image.variants if v["width"] == width and v["format"] == fmt), None)
    if meta is None:
        raise NotFound()
    etag, headers = variant_headers(meta, image_id, CACHE_CONTROL)
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    try:
        data = get_storage().get(meta["key"])
    except MissingObject:
        log.warning("media key %s of image %s is missing", meta["key"], image.id)
        raise NotFound() from None
    return Response(data, media_type=CONTENT_TYPES[fmt], headers=headers)
