"""The admin's page for provisioning: the tenant URL, SCIM tokens, and which group gives which
role. Thin: parse, check the admin, call `tokens`/`groups`, commit once, render."""

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from scim2_models import NotFoundException

from app import i18n
from app.access import AdminDep
from app.config import get_settings
from app.db import SessionDep
from app.errors import NotFound
from app.orgs.admin_links import admin_base
from app.orgs.models import Organisation, Role
from app.scim import groups, tokens
from app.security import PROTECT
from app.web import FieldsDep, PathId, close_form, redirect, render

router = APIRouter(
    prefix="/{org}/admin/scim", include_in_schema=False, dependencies=[Depends(close_form)]
)


def tenant_url(org: Organisation) -> str:
    return f"{get_settings().base_url.rstrip('/')}/scim/v2/{org.slug}"


def _page(
    request: Request,
    session: SessionDep,
    org: Organisation,
    name: str = "",
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "scim/admin.html",
        {
            "tenant_url": tenant_url(org),
            "tokens": tokens.org_tokens(session, org),
            "groups": groups.org_groups(session, org),
            "roles": groups.MAPPABLE,
            "form": {"name": name},
            "errors": errors or {},
        },
        status_code=422 if errors else 200,
    )


@router.get("")
def scim_admin(request: Request, session: SessionDep, m: AdminDep) -> Response:
    return _page(request, session, m.org)


@router.post("/tokens", dependencies=PROTECT)
def scim_token_create(request: Request, session: SessionDep, m: AdminDep, f: FieldsDep) -> Response:
    name = f.get("name")
    _ = i18n.gettext_for(request)
    try:
        token, raw = tokens.create_token(session, m.org, name, actor=m.person)
    except ValueError:
        return _page(
            request,
            session,
            m.org,
            name,
            {"name": _("Write the name on one line, at most 80 characters.")},
        )
    session.commit()
    # The secret is shown on this response only, so it is rendered here instead of redirecting.
    response = render(
        request,
        "scim/token_created.html",
        {"token": token, "raw": raw, "tenant_url": tenant_url(m.org)},
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/tokens/{scim_token_id}/revoke", dependencies=PROTECT)
def scim_token_revoke(
    request: Request, session: SessionDep, m: AdminDep, scim_token_id: PathId
) -> Response:
    token = tokens.token_in_org(session, m.org, scim_token_id)
    tokens.revoke_token(session, m.org, token, actor=m.person)
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request,
        f"{admin_base(m.org)}/scim",
        message=_("The token %(prefix)s… is revoked.") % {"prefix": token.prefix},
    )


@router.post("/groups/{group_id}/role", dependencies=PROTECT)
def scim_group_role(
    request: Request, session: SessionDep, m: AdminDep, group_id: str, f: FieldsDep
) -> Response:
    try:
        group = groups.group_in_org(session, m.org, group_id)
    except NotFoundException:
        raise NotFound() from None  # another organisation's group looks like no group
    _ = i18n.gettext_for(request)
    try:
        role = groups.parse_role(f.get("role"))
    except ValueError:
        return _page(request, session, m.org, errors={"role": _("Choose a role from the list.")})
    groups.map_role(session, m.org, group, role, m.person)
    session.commit()
    names = {
        Role.leader: _("Leader"),
        Role.curator: _("Curator"),
        Role.admin: _("Admin"),
    }
    message = (
        _("Members of %(group)s are now %(role)s.") % {"group": group.display_name,
                                                      "role": names[role].lower()}
        if role
        else _("%(group)s no longer gives a role.") % {"group": group.display_name}
    )  # fmt: skip
    return redirect(request, f"{admin_base(m.org)}/scim", message=message)
