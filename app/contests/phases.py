"""The phase of a photo competition: never stored, it follows from the four windows and `now`."""

from datetime import datetime
from enum import StrEnum

from app.contests.models import Contest
from app.kernel.clock import utcnow


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
