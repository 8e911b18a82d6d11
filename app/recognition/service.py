"""Tre om dagen: give, see, react, hide. Plain functions over a session; they never commit."""

import base64
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, exists, func, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from app.errors import N_, Invalid, PermissionDenied, Problem
from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.kernel.forms import clean_paragraphs
from app.media.models import MediaImage
from app.orgs.models import (
    Department,
    EmailFrequency,
    Organisation,
    Person,
    Value,
    fold,
)
from app.recognition.models import (
    Notification,
    Reaction,
    ReactionKind,
    Recognition,
    RecognitionRecipient,
    RecognitionValue,
    Visibility,
)
from app.recognition.scope import has_recipient, led_departments, readable_by

TEXT_MIN, TEXT_MAX = 10, 600
MAX_RECIPIENTS = 10
UNDO_SECONDS = 60  # the confirmation offers undo this long; e-mails wait for it
DELETE_WINDOW = timedelta(hours=24)
DIGEST_HOUR = 15  # local time of the daily digest
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# Bidirectional overrides and isolates can make text render in a misleading order
# ("Trojan source"); they have no place in a short recognition.


class FeedKind(StrEnum):
    all = "all"
    department = "department"
    to_me = "to_me"
    from_me = "from_me"


def _refresh_listed(rec: Recognition) -> None:
    rec.listed = (
        rec.visibility == Visibility.org
        and not rec.hidden_by_curator
        and not any(r.hidden for r in rec.recipients)
    )


# --- giving -------------------------------------------------------------------------------


def give_recognition(
    session: Session,
    *,
    giver: Person,
    recipient_ids: list[int],
    value_ids: list[int],
    text: str,
    visibility: str = "org",
    feature_consent: bool = False,
    idempotency_key: str,
    photo: MediaImage | None = None,
    now: datetime | None = None,
) -> tuple[Recognition, bool]:
    """Create a recognition, or return the one this idempotency key already made.

    Returns (recognition, created). Every rule is checked before anything is written. A photo
    must be one the giver uploaded (app.media.service.save_upload) in this organisation.
    """
    now = now or utcnow()
    if not KEY_RE.match(idempotency_key or ""):
        raise Invalid(
            {
                "idempotency_key": Problem(
                    "invalid", N_("The form was not valid. Reload the page and try again.")
                )
            }
        )
    existing = session.exec(
        select(Recognition).where(
            Recognition.giver_id == giver.id, Recognition.idempotency_key == idempotency_key
        )
    ).first()
    if existing is not None:
        return existing, False

    errors: dict[str, Problem] = {}
    unique_recipients = list(dict.fromkeys(recipient_ids))
    recipients: list[Person] = []
    if not unique_recipients:
        errors["recipients"] = Problem("required", N_("Choose at least one colleague."))
    elif len(unique_recipients) > MAX_RECIPIENTS:
        errors["recipients"] = Problem("too_many", N_("Choose at most 10 colleagues."))
    elif giver.id in unique_recipients:
        errors["recipients"] = Problem("self", N_("You cannot recognise yourself – but well done!"))
    else:
        recipients = list(
            session.exec(
                select(Person).where(
                    col(Person.id).in_(unique_recipients),
                    Person.org_id == giver.org_id,
                    col(Person.active).is_(True),
                )
            )
        )
        if len(recipients) != len(unique_recipients):
            errors["recipients"] = Problem("unknown", N_("Choose colleagues from the list."))
    unique_values = list(dict.fromkeys(value_ids))
    values: list[Value] = []
    if not unique_values:
        errors["values"] = Problem("required", N_("Choose at least one value."))
    else:
        values = list(
            session.exec(
                select(Value).where(
                    col(Value.id).in_(unique_values),
                    Value.org_id == giver.org_id,
                    col(Value.active).is_(True),
                )
            )
        )
        if len(values) != len(unique_values):
            errors["values"] = Problem("unknown", N_("Choose values from the list."))
    cleaned = clean_paragraphs(text)
    if len(cleaned) < TEXT_MIN:
        errors["text"] = Problem(
            "too_short", N_("Write at least 10 characters about what they did.")
        )
    elif len(cleaned) > TEXT_MAX:
        errors["text"] = Problem("too_long", N_("Write at most 600 characters."))
    try:
        vis = Visibility(visibility)
    except ValueError:
        errors["visibility"] = Problem("invalid", N_("Choose who can see it."))
        vis = Visibility.org
    if photo is not None and (
        photo.org_id != giver.org_id or photo.owner_id != giver.id or not photo.variants
    ):
        errors["photo"] = Problem("unknown", N_("Choose a photo you uploaded yourself."))
    if errors:
        raise Invalid(errors)

    rec = Recognition(
        org_id=giver.org_id,
        giver=giver,
        text=cleaned,
        visibility=vis,
        feature_consent=bool(feature_consent),
        listed=vis == Visibility.org,
        idempotency_key=idempotency_key,
        photo=photo,
        created_at=now,
    )
    recipients.sort(key=lambda p: unique_recipients.index(p.id))  # type: ignore[arg-type]
    rec.recipients = [
        RecognitionRecipient(person=p, feature_opt_out=p.feature_opt_out) for p in recipients
    ]
    values.sort(key=lambda v: v.position)
    rec.value_links = [RecognitionValue(value=v) for v in values]
    try:
        with session.begin_nested():
            session.add(rec)
            session.flush()
    except IntegrityError:
        # The same key won a race in another request: that one is the recognition.
        winner = session.exec(
            select(Recognition).where(
                Recognition.giver_id == giver.id, Recognition.idempotency_key == idempotency_key
            )
        ).first()
        if winner is None:
            raise
        return winner, False
    for person in recipients:
        _queue_notification(session, rec, person, now)
    return rec, True


def _queue_notification(session: Session, rec: Recognition, person: Person, now: datetime) -> None:
    if person.email_frequency == EmailFrequency.none:
        return
    if person.email_frequency == EmailFrequency.daily:
        due, digest = next_digest_time(person.org, now), True
    else:
        due, digest = now + timedelta(seconds=UNDO_SECONDS), False
    session.add(Notification(recognition=rec, person=person, due_at=due, digest=digest))


def next_digest_time(org: Organisation, now: datetime) -> datetime:
    tz = ZoneInfo(org.timezone)
    local = now.astimezone(tz)
    candidate = datetime.combine(local.date(), time(DIGEST_HOUR), tzinfo=tz)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), time(DIGEST_HOUR), tzinfo=tz)
    return candidate.astimezone(UTC)


def delete_recognition(
    session: Session, person: Person, rec: Recognition, now: datetime | None = None
) -> None:
    """The giver may take a recognition back within 24 hours (undo included)."""
    now = now or utcnow()
    if rec.giver_id != person.id:
        raise PermissionDenied()
    if now - rec.created_at > DELETE_WINDOW:
        raise Invalid(
            {
                "recognition": Problem(
                    "too_late", N_("You can only delete within 24 hours of giving.")
                )
            }
        )
    photo = rec.photo
    session.delete(rec)
    if photo is not None:
        from app.media.service import release_image

        release_image(session, photo)  # its files go with the commit, unless used elsewhere


# --- reactions ----------------------------------------------------------------------------


def toggle_reaction(session: Session, person: Person, rec: Recognition, kind: str) -> bool:
    """Add the reaction, or take it away if it is there; returns whether it is on now."""
    try:
        reaction = ReactionKind(kind)
    except ValueError as exc:
        raise Invalid({"kind": Problem("invalid", N_("Unknown reaction."))}) from exc
    removed = session.execute(
        delete(Reaction).where(
            col(Reaction.recognition_id) == rec.id,
            col(Reaction.person_id) == person.id,
            col(Reaction.kind) == reaction,
        )
    )
    if removed.rowcount:  # type: ignore[attr-defined]
        return False
    try:
        with session.begin_nested():
            session.add(Reaction(recognition_id=rec.id, person_id=person.id, kind=reaction))
            session.flush()
    except IntegrityError:
        pass  # a double click got there first; it is on
    return True


@dataclass
class ReactionCount:
    kind: ReactionKind
    count: int = 0
    mine: bool = False


def reactions_for(
    session: Session, person: Person, rec_ids: list[int]
) -> dict[int, list[ReactionCount]]:
    """Counts per kind for each recognition, and whether `person` reacted, in one query."""
    result = {rid: [ReactionCount(kind) for kind in ReactionKind] for rid in rec_ids}
    if not rec_ids:
        return result
    rows = session.exec(
        select(Reaction.recognition_id, Reaction.kind, func.count())
        .where(col(Reaction.recognition_id).in_(rec_ids))
        .group_by(col(Reaction.recognition_id), col(Reaction.kind))
    ).all()
    mine = set(
        session.exec(
            select(Reaction.recognition_id, Reaction.kind).where(
                col(Reaction.recognition_id).in_(rec_ids), Reaction.person_id == person.id
            )
        ).all()
    )
    for rid, kind, count in rows:
        for rc in result[rid]:  # type: ignore[index]
            if rc.kind == kind:
                rc.count = count
                rc.mine = (rid, kind) in mine
    return result


# --- hiding -------------------------------------------------------------------------------


def _recipient_row(rec: Recognition, person: Person) -> RecognitionRecipient:
    for row in rec.recipients:
        if row.person_id == person.id:
            return row
    raise PermissionDenied()


def set_hidden_by_recipient(
    session: Session, person: Person, rec: Recognition, hidden: bool
) -> None:
    row = _recipient_row(rec, person)
    row.hidden = hidden
    session.add(row)
    _refresh_listed(rec)
    session.add(rec)


def set_feature_opt_out(session: Session, person: Person, rec: Recognition, opt_out: bool) -> None:
    row = _recipient_row(rec, person)
    row.feature_opt_out = opt_out
    session.add(row)


def curator_hide(session: Session, curator: Person, rec: Recognition, reason: str) -> None:
    if not curator.is_curator:
        raise PermissionDenied()
    reason = " ".join((reason or "").split())
    if len(reason) < 3:
        raise Invalid({"reason": Problem("required", N_("Write a short reason (it is logged)."))})
    if len(reason) > 300:
        raise Invalid({"reason": Problem("too_long", N_("Write at most 300 characters."))})
    rec.hidden_by_curator = True
    rec.hidden_reason = reason
    _refresh_listed(rec)
    session.add(rec)
    audit(session, curator.org, curator, "recognition.hide", f"recognition {rec.id}", reason=reason)


def curator_unhide(session: Session, curator: Person, rec: Recognition) -> None:
    if not curator.is_curator:
        raise PermissionDenied()
    rec.hidden_by_curator = False
    rec.hidden_reason = ""
    _refresh_listed(rec)
    session.add(rec)
    audit(session, curator.org, curator, "recognition.unhide", f"recognition {rec.id}")


# --- feeds --------------------------------------------------------------------------------


@dataclass
class FeedPage:
    items: list[Recognition]
    next_cursor: str | None
    reactions: dict[int, list[ReactionCount]] = field(default_factory=dict)


def encode_cursor(rec: Recognition) -> str:
    raw = f"{rec.created_at.isoformat()}|{rec.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, rid = raw.partition("|")
        at = datetime.fromisoformat(stamp)
        if at.tzinfo is None:
            raise ValueError
        at, rec_id = at.astimezone(UTC), int(rid)
        if not 0 < rec_id < 2**63 or at.year < 2000:
            raise ValueError
        return at, rec_id
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise Invalid({"cursor": Problem("invalid", N_("That page link is not valid."))}) from exc


def feed(
    session: Session,
    viewer: Person,
    *,
    kind: FeedKind = FeedKind.all,
    value_id: int | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> FeedPage:
    """Newest first, keyset-paginated on (created_at, id): stable while others give."""
    led = led_departments(viewer)
    # Every feed lists only what the viewer may read; each kind then narrows it down.
    stmt = select(Recognition).where(readable_by(viewer, led))
    if kind == FeedKind.all:
        stmt = stmt.where(col(Recognition.listed).is_(True))
    elif kind == FeedKind.to_me:
        stmt = stmt.where(
            col(Recognition.hidden_by_curator).is_(False),
            has_recipient(col(RecognitionRecipient.person_id) == viewer.id),
        )
    elif kind == FeedKind.from_me:
        stmt = stmt.where(Recognition.giver_id == viewer.id)
    elif kind == FeedKind.department:
        public_here = and_(
            col(Recognition.listed).is_(True),
            has_recipient(col(Person.department_id) == viewer.department_id),
        )
        conditions = [public_here] if viewer.department_id else []
        conditions.append(
            and_(
                col(Recognition.hidden_by_curator).is_(False),
                has_recipient(col(Person.department_id).in_(select(led.c.id))),
            )
        )
        stmt = stmt.where(or_(*conditions))
    if value_id is not None:
        stmt = stmt.where(
            exists(
                select(RecognitionValue.recognition_id).where(
                    RecognitionValue.recognition_id == Recognition.id,
                    RecognitionValue.value_id == value_id,
                )
            )
        )
    if cursor:
        at, rid = decode_cursor(cursor)
        # The first condition bounds the index scan; the OR alone would be a filter that
        # reads every newer row first (deep pages got slower with depth).
        stmt = stmt.where(
            col(Recognition.created_at) <= at,
            or_(
                col(Recognition.created_at) < at,
                and_(col(Recognition.created_at) == at, col(Recognition.id) < rid),
            ),
        )
    stmt = (
        stmt.order_by(col(Recognition.created_at).desc(), col(Recognition.id).desc())
        .limit(limit + 1)
        .options(
            selectinload(Recognition.giver),  # type: ignore[arg-type]
            selectinload(Recognition.recipients)  # type: ignore[arg-type]
            .joinedload(RecognitionRecipient.person)  # type: ignore[arg-type]
            .joinedload(Person.department),  # type: ignore[arg-type]
        )
    )
    rows = list(session.exec(stmt))
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1]) if len(rows) > limit else None
    reactions = reactions_for(session, viewer, [r.id for r in items if r.id is not None])
    return FeedPage(items=items, next_cursor=next_cursor, reactions=reactions)


# --- people picker ------------------------------------------------------------------------


def search_colleagues(session: Session, viewer: Person, q: str, limit: int = 8) -> list[Person]:
    """Active colleagues matching `q` (accent-insensitive), the ones you recognised lately first."""
    recent = (
        select(
            RecognitionRecipient.person_id.label("pid"),  # type: ignore[union-attr]
            func.max(Recognition.created_at).label("last"),
        )
        .join(Recognition, col(Recognition.id) == RecognitionRecipient.recognition_id)
        .where(Recognition.giver_id == viewer.id)
        .group_by(col(RecognitionRecipient.person_id))
        .subquery()
    )
    stmt = (
        select(Person)
        .outerjoin(recent, recent.c.pid == Person.id)
        .outerjoin(Department, col(Department.id) == Person.department_id)
        .where(
            Person.org_id == viewer.org_id,
            col(Person.active).is_(True),
            Person.id != viewer.id,
        )
    )
    terms = fold(q).split()[: len(q.split()) or 1] if q.strip() else []
    for term in terms[:4]:
        like = f"%{term[:50]}%"
        stmt = stmt.where(
            or_(col(Person.search_text).like(like), func.lower(Department.name).like(like))
        )
    if not terms:
        stmt = stmt.where(recent.c.last.is_not(None))
    stmt = stmt.order_by(recent.c.last.desc().nulls_last(), Person.name).limit(limit)
    return list(session.exec(stmt))


# --- progress -----------------------------------------------------------------------------


@dataclass
class Progress:
    given_today: int
    goal: int
    streak: int

    @property
    def reached(self) -> bool:
        return self.given_today >= self.goal


def local_day_bounds(org: Organisation, day: date) -> tuple[datetime, datetime]:
    tz = ZoneInfo(org.timezone)
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def progress(session: Session, person: Person, now: datetime | None = None) -> Progress:
    """Given today (the organisation's day) against the daily goal, and the streak of days."""
    now = now or utcnow()
    org = person.org
    tz = ZoneInfo(org.timezone)
    today = now.astimezone(tz).date()
    start, end = local_day_bounds(org, today)
    given_today = session.exec(
        select(func.count())
        .select_from(Recognition)
        .where(
            Recognition.giver_id == person.id,
            col(Recognition.created_at) >= start,
            col(Recognition.created_at) < end,
        )
    ).one()
    since, _ = local_day_bounds(org, today - timedelta(days=90))
    stamps = session.exec(
        select(Recognition.created_at).where(
            Recognition.giver_id == person.id, col(Recognition.created_at) >= since
        )
    ).all()
    days = {s.astimezone(tz).date() for s in stamps}
    day = today if today in days else today - timedelta(days=1)
    streak = 0
    while day in days:
        streak += 1
        day -= timedelta(days=1)
    return Progress(given_today=given_today, goal=org.daily_goal, streak=streak)


def active_values(session: Session, org_id: int | None) -> list[Value]:
    """The organisation's values a recognition may be tagged with, in their order."""
    return list(
        session.exec(
            select(Value)
            .where(Value.org_id == org_id, col(Value.active).is_(True))
            .order_by(col(Value.position))
        )
    )
