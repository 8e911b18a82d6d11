"""A competition's results: vote totals, the podium, announcing it, the home feed's list, CSV."""

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, update
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from app.contests.models import Contest, ContestEntry, ContestVote, EntryStatus, WinnerRule
from app.contests.phases import Phase, phase
from app.contests.scope import require_curator
from app.contests.submissions import WITH_IMAGE_AND_AUTHOR, show_author
from app.errors import N_, Invalid, Problem
from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.kernel.spreadsheet import csv_cell
from app.orgs.models import Organisation, Person

PODIUM_PLACES = 3

NOT_CLOSED = Problem("not_closed", N_("The results are shown when voting has closed."))


def has_photo(entry: ContestEntry) -> bool:
    """False once the retention period removed the photo (the entry itself stays)."""
    image = entry.image
    return image is not None and bool(image.variants)


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
    require_curator(curator, contest)
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
    require_curator(curator, contest)
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
