"""Votes in a competition: one row per vote and slot, also when requests race."""

from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.contests.models import Contest, ContestEntry, ContestVote, EntryStatus
from app.contests.phases import Phase, phase
from app.errors import N_, Invalid, NotFound, Problem
from app.kernel.clock import utcnow
from app.orgs.models import Person

NOT_VOTING = Problem("closed", N_("Voting is not open."))


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
