"""Photo competitions: windows and phases, entries with moderation, votes, results, retention.

Plain functions over a session; they never commit. Phases are never stored: they follow from
the four windows and `now`, so a curator moves a competition on by editing its windows.
"""

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, String, cast, delete, func, literal, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from app.contests.models import Contest, ContestEntry, ContestVote, EntryStatus, WinnerRule
from app.errors import N_, Invalid, NotFound, PermissionDenied, Problem
from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.kernel.forms import clean_text, strip_controls
from app.kernel.paging import Page
from app.kernel.scope import in_org
from app.media import service as media
from app.media.models import MediaImage
from app.orgs.models import Organisation, Person, Value

TITLE_MAX, THEME_MAX, CAPTION_MAX = 120, 1000, 300
REASON_MIN, REASON_MAX = 3, 300
LIMIT_MIN, LIMIT_MAX = 1, 10  # entries per person, votes per person
GALLERY_PAGE = 24
PODIUM_PLACES = 3
SHUFFLE_PRIME = 4294967311  # the smallest prime above 2**32
# Bidirectional overrides can make a caption render in a misleading order ("Trojan source").

CLOSED = Problem("closed", N_("This competition does not take photos now."))
NOT_VOTING = Problem("closed", N_("Voting is not open."))
NOT_CLOSED = Problem("not_closed", N_("The results are shown when voting has closed."))


class Phase(StrEnum):
    upcoming = "upcoming"  # before submissions open
    submitting = "submitting"
    moderating = "moderating"  # submissions closed, voting not yet open
    voting = "voting"
    closed = "closed"


def phase(contest: Contest, now: datetime | None = None) -> Phase:
    now = now or utcnow()
    if now < contest.submit_opens_at:
        return Phase.upcoming
    if now < contest.submit_closes_at:
        return Phase.submitting
    if now < contest.vote_opens_at:
        return Phase.moderating
    if now < contest.vote_closes_at:
        return Phase.voting
    return Phase.closed


# --- access -------------------------------------------------------------------------------


def contest_for(session: Session, viewer: Person, contest_id: int) -> Contest:
    """Every member may read every competition of their own organisation; others get 404."""
    return in_org(session, viewer.org, Contest, contest_id)


def can_see_entry(viewer: Person, entry: ContestEntry) -> bool:
    if entry.contest.org_id != viewer.org_id:
        return False
    if entry.status == EntryStatus.approved:
        return True
    return entry.author_id == viewer.id or viewer.is_curator


def entry_for(session: Session, viewer: Person, contest: Contest, entry_id: int) -> ContestEntry:
    """The one way to load an entry: 404 unless it is in `contest` and the viewer may see it.

    Pending and rejected entries are the author's and the curators' only.
    """
    entry = session.get(ContestEntry, entry_id)
    if entry is None or entry.contest_id != contest.id or not can_see_entry(viewer, entry):
        raise NotFound()
    return entry


def entry_image_visible(session: Session, viewer: Person | None, image_id: int) -> bool | None:
    """The media access hook: may `viewer` see this image? None when no entry uses it."""
    entries = list(session.exec(select(ContestEntry).where(ContestEntry.image_id == image_id)))
    if not entries:
        return None
    if viewer is None:
        return False
    return any(can_see_entry(viewer, entry) for entry in entries)


def _require_curator(person: Person, contest: Contest | None = None) -> None:
    if not person.is_curator or (contest is not None and contest.org_id != person.org_id):
        raise PermissionDenied()


# --- creating and editing -----------------------------------------------------------------


@dataclass
class ContestInput:
    """What a curator typed. Window times are datetimes or text such as "2026-11-23T09:00";
    a time without a zone is the organisation's local time."""

    title: str = ""
    theme: str = ""
    value_id: int | None = None
    submit_opens_at: datetime | str | None = None
    submit_closes_at: datetime | str | None = None
    vote_opens_at: datetime | str | None = None
    vote_closes_at: datetime | str | None = None
    entries_per_person: int | str = 1
    votes_per_person: int | str = 1
    winner_rule: str = WinnerRule.votes.value
    anonymous_voting: bool = True

    @classmethod
    def of(cls, contest: Contest) -> "ContestInput":
        return cls(
            title=contest.title,
            theme=contest.theme,
            value_id=contest.value_id,
            submit_opens_at=contest.submit_opens_at,
            submit_closes_at=contest.submit_closes_at,
            vote_opens_at=contest.vote_opens_at,
            vote_closes_at=contest.vote_closes_at,
            entries_per_person=contest.entries_per_person,
            votes_per_person=contest.votes_per_person,
            winner_rule=contest.winner_rule.value,
            anonymous_voting=contest.anonymous_voting,
        )


WINDOW_FIELDS = ("submit_opens_at", "submit_closes_at", "vote_opens_at", "vote_closes_at")


def local_datetime(org: Organisation, value: datetime | str | None) -> datetime:
    """An aware UTC datetime from a datetime-local value; naive means the org's time zone."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("required")
    at = datetime.fromisoformat(value.strip()) if isinstance(value, str) else value
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(org.timezone))
    if not 2000 <= at.year <= 2999:
        raise ValueError("out of range")
    return at.astimezone(ZoneInfo("UTC"))


def local_input(org: Organisation, at: datetime | str | None) -> str:
    """The value of a datetime-local input: minutes in the organisation's time zone."""
    if at is None:
        return ""
    if isinstance(at, str):
        return at
    return at.astimezone(ZoneInfo(org.timezone)).strftime("%Y-%m-%dT%H:%M")


def _limit(raw: int | str, field: str, errors: dict[str, Problem]) -> int:
    try:
        n = int(raw)
    except (TypeError, ValueError):
        n = 0
    if not LIMIT_MIN <= n <= LIMIT_MAX:
        errors[field] = Problem("range", N_("Choose a number from 1 to 10."))
    return n


def _clean_input(
    session: Session, org: Organisation, data: ContestInput, current: Contest | None = None
) -> tuple[dict[str, Any], dict[str, Problem]]:
    errors: dict[str, Problem] = {}
    clean: dict[str, Any] = {}
    try:
        clean["title"] = clean_text(data.title, max_length=TITLE_MAX, required=True)
    except ValueError as exc:
        errors["title"] = exc.args[0]
    try:
        clean["theme"] = clean_text(data.theme, max_length=THEME_MAX)
    except ValueError as exc:
        errors["theme"] = exc.args[0]
    clean["value_id"] = None
    if data.value_id is not None:
        value = session.get(Value, data.value_id)
        # A value made inactive since may stay on the competition that already has it.
        keeps = current is not None and current.value_id == data.value_id
        if value is None or value.org_id != org.id or not (value.active or keeps):
            errors["value_id"] = Problem("unknown", N_("Choose a value from the list."))
        else:
            clean["value_id"] = value.id
    for name in WINDOW_FIELDS:
        try:
            clean[name] = local_datetime(org, getattr(data, name))
        except ValueError:
            errors[name] = Problem("invalid", N_("Write a date and a time."))
    windows = {n: clean[n] for n in WINDOW_FIELDS if n in clean}
    if len(windows) == len(WINDOW_FIELDS):
        if windows["submit_closes_at"] <= windows["submit_opens_at"]:
            errors["submit_closes_at"] = Problem(
                "order", N_("Submissions must close after they open.")
            )
        if windows["vote_opens_at"] < windows["submit_closes_at"]:
            errors["vote_opens_at"] = Problem(
                "order", N_("Voting can open when submissions close, or later.")
            )
        if windows["vote_closes_at"] <= windows["vote_opens_at"]:
            errors["vote_closes_at"] = Problem("order", N_("Voting must close after it opens."))
    clean["entries_per_person"] = _limit(data.entries_per_person, "entries_per_person", errors)
    clean["votes_per_person"] = _limit(data.votes_per_person, "votes_per_person", errors)
    try:
        clean["winner_rule"] = WinnerRule(data.winner_rule)
    except ValueError:
        errors["winner_rule"] = Problem("invalid", N_("Choose how the winners are found."))
    clean["anonymous_voting"] = bool(data.anonymous_voting)
    return clean, errors


def create_contest(session: Session, curator: Person, data: ContestInput) -> Contest:
    _require_curator(curator)
    clean, errors = _clean_input(session, curator.org, data)
    if errors:
        raise Invalid(errors)
    contest = Contest(org_id=curator.org_id, created_by_id=curator.id, **clean)
    session.add(contest)
    session.flush()
    audit(
        session,
        curator.org,
        curator,
        "contest.create",
        f"contest {contest.id}",
        title=contest.title,
    )
    return contest


def update_contest(
    session: Session,
    curator: Person,
    contest: Contest,
    data: ContestInput,
    now: datetime | None = None,
    action: str = "contest.update",
) -> Contest:
    _require_curator(curator, contest)
    now = now or utcnow()
    clean, errors = _clean_input(session, curator.org, data, contest)
    if errors:
        raise Invalid(errors)
    changed = {
        k: _audit_value(v)
        for k, v in clean.items()
        if _audit_value(getattr(contest, k)) != _audit_value(v)
    }
    for key, value in clean.items():
        setattr(contest, key, value)
    if phase(contest, now) != Phase.closed:
        # Voting was opened again: the results are announced anew when it closes.
        contest.results_announced_at = None
    # Fewer votes per person: the votes in the slots above the new limit are taken back.
    removed = session.execute(
        delete(ContestVote).where(
            col(ContestVote.contest_id) == contest.id,
            col(ContestVote.slot) > contest.votes_per_person,
        )
    ).rowcount  # type: ignore[attr-defined]
    session.add(contest)
    session.flush()
    detail: dict[str, Any] = {"changed": changed}
    if removed:
        detail["votes_removed"] = removed
    audit(session, curator.org, curator, action, f"contest {contest.id}", **detail)
    return contest


def _audit_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    return value


class PhaseAction(StrEnum):
    close_submissions = "close_submissions"
    open_voting = "open_voting"
    close_voting = "close_voting"


def move_phase(
    session: Session, curator: Person, contest: Contest, action: str, now: datetime | None = None
) -> Contest:
    """The "now" buttons: close submissions, open voting or close voting at this moment, by
    moving the windows (and the later ones with them, so that they stay in order)."""
    now = now or utcnow()
    current = phase(contest, now)
    data = ContestInput.of(contest)
    try:
        act = PhaseAction(action)
    except ValueError as exc:
        raise Invalid({"action": Problem("invalid", N_("Unknown action."))}) from exc
    # The windows' CHECK constraints want each to end after it starts, if only just.
    tick = timedelta(microseconds=1)
    if act == PhaseAction.close_submissions and current == Phase.submitting:
        data.submit_closes_at = max(now, contest.submit_opens_at + tick)
    elif act == PhaseAction.open_voting and current == Phase.moderating:
        data.vote_opens_at = max(now, contest.submit_closes_at)
    elif act == PhaseAction.close_voting and current == Phase.voting:
        data.vote_closes_at = max(now, contest.vote_opens_at + tick)
    else:
        raise Invalid(
            {"action": Problem("phase", N_("That is not possible in this phase any more."))}
        )
    return update_contest(session, curator, contest, data, now, action=f"contest.{act.value}")


# --- entries ------------------------------------------------------------------------------


def clean_caption(text: str | None) -> str:
    return " ".join(strip_controls(text, keep="\n\t\r").split())


def _active_entry_count(session: Session, author: Person, contest: Contest) -> int:
    """Pending and approved entries count towards the limit; a rejected one can be replaced."""
    return session.exec(
        select(func.count())
        .select_from(ContestEntry)
        .where(
            ContestEntry.contest_id == contest.id,
            ContestEntry.author_id == author.id,
            col(ContestEntry.status) != EntryStatus.rejected,
        )
    ).one()


def entries_left(session: Session, author: Person, contest: Contest) -> int:
    return max(0, contest.entries_per_person - _active_entry_count(session, author, contest))


LIMIT_REACHED = Problem(
    "limit", N_("You have sent as many photos as this competition takes from each person.")
)


def _check_entry(
    session: Session,
    author: Person,
    contest: Contest,
    *,
    has_file: bool,
    caption: str,
    people_consent: bool,
    now: datetime,
) -> str:
    if contest.org_id != author.org_id:
        raise NotFound()
    if phase(contest, now) != Phase.submitting:
        raise Invalid({"photo": CLOSED})
    errors: dict[str, Problem] = {}
    if not has_file:
        errors["photo"] = Problem("required", N_("Choose a photo."))
    cleaned = clean_caption(caption)
    if not cleaned:
        errors["caption"] = Problem(
            "required", N_("Describe the photo in a few words: it is also read aloud to people.")
        )
    elif len(cleaned) > CAPTION_MAX:
        errors["caption"] = Problem("too_long", N_("Write at most 300 characters."))
    if not people_consent:
        errors["people_consent"] = Problem(
            "required", N_("Confirm that everyone recognisable in the photo agreed to be shown.")
        )
    if "photo" not in errors and _active_entry_count(session, author, contest) >= (
        contest.entries_per_person
    ):
        errors["photo"] = LIMIT_REACHED
    if errors:
        raise Invalid(errors)
    return cleaned


def _lock_contest(session: Session, contest: Contest) -> None:
    """Serialise the submissions to one competition until commit.

    PostgreSQL: FOR NO KEY UPDATE (`key_share=True`) on the contest row; unlike FOR UPDATE it
    does not block the foreign-key checks of votes and entries, which take KEY SHARE. SQLite
    renders no FOR UPDATE: there every writing transaction already holds the database's write
    lock (BEGIN IMMEDIATE).
    """
    session.exec(
        select(Contest.id).where(Contest.id == contest.id).with_for_update(key_share=True)
    ).one()


SaveUpload = Callable[..., MediaImage]


def submit_entry(
    session: Session,
    author: Person,
    contest: Contest,
    *,
    upload: Any,
    caption: str,
    people_consent: bool,
    now: datetime | None = None,
    save_upload: SaveUpload | None = None,
) -> ContestEntry:
    """A photo into the moderation queue. Every rule is checked before the photo is processed;
    the limit once more, under the contest's lock, before the entry is written."""
    now = now or utcnow()
    cleaned = _check_entry(
        session,
        author,
        contest,
        has_file=media.has_file(upload),
        caption=caption,
        people_consent=people_consent,
        now=now,
    )
    try:
        image = (save_upload or media.save_upload)(session, author.org, author, upload, alt=cleaned)
    except Invalid as exc:
        # The pipeline's codes (unsupported, corrupt, too_many_pixels, too_large) belong to
        # the photo field, whatever field name it used.
        raise Invalid({"photo": exc.first}) from exc
    _lock_contest(session, contest)
    session.refresh(contest)
    if phase(contest, now) != Phase.submitting:
        raise Invalid({"photo": CLOSED})
    if _active_entry_count(session, author, contest) >= contest.entries_per_person:
        # Another request of the same person won the race; the caller rolls back.
        raise Invalid({"photo": LIMIT_REACHED})
    entry = ContestEntry(
        contest_id=contest.id,
        author_id=author.id,
        image_id=image.id,
        caption=cleaned,
        people_consent=True,
        status=EntryStatus.pending,
        created_at=now,
    )
    session.add(entry)
    session.flush()
    return entry


def moderate_entry(
    session: Session,
    curator: Person,
    entry: ContestEntry,
    *,
    approve: bool,
    reason: str = "",
    now: datetime | None = None,
) -> ContestEntry:
    """Approve, or reject with a reason the author sees. Possible until voting closes."""
    contest = entry.contest
    _require_curator(curator, contest)
    now = now or utcnow()
    if phase(contest, now) == Phase.closed:
        raise Invalid({"reason": Problem("closed", N_("The competition has closed."))})
    reason = " ".join((reason or "").split())
    if not approve:
        if len(reason) < REASON_MIN:
            raise Invalid(
                {
                    "reason": Problem(
                        "required", N_("Write a short reason: the photographer will see it.")
                    )
                }
            )
        if len(reason) > REASON_MAX:
            raise Invalid({"reason": Problem("too_long", N_("Write at most 300 characters."))})
    entry.status = EntryStatus.approved if approve else EntryStatus.rejected
    entry.reject_reason = "" if approve else reason
    entry.moderated_by_id = curator.id
    entry.moderated_at = now
    session.add(entry)
    removed = 0
    if not approve:
        # Votes for a photo that is no longer in the competition are given back.
        removed = session.execute(
            delete(ContestVote).where(col(ContestVote.entry_id) == entry.id)
        ).rowcount  # type: ignore[attr-defined]
    detail: dict[str, Any] = {"contest": contest.id}
    if not approve:
        detail["reason"] = reason
    if removed:
        detail["votes_removed"] = removed
    action = "contest.entry_approve" if approve else "contest.entry_reject"
    audit(session, curator.org, curator, action, f"contest entry {entry.id}", **detail)
    return entry


# A page of photos needs each entry's image and author: two queries, not two per photo.
WITH_IMAGE_AND_AUTHOR = (
    selectinload(ContestEntry.image),  # type: ignore[arg-type]
    selectinload(ContestEntry.author),  # type: ignore[arg-type]
)


def my_entries(session: Session, person: Person, contest: Contest) -> list[ContestEntry]:
    return list(
        session.exec(
            select(ContestEntry)
            .options(*WITH_IMAGE_AND_AUTHOR)
            .where(ContestEntry.contest_id == contest.id, ContestEntry.author_id == person.id)
            .order_by(col(ContestEntry.created_at), col(ContestEntry.id))
        )
    )


def moderation_queue(session: Session, contest: Contest) -> list[ContestEntry]:
    """Pending first (oldest first), then the moderated ones, newest decision first."""
    rows = list(
        session.exec(
            select(ContestEntry)
            .options(*WITH_IMAGE_AND_AUTHOR)
            .where(ContestEntry.contest_id == contest.id)
            .order_by(col(ContestEntry.created_at), col(ContestEntry.id))
        )
    )
    pending = [e for e in rows if e.status == EntryStatus.pending]
    done = sorted(
        (e for e in rows if e.status != EntryStatus.pending),
        key=lambda e: (e.moderated_at or e.created_at, e.id or 0),
        reverse=True,
    )
    return pending + done


def pending_count(session: Session, contest: Contest) -> int:
    return session.exec(
        select(func.count())
        .select_from(ContestEntry)
        .where(ContestEntry.contest_id == contest.id, ContestEntry.status == EntryStatus.pending)
    ).one()


def gallery(
    session: Session, viewer: Person, contest: Contest, number: int = 1, now: datetime | None = None
) -> Page[ContestEntry]:
    """Approved entries, 24 a page. While voting, each viewer sees their own fixed shuffle, so
    that the first photos sent do not collect the votes of people who never scroll."""
    stmt = select(ContestEntry).where(
        ContestEntry.contest_id == contest.id, ContestEntry.status == EntryStatus.approved
    )
    if phase(contest, now) == Phase.voting:
        # id * m mod p, with p prime and m from the viewer: a permutation of the ids that is
        # the same on every page and database, and another one for the next viewer.
        m = 2654435761 * ((viewer.id or 0) % SHUFFLE_PRIME + 1) % SHUFFLE_PRIME or 1
        key = cast(col(ContestEntry.id), BigInteger) * literal(m, BigInteger)
        stmt = stmt.order_by(key % literal(SHUFFLE_PRIME, BigInteger), col(ContestEntry.id))
    else:
        stmt = stmt.order_by(col(ContestEntry.created_at).desc(), col(ContestEntry.id).desc())
    total = session.exec(select(func.count()).select_from(stmt.order_by(None).subquery())).one()
    pages = max(1, -(-total // GALLERY_PAGE))
    number = min(max(1, number), pages)
    page = stmt.options(*WITH_IMAGE_AND_AUTHOR).offset((number - 1) * GALLERY_PAGE)
    items = list(session.exec(page.limit(GALLERY_PAGE)))
    return Page(items=items, number=number, total=total, size=GALLERY_PAGE)


def show_author(contest: Contest, now: datetime | None = None) -> bool:
    """Anonymous voting hides the photographers' names until voting has closed."""
    return not (contest.anonymous_voting and phase(contest, now) != Phase.closed)


def has_photo(entry: ContestEntry) -> bool:
    """False once the retention period removed the photo (the entry itself stays)."""
    image = entry.image
    return image is not None and bool(image.variants)


# --- votes --------------------------------------------------------------------------------


def my_votes(session: Session, voter: Person, contest: Contest) -> dict[int, int]:
    """The voter's votes in `contest`: entry id -> slot."""
    rows = session.exec(
        select(ContestVote.entry_id, ContestVote.slot).where(
            ContestVote.contest_id == contest.id, ContestVote.voter_id == voter.id
        )
    ).all()
    return {entry_id: slot for entry_id, slot in rows if entry_id is not None}


def _check_vote(voter: Person, entry: ContestEntry, now: datetime) -> Contest:
    contest = entry.contest
    if contest.org_id != voter.org_id or entry.status != EntryStatus.approved:
        raise NotFound()
    if phase(contest, now) != Phase.voting:
        raise Invalid({"vote": NOT_VOTING})
    if entry.author_id == voter.id:
        raise Invalid({"vote": Problem("self", N_("You cannot vote for your own photo."))})
    return contest


def _insert_vote(
    session: Session, contest: Contest, voter: Person, entry: ContestEntry, slot: int
) -> bool:
    """Insert one vote in a savepoint; False when a unique key said no (a racing request)."""
    try:
        with session.begin_nested():
            session.add(
                ContestVote(contest_id=contest.id, entry_id=entry.id, voter_id=voter.id, slot=slot)
            )
            session.flush()
    except IntegrityError:
        return False
    return True


def _vote_on(session: Session, voter: Person, entry: ContestEntry, contest: Contest) -> None:
    """Make sure the voter's vote is on `entry`: exactly one row, also when requests race.

    One vote per person: the vote in slot 1 moves here. N votes: the lowest free slot; when
    all are used, the voter has to take one back first.
    """
    attempts = contest.votes_per_person + 3
    for _ in range(attempts):
        mine = my_votes(session, voter, contest)
        if entry.id in mine:
            return
        if contest.votes_per_person == 1 and mine:
            moved = session.execute(
                update(ContestVote)
                .where(
                    col(ContestVote.contest_id) == contest.id,
                    col(ContestVote.voter_id) == voter.id,
                    col(ContestVote.slot) == 1,
                )
                .values(entry_id=entry.id, created_at=utcnow())
            ).rowcount  # type: ignore[attr-defined]
            if moved:
                return
            continue  # the vote was taken back meanwhile: look again
        free = [s for s in range(1, contest.votes_per_person + 1) if s not in mine.values()]
        if not free:
            raise Invalid(
                {"vote": Problem("limit", N_("You have used all your votes. Take one back first."))}
            )
        if _insert_vote(session, contest, voter, entry, free[0]):
            return
        # A unique key refused it: the same vote (a double click) or the same slot (a vote
        # for another photo at the same moment) got there first. Look again.
    raise Invalid({"vote": Problem("busy", N_("Please try again."))})


def vote(session: Session, voter: Person, entry: ContestEntry, now: datetime | None = None) -> None:
    """Vote for `entry` (nothing happens when the vote is already there)."""
    contest = _check_vote(voter, entry, now or utcnow())
    _vote_on(session, voter, entry, contest)


def unvote(
    session: Session, voter: Person, entry: ContestEntry, now: datetime | None = None
) -> None:
    """Take the vote for `entry` back (nothing happens when there is none)."""
    _check_vote(voter, entry, now or utcnow())
    session.execute(
        delete(ContestVote).where(
            col(ContestVote.entry_id) == entry.id, col(ContestVote.voter_id) == voter.id
        )
    )


def toggle_vote(
    session: Session, voter: Person, entry: ContestEntry, now: datetime | None = None
) -> bool:
    """The vote button: a vote for `entry`, or taken back when it is there. Returns on/off."""
    contest = _check_vote(voter, entry, now or utcnow())
    removed = session.execute(
        delete(ContestVote).where(
            col(ContestVote.entry_id) == entry.id, col(ContestVote.voter_id) == voter.id
        )
    ).rowcount  # type: ignore[attr-defined]
    if removed:
        return False
    _vote_on(session, voter, entry, contest)
    return True


# --- results ------------------------------------------------------------------------------


def vote_totals(session: Session, contest: Contest, now: datetime | None = None) -> dict[int, int]:
    """Votes per approved entry. Nobody, curators included, sees them before voting closes."""
    if phase(contest, now) != Phase.closed:
        raise Invalid({"contest": NOT_CLOSED})
    rows = session.exec(
        select(ContestVote.entry_id, func.count())
        .join(ContestEntry, col(ContestEntry.id) == ContestVote.entry_id)
        .where(ContestVote.contest_id == contest.id, ContestEntry.status == EntryStatus.approved)
        .group_by(col(ContestVote.entry_id))
    ).all()
    return {entry_id: count for entry_id, count in rows if entry_id is not None}


@dataclass(frozen=True)
class Placing:
    place: int
    entry: ContestEntry
    votes: int | None  # None when the jury chose


def winners(session: Session, contest: Contest, now: datetime | None = None) -> list[Placing]:
    """The podium once voting has closed: the top three by votes, ties sharing a place
    (10, 10, 7 votes: 1st, 1st, 3rd), or the places the jury set. Empty before."""
    if phase(contest, now) != Phase.closed:
        return []
    approved = list(
        session.exec(
            select(ContestEntry)
            .options(*WITH_IMAGE_AND_AUTHOR)
            .where(
                ContestEntry.contest_id == contest.id,
                ContestEntry.status == EntryStatus.approved,
            )
            .order_by(col(ContestEntry.created_at), col(ContestEntry.id))
        )
    )
    if contest.winner_rule == WinnerRule.jury:
        picked = [e for e in approved if e.jury_place and 1 <= e.jury_place <= PODIUM_PLACES]
        picked.sort(key=lambda e: (e.jury_place or 0, e.id or 0))
        return [Placing(place=e.jury_place or 0, entry=e, votes=None) for e in picked]
    totals = vote_totals(session, contest, now)
    by_id = {e.id or 0: e for e in approved}
    scored = [
        (e.created_at, e.id or 0, totals[e.id or 0]) for e in approved if totals.get(e.id or 0)
    ]
    return [
        Placing(place=place, entry=by_id[entry_id], votes=votes)
        for entry_id, place, votes in _places_by_votes(scored)
    ]


def _places_by_votes(scored: list[tuple[datetime, int, int]]) -> list[tuple[int, int, int]]:
    """(entry id, place, votes) from (submitted, entry id, votes > 0) of approved entries: most
    votes first, the earlier photo first on a tie, and ties sharing a place (10, 10, 7 votes:
    1st, 1st, 3rd), no further than the podium."""
    ranked = sorted(scored, key=lambda s: (-s[2], s[0], s[1]))
    result: list[tuple[int, int, int]] = []
    for i, (_at, entry_id, votes) in enumerate(ranked):
        place = result[-1][1] if result and result[-1][2] == votes else i + 1
        if place > PODIUM_PLACES:
            break
        result.append((entry_id, place, votes))
    return result


def set_jury_places(
    session: Session,
    curator: Person,
    contest: Contest,
    places: dict[int, int | None],
    now: datetime | None = None,
) -> None:
    """The jury's 1st, 2nd and 3rd place (a place may be shared), among approved entries."""
    _require_curator(curator, contest)
    if contest.winner_rule != WinnerRule.jury:
        raise Invalid({"places": Problem("not_jury", N_("This competition is decided by votes."))})
    if phase(contest, now) in (Phase.upcoming, Phase.submitting):
        raise Invalid(
            {"places": Problem("too_early", N_("The jury chooses after submissions close."))}
        )
    entries = {
        e.id: e
        for e in session.exec(
            select(ContestEntry).where(
                ContestEntry.contest_id == contest.id,
                ContestEntry.status == EntryStatus.approved,
            )
        )
    }
    for entry_id, place in places.items():
        if entry_id not in entries:
            raise Invalid({"places": Problem("unknown", N_("Choose among the approved photos."))})
        if place is not None and not 1 <= place <= PODIUM_PLACES:
            raise Invalid({"places": Problem("range", N_("A place is 1, 2 or 3."))})
    for entry_id, place in places.items():
        entry = entries[entry_id]
        entry.jury_place = place
        session.add(entry)
    audit(
        session,
        curator.org,
        curator,
        "contest.jury",
        f"contest {contest.id}",
        places={str(k): v for k, v in places.items()},
    )


# --- lists --------------------------------------------------------------------------------


@dataclass
class Overview:
    current: list[Contest]  # submitting, moderating or voting
    upcoming: list[Contest]
    recent: list[tuple[Contest, list[Placing]]]  # closed, newest first, with their podium


def overview(
    session: Session, viewer: Person, now: datetime | None = None, recent: int = 5
) -> Overview:
    now = now or utcnow()
    open_or_soon = list(
        session.exec(
            select(Contest)
            .where(Contest.org_id == viewer.org_id, col(Contest.vote_closes_at) > now)
            .order_by(col(Contest.vote_closes_at), col(Contest.id))
        )
    )
    closed = list(
        session.exec(
            select(Contest)
            .where(Contest.org_id == viewer.org_id, col(Contest.vote_closes_at) <= now)
            .order_by(col(Contest.vote_closes_at).desc(), col(Contest.id).desc())
            .limit(recent)
        )
    )
    return Overview(
        current=[c for c in open_or_soon if phase(c, now) != Phase.upcoming],
        upcoming=sorted(
            (c for c in open_or_soon if phase(c, now) == Phase.upcoming),
            key=lambda c: c.submit_opens_at,
        ),
        recent=[(c, winners(session, c, now)) for c in closed],
    )


def list_contests(session: Session, viewer: Person) -> list[Contest]:
    return list(
        session.exec(
            select(Contest)
            .where(Contest.org_id == viewer.org_id)
            .order_by(col(Contest.submit_opens_at).desc(), col(Contest.id).desc())
        )
    )


# --- results in the home feed ----------------------------------------------------------------


@dataclass(frozen=True)
class AnnouncedResults:
    """A competition whose results were announced, as the home feed shows it."""

    contest: Contest
    announced_at: datetime
    podium: list[Placing]
    show_author: bool


def announced_between(
    session: Session,
    org: Organisation,
    since: datetime | None = None,
    before: datetime | None = None,
    value_id: int | None = None,
    now: datetime | None = None,
) -> list[AnnouncedResults]:
    """The organisation's competitions announced at `since` or later and before `before`
    (either bound may be open), newest first, each with its podium; with `value_id`, only
    those of that value.

    A feed page asks for the span between its last item and the page before it, so each
    announcement is shown on exactly one page. One query on the organisation's few
    competitions; the podiums of all of them take three more (only when there are any).
    """
    now = now or utcnow()
    stmt = select(Contest).where(
        Contest.org_id == org.id, col(Contest.results_announced_at).is_not(None)
    )
    if since is not None:
        stmt = stmt.where(col(Contest.results_announced_at) >= since)
    if before is not None:
        stmt = stmt.where(col(Contest.results_announced_at) < before)
    if value_id is not None:
        stmt = stmt.where(Contest.value_id == value_id)
    stmt = stmt.order_by(col(Contest.results_announced_at).desc(), col(Contest.id).desc())
    # Announced means closed; a competition opened again loses its announcement, but the
    # phase is checked anyway so that no podium is ever shown before voting has closed.
    contests = [
        c
        for c in session.exec(stmt.options(selectinload(Contest.value)))  # type: ignore[arg-type]
        if phase(c, now) == Phase.closed
    ]
    podiums = _podiums(session, contests)
    return [
        AnnouncedResults(
            contest=c,
            announced_at=c.results_announced_at or now,
            podium=podiums.get(c.id or 0, []),
            show_author=show_author(c, now),
        )
        for c in contests
    ]


def _podiums(session: Session, contests: list[Contest]) -> dict[int, list[Placing]]:
    """What `winners` gives for each of these closed competitions, in a fixed number of
    queries: the vote counts, the jury's places, then only the placed entries' rows."""
    by_votes = [c.id for c in contests if c.winner_rule != WinnerRule.jury]
    by_jury = [c.id for c in contests if c.winner_rule == WinnerRule.jury]
    placed: dict[int, list[tuple[int, int, int | None]]] = {}  # contest -> (entry, place, votes)
    if by_votes:
        scored: dict[int, list[tuple[datetime, int, int]]] = {}
        rows = session.exec(
            select(ContestVote.contest_id, ContestEntry.id, ContestEntry.created_at, func.count())
            .join(ContestEntry, col(ContestEntry.id) == ContestVote.entry_id)
            .where(
                col(ContestVote.contest_id).in_(by_votes),
                ContestEntry.status == EntryStatus.approved,
            )
            .group_by(
                col(ContestVote.contest_id), col(ContestEntry.id), col(ContestEntry.created_at)
            )
        ).all()
        for contest_id, entry_id, created_at, count in rows:
            if contest_id is not None and entry_id is not None and count:
                scored.setdefault(contest_id, []).append((created_at, entry_id, count))
        for contest_id, candidates in scored.items():
            placed[contest_id] = list(_places_by_votes(candidates))
    if by_jury:
        rows_jury = session.exec(
            select(ContestEntry.contest_id, ContestEntry.id, ContestEntry.jury_place)
            .where(
                col(ContestEntry.contest_id).in_(by_jury),
                ContestEntry.status == EntryStatus.approved,
                col(ContestEntry.jury_place) >= 1,
                col(ContestEntry.jury_place) <= PODIUM_PLACES,
            )
            .order_by(col(ContestEntry.jury_place), col(ContestEntry.id))
        ).all()
        for contest_id, entry_id, jury_place in rows_jury:
            if contest_id is not None and entry_id is not None and jury_place is not None:
                placed.setdefault(contest_id, []).append((entry_id, jury_place, None))
    ids = [entry_id for places in placed.values() for entry_id, _p, _v in places]
    if not ids:
        return {}
    entries = {
        e.id: e
        for e in session.exec(
            select(ContestEntry)
            .options(*WITH_IMAGE_AND_AUTHOR)
            .where(col(ContestEntry.id).in_(ids))
        )
    }
    return {
        contest_id: [
            Placing(place=place, entry=entries[entry_id], votes=votes)
            for entry_id, place, votes in places
            if entry_id in entries
        ]
        for contest_id, places in placed.items()
    }


# --- CSV ----------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """Text as a spreadsheet shows it, never as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


CSV_HEADER = [
    "entry",
    "submitted",
    "author",
    "email",
    "caption",
    "status",
    "reject_reason",
    "jury_place",
    "votes",
    "photo",
]


def export_csv(
    session: Session, curator: Person, contest: Contest, now: datetime | None = None
) -> str:
    """Entries and (after voting closes) their votes, for Excel: BOM, semicolons.

    A read, so it writes no audit event: GET requests never take SQLite's write lock."""
    _require_curator(curator, contest)
    totals = vote_totals(session, contest, now) if phase(contest, now) == Phase.closed else None
    tz = ZoneInfo(contest.org.timezone)
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads UTF-8 only with a byte order mark
    # Semicolons: Excel in Norway and Sweden splits on the locale's list separator, ";".
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    entries = session.exec(
        select(ContestEntry)
        .where(ContestEntry.contest_id == contest.id)
        .order_by(col(ContestEntry.created_at), col(ContestEntry.id))
    )
    for e in entries:
        votes = (
            "" if totals is None or e.status != EntryStatus.approved else totals.get(e.id or 0, 0)
        )
        writer.writerow(
            [
                csv_cell(v)
                for v in (
                    e.id,
                    e.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                    e.author.name,
                    e.author.email,
                    e.caption,
                    e.status.value,
                    e.reject_reason,
                    e.jury_place or "",
                    votes,
                    "yes" if has_photo(e) else "removed",
                )
            ]
        )
    return out.getvalue()


def csv_filename(contest: Contest) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", contest.title.lower()).strip("-")[:40] or "contest"
    return f"{slug}-{contest.id}.csv"


# --- the job's work -----------------------------------------------------------------------


def announce_results(session: Session, contest: Contest, now: datetime) -> bool:
    """Mark the results announced, once: a conditional UPDATE, so two schedulers cannot both."""
    if phase(contest, now) != Phase.closed:
        return False
    claimed = session.execute(
        update(Contest)
        .where(col(Contest.id) == contest.id, col(Contest.results_announced_at).is_(None))
        .values(results_announced_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if not claimed:
        return False
    session.refresh(contest)
    podium = winners(session, contest, now)
    audit(
        session,
        contest.org,
        None,
        "contest.results",
        f"contest {contest.id}",
        winners=[{"place": p.place, "entry": p.entry.id, "votes": p.votes} for p in podium],
    )
    return True


def retention_cutoff(org: Organisation, now: datetime) -> datetime:
    return now - timedelta(days=max(0, org.contest_photo_retention_days))


def contests_past_retention(session: Session, now: datetime) -> list[Contest]:
    """Competitions that closed longer ago than their organisation keeps contest photos and
    still have an entry with a photo."""
    # An emptied image keeps its row with `variants` = [] (media.purge_files), stored as the
    # text "[]" on both databases: that is what makes a finished competition drop out here.
    with_photos = (
        select(ContestEntry.contest_id)
        .join(MediaImage, col(MediaImage.id) == ContestEntry.image_id)
        .where(cast(MediaImage.variants, String) != "[]")
        .distinct()
    )
    rows = session.exec(
        select(Contest, Organisation)
        .join(Organisation, col(Organisation.id) == Contest.org_id)
        .where(col(Contest.vote_closes_at) < now, col(Contest.id).in_(with_photos))
        .order_by(col(Contest.id))
    ).all()
    return [contest for contest, org in rows if contest.vote_closes_at < retention_cutoff(org, now)]


def _used_elsewhere(session: Session, entry: ContestEntry, now: datetime) -> bool:
    """The same photo (one row per content and owner) may also be a recognition's photo, or an
    entry in a competition still within its retention: then its files must stay."""
    from app.recognition.models import Recognition

    if session.exec(select(Recognition.id).where(Recognition.photo_id == entry.image_id)).first():
        return True
    others = session.exec(
        select(Contest)
        .join(ContestEntry, col(ContestEntry.contest_id) == Contest.id)
        .where(ContestEntry.image_id == entry.image_id, ContestEntry.id != entry.id)
    ).all()
    return any(c.vote_closes_at >= retention_cutoff(c.org, now) for c in others)


def purge_contest_photos(session: Session, contest: Contest, now: datetime) -> int:
    """Delete the photos of a competition past retention, keeping the entries (caption, votes,
    places) with their image emptied. Returns how many photos were deleted."""
    if contest.vote_closes_at >= retention_cutoff(contest.org, now):
        return 0
    entries = session.exec(select(ContestEntry).where(ContestEntry.contest_id == contest.id)).all()
    deleted = 0
    for entry in entries:
        if has_photo(entry) and not _used_elsewhere(session, entry, now):
            media.purge_files(session, entry.image)
            deleted += 1
    if deleted:
        audit(
            session,
            contest.org,
            None,
            "contest.photos_deleted",
            f"contest {contest.id}",
            photos=deleted,
            retention_days=contest.org.contest_photo_retention_days,
        )
    return deleted
