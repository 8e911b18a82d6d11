"""JSON API v1 for photos: upload one, then attach its id (a recognition's `photo_id`)."""

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse

from app import i18n
from app.access import MemberDep
from app.db import SessionDep
from app.errors import Invalid
from app.kernel.apischema import ERRORS, ErrorOut
from app.media import service
from app.media.schemas import MediaOut, media_out
from app.security import PROTECT

router = APIRouter(prefix="/orgs/{org}", tags=["media"], responses=ERRORS)


def _problem(request: Request, status: int, exc: Invalid) -> JSONResponse:
    _ = i18n.gettext_for(request)
    fields = {f: {"code": p.code, "message": _(p.message)} for f, p in exc.errors.items()}
    first = exc.first
    body: dict[str, Any] = {
        "error": {"code": first.code, "message": _(first.message), "fields": fields}
    }
    return JSONResponse(body, status_code=status)


@router.post(
    "/media",
    status_code=201,
    response_model=MediaOut,
    dependencies=PROTECT,
    responses={
        413: {"model": ErrorOut, "description": "The request is larger than the upload limit"},
        415: {"model": ErrorOut, "description": "Not a JPEG, PNG, WebP or HEIC photo"},
    },
)
def upload_photo(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    file: Annotated[UploadFile, File(description="JPEG, PNG, WebP or HEIC, decided by content")],
    alt: Annotated[str, Form(max_length=1000, description="What the photo shows")] = "",
) -> Any:
    """Upload a photo: it is checked, turned upright, stripped of all metadata (GPS too) and
    stored as WebP and JPEG at up to three widths (422 `corrupt`/`too_many_pixels`)."""
    try:
        image = service.save_upload(session, m.org, m.person, file, alt=alt)
    except Invalid as exc:
        session.rollback()
        code = exc.first.code
        status = {"unsupported": 415, "too_large": 413}.get(code, 422)
        return _problem(request, status, exc)
    session.commit()
    return media_out(image)
