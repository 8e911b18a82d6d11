"""Today's progress: recognitions given in the organisation's day against the goal, and the streak."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from app.kernel.clock import utcnow
from app.orgs.models import Organisation, Person
from app.recognition.models import Recognition


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
    since, _ = local_day_bounds(org, today - timedelta(days=90))
    # One statement: today's count comes from the same 90 days of timestamps as the streak.
    stamps = session.exec(
        select(Recognition.created_at).where(
            Recognition.giver_id == person.id, col(Recognition.created_at) >= since
        )
    ).all()
    start, end = local_day_bounds(org, today)
    given_today = sum(1 for s in stamps if start <= s < end)
    days = {s.astimezone(tz).date() for s in stamps}
    day = today if today in days else today - timedelta(days=1)
    streak = 0
    while day in days:
        streak += 1
        day -= timedelta(days=1)
    return Progress(given_today=given_today, goal=org.daily_goal, streak=streak)
