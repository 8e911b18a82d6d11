"""ISO weeks and the weekly moments (pick, publish, close) in the organisation's zone, DST-aware.

Weeks. A feature belongs to the ISO week whose recognitions it was picked from (Monday 00:00
to Sunday 24:00 in the organisation's zone). Its *pick moment* is `pick_weekday`/`pick_time`
in that week; its *publish moment* is the first `publish_weekday`/`publish_time` at or after
the pick (with the defaults, Thursday 09:00 and the following Monday 07:00). A publication
missed while the app was down is caught up until the end of the ISO week that holds the
publish moment (`closes_at`); after that the old week is never published.

Shown to people, a moment is written on the organisation's clock in the reader's language
(`moment_text`); every page, e-mail and the widget ask here for the next publication
(`next_publish_at`).
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from babel import dates
from sqlmodel import Session, select

from app.kernel.clock import utcnow
from app.kernel.locale import babel_locale
from app.orgs.models import Organisation
from app.weekly.models import Feature


def week_of(org: Organisation, now: datetime) -> tuple[int, int]:
    """The ISO (year, week) of `now` in the organisation's time zone."""
    iso = now.astimezone(ZoneInfo(org.timezone)).isocalendar()
    return iso.year, iso.week


def week_label(year: int, week: int) -> str:
    return f"{year}-W{week:02d}"


def parse_week(text: str) -> tuple[int, int]:
    """ "2026-W48" -> (2026, 48); ValueError for anything else or a week that does not exist."""
    match = re.fullmatch(r"(\d{4})-?W(\d{1,2})", (text or "").strip(), re.IGNORECASE)
    if not match:
        raise ValueError(f"not an ISO week: {text!r} (write it like 2026-W48)")
    year, week = int(match[1]), int(match[2])
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError as exc:  # week 0, 54, or 53 of a year that has 52
        raise ValueError(f"{year} has no ISO week {week} (write it like 2026-W48)") from exc
    return year, week


def monday_of(year: int, week: int) -> date:
    return date.fromisocalendar(year, week, 1)


def _shift_week(year: int, week: int, weeks: int) -> tuple[int, int]:
    iso = (monday_of(year, week) + timedelta(weeks=weeks)).isocalendar()
    return iso.year, iso.week


def _hhmm(text: str) -> time:
    hour, _, minute = (text or "").partition(":")
    return time(int(hour), int(minute))


def local_moment(tz: ZoneInfo, day: date, at: time) -> datetime:
    """`day` at `at` on the wall clock of `tz`, in UTC.

    A wall time skipped by a DST change (02:30 on the last Sunday of March in Oslo) moves to
    the next minute that exists (03:00); a repeated one (02:30 in October) is its first
    occurrence (fold=0, still summer time).
    """
    wall = datetime.combine(day, at)
    for minutes in range(0, 24 * 60):
        candidate = wall + timedelta(minutes=minutes)
        aware = candidate.replace(tzinfo=tz)
        if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == candidate:
            return aware.astimezone(UTC)
    raise ValueError(f"{day} {at} does not exist in {tz}")  # pragma: no cover - no such zone


def week_bounds(org: Organisation, year: int, week: int) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00 in the organisation's zone, in UTC."""
    tz = ZoneInfo(org.timezone)
    monday = monday_of(year, week)
    return local_moment(tz, monday, time(0)), local_moment(tz, monday + timedelta(7), time(0))


@dataclass(frozen=True)
class WeekSchedule:
    year: int
    week: int
    pick_at: datetime
    publish_at: datetime
    closes_at: datetime  # end of the ISO week holding publish_at: no publication after this

    @property
    def label(self) -> str:
        return week_label(self.year, self.week)


def schedule(org: Organisation, year: int, week: int) -> WeekSchedule:
    """When the week's feature is picked, published, and given up on (all UTC)."""
    tz = ZoneInfo(org.timezone)
    monday = monday_of(year, week)
    pick_at = local_moment(tz, monday + timedelta(org.pick_weekday % 7), _hhmm(org.pick_time))
    publish_day = monday + timedelta(org.publish_weekday % 7)
    publish_at = local_moment(tz, publish_day, _hhmm(org.publish_time))
    if publish_at < pick_at:
        publish_day += timedelta(7)
        publish_at = local_moment(tz, publish_day, _hhmm(org.publish_time))
    publish_monday = publish_day - timedelta(publish_day.weekday())
    closes_at = local_moment(tz, publish_monday + timedelta(7), time(0))
    return WeekSchedule(year, week, pick_at, publish_at, closes_at)


def open_weeks(org: Organisation, now: datetime) -> list[WeekSchedule]:
    """Weeks whose pick moment has passed and whose publication window is not over, oldest first.

    A pick is in its own week and a publication at most a week later, so only this week and
    the one before can qualify; a week that ended before the organisation existed does not.
    """
    year, week = week_of(org, now)
    found = []
    for y, w in (_shift_week(year, week, -1), (year, week)):
        sched = schedule(org, y, w)
        if sched.pick_at <= now < sched.closes_at and week_bounds(org, y, w)[1] > org.created_at:
            found.append(sched)
    return found


def due_week(org: Organisation, now: datetime) -> WeekSchedule | None:
    """The week whose publication is due at `now` (its publish moment passed, window open)."""
    due = [s for s in open_weeks(org, now) if s.publish_at <= now]
    return due[-1] if due else None


def week_feature(session: Session, org: Organisation, year: int, week: int) -> Feature | None:
    return session.exec(
        select(Feature).where(
            Feature.org_id == org.id, Feature.iso_year == year, Feature.iso_week == week
        )
    ).first()


def next_moments(org: Organisation, now: datetime) -> tuple[datetime, datetime]:
    """The next weekly pick and the next publication after `now` (UTC)."""
    year, week = week_of(org, now)
    following = week_of(org, now + timedelta(weeks=1))
    previous = week_of(org, now - timedelta(weeks=1))
    weeks = [schedule(org, y, w) for y, w in (previous, (year, week), following)]
    pick = min(s.pick_at for s in weeks if s.pick_at > now)
    publish = min(s.publish_at for s in weeks if s.publish_at > now)
    return pick, publish


def next_publish_at(org: Organisation, now: datetime | None = None) -> datetime:
    """The next publish moment after `now` (UTC): the organisation's weekday and time."""
    return next_moments(org, now or utcnow())[1]


# How the day is written: "mandag 23. november" (pages), "Monday, 23 November" (the widget:
# the language's full date without the year), "man. 23. nov." (e-mails).
DayStyle = Literal["weekday", "full", "short"]


def moment_text(
    org: Organisation, moment: datetime, code: str, *, day: DayStyle = "weekday"
) -> tuple[str, str]:
    """(day, time) of `moment` on the organisation's clock, in the language `code`."""
    local = moment.astimezone(ZoneInfo(org.timezone))
    locale = babel_locale(code)
    if day == "full":
        pattern = re.sub(r",?\s*y+\.?", "", locale.date_formats["full"].pattern).strip()
        day_text = dates.format_date(local, pattern, locale=locale)
    elif day == "short":
        day_text = dates.format_skeleton("MMMMEEEEd", local, locale=locale)
    else:
        day_text = "{} {}".format(
            dates.format_date(local, "EEEE", locale=locale),
            dates.format_skeleton("MMMMd", local, locale=locale),
        )
    return day_text, dates.format_time(local, "short", locale=locale)
