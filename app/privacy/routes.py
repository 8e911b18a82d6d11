"""Privacy pages: the privacy statement, "Last ned mine data", and the admins' export,
erasure and erasure settings. Thin: the work is in export.py, erasure.py and settings.py."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlmodel import Session

from app import i18n
from app.access import AdminDep, MemberDep, OptionalPerson
from app.db import SessionDep
from app.errors import Invalid, NotFound
from app.kernel.apischema import ERRORS
from app.kernel.audit import audit
from app.kernel.scope import in_org
from app.orgs.models import FORMER_COLLEAGUE_EMAIL, Organisation, Person
from app.orgs.scope import org_by_slug
from app.privacy import erasure, export
from app.privacy.settings import update_settings
from app.security import PROTECT
from app.web import FieldsDep, close_form, field_errors, redirect, render
from app.web import PathId as Id

router = APIRouter(include_in_schema=False, dependencies=[Depends(close_form)])
# JSON API v1 (under /api/v1): the same ZIP as "Last ned mine data".
api_router = APIRouter(prefix="/orgs/{org}", tags=["privacy"], responses=ERRORS)


def zip_response(session: Session, person: Person) -> StreamingResponse:
    return StreamingResponse(
        export.export_stream(session, person),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename(person)}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/{org}/personvern")
def privacy_page(
    request: Request, session: SessionDep, _viewer: OptionalPerson, org: str
) -> Response:
    """What is stored, why, for how long and who sees it: readable before logging in (a
    signed-in viewer gets their language and a link to their own export)."""
    organisation = org_by_slug(session, org)
    return render(request, "privacy/personvern.html", {"org": organisation})


@router.get("/{org}/me/export")
def my_export(session: SessionDep, m: MemberDep) -> StreamingResponse:
    return zip_response(session, m.person)


@api_router.get(
    "/me/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "A ZIP file"}},
)
def export_me(session: SessionDep, m: MemberDep) -> StreamingResponse:
    """Everything Tre om dagen holds about the caller: `data.json` and their photos in a ZIP
    (format: docs/PRIVACY_EXPORT.md)."""
    return zip_response(session, m.person)


def _subject(session: Session, org: Organisation, person_id: int) -> Person:
    subject = in_org(session, org, Person, person_id)
    if subject.email == FORMER_COLLEAGUE_EMAIL:
        raise NotFound()  # the stand-in giver is nobody's data
    return subject


@router.post("/{org}/admin/people/{person_id}/export", dependencies=PROTECT)
def admin_export(session: SessionDep, m: AdminDep, person_id: Id) -> StreamingResponse:
    """An admin downloads a person's data for them (an access request by letter, say)."""
    subject = _subject(session, m.org, person_id)
    audit(session, m.org, m.person, "person.export", f"person {subject.id}")
    session.commit()
    return zip_response(session, subject)


def _erase_page(
    request: Request,
    session: Session,
    m: AdminDep,
    subject: Person,
    errors: dict[str, str] | None = None,
    typed: str = "",
) -> Response:
    return render(
        request,
        "privacy/erase.html",
        {
            "subject": subject,
            "counts": erasure.preview(session, subject),
            "errors": errors or {},
            "typed": typed,
            "self_erasure": subject.id == m.person.id,
        },
        status_code=422 if errors else 200,
    )


@router.get("/{org}/admin/people/{person_id}/erase")
def erase_form(request: Request, session: SessionDep, m: AdminDep, person_id: Id) -> Response:
    return _erase_page(request, session, m, _subject(session, m.org, person_id))


@router.post("/{org}/admin/people/{person_id}/erase", dependencies=PROTECT)
def erase(
    request: Request, session: SessionDep, m: AdminDep, person_id: Id, f: FieldsDep
) -> Response:
    subject = _subject(session, m.org, person_id)
    typed = f.get("confirm_name")[:200]
    try:
        erasure.check_name(subject, typed)
    except Invalid as exc:
        return _erase_page(request, session, m, subject, field_errors(request, exc.errors), typed)
    name = subject.name
    summary = erasure.erase_person(session, subject, actor=m.person)
    session.commit()
    return render(request, "privacy/erased.html", {"name": name, "counts": dict(summary.counts)})


@router.get("/{org}/admin/privacy")
def settings_form(request: Request, m: AdminDep) -> Response:
    form = {"erase_given": m.org.erase_given, "erase_after": str(m.org.erase_after_days or "")}
    return render(request, "privacy/settings.html", {"form": form, "errors": {}})


@router.post("/{org}/admin/privacy", dependencies=PROTECT)
def settings_save(request: Request, session: SessionDep, m: AdminDep, f: FieldsDep) -> Response:
    form = f.pick(("erase_given", "erase_after"))
    try:
        update_settings(
            session,
            m.org,
            m.person,
            erase_given=form["erase_given"],
            erase_after=form["erase_after"][:10],
        )
    except Invalid as exc:
        session.rollback()
        return render(
            request,
            "privacy/settings.html",
            {"form": form, "errors": field_errors(request, exc.errors)},
            status_code=422,
        )
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(request, f"/{m.org.slug}/admin/privacy", message=_("Saved."))
