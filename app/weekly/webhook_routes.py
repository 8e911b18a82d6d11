"""Admin pages for webhooks: add, switch off and on, delete, test, and what was delivered."""

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app import i18n
from app.access import AdminDep
from app.config import get_settings
from app.db import SessionDep
from app.errors import Invalid
from app.kernel.scope import in_org
from app.orgs.models import Organisation
from app.security import PROTECT
from app.web import FieldsDep, close_form, field_errors, flash, form_page, redirect, render
from app.web import PathId as Id
from app.weekly import webhooks
from app.weekly.models import Webhook, WebhookKind

router = APIRouter(
    prefix="/{org}/admin/webhooks", include_in_schema=False, dependencies=[Depends(close_form)]
)

ADD_FIELDS = ("kind", "name", "url")


def _list_url(org: Organisation) -> str:
    return f"/{org.slug}/admin/webhooks"


def _webhook_url(webhook: Webhook) -> str:
    return f"/{webhook.org.slug}/admin/webhooks/{webhook.id}"


def _list_page(
    request: Request,
    session: SessionDep,
    org: Organisation,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return form_page(
        request,
        "admin/webhooks.html",
        {
            "webhooks": webhooks.org_webhooks(session, org),
            "counts": webhooks.delivery_counts(session, org),
            "host": lambda url: urlsplit(url).hostname or "",
            "dev": get_settings().dev,
        },
        blank={"kind": WebhookKind.teams.value, "name": "", "url": ""},
        form=form,
        errors=errors,
    )


@router.get("")
def webhooks_list(request: Request, session: SessionDep, m: AdminDep) -> Response:
    return _list_page(request, session, m.org)


@router.post("", dependencies=PROTECT)
def webhook_add(request: Request, session: SessionDep, m: AdminDep, f: FieldsDep) -> Response:
    form = f.pick(ADD_FIELDS)
    try:
        webhook = webhooks.add_webhook(session, m.org, actor=m.person, **form)
    except Invalid as exc:
        return _list_page(request, session, m.org, form, field_errors(request, exc.errors))
    session.commit()
    _ = i18n.gettext_for(request)
    if webhook.kind == WebhookKind.generic:
        # The secret is shown on this response only, so it is rendered here, not redirected to.
        response = render(request, "admin/webhook_created.html", {"webhook": webhook})
        response.headers["Cache-Control"] = "no-store"
        return response
    return redirect(
        request, _webhook_url(webhook), message=_("%(name)s is added.") % {"name": webhook.name}
    )


def _webhook_page(
    request: Request,
    session: SessionDep,
    webhook: Webhook,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "admin/webhook.html",
        {
            "webhook": webhook,
            "shown_url": webhooks.redact_url(webhook.url),
            "deliveries": webhooks.recent_deliveries(session, webhook),
            "errors": errors or {},
        },
        status_code=422 if errors else 200,
    )


@router.get("/{webhook_id}")
def webhook_detail(request: Request, session: SessionDep, m: AdminDep, webhook_id: Id) -> Response:
    webhook = in_org(session, m.org, Webhook, webhook_id)
    return _webhook_page(request, session, webhook)


@router.post("/{webhook_id}/active", dependencies=PROTECT)
def webhook_active(
    request: Request, session: SessionDep, m: AdminDep, webhook_id: Id, f: FieldsDep
) -> Response:
    webhook = in_org(session, m.org, Webhook, webhook_id)
    webhooks.set_active(session, m.org, webhook, f.flag("active"), actor=m.person)
    session.commit()
    _ = i18n.gettext_for(request)
    message = _("%(name)s is active.") if webhook.active else _("%(name)s is deactivated.")
    return redirect(request, _webhook_url(webhook), message=message % {"name": webhook.name})


@router.post("/{webhook_id}/delete", dependencies=PROTECT)
def webhook_delete(request: Request, session: SessionDep, m: AdminDep, webhook_id: Id) -> Response:
    webhook = in_org(session, m.org, Webhook, webhook_id)
    name = webhook.name
    webhooks.delete_webhook(session, m.org, webhook, actor=m.person)
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(request, _list_url(m.org), message=_("%(name)s is deleted.") % {"name": name})


@router.post("/{webhook_id}/test", dependencies=PROTECT)
def webhook_test(request: Request, session: SessionDep, m: AdminDep, webhook_id: Id) -> Response:
    webhook = in_org(session, m.org, Webhook, webhook_id)
    try:
        webhooks.send_test(session, m.org, webhook, actor=m.person)
    except Invalid as exc:
        return _webhook_page(request, session, webhook, field_errors(request, exc.errors))
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request,
        _webhook_url(webhook),
        message=_("A test is on its way. Reload this page in a minute to see how it went."),
    )


@router.post("/{webhook_id}/deliveries/{delivery_id}/retry", dependencies=PROTECT)
def delivery_retry(
    request: Request, session: SessionDep, m: AdminDep, webhook_id: Id, delivery_id: Id
) -> Response:
    webhook = in_org(session, m.org, Webhook, webhook_id)
    delivery = webhooks.delivery_of(session, webhook, delivery_id)
    _ = i18n.gettext_for(request)
    try:
        webhooks.retry_now(session, m.org, delivery, actor=m.person)
    except Invalid as exc:
        response = redirect(request, _webhook_url(webhook))
        flash(response, field_errors(request, exc.errors)["retry"], "error")
        return response
    session.commit()
    return redirect(
        request,
        _webhook_url(webhook),
        message=_("The delivery will be tried again within a minute."),
    )
