"""Storskjerm pages: the curators' sessions, control page, held words and exports, and the
participants' phone page at /live/{code} (a plain form that htmx improves)."""

import contextlib
import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from app.access import CuratorDep, Member, OptionalPerson
from app.db import SessionDep
from app.errors import Invalid, NotFound, PermissionDenied
from app.i18n import gettext_for
from app.kernel.forms import parse_id
from app.live import service, svg
from app.live.models import AnswerStatus, LiveSession, State
from app.live.presentation import LABELS
from app.orgs.models import Value
from app.security import PROTECT, csrf_protect, hit
from app.web import PathId, field_errors, flash, is_htmx, redirect, render

router = APIRouter(include_in_schema=False)

DEVICE_COOKIE = service.DEVICE_COOKIE
join_url = service.join_url


def _live(session: SessionDep, m: CuratorDep, live_id: PathId) -> LiveSession:
    return service.session_for(session, m.org, live_id)


LiveDep = Annotated[LiveSession, Depends(_live)]


def _base(m: Member, live: LiveSession | None = None) -> str:
    return f"/{m.org.slug}/live" + (f"/{live.id}" if live is not None else "")


def _values(session: SessionDep, m: Member) -> list[Value]:
    return [v for v in m.org.values if v.active]


# --- the curators' list -------------------------------------------------------------------


@router.get("/{org}/live")
def index(request: Request, session: SessionDep, m: CuratorDep) -> Response:
    return _index(request, session, m)


def _index(
    request: Request,
    session: SessionDep,
    m: Member,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "live/index.html",
        {
            **LABELS,
            "sessions": service.sessions(session, m.org),
            "values": _values(session, m),
            "form": form or {"question": "", "kind": "cloud", "options": "", "value_id": ""},
            "errors": errors or {},
        },
        status_code=422 if errors else 200,
    )


@router.post("/{org}/live", dependencies=PROTECT)
def create(
    request: Request,
    session: SessionDep,
    m: CuratorDep,
    question: Annotated[str, Form(max_length=2000)] = "",
    kind: Annotated[str, Form(max_length=20)] = "cloud",
    options: Annotated[str, Form(max_length=4000)] = "",
    value_id: Annotated[str, Form(max_length=12)] = "",
    allow_anonymous: Annotated[str, Form(max_length=10)] = "",
    prepare: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    chosen = parse_id(value_id) if value_id else None
    try:
        live = service.create_session(
            session,
            m.org,
            actor=m.person,
            question=question,
            kind=kind,
            options=options.splitlines(),
            # A value that is not an id is "not one of the organisation's values".
            value_id=chosen if chosen is not None or not value_id else 0,
            allow_anonymous=bool(allow_anonymous),
            hide_until_revealed=bool(prepare),
        )
    except Invalid as exc:
        form = {"question": question, "kind": kind, "options": options, "value_id": value_id}
        form |= {"allow_anonymous": allow_anonymous, "prepare": prepare}
        return _index(request, session, m, form=form, errors=field_errors(request, exc.errors))
    session.commit()
    _ = gettext_for(request)
    return redirect(
        request, _base(m, live), message=_("The session is ready. Open it when you start.")
    )


# --- one session: the control page ------------------------------------------------------


def _control(request: Request, session: SessionDep, m: Member, live: LiveSession) -> Response:
    return render(
        request,
        "live/control.html",
        {
            **LABELS,
            "live": live,
            "tally": service.tally(session, live),
            "answers": service.answers(session, live, limit=200),
            "label": service.answer_label,
            "join_url": join_url(live),
            "screen_url": f"{_base(m, live)}/screen?key={live.screen_key}",
            "Status": AnswerStatus,
            "State": State,
        },
        block="answers" if request.query_params.get("part") == "answers" else None,
    )


@router.get("/{org}/live/{live_id}")
def control(request: Request, session: SessionDep, m: CuratorDep, live: LiveDep) -> Response:
    return _control(request, session, m, live)


@router.post("/{org}/live/{live_id}/state", dependencies=PROTECT)
def state(
    request: Request,
    session: SessionDep,
    m: CuratorDep,
    live: LiveDep,
    state: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    try:
        service.set_state(session, live, state, actor=m.person)
    except Invalid as exc:
        _ = gettext_for(request)
        response = redirect(request, _base(m, live))
        flash(response, _(exc.first.message), "error")
        return response
    session.commit()
    return redirect(request, _base(m, live))


@router.post("/{org}/live/{live_id}/settings", dependencies=PROTECT)
def settings(
    request: Request,
    session: SessionDep,
    m: CuratorDep,
    live: LiveDep,
    revealed: Annotated[str, Form(max_length=10)] = "",
    results_shared: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    service.set_flags(
        session,
        live,
        actor=m.person,
        revealed={"1": True, "0": False}.get(revealed),
        results_shared={"1": True, "0": False}.get(results_shared),
    )
    session.commit()
    return redirect(request, _base(m, live))


@router.post("/{org}/live/{live_id}/answers/{answer_id}", dependencies=PROTECT)
def moderate(
    request: Request,
    session: SessionDep,
    m: CuratorDep,
    live: LiveDep,
    answer_id: PathId,
    status: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    row = service.moderate(session, live, answer_id, status, actor=m.person)
    session.commit()
    if is_htmx(request):
        return render(
            request,
            "live/_answer.html",
            {"live": live, "a": row, "label": service.answer_label, "Status": AnswerStatus},
        )
    return redirect(request, _base(m, live))


@router.get("/{org}/live/{live_id}/answers.csv")
def answers_csv(request: Request, session: SessionDep, m: CuratorDep, live: LiveDep) -> Response:
    _ = gettext_for(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Answer"), _("Status"), _("Member"), _("Answered"), _("Changed")])
    for row in reversed(service.answers(session, live)):
        writer.writerow(
            [
                _csv_safe(service.answer_label(live, row)),
                row.status.value,
                "1" if row.person_id else "0",
                row.created_at.isoformat(timespec="seconds"),
                row.updated_at.isoformat(timespec="seconds"),
            ]
        )
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="live-{live.id}.csv"'},
    )


def _csv_safe(value: str) -> str:
    # A cell a spreadsheet would run as a formula ("=...", "+...") is kept as text.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


@router.get("/{org}/live/{live_id}/cloud.svg")
def cloud_svg(request: Request, session: SessionDep, m: CuratorDep, live: LiveDep) -> Response:
    tally = service.tally(session, live)
    body = svg.cloud_svg(live.question, tally.cloud, colour=m.org.theme_primary)
    return Response(
        body,
        media_type="image/svg+xml",
        headers={"Content-Disposition": f'attachment; filename="live-{live.id}.svg"'},
    )


# --- held words -------------------------------------------------------------------------


@router.get("/{org}/live/words/held")
def held_words(request: Request, session: SessionDep, m: CuratorDep) -> Response:
    return _held(request, session, m)


def _held(
    request: Request,
    session: SessionDep,
    m: Member,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "live/held.html",
        {
            "words": service.held_word_list(session, m.org),
            "errors": errors or {},
            "form": form or {"word": "", "locale": m.org.locale},
        },
        status_code=422 if errors else 200,
    )


@router.post("/{org}/live/words/held", dependencies=PROTECT)
def add_held_word(
    request: Request,
    session: SessionDep,
    m: CuratorDep,
    word: Annotated[str, Form(max_length=400)] = "",
    locale: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    try:
        service.add_held_word(session, m.org, locale=locale, word=word, actor=m.person)
    except Invalid as exc:
        return _held(
            request,
            session,
            m,
            errors=field_errors(request, exc.errors),
            form={"word": word, "locale": locale},
        )
    session.commit()
    return redirect(request, f"/{m.org.slug}/live/words/held")


@router.post("/{org}/live/words/held/{word_id}/delete", dependencies=PROTECT)
def remove_held_word(
    request: Request, session: SessionDep, m: CuratorDep, word_id: PathId
) -> Response:
    service.remove_held_word(session, m.org, word_id, actor=m.person)
    session.commit()
    return redirect(request, f"/{m.org.slug}/live/words/held")


# --- participants -----------------------------------------------------------------------


@router.get("/live")
def join(
    request: Request, session: SessionDep, code: Annotated[str, Query(max_length=40)] = ""
) -> Response:
    """Type the code from the screen (or scan the QR code, which opens /live/{code})."""
    error = None
    if code:
        normal = service.normalise_code(code)
        try:
            service.session_by_code(session, normal)
        except NotFound:
            _ = gettext_for(request)
            error = _("No session has this code. Check the code on the screen.")
        else:
            return RedirectResponse(f"/live/{normal}", status_code=303)
    return render(
        request, "live/join.html", {"code": code, "error": error}, status_code=404 if error else 200
    )


def _participant_locale(request: Request, live: LiveSession, person: Any) -> None:
    request.state.org = live.org
    request.state.locale = (
        (person.locale if person is not None and person.org_id == live.org_id else None)
        or getattr(request.state, "browser_locale", None)
        or live.org.locale
    )


def _phone(
    request: Request,
    session: SessionDep,
    live: LiveSession,
    person: Any,
    device: str | None,
    *,
    errors: dict[str, str] | None = None,
    sent: dict[str, str] | None = None,
    thanks: bool = False,
    status_code: int = 200,
) -> Response:
    _participant_locale(request, live, person)
    new_device = None
    if live.allow_anonymous and not device:
        device = new_device = service.new_device_cookie()
    participant = None
    with contextlib.suppress(PermissionDenied):
        participant = service.participant_for(live, person, device)
    mine = service.own_answer(session, live, participant) if participant else None
    current = sent or {}
    if mine is not None and not sent:
        current = {
            "text": ", ".join(mine.words),
            "choice": str(mine.choice or ""),
            "scale": str(mine.scale or ""),
        }
    show_results = live.state == State.closed and live.results_shared
    response = render(
        request,
        "live/phone.html",
        {
            "live": live,
            "can_answer": participant is not None,
            "mine": mine,
            "current": current,
            "errors": errors or {},
            "tally": service.tally(session, live) if show_results else None,
            "show_results": show_results,
            "next": f"/live/{live.code}",
            "thanks": thanks,
        },
        block="answer" if is_htmx(request) else None,
        status_code=status_code,
    )
    if new_device:
        response.set_cookie(**service.device_cookie(new_device))  # type: ignore[arg-type]
    return response


@router.get("/live/{code}")
def phone(request: Request, session: SessionDep, person: OptionalPerson, code: str) -> Response:
    live = service.session_by_code(session, code[:40])
    return _phone(request, session, live, person, request.cookies.get(DEVICE_COOKIE))


def limit_answers(session: SessionDep, participant: service.Participant) -> None:
    hit(
        session,
        f"live:{participant.key}",
        limit=service.ANSWERS_PER_WINDOW,
        per_seconds=service.WINDOW_SECONDS,
    )


@router.post("/live/{code}", dependencies=[Depends(csrf_protect)])
def phone_answer(
    request: Request,
    session: SessionDep,
    person: OptionalPerson,
    code: str,
    text: Annotated[str | None, Form(max_length=400)] = None,
    choice: Annotated[str | None, Form(max_length=4)] = None,
    scale: Annotated[str | None, Form(max_length=4)] = None,
) -> Response:
    live = service.session_by_code(session, code[:40])
    device = request.cookies.get(DEVICE_COOKIE)
    sent = {"text": text or "", "choice": choice or "", "scale": scale or ""}
    try:
        participant = service.participant_for(live, person, device)
    except PermissionDenied:
        return _phone(request, session, live, person, device, status_code=403)
    limit_answers(session, participant)
    try:
        service.answer(
            session,
            live,
            participant,
            text=text,
            choice=_small_int(choice),
            scale=_small_int(scale),
        )
    except Invalid as exc:
        session.rollback()
        return _phone(
            request, session, live, person, device,
            errors=field_errors(request, exc.errors), sent=sent, status_code=422,
        )  # fmt: skip
    session.commit()
    if is_htmx(request):
        return _phone(request, session, live, person, device, thanks=True)
    _participant_locale(request, live, person)
    _ = gettext_for(request)
    message = _("Thank you! You can change your answer while the session is open.")
    return redirect(request, f"/live/{live.code}", message=message)


def _small_int(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) <= 3 else None
