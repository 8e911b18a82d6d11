"""The admin page of the organisation's login: its identity provider and the e-mail link."""

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app import i18n
from app.access import AdminDep
from app.auth.oidc import redirect_uri
from app.auth.oidc_config import (
    configure_provider,
    has_identity,
    provider_for,
    remove_provider,
    set_magic_link_login,
)
from app.db import SessionDep
from app.errors import Invalid
from app.security import PROTECT
from app.web import FieldsDep, close_form, field_errors, redirect, render

router = APIRouter(
    prefix="/{org}/admin/login", include_in_schema=False, dependencies=[Depends(close_form)]
)
FIELDS = ("issuer", "tenant_id", "client_id")


def _page(
    request: Request,
    session: SessionDep,
    m: AdminDep,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    provider = provider_for(session, m.org)
    if form is None:
        form = {
            "issuer": provider.issuer if provider else "",
            "tenant_id": (provider.tenant_id or "") if provider else "",
            "client_id": provider.client_id if provider else "",
            "link_by_email": provider.link_by_email if provider else False,
        }
    response = render(
        request,
        "admin/login.html",
        {
            "provider": provider,
            "form": form,
            "errors": errors or {},
            "redirect_uri": redirect_uri(),
            "tried": provider is not None and has_identity(session, m.org, m.person),
        },
        status_code=422 if errors else 200,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("")
def login_settings(request: Request, session: SessionDep, m: AdminDep) -> Response:
    return _page(request, session, m)


@router.post("", dependencies=PROTECT)
def login_settings_save(
    request: Request, session: SessionDep, m: AdminDep, f: FieldsDep
) -> Response:
    form: dict[str, Any] = {**f.pick(FIELDS), "link_by_email": f.flag("link_by_email")}
    try:
        configure_provider(
            session,
            m.org,
            m.person,
            client_secret=f.get("client_secret"),
            **form,
        )
    except Invalid as exc:
        return _page(request, session, m, form, field_errors(request, exc.errors))
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request, f"/{m.org.slug}/admin/login", message=_("The login settings are saved.")
    )


@router.post("/magic-link", dependencies=PROTECT)
def magic_link_save(request: Request, session: SessionDep, m: AdminDep, f: FieldsDep) -> Response:
    try:
        set_magic_link_login(session, m.org, m.person, f.flag("magic_link_login"))
    except Invalid as exc:
        return _page(request, session, m, errors=field_errors(request, exc.errors))
    session.commit()
    _ = i18n.gettext_for(request)
    message = (
        _("People can also log in with a link by e-mail.")
        if m.org.magic_link_login
        else _("The login link by e-mail is turned off.")
    )
    return redirect(request, f"/{m.org.slug}/admin/login", message=message)


@router.post("/remove", dependencies=PROTECT)
def provider_remove(request: Request, session: SessionDep, m: AdminDep) -> Response:
    remove_provider(session, m.org, m.person)
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request,
        f"/{m.org.slug}/admin/login",
        message=_("The login with Microsoft is removed. People log in with the e-mail link."),
    )
