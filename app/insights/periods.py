"""Periods of insights: weeks (ISO, Monday first), months and quarters of local days."""

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from app.errors import N_, Invalid, Problem

MAX_BUCKETS = 160  # three years of weeks: what one page may ask for
DEFAULT_BUCKETS = {"week": 12, "month": 12, "quarter": 4}


class Granularity(StrEnum):
    week = "week"
    month = "month"
    quarter = "quarter"


@dataclass(frozen=True)
class Bucket:
    """Local days `start` up to, not including, `end`."""

    start: date
    end: date
    by: Granularity

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def key(self) -> str:
        """A stable label for CSV and the API: 2026-W05, 2026-03, 2026-Q1."""
        if self.by == Granularity.week:
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.by == Granularity.month:
            return f"{self.start.year}-{self.start.month:02d}"
        return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"


@dataclass(frozen=True)
class Period:
    """A chosen stretch of local days cut into buckets; `start` and `end` (exclusive) align
    with the buckets."""

    by: Granularity
    buckets: tuple[Bucket, ...]

    @property
    def start(self) -> date:
        return self.buckets[0].start

    @property
    def end(self) -> date:
        return self.buckets[-1].end

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def previous(self) -> "Period":
        """The same number of buckets just before this period."""
        start = self.start
        for _ in self.buckets:
            start = floor(start - timedelta(days=1), self.by)
        return period_between(start, self.start - timedelta(days=1), self.by)


def floor(day: date, by: Granularity) -> date:
    """The first day of the bucket `day` falls in."""
    if by == Granularity.week:
        return day - timedelta(days=day.weekday())
    if by == Granularity.month:
        return day.replace(day=1)
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)


def next_start(start: date, by: Granularity) -> date:
    if by == Granularity.week:
        return start + timedelta(days=7)
    months = 1 if by == Granularity.month else 3
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


def period_between(first: date, last: date, by: Granularity) -> Period:
    """The buckets covering the local days `first` to `last`, both included."""
    buckets: list[Bucket] = []
    start = floor(first, by)
    while start <= last:
        end = next_start(start, by)
        buckets.append(Bucket(start, end, by))
        start = end
    return Period(by, tuple(buckets))


def choose_period(by: str, start: str, end: str, today: date) -> Period:
    """The period asked for in a query string, or the last 12 weeks/12 months/4 quarters.

    Raises Invalid (with the field) for a wrong granularity, date or order; the caller shows
    the message and the default period.
    """
    errors: dict[str, Problem] = {}
    try:
        gran = Granularity(by or "month")
    except ValueError:
        gran = Granularity.month
        errors["by"] = Problem("by", N_("Choose week, month or quarter."))
    first = _date(errors, "start", start)
    last = _date(errors, "end", end)
    if first and last and first > last:
        errors["end"] = Problem("order", N_("The end of the period must come after its start."))
    if errors:
        raise Invalid(errors)
    last = last or today
    if first is None:
        first = last_buckets_start(last, gran, DEFAULT_BUCKETS[gran])
    chosen = period_between(first, last, gran)
    if len(chosen.buckets) > MAX_BUCKETS:
        raise Invalid({"start": Problem("too_long", N_("Choose at most three years at a time."))})
    return chosen


def default_period(today: date, by: Granularity = Granularity.month) -> Period:
    return period_between(last_buckets_start(today, by, DEFAULT_BUCKETS[by]), today, by)


def last_buckets_start(last: date, by: Granularity, count: int) -> date:
    start = floor(last, by)
    for _ in range(count - 1):
        start = floor(start - timedelta(days=1), by)
    return start


def _date(errors: dict[str, Problem], field: str, raw: str) -> date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        errors[field] = Problem("date", N_("Write the date as YYYY-MM-DD, like 2026-03-01."))
        return None
    if not date(2000, 1, 1) <= day <= date(2100, 12, 31):
        errors[field] = Problem("date", N_("Choose a date between 2000 and 2100."))
        return None
    return day
