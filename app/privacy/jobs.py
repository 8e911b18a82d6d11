"""The privacy job: purge what has outlived its use, and erase people their organisation
erases automatically some days after they were deactivated. Each person in a transaction
of their own, found again by the database on every run: a missed or doubled run is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session

from app.kernel.clock import utcnow
from app.orgs.models import Person
from app.privacy import erasure, retention

log = logging.getLogger("tod.jobs.privacy")

SessionFactory = Callable[[], Session]


def privacy_tick(session_factory: SessionFactory, now: datetime | None = None) -> str:
    now = now or utcnow()
    session = session_factory()
    erased = 0
    try:
        purged = retention.purge(session, now)
        session.commit()
        for person_id in erasure.due_for_erasure(session, now):
            person = session.get(Person, person_id)
            # Re-read: the person may have been reactivated since the list was made.
            if person is None or person.active:
                continue
            erasure.erase_person(session, person, actor=None, now=now)
            session.commit()
            erased += 1
        session.commit()
    finally:
        session.close()
    done = []
    if purged:
        done.append(
            f"purged {purged.sessions} sessions, {purged.links} login links, "
            f"{purged.rate_rows} rate-limit rows, {purged.deliveries} webhook deliveries"
        )
    if erased:
        done.append(f"erased {erased} people deactivated past their organisation's limit")
    return "; ".join(done)
