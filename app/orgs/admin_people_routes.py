"""Administration pages for an organisation's people: the list, the person form, the CSV import.

Every change goes through app.orgs.people (and app.orgs.importer), which also write the audit
event.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from app import i18n
from app.access import AdminDep
from app.db import SessionDep, SessionFactoryDep
from app.errors import Invalid
from app.kernel.paging import page_number
from app.kernel.scope import in_org
from app.orgs import importer
from app.orgs.admin_links import admin_base, page_links
from app.orgs.departments import department_tree
from app.orgs.models import ImportJob, Organisation, Person, Role
from app.orgs.people import (
    PEOPLE_STATUSES,
    create_person,
    led_department_ids,
    search_people,
    update_person,
)
from app.security import PROTECT
from app.web import FieldsDep, PageParam, close_form, field_errors, redirect, render
from app.web import PathId as Id

router = APIRouter(
    prefix="/{org}/admin", include_in_schema=False, dependencies=[Depends(close_form)]
)

PERSON_FIELDS = ("email", "name", "title", "department", "role", "active")


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes | None  # None: no file was chosen


def cap_upload(request: Request) -> None:
    """Refuse an oversized body before anything parses it (the form parser spools to disk)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > importer.MAX_UPLOAD_BYTES + 64 * 1024:
        raise HTTPException(status_code=413)


async def uploaded_file(request: Request) -> Upload:
    file = (await request.form()).get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return Upload("", None)
    return Upload(file.filename, await file.read(importer.MAX_UPLOAD_BYTES + 1))


UploadDep = Annotated[Upload, Depends(uploaded_file)]


# --- people ---------------------------------------------------------------------------------


@router.get("/people")
def people_list(
    request: Request,
    session: SessionDep,
    m: AdminDep,
    q: Annotated[str, Query(max_length=100)] = "",
    status: Annotated[str, Query(max_length=10)] = "active",
    page: PageParam = "1",
) -> Response:
    status = status if status in PEOPLE_STATUSES else "active"
    result = search_people(session, m.org, q=q, status=status, page=page_number(page))
    return render(
        request,
        "admin/people.html",
        {
            "page": result,
            "q": q,
            "status": status,
            **page_links(result, f"{admin_base(m.org)}/people", q=q, status=status),
        },
    )


def _person_page(
    request: Request,
    session: SessionDep,
    org: Organisation,
    subject: Person | None,
    form: dict[str, Any],
    leads: set[str],
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "admin/person_form.html",
        {
            "subject": subject,
            "form": form,
            "leads": leads,
            "tree": department_tree(session, org),
            "roles": list(Role),
            "errors": errors or {},
        },
        status_code=422 if errors else 200,
    )


@router.get("/people/new")
def person_new(request: Request, session: SessionDep, m: AdminDep) -> Response:
    form = {f: "" for f in PERSON_FIELDS} | {"role": Role.employee.value, "active": "on"}
    return _person_page(request, session, m.org, None, form, set())


@router.post("/people", dependencies=PROTECT)
def person_add(request: Request, session: SessionDep, m: AdminDep, f: FieldsDep) -> Response:
    form, leads = f.pick(PERSON_FIELDS), f.getlist("leads")
    try:
        person = create_person(session, m.org, form, leads, actor=m.person)
    except Invalid as exc:
        return _person_page(
            request, session, m.org, None, form, set(leads), field_errors(request, exc.errors)
        )
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request,
        f"{admin_base(m.org)}/people",
        message=_("%(name)s is added.") % {"name": person.name},
    )


# The import routes come before /people/{person_id}, which would otherwise claim "import".
@router.get("/people/import")
def import_form(request: Request, m: AdminDep) -> Response:
    return render(request, "admin/import.html", {"errors": {}})


@router.post("/people/import", dependencies=[Depends(cap_upload), *PROTECT])
def import_upload(
    request: Request,
    session: SessionDep,
    m: AdminDep,
    upload: UploadDep,
    background: BackgroundTasks,
    session_factory: SessionFactoryDep,
) -> Response:
    try:
        text, total = importer.check_upload(upload.data)
    except Invalid as exc:
        too_large = exc.errors.get("file") == importer.TOO_LARGE
        return render(
            request,
            "admin/import.html",
            {"errors": field_errors(request, exc.errors)},
            status_code=413 if too_large else 422,
        )
    job_id = importer.start_job(session, m.org, m.person, upload.filename, total)
    session.commit()
    # The text travels in the task's arguments: nothing is written to disk.
    background.add_task(importer.run_job, session_factory, job_id, text)
    return redirect(request, f"{admin_base(m.org)}/people/import/{job_id}")


@router.get("/people/import/{job_id}")
def import_job(request: Request, session: SessionDep, m: AdminDep, job_id: Id) -> Response:
    job = in_org(session, m.org, ImportJob, job_id)
    return render(
        request,
        "admin/import_job.html",
        {"job": job, "running": job.status in ("queued", "running")},
        block="progress",
    )


@router.get("/people/{person_id}")
def person_form(request: Request, session: SessionDep, m: AdminDep, person_id: Id) -> Response:
    subject = in_org(session, m.org, Person, person_id)
    form = {
        "email": subject.email,
        "name": subject.name,
        "title": subject.title,
        "department": str(subject.department_id or ""),
        "role": subject.role.value,
        "active": "on" if subject.active else "",
    }
    leads = {str(i) for i in led_department_ids(session, subject)}
    return _person_page(request, session, m.org, subject, form, leads)


@router.post("/people/{person_id}", dependencies=PROTECT)
def person_save(
    request: Request, session: SessionDep, m: AdminDep, person_id: Id, f: FieldsDep
) -> Response:
    subject = in_org(session, m.org, Person, person_id)
    form, leads = f.pick(PERSON_FIELDS), f.getlist("leads")
    try:
        update_person(session, m.org, subject, form, leads, actor=m.person)
    except Invalid as exc:
        return _person_page(
            request, session, m.org, subject, form, set(leads), field_errors(request, exc.errors)
        )
    session.commit()
    _ = i18n.gettext_for(request)
    message = _("%(name)s is saved.") % {"name": subject.name}
    if not m.person.is_admin:  # the admin made themselves something else
        return redirect(request, f"/{m.org.slug}/", message=message)
    return redirect(request, f"{admin_base(m.org)}/people", message=message)
