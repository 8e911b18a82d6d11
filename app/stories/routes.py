"""Stafettpinnen pages: the relays and their chain, writing a story, passing the baton on."""

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlmodel import Session

from app import i18n
from app.access import MemberDep
from app.config import get_settings
from app.db import SessionDep
from app.errors import N_, Invalid, Problem
from app.kernel.forms import parse_id
from app.media import service as media
from app.media.models import MediaImage
from app.recognition import giving
from app.recognition.service import search_colleagues
from app.security import PROTECT
from app.stories import relay as relays
from app.stories import scope, writing
from app.stories.models import Relay, Story
from app.web import PathId, field_errors, redirect, render

router = APIRouter(prefix="/{org}/stories", include_in_schema=False)


def _ids(values: list[str]) -> list[int]:
    return [i for i in (parse_id(v) for v in values) if i is not None]


def _story_view(session: Session, m: MemberDep, story: Story | None) -> dict[str, Any] | None:
    """A story as a link of the chain shows it: readable, or only that it waits for answers."""
    if story is None:
        return None
    return {
        "story": story if scope.readable(session, m.person, story) else None,
        "public": scope.is_public(session, story),
    }


# --- the relays ----------------------------------------------------------------------------


def _index(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    curator = m.person.is_curator
    return render(
        request,
        "stories/index.html",
        {
            "relays": relays.relays(session, m.org),
            "current_leg": relays.current_leg,
            "held": relays.held_by(session, m.person),
            "questions": writing.pending_questions(session, m.person),
            "stalled": relays.stalled(session, m.org) if curator else [],
            "waiting": relays.waiting(session, m.org) if curator else [],
            "leaders": relays.leaders(session, m.org) if curator else [],
            "form": form or {"title": "", "first": ""},
            "errors": errors or {},
        },
        status_code=422 if errors else 200,
    )


@router.get("")
def index(request: Request, session: SessionDep, m: MemberDep) -> Response:
    return _index(request, session, m)


@router.post("/relays", dependencies=PROTECT)
def start(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    title: Annotated[str, Form(max_length=1000)] = "",
    first: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    scope.require_curator(m.person)
    try:
        relay = relays.start_relay(session, curator=m.person, title=title, first_id=parse_id(first))
    except Invalid as exc:
        session.rollback()
        return _index(
            request,
            session,
            m,
            form={"title": title, "first": first},
            errors=field_errors(request, exc.errors),
        )
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request, f"/{m.org.slug}/stories/relays/{relay.id}", message=_("The relay has started.")
    )


def _relay_page(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    relay: Relay,
    *,
    errors: dict[str, str] | None = None,
    reason: str = "",
) -> Response:
    mine = relays.holding(session, m.person, relay)
    return render(
        request,
        "stories/relay.html",
        {
            "relay": relay,
            "legs": [(leg, _story_view(session, m, leg.story)) for leg in relay.legs],
            "current": relays.current_leg(relay),
            "mine": mine,
            "leaders": relays.leaders(session, m.org, besides=m.person)
            if mine is not None or m.person.is_curator
            else [],
            "all_leaders": relays.leaders(session, m.org) if m.person.is_curator else [],
            "errors": errors or {},
            "reason": reason,
        },
        status_code=422 if errors else 200,
    )


@router.get("/relays/{relay_id}")
def relay_page(request: Request, session: SessionDep, m: MemberDep, relay_id: PathId) -> Response:
    return _relay_page(request, session, m, scope.relay_for(session, m.person, relay_id))


def _relay_action(
    request: Request,
    session: Session,
    m: MemberDep,
    relay_id: int,
    done: str,
    action: Any,
    *,
    reason: str = "",
) -> Response:
    relay = scope.relay_for(session, m.person, relay_id)
    try:
        action(relay)
    except Invalid as exc:
        session.rollback()
        relay = scope.relay_for(session, m.person, relay_id)
        return _relay_page(
            request, session, m, relay, errors=field_errors(request, exc.errors), reason=reason
        )
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(request, f"/{m.org.slug}/stories/relays/{relay_id}", message=_(done))


@router.post("/relays/{relay_id}/pass", dependencies=PROTECT)
def pass_on(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    relay_id: PathId,
    to: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    return _relay_action(
        request,
        session,
        m,
        relay_id,
        N_("You passed the baton on. Thank you!"),
        lambda relay: relays.pass_baton(session, holder=m.person, relay=relay, to_id=parse_id(to)),
    )


@router.post("/relays/{relay_id}/return", dependencies=PROTECT)
def hand_back(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    relay_id: PathId,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _relay_action(
        request,
        session,
        m,
        relay_id,
        N_("You handed the baton back to the curators."),
        lambda relay: relays.hand_back(session, holder=m.person, relay=relay, reason=reason),
        reason=reason,
    )


@router.post("/relays/{relay_id}/hand", dependencies=PROTECT)
def hand_to(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    relay_id: PathId,
    to: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    scope.require_curator(m.person)
    return _relay_action(
        request,
        session,
        m,
        relay_id,
        N_("The baton has a new holder."),
        lambda relay: relays.hand_to(session, curator=m.person, relay=relay, to_id=parse_id(to)),
    )


@router.post("/relays/{relay_id}/close", dependencies=PROTECT)
def close(request: Request, session: SessionDep, m: MemberDep, relay_id: PathId) -> Response:
    scope.require_curator(m.person)
    return _relay_action(
        request,
        session,
        m,
        relay_id,
        N_("The relay is closed."),
        lambda relay: relays.close_relay(session, curator=m.person, relay=relay),
    )


# --- writing a story -----------------------------------------------------------------------


def _write_page(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    relay: Relay,
    *,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    people_ids: list[int] = list(form.get("people", []))
    q = str(form.get("q", ""))
    chosen = writing.chosen_people(session, m.person, people_ids)
    return render(
        request,
        "stories/write.html",
        {
            "relay": relay,
            "form": form,
            "chosen": chosen,
            "results": [
                p for p in search_colleagues(session, m.person, q) if p.id not in people_ids
            ],
            "values": giving.active_values(session, m.org.id),
            "errors": errors or {},
            "text_min": writing.TEXT_MIN,
            "text_max": writing.TEXT_MAX,
            "max_upload_mb": get_settings().max_upload_mb,
        },
        status_code=status_code,
    )


def _blank(key: str | None = None) -> dict[str, Any]:
    return {
        "title": "",
        "text": "",
        "values": [],
        "people": [],
        "feature_consent": True,
        "photo_alt": "",
        "q": "",
        "key": key or secrets.token_urlsafe(16),
    }


@router.get("/relays/{relay_id}/write")
def write_form(request: Request, session: SessionDep, m: MemberDep, relay_id: PathId) -> Response:
    relay = scope.relay_for(session, m.person, relay_id)
    if relays.holding(session, m.person, relay) is None:
        return redirect(request, f"/{m.org.slug}/stories/relays/{relay_id}")
    return _write_page(request, session, m, relay, form=_blank())


@router.post("/relays/{relay_id}/write", dependencies=PROTECT)
def write(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    relay_id: PathId,
    title: Annotated[str, Form(max_length=1000)] = "",
    text: Annotated[str, Form(max_length=10000)] = "",
    values: Annotated[list[str], Form(max_length=20)] = [],  # noqa: B006 - FastAPI reads it
    people: Annotated[list[str], Form(max_length=20)] = [],  # noqa: B006
    feature_consent: Annotated[str, Form(max_length=5)] = "",
    idempotency_key: Annotated[str, Form(max_length=64)] = "",
    photo: Annotated[UploadFile | None, File()] = None,
    photo_alt: Annotated[str, Form(max_length=1000)] = "",
    search: Annotated[str, Form(max_length=5)] = "",
    q: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    relay = scope.relay_for(session, m.person, relay_id)
    value_ids, person_ids = _ids(values), _ids(people)
    form: dict[str, Any] = {
        "title": title,
        "text": text,
        "values": value_ids,
        "people": person_ids,
        "feature_consent": bool(feature_consent),
        "photo_alt": photo_alt,
        "q": q,
        "key": idempotency_key
        if writing.KEY_RE.match(idempotency_key)
        else secrets.token_urlsafe(16),
    }
    if search:  # the colleague search without JavaScript: the form again, input kept
        return _write_page(request, session, m, relay, form=form)
    image: MediaImage | None = None
    photo_errors: dict[str, Problem] = {}
    if photo is not None and media.has_file(photo):
        try:
            image = media.save_upload(session, m.org, m.person, photo, alt=photo_alt)
        except Invalid as exc:
            photo_errors = exc.errors
    try:
        writing.write_story(
            session,
            author=m.person,
            relay=relay,
            title=title,
            text=text,
            value_ids=value_ids,
            person_ids=person_ids,
            idempotency_key=idempotency_key,
            feature_consent=bool(feature_consent),
            photo=image,
        )
        if photo_errors:
            raise Invalid(photo_errors)
    except Invalid as exc:
        session.rollback()
        errors = {**exc.errors, **photo_errors}
        if image is not None and "photo" not in errors:
            errors["photo"] = Problem(
                "again", N_("Choose the photo again: it was not saved because of the other errors.")
            )
        relay = scope.relay_for(session, m.person, relay_id)
        return _write_page(
            request,
            session,
            m,
            relay,
            form=form,
            errors=field_errors(request, errors),
            status_code=422,
        )
    session.commit()
    _ = i18n.gettext_for(request)
    return redirect(
        request,
        f"/{m.org.slug}/stories/relays/{relay_id}",
        message=_("Your story is saved. Now pass the baton to another leader."),
    )


# --- one story -----------------------------------------------------------------------------


@router.get("/{story_id}")
def story_page(request: Request, session: SessionDep, m: MemberDep, story_id: PathId) -> Response:
    story = scope.story_for(session, m.person, story_id)
    mine = next((c for c in story.consents if c.person_id == m.person.id), None)
    return render(
        request,
        "stories/story.html",
        {
            "story": story,
            "public": scope.is_public(session, story),
            "my_consent": mine,
            "photo": media.picture(story.image, story.title),
        },
    )


@router.post("/{story_id}/consent", dependencies=PROTECT)
def consent(
    request: Request,
    session: SessionDep,
    m: MemberDep,
    story_id: PathId,
    answer: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    story = scope.story_for(session, m.person, story_id)
    _ = i18n.gettext_for(request)
    if answer not in ("yes", "no"):
        return redirect(request, f"/{m.org.slug}/stories/{story_id}")
    writing.answer(session, person=m.person, story=story, yes=answer == "yes")
    session.commit()
    message = (
        _("Thank you. The story may be shown.")
        if answer == "yes"
        else _("Thank you. The story is not shown while you say no.")
    )
    return redirect(request, f"/{m.org.slug}/stories/{story_id}", message=message)
