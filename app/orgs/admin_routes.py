"""Administration pages for an organisation's admins.

Settings, values, departments, people (with the CSV import), API tokens and the audit log.
Every change goes through app.orgs.service, which also writes the audit event.
"""

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from babel import Locale, dates
from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from app import i18n
from app.access import AdminDep
from app.db import SessionDep, SessionFactoryDep
from app.errors import N_, Invalid, Problem
from app.kernel.forms import MAX_ID
from app.kernel.paging import Page, page_number
from app.kernel.scope import in_org
from app.orgs import importer, service
from app.orgs.models import Department, ImportJob, Organisation, Person, Role, Value
from app.security import PROTECT
from app.web import FieldsDep, close_form, field_errors, form_page, redirect, render

router = APIRouter(
    prefix="/{org}/admin", include_in_schema=False, dependencies=[Depends(close_form)]
)

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
PageParam = Annotated[str, Query(max_length=10)]
COMMON_TIMEZONES = (
    "Europe/Oslo",
    "Europe/Stockholm",
    "Europe/Copenhagen",
    "Europe/Helsinki",
    "Atlantic/Reykjavik",
    "Arctic/Longyearbyen",
    "UTC",
)
SETTINGS_FIELDS = (
    "name",
    "locale",
    "timezone",
    "daily_goal",
    "feature_name",
    "theme_primary",
    "theme_accent",
    "intranet_origins",
    "pick_weekday",
    "pick_time",
    "publish_weekday",
    "publish_time",
    "auto_publish",
)
PERSON_FIELDS = ("email", "name", "title", "department", "role", "active")
PEOPLE_STATUSES = ("active", "inactive", "all")
BAD_CHOICE = Problem("invalid", N_("This value is not valid."))


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


def _base(org: Organisation) -> str:
    return f"/{org.slug}/admin"


def _page_links(page: Page[Any], path: str, **params: str) -> dict[str, str | None]:
    def url(number: int) -> str:
        return f"{path}?{urlencode({**params, 'page': number})}"

    return {
        "previous_url": url(page.number - 1) if page.has_previous else None,
        "next_url": url(page.number + 1) if page.has_next else None,
    }


@router.get("")
def admin_index(request: Request, m: AdminDep) -> Response:
    return render(request, "admin/index.html")


# --- settings -------------------------------------------------------------------------------


def _weekdays(request: Request) -> list[tuple[int, str]]:
    names = dates.get_day_names("wide", locale=Locale.parse(i18n.request_locale(request)))
    return [(day, str(names[day]).capitalize()) for day in range(7)]


def _settings_page(
    request: Request, form: dict[str, str], errors: dict[str, str] | None = None
) -> Response:
    return render(
        request,
        "admin/settings.html",
        {
            "form": form,
            "errors": errors or {},
            "weekdays": _weekdays(request),
            "timezones": COMMON_TIMEZONES,
        },
        status_code=422 if errors else 200,
    )


@router.get("/settings")
def settings_form(request: Request, m: AdminDep) -> Response:
    o = m.org
    form = {
        "name": o.name,
        "locale": o.locale,
        "timezone": o.timezone,
        "daily_goal": str(o.daily_goal),
        "feature_name": o.feature_name,
        "theme_primary": o.theme_primary,
        "theme_accent": o.theme_accent,
        "intranet_origins": "\n".join(o.intranet_origins),
        "pick_weekday": str(o.pick_weekday),
        "pick_time": o.pick_time,
        "publish_weekday": str(o.publish_weekday),
        "publish_time": o.publish_time,
        "auto_publish": "on" if o.auto_publish else "",
    }
    return _settings_page(request, form)


@router.post("/settings", dependencies=PROTECT)
def settings_save(request: Request, session: SessionDep, m: AdminDep, f: FieldsDep) -> Response:
    form = f.pick(SETTINGS_FIELDS)
    try:
        service.update_org_settings(session, m.org, m.person, form)
    except Invalid as exc:
        return _settings_page(request, form, field_errors(request, exc.errors))
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(request, f"{_base(m.org)}/settings", message=_("The settings are saved."))


# --- values ---------------------------------------------------------------------------------


def _values_page(
    request: Request,
    session: SessionDep,
    org: Organisation,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    values = service.list_values(session, org)
    next_colour = service.DEFAULT_COLOURS[len(values) % len(service.DEFAULT_COLOURS)]
    return render(
        request,
        "admin/values.html",
        {
            "values": values,
            "form": form or {"name": "", "description": "", "colour": next_colour},
            "errors": errors or {},
        },
        status_code=422 if errors else 200,
    )


@router.get("/values")
def values_list(request: Request, session: SessionDep, m: AdminDep) -> Response:
    return _values_page(request, session, m.org)


@router.post("/values", dependencies=PROTECT)
def value_add(request: Request, session: SessionDep, m: AdminDep, f: FieldsDep) -> Response:
    form = f.pick(("name", "description", "colour"))
    try:
        value = service.add_value(session, m.org, actor=m.person, **form)
    except Invalid as exc:
        return _values_page(request, session, m.org, form, field_errors(request, exc.errors))
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request, f"{_base(m.org)}/values", message=_("%(name)s is added.") % {"name": value.name}
    )


def _value_page(
    request: Request, value: Value, form: dict[str, Any], errors: dict[str, str] | None = None
) -> Response:
    return render(
        request,
        "admin/value_edit.html",
        {"value": value, "form": form, "errors": errors or {}},
        status_code=422 if errors else 200,
    )


@router.get("/values/{value_id}")
def value_form(request: Request, session: SessionDep, m: AdminDep, value_id: Id) -> Response:
    value = in_org(session, m.org, Value, value_id)
    form = {
        "name": value.name,
        "description": value.description,
        "colour": value.colour,
        "active": value.active,
    }
    return _value_page(request, value, form)


@router.post("/values/{value_id}", dependencies=PROTECT)
def value_save(
    request: Request, session: SessionDep, m: AdminDep, value_id: Id, f: FieldsDep
) -> Response:
    value = in_org(session, m.org, Value, value_id)
    form: dict[str, Any] = {**f.pick(("name", "description", "colour")), "active": f.flag("active")}
    try:
        service.update_value(session, m.org, value, actor=m.person, **form)
    except Invalid as exc:
        return _value_page(request, value, form, field_errors(request, exc.errors))
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request, f"{_base(m.org)}/values", message=_("%(name)s is saved.") % {"name": value.name}
    )


@router.post("/values/{value_id}/move", dependencies=PROTECT)
def value_move(
    request: Request, session: SessionDep, m: AdminDep, value_id: Id, f: FieldsDep
) -> Response:
    value = in_org(session, m.org, Value, value_id)
    delta = {"up": -1, "down": 1}.get(f.get("direction"))
    if delta is None:
        raise Invalid({"direction": BAD_CHOICE})
    service.move_value(session, m.org, value, delta, actor=m.person)
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request, f"{_base(m.org)}/values", message=_("%(name)s is moved.") % {"name": value.name}
    )


@router.post("/values/{value_id}/active", dependencies=PROTECT)
def value_active(
    request: Request, session: SessionDep, m: AdminDep, value_id: Id, f: FieldsDep
) -> Response:
    value = in_org(session, m.org, Value, value_id)
    service.set_value_active(session, m.org, value, f.flag("active"), actor=m.person)
    session.commit()
    _ = i18n.gettext_for(request)
    message = _("%(name)s is active.") if value.active else _("%(name)s is deactivated.")
    return redirect(request, f"{_base(m.org)}/values", message=message % {"name": value.name})


# --- departments ----------------------------------------------------------------------------


def _departments_page(
    request: Request,
    session: SessionDep,
    org: Organisation,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return form_page(
        request,
        "admin/departments.html",
        {
            "tree": service.department_tree(session, org),
            "counts": service.department_people_counts(session, org),
        },
        blank={"name": "", "parent": ""},
        form=form,
        errors=errors,
    )


@router.get("/departments")
def departments_list(request: Request, session: SessionDep, m: AdminDep) -> Response:
    return _departments_page(request, session, m.org)


@router.post("/departments", dependencies=PROTECT)
def department_add(request: Request, session: SessionDep, m: AdminDep, f: FieldsDep) -> Response:
    form = f.pick(("name", "parent"))
    try:
        parent = service.department_choice(session, m.org, form["parent"], field="parent")
        dept = service.add_department(
            session, m.org, name=form["name"], parent=parent, actor=m.person
        )
    except Invalid as exc:
        return _departments_page(request, session, m.org, form, field_errors(request, exc.errors))
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request,
        f"{_base(m.org)}/departments",
        message=_("%(name)s is added.") % {"name": dept.name},
    )


def _parent_options(
    tree: list[tuple[Department, int]], dept: Department
) -> list[tuple[Department, int]]:
    """The tree without `dept` and everything below it: the places it may move to."""
    out: list[tuple[Department, int]] = []
    below: int | None = None
    for d, depth in tree:
        if below is not None and depth > below:
            continue
        below = None
        if d.id == dept.id:
            below = depth
            continue
        out.append((d, depth))
    return out


def _department_page(
    request: Request,
    session: SessionDep,
    org: Organisation,
    dept: Department,
    form: dict[str, str],
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "admin/department_edit.html",
        {
            "dept": dept,
            "options": _parent_options(service.department_tree(session, org), dept),
            "people": service.department_people_counts(session, org).get(dept.id or 0, 0),
            "form": form,
            "errors": errors or {},
        },
        status_code=422 if errors else 200,
    )


@router.get("/departments/{department_id}")
def department_form(
    request: Request, session: SessionDep, m: AdminDep, department_id: Id
) -> Response:
    dept = in_org(session, m.org, Department, department_id)
    form = {"name": dept.name, "parent": str(dept.parent_id or "")}
    return _department_page(request, session, m.org, dept, form)


@router.post("/departments/{department_id}", dependencies=PROTECT)
def department_save(
    request: Request, session: SessionDep, m: AdminDep, department_id: Id, f: FieldsDep
) -> Response:
    dept = in_org(session, m.org, Department, department_id)
    form = f.pick(("name", "parent"))
    try:
        parent = service.department_choice(session, m.org, form["parent"], field="parent")
        service.update_department(
            session, m.org, dept, name=form["name"], parent=parent, actor=m.person
        )
    except Invalid as exc:
        return _department_page(
            request, session, m.org, dept, form, field_errors(request, exc.errors)
        )
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request,
        f"{_base(m.org)}/departments",
        message=_("%(name)s is saved.") % {"name": dept.name},
    )


@router.post("/departments/{department_id}/delete", dependencies=PROTECT)
def department_delete(
    request: Request, session: SessionDep, m: AdminDep, department_id: Id
) -> Response:
    dept = in_org(session, m.org, Department, department_id)
    try:
        service.delete_department(session, m.org, dept, actor=m.person)
    except Invalid as exc:
        form = {"name": dept.name, "parent": str(dept.parent_id or "")}
        return _department_page(
            request, session, m.org, dept, form, field_errors(request, exc.errors)
        )
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request,
        f"{_base(m.org)}/departments",
        message=_("%(name)s is deleted.") % {"name": dept.name},
    )


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
    result = service.search_people(session, m.org, q=q, status=status, page=page_number(page))
    return render(
        request,
        "admin/people.html",
        {
            "page": result,
            "q": q,
            "status": status,
            **_page_links(result, f"{_base(m.org)}/people", q=q, status=status),
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
            "tree": service.department_tree(session, org),
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
        person = service.create_person(session, m.org, form, leads, actor=m.person)
    except Invalid as exc:
        return _person_page(
            request, session, m.org, None, form, set(leads), field_errors(request, exc.errors)
        )
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request, f"{_base(m.org)}/people", message=_("%(name)s is added.") % {"name": person.name}
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
    return redirect(request, f"{_base(m.org)}/people/import/{job_id}")


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
    leads = {str(i) for i in service.led_department_ids(session, subject)}
    return _person_page(request, session, m.org, subject, form, leads)


@router.post("/people/{person_id}", dependencies=PROTECT)
def person_save(
    request: Request, session: SessionDep, m: AdminDep, person_id: Id, f: FieldsDep
) -> Response:
    subject = in_org(session, m.org, Person, person_id)
    form, leads = f.pick(PERSON_FIELDS), f.getlist("leads")
    try:
        service.update_person(session, m.org, subject, form, leads, actor=m.person)
    except Invalid as exc:
        return _person_page(
            request, session, m.org, subject, form, set(leads), field_errors(request, exc.errors)
        )
    session.commit()
    _ = i18n.gettext_for(request)
    message = _("%(name)s is saved.") % {"name": subject.name}
    if not m.person.is_admin:  # the admin made themselves something else
        return redirect(request, f"/{m.org.slug}/", message=message)
    return redirect(request, f"{_base(m.org)}/people", message=message)


# --- API tokens -----------------------------------------------------------------------------


def _tokens_page(
    request: Request,
    session: SessionDep,
    org: Organisation,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return form_page(
        request,
        "admin/tokens.html",
        {
            "tokens": service.org_tokens(session, org),
            "people": service.active_people(session, org),
        },
        blank={"person": "", "name": ""},
        form=form,
        errors=errors,
    )


@router.get("/tokens")
def tokens_list(request: Request, session: SessionDep, m: AdminDep) -> Response:
    return _tokens_page(request, session, m.org)


@router.post("/tokens", dependencies=PROTECT)
def token_create(request: Request, session: SessionDep, m: AdminDep, f: FieldsDep) -> Response:
    form = f.pick(("person", "name"))
    try:
        token, raw = service.create_token(
            session, m.org, person_id=form["person"], name=form["name"], actor=m.person
        )
    except Invalid as exc:
        return _tokens_page(request, session, m.org, form, field_errors(request, exc.errors))
    session.commit()
    # The secret is shown on this response only, so it is rendered here instead of redirecting.
    response = render(request, "admin/token_created.html", {"token": token, "raw": raw})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/tokens/{token_id}/revoke", dependencies=PROTECT)
def token_revoke(request: Request, session: SessionDep, m: AdminDep, token_id: Id) -> Response:
    token = service.token_in_org(session, m.org, token_id)
    service.revoke_token(session, m.org, token, actor=m.person)
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request,
        f"{_base(m.org)}/tokens",
        message=_("The token %(prefix)s… is revoked.") % {"prefix": token.prefix},
    )


# --- audit log ------------------------------------------------------------------------------


@router.get("/audit")
def audit_log(
    request: Request, session: SessionDep, m: AdminDep, page: PageParam = "1"
) -> Response:
    result = service.audit_page(session, m.org, page_number(page))
    return render(
        request,
        "admin/audit.html",
        {
            "page": result,
            "actors": service.actor_names(session, result.items),
            **_page_links(result, f"{_base(m.org)}/audit"),
        },
    )
