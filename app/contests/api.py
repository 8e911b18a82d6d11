"""JSON API v1 for photo competitions: list and read them, create and edit (curators), send a
photo, moderate (curators), vote and take a vote back, and the results once voting closed.

Vote counts never appear before voting closes: `votes` is null until then, for everyone.
"""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from app.access import Member, MemberDep
from app.contests import phases, scope, service, submissions, voting
from app.contests import results as contest_results
from app.contests.models import Contest, ContestEntry, EntryStatus, WinnerRule
from app.contests.phases import Phase
from app.db import SessionDep
from app.errors import PermissionDenied
from app.kernel.apischema import ERRORS, ErrorOut
from app.kernel.clock import utcnow
from app.kernel.forms import RowId
from app.media import service as media
from app.security import PROTECT
from app.web import PathId

Limit = Annotated[StrictInt, Field(ge=service.LIMIT_MIN, le=service.LIMIT_MAX)]
FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "Only curators may do this"}
}

router = APIRouter(prefix="/orgs/{org}/contests", tags=["contests"], responses=ERRORS)


# --- bodies ---------------------------------------------------------------------------------


class ContestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: StrictStr = Field(
        max_length=500,
        json_schema_extra={"pattern": r"\S"},  # the service's rule, in the caller's language
        description="1-120 characters, not only spaces.",
    )
    theme: StrictStr = Field("", max_length=4000, description="At most 1000 characters.")
    value_id: RowId | None = Field(None, description="One of the organisation's active values.")
    submit_opens_at: dt.datetime = Field(
        description="Without a zone: the organisation's local time (Europe/Oslo)."
    )
    submit_closes_at: dt.datetime
    vote_opens_at: dt.datetime = Field(description="When submissions close, or later.")
    vote_closes_at: dt.datetime
    entries_per_person: Limit = 1
    votes_per_person: Limit = Field(
        1, description="1: one vote that moves when you vote again; N: up to N photos."
    )
    winner_rule: WinnerRule = WinnerRule.votes
    anonymous_voting: StrictBool = Field(
        True, description="Hide the photographers' names until voting closes."
    )

    def to_input(self) -> service.ContestInput:
        return service.ContestInput(**self.model_dump())


class ModerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: StrictBool
    reason: StrictStr = Field(
        "", max_length=1000, description="3-300 characters when not approving; the author sees it."
    )


class JuryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    places: dict[int, Annotated[StrictInt, Field(ge=1, le=3)] | None] = Field(
        max_length=500, description="Entry id -> place 1, 2 or 3 (null: no place)."
    )


# --- responses ------------------------------------------------------------------------------


class ContestOut(BaseModel):
    id: int
    title: str
    theme: str
    value_id: int | None
    phase: Phase
    submit_opens_at: dt.datetime
    submit_closes_at: dt.datetime
    vote_opens_at: dt.datetime
    vote_closes_at: dt.datetime
    entries_per_person: int
    votes_per_person: int
    winner_rule: WinnerRule
    anonymous_voting: bool
    results_announced_at: dt.datetime | None


class PersonOut(BaseModel):
    id: int
    name: str


class EntryOut(BaseModel):
    id: int
    caption: str
    status: EntryStatus
    reject_reason: str | None = Field(
        None, description="Why it was not approved: for its author and curators only."
    )
    author: PersonOut | None = Field(
        None, description="Null while anonymous voting hides the photographers' names."
    )
    image_id: int | None = Field(None, description="Null once retention deleted the photo.")
    srcset: str | None = None
    voted: bool = Field(description="The caller voted for it.")
    votes: int | None = Field(None, description="Null until voting has closed.")
    created_at: dt.datetime


class EntriesOut(BaseModel):
    items: list[EntryOut]
    page: int
    pages: int
    total: int


class VoteOut(BaseModel):
    voted: bool
    votes_used: int
    votes_per_person: int


class PlacingOut(BaseModel):
    place: int
    entry: EntryOut
    votes: int | None = Field(description="Null when the jury chose.")


class ResultsOut(BaseModel):
    contest: ContestOut
    winners: list[PlacingOut]
    entries: list[EntryOut] = Field(description="Every approved entry with its votes.")


# --- helpers --------------------------------------------------------------------------------


def _contest(session: SessionDep, m: MemberDep, contest_id: PathId) -> Contest:
    # A dependency, so that the 404 comes before anything in the body is looked at.
    return scope.contest_for(session, m.person, contest_id)


ContestDep = Annotated[Contest, Depends(_contest)]


def _entry(
    session: SessionDep,
    m: MemberDep,
    contest: ContestDep,
    entry_id: PathId,
) -> ContestEntry:
    return scope.entry_for(session, m.person, contest, entry_id)


EntryDep = Annotated[ContestEntry, Depends(_entry)]


def _curator(m: Member) -> None:
    if not m.person.is_curator:
        raise PermissionDenied()


def _contest_out(contest: Contest, now: dt.datetime) -> ContestOut:
    return ContestOut(
        id=contest.id or 0,
        title=contest.title,
        theme=contest.theme,
        value_id=contest.value_id,
        phase=phases.phase(contest, now),
        submit_opens_at=contest.submit_opens_at,
        submit_closes_at=contest.submit_closes_at,
        vote_opens_at=contest.vote_opens_at,
        vote_closes_at=contest.vote_closes_at,
        entries_per_person=contest.entries_per_person,
        votes_per_person=contest.votes_per_person,
        winner_rule=contest.winner_rule,
        anonymous_voting=contest.anonymous_voting,
        results_announced_at=contest.results_announced_at,
    )


def _srcset(entry: ContestEntry) -> str | None:
    return media.srcset(entry.image) if contest_results.has_photo(entry) else None


def _entry_out(
    entry: ContestEntry,
    m: Member,
    now: dt.datetime,
    my_votes: dict[int, int],
    totals: dict[int, int] | None,
) -> EntryOut:
    own = entry.author_id == m.person.id
    show_author = own or submissions.show_author(entry.contest, now)
    return EntryOut(
        id=entry.id or 0,
        caption=entry.caption,
        status=entry.status,
        reject_reason=entry.reject_reason if own or m.person.is_curator else None,
        author=PersonOut(id=entry.author.id or 0, name=entry.author.name) if show_author else None,
        image_id=entry.image_id if contest_results.has_photo(entry) else None,
        srcset=_srcset(entry),
        voted=(entry.id or 0) in my_votes,
        votes=None if totals is None else totals.get(entry.id or 0, 0),
        created_at=entry.created_at,
    )


def _totals(session: SessionDep, contest: Contest, now: dt.datetime) -> dict[int, int] | None:
    if phases.phase(contest, now) != Phase.closed:
        return None
    return contest_results.vote_totals(session, contest, now)


# --- competitions ---------------------------------------------------------------------------


@router.get("", response_model=list[ContestOut])
def list_contests(session: SessionDep, m: MemberDep) -> list[ContestOut]:
    """Every competition of the organisation, newest first, with its phase now."""
    now = utcnow()
    return [_contest_out(c, now) for c in service.list_contests(session, m.person)]


@router.post(
    "", status_code=201, response_model=ContestOut, dependencies=PROTECT, responses=FORBIDDEN
)
def create_contest(session: SessionDep, m: MemberDep, body: ContestIn) -> ContestOut:
    """Create a competition (curators)."""
    _curator(m)
    contest = service.create_contest(session, m.person, body.to_input())
    session.commit()
    return _contest_out(contest, utcnow())


@router.get("/{contest_id}", response_model=ContestOut)
def get_contest(contest: ContestDep) -> ContestOut:
    return _contest_out(contest, utcnow())


@router.put("/{contest_id}", response_model=ContestOut, dependencies=PROTECT, responses=FORBIDDEN)
def update_contest(
    session: SessionDep, m: MemberDep, contest: ContestDep, body: ContestIn
) -> ContestOut:
    """Replace a competition's settings (curators). Moving the windows moves the phase."""
    _curator(m)
    service.update_contest(session, m.person, contest, body.to_input())
    session.commit()
    return _contest_out(contest, utcnow())


# --- entries --------------------------------------------------------------------------------


@router.get("/{contest_id}/entries", response_model=EntriesOut)
def list_entries(
    session: SessionDep,
    m: MemberDep,
    contest: ContestDep,
    mine: Annotated[bool, Query(description="Only your own entries, in every status")] = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> EntriesOut:
    """Approved entries once voting opens (24 a page), or your own entries with `mine=true`."""
    now = utcnow()
    my_votes = voting.my_votes(session, m.person, contest)
    totals = _totals(session, contest, now)
    if mine:
        items = submissions.my_entries(session, m.person, contest)
        return EntriesOut(
            items=[_entry_out(e, m, now, my_votes, totals) for e in items],
            page=1,
            pages=1,
            total=len(items),
        )
    if phases.phase(contest, now) not in (Phase.voting, Phase.closed):
        return EntriesOut(items=[], page=1, pages=1, total=0)
    gallery = submissions.gallery(session, m.person, contest, page, now)
    return EntriesOut(
        items=[_entry_out(e, m, now, my_votes, totals) for e in gallery.items],
        page=gallery.number,
        pages=gallery.pages,
        total=gallery.total,
    )


@router.post(
    "/{contest_id}/entries", status_code=201, response_model=EntryOut, dependencies=PROTECT
)
def submit_entry(
    session: SessionDep,
    m: MemberDep,
    contest: ContestDep,
    file: Annotated[UploadFile | None, File(description="JPEG, PNG, WebP or HEIC")] = None,
    caption: Annotated[str, Form(max_length=2000, description="1-300 characters")] = "",
    people_consent: Annotated[
        bool,
        Form(description="Everyone recognisable in the photo has agreed to be shown: required."),
    ] = False,
) -> EntryOut:
    """Send a photo (multipart/form-data). It waits for a curator's approval."""
    entry = submissions.submit_entry(
        session, m.person, contest, upload=file, caption=caption, people_consent=people_consent
    )
    session.commit()
    return _entry_out(entry, m, utcnow(), {}, None)


@router.post(
    "/{contest_id}/entries/{entry_id}/moderate",
    response_model=EntryOut,
    dependencies=PROTECT,
    responses=FORBIDDEN,
)
def moderate_entry(
    session: SessionDep, m: MemberDep, contest: ContestDep, entry: EntryDep, body: ModerateIn
) -> EntryOut:
    """Approve an entry, or reject it with a reason (curators)."""
    _curator(m)
    submissions.moderate_entry(session, m.person, entry, approve=body.approve, reason=body.reason)
    session.commit()
    return _entry_out(entry, m, utcnow(), {}, None)


def _vote_out(session: SessionDep, m: MemberDep, contest: Contest, entry: ContestEntry) -> VoteOut:
    mine = voting.my_votes(session, m.person, contest)
    return VoteOut(
        voted=(entry.id or 0) in mine,
        votes_used=len(mine),
        votes_per_person=contest.votes_per_person,
    )


@router.post("/{contest_id}/entries/{entry_id}/vote", response_model=VoteOut, dependencies=PROTECT)
def vote(session: SessionDep, m: MemberDep, contest: ContestDep, entry: EntryDep) -> VoteOut:
    """Vote for an approved entry (not your own) while voting is open. Voting again for the
    same entry changes nothing; with one vote per person, a vote for another entry moves it."""
    voting.vote(session, m.person, entry)
    session.commit()
    return _vote_out(session, m, contest, entry)


@router.delete(
    "/{contest_id}/entries/{entry_id}/vote", response_model=VoteOut, dependencies=PROTECT
)
def unvote(session: SessionDep, m: MemberDep, contest: ContestDep, entry: EntryDep) -> VoteOut:
    """Take your vote for this entry back while voting is open."""
    voting.unvote(session, m.person, entry)
    session.commit()
    return _vote_out(session, m, contest, entry)


# --- results --------------------------------------------------------------------------------


@router.put("/{contest_id}/jury", status_code=204, dependencies=PROTECT, responses=FORBIDDEN)
def set_jury(session: SessionDep, m: MemberDep, contest: ContestDep, body: JuryIn) -> Response:
    """The jury's places for a jury competition (curators), once submissions have closed."""
    _curator(m)
    contest_results.set_jury_places(session, m.person, contest, dict(body.places))
    session.commit()
    return Response(status_code=204)


@router.get("/{contest_id}/results", response_model=ResultsOut)
def results(session: SessionDep, m: MemberDep, contest: ContestDep) -> ResultsOut:
    """Winners and every approved entry's votes; 422 `not_closed` while voting is not over."""
    now = utcnow()
    totals = contest_results.vote_totals(session, contest, now)  # raises before voting has closed
    my_votes = voting.my_votes(session, m.person, contest)
    podium = contest_results.winners(session, contest, now)
    approved = submissions.gallery(session, m.person, contest, 1, now)
    entries = list(approved.items)
    for number in range(2, approved.pages + 1):
        entries.extend(submissions.gallery(session, m.person, contest, number, now).items)
    return ResultsOut(
        contest=_contest_out(contest, now),
        winners=[
            PlacingOut(
                place=p.place,
                entry=_entry_out(p.entry, m, now, my_votes, totals),
                votes=p.votes,
            )
            for p in podium
        ],
        entries=[_entry_out(e, m, now, my_votes, totals) for e in entries],
    )
