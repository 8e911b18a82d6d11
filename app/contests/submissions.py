"""Photos sent to a competition: submit, moderate, the queue, the gallery and what it shows."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, cast, delete, func, literal
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from app.contests.models import Contest, ContestEntry, ContestVote, EntryStatus
from app.contests.phases import Phase, phase
from app.contests.scope import require_curator
from app.errors import N_, Invalid, NotFound, Problem
from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.kernel.forms import strip_controls
from app.kernel.paging import Page
from app.media import service as media
from app.media.models import MediaImage
from app.orgs.models import Person

CAPTION_MAX = 300
REASON_MIN, REASON_MAX = 3, 300
GALLERY_PAGE = 24
SHUFFLE_PRIME = 4294967311  # the smallest prime above 2**32
# Bidirectional overrides can make a caption render in a misleading order ("Trojan source").

CLOSED = Problem("closed", N_("This competition does not take photos now."))


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
    require_curator(curator, contest)
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
