"""The photo competitions' minute: announce results once voting closes, delete old photos.

Both steps ask the database what is due, so a missed minute, a restart or a second
scheduler changes nothing: the results are claimed with a conditional UPDATE (exactly one
run announces them), and a photo that is already gone is not found again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session, col, select

from app.contests import results, retention
from app.contests.models import Contest
from app.kernel.clock import utcnow

log = logging.getLogger("tod.jobs.contests")

SessionFactory = Callable[[], Session]


def contest_tick(session_factory: SessionFactory, now: datetime | None = None) -> str:
    """Announce the results of competitions whose voting has closed; delete entry photos
    past the organisation's retention. Each competition in its own short transaction."""
    now = now or utcnow()
    announced = photos = 0
    session = session_factory()
    try:
        due = session.exec(
            select(Contest.id).where(
                col(Contest.vote_closes_at) <= now, col(Contest.results_announced_at).is_(None)
            )
        ).all()
        session.commit()  # end the read: each competition gets its own transaction
        for contest_id in due:
            contest = session.get(Contest, contest_id)
            if contest is not None and results.announce_results(session, contest, now):
                announced += 1
            session.commit()
        for contest in retention.contests_past_retention(session, now):
            photos += retention.purge_contest_photos(session, contest, now)
            session.commit()
        session.commit()
    finally:
        session.close()
    if announced or photos:
        return f"{announced} results announced, {photos} photos deleted"
    return ""
