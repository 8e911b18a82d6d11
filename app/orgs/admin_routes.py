"""Administration pages for an organisation's admins.

Settings, values, departments, API tokens and the audit log (people and the CSV import are in
admin_people_routes.py). Every change goes through the services of app.orgs (settings, values,
departments, tokens), which also write the audit event.
"""

from typing import Annotated, Any
from urllib.parse import urlencode

from babel import Locale, dates
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from app import i18n
from app.access import AdminDep
from app.db import SessionDep
from app.errors import N_, Invalid, Problem
from app.kernel.paging import page_number
from app.kernel.scope import in_org
from app.orgs.admin_links import admin_base, page_links
from app.orgs.audit_log import (
    ACTIONS,
    AuditFilter,
    actor_choices,
    actor_names,
    audit_csv,
    audit_page,
    parse_filter,
)
from app.orgs.colours import DEFAULT_COLOURS
from app.orgs.departments import (
    add_department,
    delete_department,
    department_choice,
    department_people_counts,
    department_tree,
    update_department,
)
from app.orgs.models import Department, Organisation, Value
from app.orgs.people import active_people
from app.orgs.settings import COUNTRIES, update_org_settings
from app.orgs.tokens import create_token, org_tokens, revoke_token, token_in_org
from app.orgs.values import add_value, list_values, move_value, set_value_active, update_value
from app.security import PROTECT
from app.web import FieldsDep, PageParam, close_form, field_errors, form_page, redirect, render
from app.web import PathId as Id

router = APIRouter(
    prefix="/{org}/admin", include_in_schema=False, dependencies=[Depends(close_form)]
)

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
    "country",
    "daily_goal",
    "insight_min_group",
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
BAD_CHOICE = Problem("invalid", N_("This value is not valid."))


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
    _ = i18n.gettext_for(request)
    return render(
        request,
        "admin/settings.html",
        {
            "form": form,
            "errors": errors or {},
            "weekdays": _weekdays(request),
            "timezones": COMMON_TIMEZONES,
            "countries": [(code, _(label)) for code, label in COUNTRIES.items()],
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
        "country": o.country,
        "daily_goal": str(o.daily_goal),
        "insight_min_group": str(o.insight_min_group),
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
        update_org_settings(session, m.org, m.person, form)
    except Invalid as exc:
        return _settings_page(request, form, field_errors(request, exc.errors))
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(request, f"{admin_base(m.org)}/settings", message=_("The settings are saved."))


# --- values ---------------------------------------------------------------------------------


def _values_page(
    request: Request,
    session: SessionDep,
    org: Organisation,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    values = list_values(session, org)
    next_colour = DEFAULT_COLOURS[len(values) % len(DEFAULT_COLOURS)]
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
        value = add_value(session, m.org, actor=m.person, **form)
    except Invalid as exc:
        return _values_page(request, session, m.org, form, field_errors(request, exc.errors))
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request,
        f"{admin_base(m.org)}/values",
        message=_("%(name)s is added.") % {"name": value.name},
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
        update_value(session, m.org, value, actor=m.person, **form)
    except Invalid as exc:
        return _value_page(request, value, form, field_errors(request, exc.errors))
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request,
        f"{admin_base(m.org)}/values",
        message=_("%(name)s is saved.") % {"name": value.name},
    )


@router.post("/values/{value_id}/move", dependencies=PROTECT)
def value_move(
    request: Request, session: SessionDep, m: AdminDep, value_id: Id, f: FieldsDep
) -> Response:
    value = in_org(session, m.org, Value, value_id)
    delta = {"up": -1, "down": 1}.get(f.get("direction"))
    if delta is None:
        raise Invalid({"direction": BAD_CHOICE})
    move_value(session, m.org, value, delta, actor=m.person)
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request,
        f"{admin_base(m.org)}/values",
        message=_("%(name)s is moved.") % {"name": value.name},
    )


@router.post("/values/{value_id}/active", dependencies=PROTECT)
def value_active(
    request: Request, session: SessionDep, m: AdminDep, value_id: Id, f: FieldsDep
) -> Response:
    value = in_org(session, m.org, Value, value_id)
    set_value_active(session, m.org, value, f.flag("active"), actor=m.person)
    session.commit()
    _ = i18n.gettext_for(request)
    message = _("%(name)s is active.") if value.active else _("%(name)s is deactivated.")
    return redirect(request, f"{admin_base(m.org)}/values", message=message % {"name": value.name})


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
            "tree": department_tree(session, org),
            "counts": department_people_counts(session, org),
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
        parent = department_choice(session, m.org, form["parent"], field="parent")
        dept = add_department(session, m.org, name=form["name"], parent=parent, actor=m.person)
    except Invalid as exc:
        return _departments_page(request, session, m.org, form, field_errors(request, exc.errors))
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request,
        f"{admin_base(m.org)}/departments",
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
            "options": _parent_options(department_tree(session, org), dept),
            "people": department_people_counts(session, org).get(dept.id or 0, 0),
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
        parent = department_choice(session, m.org, form["parent"], field="parent")
        update_department(session, m.org, dept, name=form["name"], parent=parent, actor=m.person)
    except Invalid as exc:
        return _department_page(
            request, session, m.org, dept, form, field_errors(request, exc.errors)
        )
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request,
        f"{admin_base(m.org)}/departments",
        message=_("%(name)s is saved.") % {"name": dept.name},
    )


@router.post("/departments/{department_id}/delete", dependencies=PROTECT)
def department_delete(
    request: Request, session: SessionDep, m: AdminDep, department_id: Id
) -> Response:
    dept = in_org(session, m.org, Department, department_id)
    try:
        delete_department(session, m.org, dept, actor=m.person)
    except Invalid as exc:
        form = {"name": dept.name, "parent": str(dept.parent_id or "")}
        return _department_page(
            request, session, m.org, dept, form, field_errors(request, exc.errors)
        )
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request,
        f"{admin_base(m.org)}/departments",
        message=_("%(name)s is deleted.") % {"name": dept.name},
    )


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
            "tokens": org_tokens(session, org),
            "people": active_people(session, org),
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
        token, raw = create_token(
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
    token = token_in_org(session, m.org, token_id)
    revoke_token(session, m.org, token, actor=m.person)
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request,
        f"{admin_base(m.org)}/tokens",
        message=_("The token %(prefix)s… is revoked.") % {"prefix": token.prefix},
    )


# --- audit log ------------------------------------------------------------------------------


AuditQuery = Annotated[str, Query(max_length=20)]


def _audit_filter(
    request: Request, actor: str, action: str, since: str, until: str
) -> tuple[AuditFilter, dict[str, str]]:
    """The filter asked for, or no filter and the errors to show beside the fields."""
    try:
        return parse_filter(actor, action, since, until), {}
    except Invalid as exc:
        return AuditFilter(), field_errors(request, exc.errors)


@router.get("/audit")
def audit_log(
    request: Request,
    session: SessionDep,
    m: AdminDep,
    page: PageParam = "1",
    actor: AuditQuery = "",
    action: Annotated[str, Query(max_length=60)] = "",
    since: AuditQuery = "",
    until: AuditQuery = "",
) -> Response:
    f, errors = _audit_filter(request, actor, action, since, until)
    result = audit_page(session, m.org, page_number(page), f)
    _ = i18n.gettext_for(request)
    return render(
        request,
        "admin/audit.html",
        {
            "page": result,
            "actors": actor_names(session, result.items),
            "actor_choices": actor_choices(session, m.org),
            "actions": {code: _(label) for code, label in ACTIONS.items()},
            "form": {"actor": actor, "action": action, "since": since, "until": until},
            "errors": errors,
            "csv_url": f"{admin_base(m.org)}/audit.csv?{urlencode(f.params())}",
            **page_links(result, f"{admin_base(m.org)}/audit", **f.params()),
        },
        status_code=422 if errors else 200,
    )


@router.get("/audit.csv")
def audit_log_csv(
    request: Request,
    session: SessionDep,
    m: AdminDep,
    actor: AuditQuery = "",
    action: Annotated[str, Query(max_length=60)] = "",
    since: AuditQuery = "",
    until: AuditQuery = "",
) -> Response:
    """The filtered log for a spreadsheet (a read: it writes no audit event of its own)."""
    try:
        f = parse_filter(actor, action, since, until)
    except Invalid:
        return Response(status_code=422)
    _ = i18n.gettext_for(request)
    lines = audit_csv(
        session,
        m.org,
        f,
        label=_,
        header=[_("Time"), _("Who"), _("Action"), _("What"), _("Target")],
        system=_("The system"),
    )
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="audit-{m.org.slug}.csv"',
            "Cache-Control": "no-store",
        },
    )
