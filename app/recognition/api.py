"""JSON API v1 for tre om dagen: give, read the feeds, react, hide, moderate, today's progress."""

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictStr,
    Tag,
)
from sqlmodel import Session, col, select

from app.access import Member, MemberDep
from app.db import SessionDep
from app.errors import N_, Invalid, Problem
from app.kernel.apischema import ERRORS, ErrorOut
from app.kernel.clock import utcnow
from app.kernel.forms import MAX_ID, RowId
from app.kernel.scope import in_org
from app.media.models import MediaImage
from app.media.schemas import MediaOut, media_out
from app.media.service import owned_image
from app.orgs.models import Person, Value
from app.recognition import cards, feeds, giving, hiding, progress, scope
from app.recognition import reactions as reaction_service
from app.recognition.models import ReactionKind, Recognition, Visibility
from app.security import PROTECT
from app.web import PathId


def _ref_kind(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return "id"
    return "name" if isinstance(value, str) else None


def _id_or(what: str) -> Discriminator:
    """One error per bad list item ("ref_type"), not one per type it might have been."""
    return Discriminator(
        _ref_kind,
        custom_error_type="ref_type",
        custom_error_message=f"Give an id (a number) or {what} (a string).",
    )


PersonRef = Annotated[
    Annotated[RowId, Tag("id")] | Annotated[StrictStr, Field(max_length=254), Tag("name")],
    _id_or("an e-mail address"),
]
ValueRef = Annotated[
    Annotated[RowId, Tag("id")] | Annotated[StrictStr, Field(max_length=60), Tag("name")],
    _id_or("a name"),
]


router = APIRouter(prefix="/orgs/{org}", tags=["recognitions"], responses=ERRORS)


# --- request bodies -------------------------------------------------------------------------
# The schema limits only keep absurd input out; the service owns the rules (10-600 characters
# after cleaning, at most 10 colleagues ...) and answers with its own stable field codes.


class RecognitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipients: list[PersonRef] = Field(
        max_length=50,
        description="Colleagues by id or e-mail address (mixed allowed); at most 10 different.",
        examples=[["kari.nordmann@asnes.kommune.no", 42]],
    )
    values: list[ValueRef] = Field(
        max_length=50,
        description="The organisation's values by id or name (mixed allowed).",
        examples=[["Samarbeid"]],
    )
    text: StrictStr = Field(
        max_length=2000,
        # In the schema only, so that the service's rule answers in the caller's language:
        # at least 10 characters from the first to the last that is not a space.
        json_schema_extra={"pattern": r"\S[\s\S]{8,}\S"},
        description="What they did: 10 to 600 characters once cleaned (trimmed, no bidi controls).",
    )
    visibility: Visibility = Field(
        Visibility.org,
        description="`org`: everyone in the organisation; "
        "`private`: only the giver, the recipients and their leaders.",
    )
    feature_consent: StrictBool = Field(False, description="The giver lets it be featured.")
    photo_id: RowId | None = Field(
        None, description="A photo the giver uploaded with `POST /orgs/{org}/media`."
    )


class HideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hidden: StrictBool


class OptOutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opt_out: StrictBool


class ModerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hidden: StrictBool
    reason: StrictStr = Field("", max_length=1000, description="Required when hiding (logged).")


# --- responses ------------------------------------------------------------------------------


class GiverOut(BaseModel):
    id: int
    name: str


class RecipientOut(BaseModel):
    id: int
    name: str
    department: str | None


class ValueRefOut(BaseModel):
    id: int
    name: str
    colour: str


class ReactionOut(BaseModel):
    kind: ReactionKind
    count: int
    mine: bool


class RecognitionOut(BaseModel):
    id: int
    created_at: dt.datetime
    giver: GiverOut
    recipients: list[RecipientOut]
    values: list[ValueRefOut]
    text: str
    visibility: Visibility
    feature_consent: bool
    reactions: list[ReactionOut]
    photo: MediaOut | None = None
    hidden_reason: str | None = Field(
        None, description="Why a curator hid it; only curators ever see this."
    )


class FeedOut(BaseModel):
    items: list[RecognitionOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class ReactionToggleOut(BaseModel):
    kind: ReactionKind
    on: bool
    count: int


class HideOut(BaseModel):
    hidden: bool


class OptOutOut(BaseModel):
    opt_out: bool


class ModerateOut(BaseModel):
    hidden: bool
    reason: str


class TodayOut(BaseModel):
    given_today: int
    goal: int
    streak: int = Field(description="Days in a row with at least one recognition given.")
    date: dt.date = Field(description="Today in the organisation's time zone.")


# --- helpers --------------------------------------------------------------------------------


def visible_recognition(session: SessionDep, m: MemberDep, rec_id: PathId) -> Recognition:
    # A dependency, so that the 404 comes before anything in the body is looked at.
    return scope.recognition_for(session, m.person, rec_id)


RecognitionDep = Annotated[Recognition, Depends(visible_recognition)]


def _email_key(ref: str) -> str:
    return ref.strip().lower()  # addresses are stored in lower case


def _name_key(ref: str) -> str:
    return ref.strip().casefold()


def _ids(refs: list[int | str], found: dict[str, int], key: Callable[[str], str]) -> list[int]:
    """Ids as given, names looked up in `found`; a name not found gets an id no row has.

    Ids start at 1, so each different unknown name becomes its own negative id: the service
    then reports it as "unknown" exactly as it does an unknown id (counting it towards the
    limit), together with every other problem of the request, and a retried idempotency key
    still finds its recognition first.
    """
    unknown: dict[str, int] = {}
    out = []
    for ref in refs:
        if isinstance(ref, int):
            out.append(ref)
        elif (k := key(ref)) in found:
            out.append(found[k])
        else:
            out.append(unknown.setdefault(k, -1 - len(unknown)))
    return out


def _people_ids(session: Session, m: Member, refs: list[int | str]) -> list[int]:
    """Colleagues by id or e-mail address, looked up in the caller's organisation only."""
    emails = {_email_key(r) for r in refs if isinstance(r, str)}
    found: dict[str, int] = {}
    if emails:
        rows = session.exec(
            select(Person.email, Person.id).where(
                Person.org_id == m.org.id, col(Person.email).in_(emails)
            )
        )
        found = {email: pid for email, pid in rows if pid is not None}
    return _ids(refs, found, _email_key)


def _value_ids(session: Session, m: Member, refs: list[int | str]) -> list[int]:
    """Values by id or name, looked up in the caller's organisation only."""
    if not any(isinstance(r, str) for r in refs):
        return [r for r in refs if isinstance(r, int)]
    # An organisation has a handful of values: match names in Python, where casefold()
    # handles Æ, Ø and Å the same on every database.
    by_name = {
        _name_key(v.name): v.id
        for v in session.exec(select(Value).where(Value.org_id == m.org.id))
        if v.id is not None
    }
    return _ids(refs, by_name, _name_key)


def _out(card: cards.Card, viewer: Person) -> RecognitionOut:
    return RecognitionOut(
        id=card.id,
        created_at=card.created_at,
        giver=GiverOut(id=card.giver_id, name=card.giver_name),
        recipients=[
            RecipientOut(id=p.id, name=p.name, department=p.department) for p in card.recipients
        ],
        values=[ValueRefOut(id=v.id, name=v.name, colour=v.colour) for v in card.values],
        text=card.text,
        visibility=card.visibility,
        feature_consent=card.feature_consent,
        reactions=[ReactionOut(kind=r.kind, count=r.count, mine=r.mine) for r in card.reactions],
        photo=media_out(card.photo) if card.photo is not None and card.photo.variants else None,
        hidden_reason=card.hidden_reason if card.hidden_by_curator and viewer.is_curator else None,
    )


def _one(session: Session, m: Member, rec: Recognition) -> RecognitionOut:
    return _out(cards.card_for(session, m.person, rec), m.person)


# --- routes ---------------------------------------------------------------------------------


@router.post(
    "/recognitions",
    status_code=201,
    response_model=RecognitionOut,
    dependencies=PROTECT,
    responses={200: {"model": RecognitionOut, "description": "This key already gave it"}},
)
def give_recognition(
    session: SessionDep,
    m: MemberDep,
    body: RecognitionIn,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            description="8-64 characters of A-Z a-z 0-9 _ -. A retry with the same key "
            "returns the recognition it made instead of a second one."
        ),
    ] = None,
) -> RecognitionOut:
    """Recognise one or more colleagues (201; 200 with the same body for a known key)."""
    photo: MediaImage | None = None
    if body.photo_id is not None:
        photo = owned_image(session, m.person, body.photo_id)
        if photo is None:  # another person's or organisation's photo looks like no photo
            raise Invalid(
                {"photo_id": Problem("unknown", N_("Choose a photo you uploaded yourself."))}
            )
    rec, created = giving.give_recognition(
        session,
        giver=m.person,
        recipient_ids=_people_ids(session, m, body.recipients),
        value_ids=_value_ids(session, m, body.values),
        text=body.text,
        visibility=body.visibility.value,
        feature_consent=body.feature_consent,
        # Without a key each request is a new recognition: that is what the client asked for.
        idempotency_key=secrets.token_urlsafe(16) if idempotency_key is None else idempotency_key,
        photo=photo,
    )
    session.commit()
    if not created:
        response.status_code = 200
    return _one(session, m, rec)


@router.get("/recognitions", response_model=FeedOut)
def list_recognitions(
    session: SessionDep,
    m: MemberDep,
    feed: Annotated[feeds.FeedKind, Query(description="Which feed")] = feeds.FeedKind.all,
    value: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this value")] = None,
    cursor: Annotated[
        str | None,
        Query(
            max_length=200,
            json_schema_extra={"pattern": r"^[A-Za-z0-9_-]*$"},  # checked by feeds.decode_cursor
            description="The `next_cursor` of the page before (opaque).",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> FeedOut:
    """A feed, newest first; follow `next_cursor` for older ones."""
    if value is not None:
        in_org(session, m.org, Value, value)
    page = feeds.feed(session, m.person, kind=feed, value_id=value, cursor=cursor, limit=limit)
    return FeedOut(
        items=[_out(card, m.person) for card in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/recognitions/{rec_id}", response_model=RecognitionOut)
def get_recognition(session: SessionDep, m: MemberDep, rec: RecognitionDep) -> RecognitionOut:
    """One recognition the caller may see."""
    return _one(session, m, rec)


@router.delete(
    "/recognitions/{rec_id}",
    status_code=204,
    dependencies=PROTECT,
    responses={403: {"model": ErrorOut, "description": "Only the giver may delete it"}},
)
def delete_recognition(session: SessionDep, m: MemberDep, rec: RecognitionDep) -> None:
    """Take back a recognition you gave, within 24 hours (422 `too_late` after)."""
    giving.delete_recognition(session, m.person, rec)
    session.commit()


@router.post(
    "/recognitions/{rec_id}/reactions/{kind}",
    response_model=ReactionToggleOut,
    dependencies=PROTECT,
)
def toggle_reaction(
    session: SessionDep, m: MemberDep, rec: RecognitionDep, kind: ReactionKind
) -> ReactionToggleOut:
    """Add your reaction of this kind, or take it back if it is there."""
    on = reaction_service.toggle_reaction(session, m.person, rec, kind.value)
    session.commit()
    counts = reaction_service.reactions_for(session, m.person, [rec.id or 0])[rec.id or 0]
    count = next(c.count for c in counts if c.kind == kind)
    return ReactionToggleOut(kind=kind, on=on, count=count)


@router.post(
    "/recognitions/{rec_id}/hide",
    response_model=HideOut,
    dependencies=PROTECT,
    responses={403: {"model": ErrorOut, "description": "Only a recipient may do this"}},
)
def hide_recognition(
    session: SessionDep, m: MemberDep, rec: RecognitionDep, body: HideIn
) -> HideOut:
    """As a recipient, take it off (or put it back on) the public feeds."""
    hiding.set_hidden_by_recipient(session, m.person, rec, body.hidden)
    session.commit()
    return HideOut(hidden=body.hidden)


@router.post(
    "/recognitions/{rec_id}/feature-opt-out",
    response_model=OptOutOut,
    dependencies=PROTECT,
    responses={403: {"model": ErrorOut, "description": "Only a recipient may do this"}},
)
def feature_opt_out(
    session: SessionDep, m: MemberDep, rec: RecognitionDep, body: OptOutIn
) -> OptOutOut:
    """As a recipient, refuse (or allow again) that it is featured."""
    hiding.set_feature_opt_out(session, m.person, rec, body.opt_out)
    session.commit()
    return OptOutOut(opt_out=body.opt_out)


@router.post(
    "/recognitions/{rec_id}/moderate",
    response_model=ModerateOut,
    dependencies=PROTECT,
    responses={403: {"model": ErrorOut, "description": "Only curators may moderate"}},
)
def moderate_recognition(
    session: SessionDep, m: MemberDep, rec: RecognitionDep, body: ModerateIn
) -> ModerateOut:
    """As a curator, hide it from all but its giver and the curators (reason logged), or unhide."""
    if body.hidden:
        hiding.curator_hide(session, m.person, rec, body.reason)
    else:
        hiding.curator_unhide(session, m.person, rec)
    session.commit()
    return ModerateOut(hidden=rec.hidden_by_curator, reason=rec.hidden_reason)


@router.get("/me/today", response_model=TodayOut)
def my_today(session: SessionDep, m: MemberDep) -> TodayOut:
    """How many you gave today against the daily goal, and your streak."""
    now = utcnow()
    p = progress.progress(session, m.person, now=now)
    today = now.astimezone(ZoneInfo(m.org.timezone)).date()
    return TodayOut(given_today=p.given_today, goal=p.goal, streak=p.streak, date=today)
