"""Ukens ESS for members: the archive and its pages, and answering the consent question."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from app import i18n
from app.access import MemberDep
from app.db import SessionDep
from app.errors import Invalid, NotFound
from app.kernel.clock import utcnow
from app.orgs.models import Organisation, Person
from app.security import PROTECT
from app.web import is_safe_next, redirect, render
from app.weekly import presentation, public, schedule
from app.weekly.consent import (
    NOT_FOUND_TOKEN,
    answer_consent,
    answer_consent_by_token,
    consent_for_token,
)
from app.weekly.models import Feature, FeatureConsent

router = APIRouter(prefix="/{org}", include_in_schema=False)
# The one-click page from the consent e-mail: the person may not be signed in on that device.
public_router = APIRouter(include_in_schema=False)

# --- access -------------------------------------------------------------------------------


def public_feature(session: Session, org: Organisation, feature_id: int) -> Feature:
    """A feature members may read: published, not withdrawn, everyone named still agrees."""
    feature = public.public_feature(session, org, feature_id)
    if feature is None:
        raise NotFound()
    return feature


def consent_of(session: Session, person: Person, consent_id: int) -> FeatureConsent:
    """The person's own consent question; anyone else's looks like it does not exist."""
    consent = session.get(FeatureConsent, consent_id)
    if consent is None or consent.person_id != person.id:
        raise NotFound()
    return consent


# --- for members --------------------------------------------------------------------------


@router.get("/features")
def archive(request: Request, session: SessionDep, m: MemberDep) -> Response:
    # The same rule as the widget: what the intranet may show, members see here.
    features = public.archive(session, m.org, limit=50)
    publish = schedule.next_publish_at(m.org, utcnow())
    return render(
        request,
        "weekly/archive.html",
        {
            "features": [(f, public.public_people(f)) for f in features],
            "next_publish": presentation.when(
                m.org, publish, i18n.request_locale(request), i18n.gettext_for(request)
            ),
        },
    )


@router.get("/features/{feature_id}")
def archive_item(request: Request, session: SessionDep, m: MemberDep, feature_id: int) -> Response:
    feature = public_feature(session, m.org, feature_id)
    return render(
        request,
        "weekly/feature.html",
        {
            "feature": feature,
            "named": public.public_people(feature),
            "values": public.feature_values(feature),
        },
    )


@router.post("/consent/{consent_id}", dependencies=PROTECT)
def answer(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    consent_id: int,
    answer: Annotated[str, Form(max_length=5)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """A signed-in person answers whether their name may be shown (banner or Me page)."""
    consent = consent_of(session, m.person, consent_id)
    _ = i18n.gettext_for(request)
    back = next if is_safe_next(next) and next.startswith(f"/{m.org.slug}/") else f"/{m.org.slug}/"
    if answer not in ("yes", "no"):
        return redirect(request, back)
    try:
        answer_consent(session, person=m.person, feature=consent.feature, yes=answer == "yes")
    except Invalid as exc:
        session.rollback()
        return redirect(request, back, message=_(exc.first.message))
    session.commit()
    return redirect(request, back, message=_consent_thanks(_, answer == "yes"))


def _consent_thanks(_: Callable[[str], str], yes: bool) -> str:
    return (
        _("Thank you. Your name may be shown with the story.")
        if yes
        else _("Thank you. Your name will not be shown.")
    )


# --- the one-click link from the e-mail ---------------------------------------------------


@public_router.get("/consent/{token}")
def consent_page(
    request: Request,
    session: SessionDep,
    token: str,
    answer: Annotated[str, Query(max_length=5)] = "",
) -> Response:
    """Ask with two buttons; only a POST answers (mail scanners open links too).

    The e-mail's links carry the answer the person clicked: that button comes first.
    """
    _ = i18n.gettext_for(request)
    consent = consent_for_token(session, token[:100])
    if consent is None:
        return render(
            request,
            "weekly/consent.html",
            {"error": _(NOT_FOUND_TOKEN.message)},
            status_code=400,
        )
    return render(
        request,
        "weekly/consent.html",
        {"consent": consent, "token": token, "chosen": answer if answer in ("yes", "no") else ""},
    )


@public_router.post("/consent/{token}", dependencies=PROTECT)
def consent_answer(
    request: Request,
    session: SessionDep,
    token: str,
    answer: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    _ = i18n.gettext_for(request)
    if answer not in ("yes", "no"):
        return consent_page(request, session, token, "")
    try:
        consent = answer_consent_by_token(session, token[:100], answer == "yes")
    except Invalid as exc:
        session.rollback()
        return render(
            request, "weekly/consent.html", {"error": _(exc.first.message)}, status_code=400
        )
    session.commit()
    return render(
        request,
        "weekly/consent.html",
        {"consent": consent, "done": _consent_thanks(_, answer == "yes")},
    )
