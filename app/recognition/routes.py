"""Tre om dagen pages: give, a recognition, reactions, hiding (the home feed is app.home)."""

import secrets
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from sqlmodel import col, select

from app import i18n
from app.access import MemberDep
from app.config import get_settings
from app.db import SessionDep
from app.errors import N_, Invalid, Problem
from app.kernel.clock import utcnow
from app.media import service as media
from app.media.models import MediaImage
from app.orgs.models import Person
from app.recognition import cards, giving, hiding, progress, reactions, scope, service
from app.recognition.models import Recognition
from app.recognition.presentation import REACTION_LABELS
from app.security import PROTECT
from app.web import field_errors, is_htmx, is_safe_next, redirect, render

router = APIRouter(prefix="/{org}", include_in_schema=False)

# --- give ---------------------------------------------------------------------------------


def _ints(values: list[str]) -> list[int]:
    out = []
    for v in values:
        try:
            out.append(int(v))
        except ValueError:
            continue
    return out


def _give_page(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    *,
    chosen_ids: list[int],
    value_ids: list[int],
    text: str,
    visibility: str,
    feature_consent: bool,
    photo_alt: str = "",
    q: str = "",
    key: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    chosen = []
    if chosen_ids:
        found = {
            p.id: p
            for p in session.exec(
                select(Person).where(
                    col(Person.id).in_(chosen_ids),
                    Person.org_id == m.org.id,
                    col(Person.active).is_(True),
                    Person.id != m.person.id,
                )
            )
        }
        chosen = [found[i] for i in dict.fromkeys(chosen_ids) if i in found]
    results = service.search_colleagues(session, m.person, q) if q.strip() else []
    return render(
        request,
        "recognition/give.html",
        {
            "chosen": chosen,
            "results": [p for p in results if p not in chosen],
            "suggested": [] if q.strip() else service.search_colleagues(session, m.person, ""),
            "q": q,
            "values": giving.active_values(session, m.org.id),
            "value_ids": set(value_ids),
            "text": text,
            "visibility": visibility,
            "feature_consent": feature_consent,
            "photo_alt": photo_alt,
            "key": key or secrets.token_urlsafe(16),
            "errors": errors or {},
            "progress": progress.progress(session, m.person),
            "text_max": giving.TEXT_MAX,
            "text_min": giving.TEXT_MIN,
            "max_upload_mb": get_settings().max_upload_mb,
        },
        status_code=status_code,
    )


@router.get("/give")
def give_form(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    q: Annotated[str, Query(max_length=100)] = "",
    recipients: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006 - FastAPI reads it
    values: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006
    text: Annotated[str, Query(max_length=2000)] = "",
    visibility: Annotated[str, Query(max_length=10)] = "org",
    feature_consent: Annotated[str, Query(max_length=5)] = "",
    to: int | None = None,
) -> Response:
    """The give form; without JavaScript its search button reloads it with the input kept."""
    chosen = _ints(recipients) + ([to] if to else [])
    return _give_page(
        request,
        session,
        m,
        chosen_ids=chosen,
        value_ids=_ints(values),
        text=text,
        visibility=visibility,
        feature_consent=bool(feature_consent),
        q=q,
    )


@router.get("/give/people")
def give_people(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    q: Annotated[str, Query(max_length=100)] = "",
    recipients: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006
) -> Response:
    """Type-ahead results (an htmx fragment; a page of its own without JavaScript)."""
    chosen = set(_ints(recipients))
    people = [p for p in service.search_colleagues(session, m.person, q) if p.id not in chosen]
    return render(
        request, "recognition/people_results.html", {"results": people, "q": q}, block="results"
    )


@router.post("/give", dependencies=PROTECT)
def give(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    recipients: Annotated[list[str], Form(max_length=20)] = [],  # noqa: B006 - FastAPI reads it
    values: Annotated[list[str], Form(max_length=20)] = [],  # noqa: B006
    text: Annotated[str, Form(max_length=2000)] = "",
    visibility: Annotated[str, Form(max_length=10)] = "org",
    feature_consent: Annotated[str, Form(max_length=5)] = "",
    idempotency_key: Annotated[str, Form(max_length=64)] = "",
    photo: Annotated[UploadFile | None, File()] = None,
    photo_alt: Annotated[str, Form(max_length=1000)] = "",
    search: Annotated[str, Form(max_length=5)] = "",
    q: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    recipient_ids, value_ids = _ints(recipients), _ints(values)
    if search:
        # The search button without JavaScript: show the form again with results and
        # everything typed kept. A POST keeps the CSRF token out of URLs and logs.
        return _give_page(
            request,
            session,
            m,
            chosen_ids=recipient_ids,
            value_ids=value_ids,
            text=text,
            visibility=visibility,
            feature_consent=bool(feature_consent),
            q=q,
            key=idempotency_key if giving.KEY_RE.match(idempotency_key) else None,
        )
    # A sync route runs in the threadpool, so processing the photo here keeps the event loop
    # free. Its files are deleted again if anything below rolls the transaction back.
    image: MediaImage | None = None
    photo_errors: dict[str, Problem] = {}
    if photo is not None and media.has_file(photo):
        try:
            image = media.save_upload(session, m.org, m.person, photo, alt=photo_alt)
        except Invalid as exc:
            photo_errors = exc.errors
    try:
        rec, _created = giving.give_recognition(
            session,
            giver=m.person,
            recipient_ids=recipient_ids,
            value_ids=value_ids,
            text=text,
            visibility=visibility,
            feature_consent=bool(feature_consent),
            idempotency_key=idempotency_key,
            photo=image,
        )
        if photo_errors:
            raise Invalid(photo_errors)
    except Invalid as exc:
        session.rollback()
        errors = {**exc.errors, **photo_errors}
        if image is not None and "photo" not in errors:
            # A file input cannot be filled in again by the server: say so next to it.
            errors["photo"] = Problem(
                "again", N_("Choose the photo again: it was not saved because of the other errors.")
            )
        _ = i18n.gettext_for(request)
        return _give_page(
            request,
            session,
            m,
            chosen_ids=recipient_ids,
            value_ids=value_ids,
            text=text,
            visibility=visibility,
            feature_consent=bool(feature_consent),
            photo_alt=photo_alt,
            key=idempotency_key if giving.KEY_RE.match(idempotency_key) else None,
            errors=field_errors(request, errors),
            status_code=422,
        )
    session.commit()
    return redirect(request, f"/{m.org.slug}/given/{rec.id}")


@router.get("/given/{rec_id}")
def given(request: Request, session: SessionDep, m: MemberDep, rec_id: int) -> Response:
    """The confirmation after giving: who, which value, today's progress, and undo."""
    rec = scope.recognition_for(session, m.person, rec_id)
    if rec.giver_id != m.person.id:
        return redirect(request, f"/{m.org.slug}/r/{rec.id}")
    age = (utcnow() - rec.created_at).total_seconds()
    return render(
        request,
        "recognition/given.html",
        {
            "rec": rec,
            "progress": progress.progress(session, m.person),
            "can_undo": age < giving.UNDO_SECONDS,
            "reactions": reactions.reactions_for(session, m.person, [rec_id]),
            "reaction_labels": REACTION_LABELS,
        },
    )


# --- one recognition ----------------------------------------------------------------------


def _detail(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    rec: Recognition,
    *,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    reason: str = "",
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "recognition/detail.html",
        {
            "rec": cards.card_for(session, m.person, rec),
            "reaction_labels": REACTION_LABELS,
            "as_recipient": next((r for r in rec.recipients if r.person_id == m.person.id), None),
            "can_delete": rec.giver_id == m.person.id
            and utcnow() - rec.created_at <= giving.DELETE_WINDOW,
            "errors": errors or {},
            "error": error,
            "reason": reason,
        },
        status_code=status_code,
    )


@router.get("/r/{rec_id}")
def detail(request: Request, session: SessionDep, m: MemberDep, rec_id: int) -> Response:
    return _detail(request, session, m, scope.recognition_for(session, m.person, rec_id))


def _delete_confirmation(
    request: Request, session: SessionDep, m: MemberDep, rec: Recognition
) -> Response:
    try:
        giving.check_can_delete(m.person, rec)
    except Invalid as exc:
        _ = i18n.gettext_for(request)
        return _detail(request, session, m, rec, error=_(exc.first.message), status_code=422)
    return render(
        request,
        "recognition/delete.html",
        {"rec": rec, "told": giving.told_by_email(session, rec)},
    )


@router.get("/r/{rec_id}/delete")
def delete_page(request: Request, session: SessionDep, m: MemberDep, rec_id: int) -> Response:
    """Ask before deleting, and say what deleting cannot take back (an e-mail that went)."""
    return _delete_confirmation(
        request, session, m, scope.recognition_for(session, m.person, rec_id)
    )


@router.post("/r/{rec_id}/delete", dependencies=PROTECT)
def delete(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    rec_id: int,
    confirm: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    rec = scope.recognition_for(session, m.person, rec_id)
    if confirm != "yes":
        return _delete_confirmation(request, session, m, rec)
    _ = i18n.gettext_for(request)
    told = [p.name for p in giving.told_by_email(session, rec)]
    try:
        giving.delete_recognition(session, m.person, rec)
    except Invalid as exc:
        return _detail(
            request,
            session,
            m,
            rec,
            error=_(exc.first.message),
            status_code=422,
        )
    session.commit()
    if told:
        message = _(
            "Deleted. %(names)s had already been told by e-mail; it is gone from the app."
        ) % {"names": ", ".join(told)}
    else:
        message = _("Deleted. Nobody was notified.")
    return redirect(request, f"/{m.org.slug}/", message=message)


@router.post("/r/{rec_id}/react", dependencies=PROTECT)
def react(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    rec_id: int,
    kind: Annotated[str, Form(max_length=10)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    rec = scope.recognition_for(session, m.person, rec_id)
    reactions.toggle_reaction(session, m.person, rec, kind)
    session.commit()
    if is_htmx(request):
        return render(
            request,
            "recognition/_reactions.html",
            {
                "rec": cards.card_for(session, m.person, rec),
                "reaction_labels": REACTION_LABELS,
                "next": next,
            },
        )
    return redirect(request, next if is_safe_next(next) else f"/{m.org.slug}/r/{rec_id}")


@router.post("/r/{rec_id}/hide", dependencies=PROTECT)
def hide(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    rec_id: int,
    hidden: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """A recipient takes a recognition off the public feeds (or puts it back)."""
    rec = scope.recognition_for(session, m.person, rec_id)
    hiding.set_hidden_by_recipient(session, m.person, rec, hidden == "1")
    session.commit()
    _ = i18n.gettext_for(request)
    message = (
        _("Hidden from the public feeds.") if hidden == "1" else _("Shown in the feeds again.")
    )
    return redirect(request, f"/{m.org.slug}/r/{rec_id}", message=message)


@router.post("/r/{rec_id}/feature", dependencies=PROTECT)
def feature_opt_out(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    rec_id: int,
    opt_out: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    rec = scope.recognition_for(session, m.person, rec_id)
    hiding.set_feature_opt_out(session, m.person, rec, opt_out == "1")
    session.commit()
    _ = i18n.gettext_for(request)
    message = (
        _("It will not be featured with your name.")
        if opt_out == "1"
        else _("It may be featured again.")
    )
    return redirect(request, f"/{m.org.slug}/r/{rec_id}", message=message)


@router.post("/r/{rec_id}/moderate", dependencies=PROTECT)
def moderate(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    rec_id: int,
    hidden: Annotated[str, Form(max_length=5)] = "",
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Curators hide a recognition with a logged reason, or show it again."""
    rec = scope.recognition_for(session, m.person, rec_id)
    _ = i18n.gettext_for(request)
    try:
        if hidden == "1":
            hiding.curator_hide(session, m.person, rec, reason)
        else:
            hiding.curator_unhide(session, m.person, rec)
    except Invalid as exc:
        session.rollback()
        return _detail(
            request,
            session,
            m,
            rec,
            errors=field_errors(request, exc.errors),
            reason=reason,
            status_code=422,
        )
    session.commit()
    message = (
        _("Hidden for everyone but the giver and curators.")
        if hidden == "1"
        else _("Visible again.")
    )
    return redirect(request, f"/{m.org.slug}/r/{rec_id}", message=message)
