"""JSON API v1 for live sessions: create and open/close them (curators), answer (a member's
token or cookie, or the participant cookie of an anonymous phone), and the results."""

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from app.access import CuratorDep, OptionalPerson
from app.db import SessionDep
from app.errors import Invalid, PermissionDenied
from app.kernel.apischema import ERRORS, ErrorOut
from app.kernel.forms import RowId
from app.live import service
from app.live.models import Kind, LiveSession, State
from app.security import PROTECT, csrf_protect, hit
from app.web import PathId

router = APIRouter(tags=["live"], responses=ERRORS)
FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "Only curators may do this"}
}


class LiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: StrictStr = Field(max_length=2000, description="1-200 characters, one line.")
    kind: Kind = Field(description="cloud: 1-3 words each; choice: one option; scale: 1-5.")
    options: list[Annotated[StrictStr, Field(max_length=400)]] = Field(
        default_factory=list, max_length=50, description="choice only: 2-8 options."
    )
    value_id: RowId | None = Field(None, description="The value the question belongs to.")
    allow_anonymous: StrictBool = Field(
        False, description="Anyone with the code may answer without an account."
    )
    hide_until_revealed: StrictBool = Field(
        False, description="Collect answers before the day; the screen shows them once revealed."
    )


class StateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["open", "closed"]


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: StrictStr | None = Field(
        None, max_length=400, description="Word cloud: 1-3 words (comma or space between)."
    )
    choice: StrictInt | None = Field(None, ge=1, le=99, description="Single choice: 1-based.")
    scale: StrictInt | None = Field(None, ge=1, le=5)


class LiveOut(BaseModel):
    id: int
    question: str
    kind: Kind
    options: list[str]
    value_id: int | None
    state: State
    code: str
    join_url: str
    allow_anonymous: bool
    revealed: bool
    results_shared: bool
    created_at: dt.datetime
    opened_at: dt.datetime | None
    closed_at: dt.datetime | None


class AnswerOut(BaseModel):
    status: str = Field(description="shown, or held: waiting for a curator.")
    words: list[str]
    choice: int | None
    scale: int | None


class WordOut(BaseModel):
    text: str = Field(description="The most common form of the merged word.")
    count: int


class BarOut(BaseModel):
    label: str
    count: int
    percent: int


class ResultsOut(BaseModel):
    id: int
    state: State
    participants: int = Field(description="Everyone who answered (hidden and held included).")
    shown: int = Field(description="Answers on the screen.")
    words: list[WordOut] = Field(description="Word cloud: merged words, most frequent first.")
    bars: list[BarOut] = Field(description="Single choice and scale: one bar per option.")
    average: float | None = Field(None, description="Scale only.")


def _live(session: SessionDep, m: CuratorDep, live_id: PathId) -> LiveSession:
    # A dependency, so another organisation's id is a 404 before the body is looked at.
    return service.session_for(session, m.org, live_id)


LiveDep = Annotated[LiveSession, Depends(_live)]


def _out(live: LiveSession) -> LiveOut:
    assert live.id is not None
    return LiveOut(
        id=live.id,
        question=live.question,
        kind=live.kind,
        options=live.options,
        value_id=live.value_id,
        state=live.state,
        code=live.code,
        join_url=service.join_url(live),
        allow_anonymous=live.allow_anonymous,
        revealed=live.revealed,
        results_shared=live.results_shared,
        created_at=live.created_at,
        opened_at=live.opened_at,
        closed_at=live.closed_at,
    )


@router.post(
    "/orgs/{org}/live",
    status_code=201,
    response_model=LiveOut,
    dependencies=PROTECT,
    responses=FORBIDDEN,
    summary="Create a live session (draft)",
)
def create(body: LiveIn, session: SessionDep, m: CuratorDep) -> LiveOut:
    live = service.create_session(
        session,
        m.org,
        actor=m.person,
        question=body.question,
        kind=body.kind.value,
        options=body.options,
        value_id=body.value_id,
        allow_anonymous=body.allow_anonymous,
        hide_until_revealed=body.hide_until_revealed,
    )
    session.commit()
    return _out(live)


@router.post(
    "/orgs/{org}/live/{live_id}/state",
    response_model=LiveOut,
    dependencies=PROTECT,
    responses=FORBIDDEN,
    summary="Open or close a live session",
)
def set_state(body: StateIn, session: SessionDep, m: CuratorDep, live: LiveDep) -> LiveOut:
    service.set_state(session, live, body.state, actor=m.person)
    session.commit()
    return _out(live)


@router.get(
    "/orgs/{org}/live/{live_id}/results",
    response_model=ResultsOut,
    responses=FORBIDDEN,
    summary="A session's results (what the screen shows)",
)
def results(session: SessionDep, live: LiveDep) -> ResultsOut:
    tally = service.tally(session, live)
    assert live.id is not None
    return ResultsOut(
        id=live.id,
        state=live.state,
        participants=tally.participants,
        shown=tally.shown,
        words=[WordOut(text=w.text, count=w.count) for w in tally.cloud],
        bars=[BarOut(label=b.label, count=b.count, percent=b.percent) for b in tally.bars],
        average=tally.average,
    )


@router.post(
    "/live/{code}/answers",
    response_model=AnswerOut,
    dependencies=[Depends(csrf_protect)],
    responses={
        403: {"model": ErrorOut, "description": "Members only, and the caller is not one"},
        429: {"model": ErrorOut, "description": "Too many answers from this participant"},
    },
    summary="Answer a live session (or change the answer)",
)
def answer(
    request: Request,
    response: Response,
    body: AnswerIn,
    session: SessionDep,
    person: OptionalPerson,
    code: str,
) -> AnswerOut:
    """A member's token or session cookie, or (when the session allows it) the participant
    cookie that the join page sets; a phone without one gets it with this answer."""
    live = service.session_by_code(session, code[:40])
    device = request.cookies.get(service.DEVICE_COOKIE)
    if device is None and live.allow_anonymous and person is None:
        device = service.new_device_cookie()
        response.set_cookie(**service.device_cookie(device))  # type: ignore[arg-type]
    try:
        participant = service.participant_for(live, person, device)
    except PermissionDenied:
        raise Invalid({"answer": service.MEMBERS_ONLY}) from None
    hit(
        session,
        f"live:{participant.key}",
        limit=service.ANSWERS_PER_WINDOW,
        per_seconds=service.WINDOW_SECONDS,
    )
    row = service.answer(
        session, live, participant, text=body.text, choice=body.choice, scale=body.scale
    )
    session.commit()
    return AnswerOut(status=row.status.value, words=row.words, choice=row.choice, scale=row.scale)
