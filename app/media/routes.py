"""Serving photos: only through the app, only to people who may see them."""

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from app.access import MemberDep
from app.db import SessionDep
from app.errors import NotFound
from app.media import access, service
from app.media.pipeline import CONTENT_TYPES
from app.media.serving import CACHE_CONTROL, VARIANT_RE, variant_headers
from app.media.storage import MissingObject, get_storage
from app.web import PathId, env

log = logging.getLogger("tod.media")

router = APIRouter(prefix="/{org}", include_in_schema=False)

env.globals["picture"] = service.picture  # templates: picture(rec.photo, default_alt)


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
    image_id: PathId,
    variant: Annotated[str, Path(max_length=40)],
) -> Response:
    """One variant, e.g. `800.webp` or `320.jpg`, of a photo the viewer may see."""
    image = access.image_for(session, m.person, image_id)
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
