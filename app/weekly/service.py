"""Ukens ESS: rank the week's candidates, draft, ask for consent, approve, publish exactly once.

Plain functions over a session; they never commit.

Weeks. A feature belongs to the ISO week whose recognitions it was picked from (Monday 00:00
to Sunday 24:00 in the organisation's zone). Its *pick moment* is `pick_weekday`/`pick_time`
in that week; its *publish moment* is the first `publish_weekday`/`publish_time` at or after
the pick (with the defaults, Thursday 09:00 and the following Monday 07:00). A publication
missed while the app was down is caught up until the end of the ISO week that holds the
publish moment (`closes_at`); after that the old week is never published.

Exactly once. `Feature` is unique per (organisation, ISO week), `publish_feature` publishes
with a conditional UPDATE (`published_at IS NULL`) that only one transaction can win, and the
webhook outbox rows it writes in the same transaction are unique per (webhook, feature, event).

Consent tokens. Only the SHA-256 of a one-click token is stored, and the token is made when
its e-mail is sent (app/feature/jobs.py), so the raw token only ever exists in that e-mail.
Until then `token_hash` holds a random placeholder that no link can match: `queued:...` (the
e-mail is due at `asked_at`) or `none:...` (no link: a standing yes, or already answered).
"""

import hashlib
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from babel.lists import format_list
from sqlalchemy import (
    ColumnElement,
    DateTime,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    or_,
    type_coerce,
    update,
)
from sqlalchemy import select as sql_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.contests import results as contests
from app.contests.models import Contest, ContestEntry, EntryStatus
from app.errors import N_, Invalid, NotFound, PermissionDenied, Problem
from app.kernel.audit import audit
from app.kernel.clock import utcnow
from app.kernel.forms import clean_paragraphs
from app.kernel.locale import babel_name
from app.media.models import MediaImage
from app.orgs.models import Department, Organisation, Person, Role, Value
from app.recognition.models import (
    Reaction,
    Recognition,
    RecognitionRecipient,
    RecognitionValue,
    Visibility,
)
from app.weekly.models import ConsentAnswer, Feature, FeatureConsent, FeatureStatus

HEADLINE_MIN, HEADLINE_MAX = 3, 120
BODY_MIN, BODY_MAX = 10, 1200

# The score is a plain sum of these parts; each part is capped, so no single signal wins alone.
POINTS_PER_REACTOR = 1.0  # per distinct colleague who reacted ...
REACTORS_CAP = 10  # ... up to this many
SUBSTANCE_POINTS = 3.0  # for a text of SUBSTANCE_CHARS characters or more, pro rata below
SUBSTANCE_CHARS = 300
VALUE_REST_POINTS = 3.0  # a value not featured for REST_WEEKS weeks (or never) ...
DEPARTMENT_REST_POINTS = 3.0  # ... a department ...
RECIPIENT_REST_POINTS = 2.0  # ... a person; pro rata for fewer weeks
REST_WEEKS = 8
REST_MIN_WEEKS = 2  # featured last week or the week before: no bonus
RECENT_POINTS = 2.0  # given on the last day; a seventh less for each day before
WINNER_POINTS = 3.0  # a competition's winning photo ...
JURY_POINTS = 5.0  # ... chosen by the jury (instead of points per vote, as per reactor)
# A reason is listed for each part that adds at least this much, so the list explains the score.
REASON_MIN_POINTS = 1.0
ALWAYS_LISTED = {"colleagues", "contest_winner", "votes", "jury"}

QUEUED = "queued:"  # token_hash placeholder: the consent e-mail is due at asked_at
NO_LINK = "none:"  # token_hash placeholder: no one-click link (standing yes, or answered)
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
# Consent e-mails are not sent for features older than this (their week is long over).
ASK_HORIZON = timedelta(days=14)

NOT_FOUND_TOKEN = Problem(
    "invalid", N_("This link is not valid. Open Tre om dagen to answer there.")
)
PUBLISHED = Problem("published", N_("This week's feature is already published."))

ConsentState = Literal["ok", "pending", "no"]


# --- weeks and moments --------------------------------------------------------------------


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


def _monday(year: int, week: int) -> date:
    return date.fromisocalendar(year, week, 1)


def _shift_week(year: int, week: int, weeks: int) -> tuple[int, int]:
    iso = (_monday(year, week) + timedelta(weeks=weeks)).isocalendar()
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
    monday = _monday(year, week)
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
    monday = _monday(year, week)
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


# --- ranking ------------------------------------------------------------------------------


Subject = Recognition | ContestEntry  # what a feature tells about


@dataclass
class Candidate:
    """A recognition of the week, or the winning photo of a competition whose results came
    out that week, with its score and the reasons for it."""

    subject: Subject
    score: float
    reasons: list[dict[str, Any]]
    consent_state: Literal["ok", "ask"]  # "ask": someone named must still agree

    @property
    def recognition(self) -> Recognition | None:
        return self.subject if isinstance(self.subject, Recognition) else None

    @property
    def entry(self) -> ContestEntry | None:
        return self.subject if isinstance(self.subject, ContestEntry) else None

    @property
    def key(self) -> str:
        """The pick form's value: "r12" for a recognition, "e7" for a competition entry."""
        return ("e" if self.entry is not None else "r") + str(self.subject.id)


def _refused() -> ColumnElement[bool]:
    """Someone named already said no to featuring this recognition."""
    return exists(
        select(FeatureConsent.id)
        .join(Feature, col(Feature.id) == FeatureConsent.feature_id)
        .where(
            col(Feature.recognition_id) == Recognition.id,
            FeatureConsent.answer == ConsentAnswer.no,
        )
    )


def _featured_elsewhere(year: int, week: int) -> ColumnElement[bool]:
    return exists(
        select(Feature.id).where(
            col(Feature.recognition_id) == Recognition.id,
            or_(col(Feature.iso_year) != year, col(Feature.iso_week) != week),
        )
    )


def _entry_unavailable(session: Session, entry: ContestEntry, year: int, week: int) -> bool:
    """The author said no to featuring this photo, or it was featured in another week."""
    said_no = exists(
        select(FeatureConsent.id).where(
            col(FeatureConsent.feature_id) == Feature.id, FeatureConsent.answer == ConsentAnswer.no
        )
    )
    found = session.exec(
        select(Feature.id).where(
            Feature.entry_id == entry.id,
            or_(said_no, col(Feature.iso_year) != year, col(Feature.iso_week) != week),
        )
    )
    return found.first() is not None


def _week_key(year: int, week: int) -> int:
    return year * 100 + week


def _weeks_since(key: int | None, year: int, week: int) -> int | None:
    if key is None:
        return None
    y, w = divmod(key, 100)
    return (_monday(year, week) - _monday(y, w)).days // 7


def _rest_points(weeks: int | None, points: float) -> float:
    if weeks is None:
        return points
    if weeks < REST_MIN_WEEKS:
        return 0.0
    return points * min(weeks, REST_WEEKS) / REST_WEEKS


def _most_rested(rests: list[tuple[int | None, str]]) -> tuple[int | None, str]:
    """The longest rest (never featured beats any number of weeks); the first on a tie."""
    return max(rests, key=lambda wn: float("inf") if wn[0] is None else wn[0])


def _last_featured(
    session: Session, org: Organisation, year: int, week: int
) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    """Latest featured week (year*100+week) per value, department and person, before `week`.

    Small grouped queries over the organisation's published features (one a week): through
    the featured recognitions, and through the featured competition entries (the contest's
    value, the photographer and their department).
    """
    key = col(Feature.iso_year) * 100 + col(Feature.iso_week)
    featured: list[ColumnElement[bool]] = [
        col(Feature.org_id) == org.id,
        col(Feature.published_at).is_not(None),
        key < _week_key(year, week),
    ]
    rec_values = (
        select(RecognitionValue.value_id, func.max(key))
        .join(Feature, col(Feature.recognition_id) == RecognitionValue.recognition_id)
        .where(*featured)
        .group_by(col(RecognitionValue.value_id))
    )
    entry_values = (
        select(Contest.value_id, func.max(key))
        .select_from(Feature)
        .join(ContestEntry, col(ContestEntry.id) == Feature.entry_id)
        .join(Contest, col(Contest.id) == ContestEntry.contest_id)
        .where(*featured)
        .group_by(col(Contest.value_id))
    )
    rec_people = (
        select(RecognitionRecipient.person_id, func.max(key))
        .join(Feature, col(Feature.recognition_id) == RecognitionRecipient.recognition_id)
        .where(*featured)
        .group_by(col(RecognitionRecipient.person_id))
    )
    entry_people = (
        select(ContestEntry.author_id, func.max(key))
        .join(Feature, col(Feature.entry_id) == ContestEntry.id)
        .where(*featured)
        .group_by(col(ContestEntry.author_id))
    )
    rec_departments = (
        select(Person.department_id, func.max(key))
        .select_from(RecognitionRecipient)
        .join(Feature, col(Feature.recognition_id) == RecognitionRecipient.recognition_id)
        .join(Person, col(Person.id) == RecognitionRecipient.person_id)
        .where(*featured)
        .group_by(col(Person.department_id))
    )
    entry_departments = (
        select(Person.department_id, func.max(key))
        .select_from(ContestEntry)
        .join(Feature, col(Feature.entry_id) == ContestEntry.id)
        .join(Person, col(Person.id) == ContestEntry.author_id)
        .where(*featured)
        .group_by(col(Person.department_id))
    )

    def latest(*queries: Any) -> dict[int, int]:
        found: dict[int, int] = {}
        for query in queries:
            for item, week_key in session.exec(query).all():
                if item is not None:
                    found[item] = max(found.get(item, 0), week_key)
        return found

    return (
        latest(rec_values, entry_values),
        latest(rec_departments, entry_departments),
        latest(rec_people, entry_people),
    )


_Part = tuple[float, dict[str, Any]]  # points and the reason (shared: copied, never changed)


class _Named(NamedTuple):
    """Someone named in a recognition, as far as the score needs them (read as plain columns)."""

    id: int
    department_id: int | None
    feature_always_agree: bool


@dataclass(slots=True)
class _Facts:
    """What the common parts of the score look at, for either kind of candidate."""

    subject: Subject | int  # an int: a recognition's id, loaded only if it makes the list
    engagement: Sequence[_Part]  # reactions, or votes and the win
    chars: int  # the recognition's text, or the caption
    values: Sequence[Value]
    people: Sequence[Person | _Named]  # the recipients, or the photographer
    moment: datetime  # given, or the results announced
    recent_code: str = "recent"  # the reason's code for the recency part


def _scoring(
    session: Session,
    org: Organisation,
    dept_ids: set[int],
    *,
    year: int,
    week: int,
    now: datetime,
) -> Callable[[_Facts], list[_Part]]:
    """The parts of a candidate's score (points, reason), in the order they are added up.

    Each part depends on something many candidates share (the text's length, the values,
    the departments, the weeks since someone was featured): each is worked out once.
    """
    value_last, dept_last, person_last = _last_featured(session, org, year, week)
    dept_names: dict[int | None, str] = {}
    if dept_ids:
        dept_names = dict(
            session.exec(
                select(Department.id, Department.name).where(col(Department.id).in_(dept_ids))
            ).all()
        )
    _start, end = week_bounds(org, year, week)
    reference = min(now, end)

    @cache
    def since(key: int | None) -> int | None:
        return _weeks_since(key, year, week)

    @cache
    def substance(chars: int) -> _Part:
        return (
            SUBSTANCE_POINTS * min(chars, SUBSTANCE_CHARS) / SUBSTANCE_CHARS,
            {"code": "substance", "chars": chars},
        )

    # By the list itself (`_week_facts` shares one per combination of values), kept with it
    # so that its id is not reused while cached.
    value_parts: dict[int, tuple[Sequence[Value], _Part | None]] = {}

    def value_part(given: Sequence[Value]) -> _Part | None:
        cached = value_parts.get(id(given))
        if cached is not None and cached[0] is given:
            return cached[1]
        part = None
        values = sorted(given, key=lambda v: v.position)
        value_rest = [(since(value_last.get(v.id or 0)), v.name) for v in values]
        if value_rest:
            weeks, name = _most_rested(value_rest)
            part = (
                _rest_points(weeks, VALUE_REST_POINTS),
                {"code": "value_rest", "value": name, "weeks": weeks},
            )
        value_parts[id(given)] = (given, part)
        return part

    @cache
    def department_part(depts: tuple[int, ...]) -> _Part | None:
        dept_rest = [(since(dept_last.get(d)), dept_names.get(d, "")) for d in depts]
        if not dept_rest:
            return None
        weeks, name = _most_rested(dept_rest)
        return (
            _rest_points(weeks, DEPARTMENT_REST_POINTS),
            {"code": "department_rest", "department": name, "weeks": weeks},
        )

    @cache
    def recipient_part(weeks: int | None) -> _Part:
        return (
            _rest_points(weeks, RECIPIENT_REST_POINTS),
            {"code": "recipient_rest", "weeks": weeks},
        )

    @cache
    def recent_part(days: int, code: str) -> _Part | None:
        if 0 <= days < 7:
            return RECENT_POINTS * (7 - days) / 7, {"code": code, "days": days}
        return None

    person_weeks = {person: since(key) for person, key in person_last.items()}

    def named_parts(people: Sequence[Person | _Named]) -> tuple[_Part | None, _Part]:
        depts = tuple(sorted({d for p in people if (d := p.department_id) is not None}))
        # The most recently featured of the people named decides: fresh faces first.
        seen = [w for p in people if (w := person_weeks.get(p.id or 0)) is not None]
        return department_part(depts), recipient_part(min(seen) if seen else None)

    by_person: dict[int, tuple[_Part | None, _Part]] = {}  # one person named: most often

    def parts_of(fact: _Facts) -> list[_Part]:
        parts = [*fact.engagement, substance(fact.chars)]
        if (part := value_part(fact.values)) is not None:
            parts.append(part)
        people = fact.people
        if len(people) == 1:
            found = by_person.get(key := people[0].id or 0)
            if found is None:
                found = by_person[key] = named_parts(people)
        else:
            found = named_parts(people)
        department, recipient = found
        if department is not None:
            parts.append(department)
        parts.append(recipient)
        days = (reference - fact.moment).days
        if (part := recent_part(days, fact.recent_code)) is not None:
            parts.append(part)
        return parts

    return parts_of


def _ranked(
    session: Session,
    org: Organisation,
    facts: list[_Facts],
    *,
    year: int,
    week: int,
    now: datetime,
    limit: int | None = None,
) -> tuple[Callable[[_Facts], list[_Part]], list[tuple[float, _Facts]]]:
    """The `limit` best (score, facts), best first, ties to recognitions, then id; and the
    parts of a score, to explain the few that are shown (`_candidate`)."""
    dept_ids = {d for f in facts for p in f.people if (d := p.department_id) is not None}
    parts_of = _scoring(session, org, dept_ids, year=year, week=week, now=now)
    # In tie-break order first (recognitions, then entries, each by id), then a stable sort
    # on the score alone: no key tuple per candidate.
    recognitions = [f for f in facts if not isinstance(f.subject, ContestEntry)]
    entries = [f for f in facts if isinstance(f.subject, ContestEntry)]
    recognitions.sort(key=_subject_id)
    entries.sort(key=_subject_id)
    ordered = recognitions + entries
    scores = [round(sum([pts for pts, _ in parts_of(f)]), 4) for f in ordered]
    best = sorted(range(len(ordered)), key=scores.__getitem__, reverse=True)[:limit]
    return parts_of, [(scores[i], ordered[i]) for i in best]


def _subject_id(fact: _Facts) -> int:
    return fact.subject if isinstance(fact.subject, int) else fact.subject.id or 0


def _candidate(parts: list[_Part], score: float, fact: _Facts, subject: Subject) -> Candidate:
    reasons = [
        {**reason, "points": round(pts, 2)}
        for pts, reason in parts
        if pts >= REASON_MIN_POINTS or reason["code"] in ALWAYS_LISTED
    ]
    if isinstance(subject, ContestEntry):  # the person named is the photographer
        for reason in reasons:
            if reason["code"] == "recipient_rest":
                reason["code"] = "photographer_rest"
    always = all(p.feature_always_agree for p in fact.people)
    return Candidate(
        subject=subject, score=score, reasons=reasons, consent_state="ok" if always else "ask"
    )


def _score(
    session: Session, org: Organisation, facts: list[_Facts], *, year: int, week: int, now: datetime
) -> list[Candidate]:
    """Score the candidates described by `facts` (subjects loaded); best first, ties to
    recognitions, then id."""
    if not facts:
        return []
    parts_of, ranked = _ranked(session, org, facts, year=year, week=week, now=now)
    result = []
    for score, fact in ranked:
        assert not isinstance(fact.subject, int), "_score needs loaded subjects"
        result.append(_candidate(parts_of(fact), score, fact, fact.subject))
    return result


def _engagement(total: int, distinct: int) -> tuple[_Part, ...]:
    """The reactions part: points per distinct colleague who reacted."""
    if not distinct:
        return ()
    pts = POINTS_PER_REACTOR * min(distinct, REACTORS_CAP)
    return (
        (pts, {"code": "reactions", "count": total}),
        (0.0, {"code": "colleagues", "count": distinct}),
    )


def _recognition_facts(
    session: Session, recs: list[Recognition], reactions_of: Any
) -> list[_Facts]:
    """`reactions_of` selects the ids whose reactions to count (a list or a select)."""
    if not recs:
        return []
    counts = {
        rid: (total, distinct)
        for rid, total, distinct in session.exec(
            select(
                Reaction.recognition_id,
                func.count(),
                func.count(func.distinct(Reaction.person_id)),
            )
            .where(col(Reaction.recognition_id).in_(reactions_of))
            .group_by(col(Reaction.recognition_id))
        ).all()
    }
    return [
        _Facts(
            subject=rec,
            engagement=_engagement(*counts.get(rec.id, (0, 0))),
            chars=len(rec.text),
            values=[link.value for link in rec.value_links],
            people=[r.person for r in rec.recipients],
            moment=rec.created_at,
        )
        for rec in recs
    ]


def _entry_facts(contest: Contest, placing: "contests.Placing") -> _Facts:
    entry = placing.entry
    engagement: list[tuple[float, dict[str, Any]]] = [
        (WINNER_POINTS, {"code": "contest_winner", "contest": contest.title})
    ]
    if placing.votes is not None:
        pts = POINTS_PER_REACTOR * min(placing.votes, REACTORS_CAP)
        engagement.append((pts, {"code": "votes", "count": placing.votes}))
    else:
        engagement.append((JURY_POINTS, {"code": "jury"}))
    assert contest.results_announced_at is not None
    return _Facts(
        subject=entry,
        engagement=engagement,
        chars=len(entry.caption),
        values=[contest.value] if contest.value is not None else [],
        people=[entry.author],
        moment=contest.results_announced_at,
        recent_code="recent_results",
    )


def _check_entry_featurable(
    session: Session, org: Organisation, entry: ContestEntry, now: datetime
) -> Contest:
    """A competition's winning photo (first place, results out) whose author has not said
    never; raises Invalid otherwise."""
    contest = entry.contest
    if contest.org_id != org.id:
        raise NotFound()
    author = entry.author
    if entry.status != EntryStatus.approved or not contests.has_photo(entry):
        raise Invalid({"entry": Problem("not_listed", N_("Only a winning photo can be featured."))})
    if contest.results_announced_at is None or not any(
        p.place == 1 and p.entry.id == entry.id for p in contests.winners(session, contest, now)
    ):
        raise Invalid({"entry": Problem("not_winner", N_("Only a winning photo can be featured."))})
    if author.feature_opt_out or not author.active or author.org_id != org.id:
        raise Invalid(
            {"entry": Problem("opted_out", N_("Someone named in it does not want to be featured."))}
        )
    return contest


def _winning_entries(
    session: Session, org: Organisation, *, year: int, week: int, now: datetime
) -> list[_Facts]:
    """First places of the competitions whose results came out in the week (a handful)."""
    start, end = week_bounds(org, year, week)
    announced = session.exec(
        select(Contest)
        .where(
            Contest.org_id == org.id,
            col(Contest.results_announced_at) >= start,
            col(Contest.results_announced_at) < min(end, now + timedelta(microseconds=1)),
        )
        .order_by(col(Contest.id))
    ).all()
    facts = []
    for contest in announced:
        for placing in contests.winners(session, contest, now):
            if placing.place != 1:
                continue
            try:
                _check_entry_featurable(session, org, placing.entry, now)
            except (Invalid, NotFound):
                continue
            if not _entry_unavailable(session, placing.entry, year, week):
                facts.append(_entry_facts(contest, placing))
    return facts


def _candidate_filter(org: Organisation, year: int, week: int, now: datetime) -> list[Any]:
    """The week's recognitions that may be featured, but for one condition: nobody named
    opted out or left, which `_week_facts` checks on the recipients it reads anyway
    (`_gone`), to walk them once."""
    start, end = week_bounds(org, year, week)
    return [
        Recognition.org_id == org.id,
        col(Recognition.created_at) >= start,
        col(Recognition.created_at) < min(end, now + timedelta(microseconds=1)),
        col(Recognition.listed).is_(True),
        Recognition.visibility == Visibility.org,
        col(Recognition.hidden_by_curator).is_(False),
        col(Recognition.feature_consent).is_(True),
        ~_refused(),
        ~_featured_elsewhere(year, week),
    ]


def _gone() -> ColumnElement[bool]:
    """A recipient said "never feature me" (here or in general) or has left."""
    return or_(
        col(RecognitionRecipient.feature_opt_out).is_(True),
        col(Person.feature_opt_out).is_(True),
        col(Person.active).is_(False),
    )


def _joined(expr: Any) -> Any:
    """A correlated subquery's values joined into one string ("" for none), as text."""
    return func.coalesce(func.aggregate_strings(expr, " "), "")


def _week_facts(
    session: Session, org: Organisation, year: int, week: int, now: datetime
) -> list[_Facts]:
    """The facts of the week's recognitions that may be featured, from one query that walks
    the week on the feed index and returns a row of plain columns per candidate: the
    recipients ("id:department:always-agrees", ":gone" added for one who opted out or left)
    and the value ids joined into strings, and the reaction counts. Only the values are
    loaded as objects; subjects are ids."""
    of_this = col(RecognitionRecipient.recognition_id) == Recognition.id
    named = (
        select(
            _joined(
                cast(col(RecognitionRecipient.person_id), String)
                + ":"
                + func.coalesce(cast(col(Person.department_id), String), "")
                + ":"
                + case((col(Person.feature_always_agree).is_(True), "1"), else_="0")
                + case((_gone(), ":gone"), else_="")
            )
        )
        .select_from(RecognitionRecipient)
        .join(Person, col(Person.id) == RecognitionRecipient.person_id)
        .where(of_this)
        .scalar_subquery()
    )
    value_ids = (
        select(_joined(cast(col(RecognitionValue.value_id), String)))
        .where(col(RecognitionValue.recognition_id) == Recognition.id)
        .scalar_subquery()
    )
    reacted = col(Reaction.recognition_id) == Recognition.id
    reactions = select(func.count()).select_from(Reaction).where(reacted).scalar_subquery()
    reactors = (
        select(func.count(func.distinct(col(Reaction.person_id)))).where(reacted).scalar_subquery()
    )
    result = session.execute(  # through the session: it flushes first, like a query
        sql_select(
            col(Recognition.id),
            type_coerce(col(Recognition.created_at), DateTime()),  # naive UTC, as stored
            func.length(col(Recognition.text)),
            named,
            value_ids,
            reactions,
            reactors,
        ).where(*_candidate_filter(org, year, week, now))
    )
    # Few objects per candidate, and shared where they can be: the objects that live until the
    # ranking returns are what the garbage collector walks, again and again.
    people: dict[str, tuple[_Named]] = {}  # "id:department:always" -> (the person,), once
    value_lists: dict[str, list[Value]] = {}  # "3 1" -> the values, filled in below
    engagement = cache(_engagement)
    facts = []
    for rows in result.partitions(256):
        for rid, at, chars, named_text, values_text, total, distinct in rows:
            if ":gone" in named_text:
                continue  # someone named opted out or left
            named_people: tuple[_Named, ...] = ()
            for token in named_text.split():
                person = people.get(token)
                if person is None:
                    pid, dept, always = token.split(":")
                    person = people[token] = (
                        _Named(int(pid), int(dept) if dept else None, always == "1"),
                    )
                named_people = person if not named_people else named_people + person
            values = value_lists.get(values_text)
            if values is None:
                values = value_lists[values_text] = []
            moment = at.replace(tzinfo=UTC)  # what UTCDateTime does, without its wrapper
            facts.append(
                _Facts(rid, engagement(total, distinct), chars, values, named_people, moment)
            )
    wanted = {int(vid) for text in value_lists for vid in text.split()}
    if wanted:
        found = {v.id: v for v in session.exec(select(Value).where(col(Value.id).in_(wanted)))}
        for text, values in value_lists.items():
            values.extend(found[vid] for vid in sorted(int(vid) for vid in text.split()))
    return facts


def candidates(
    session: Session,
    org: Organisation,
    *,
    year: int,
    week: int,
    now: datetime | None = None,
    limit: int = 20,
) -> list[Candidate]:
    """The week's recognitions and winning competition photos that may be featured, best
    first, each with its reasons.

    Reads only the week's rows (on the feed index) in a fixed number of queries: the
    recognitions as plain columns with their recipients, values and reaction counts in one
    query, scored in Python; only the `limit` best are loaded as objects. Ties go to
    recognitions, then the older (lower id), so the order is deterministic.
    """
    now = now or utcnow()
    facts = _week_facts(session, org, year, week, now)
    facts += _winning_entries(session, org, year=year, week=week, now=now)
    if not facts:
        return []
    parts_of, best = _ranked(session, org, facts, year=year, week=week, now=now, limit=limit)
    ids = [fact.subject for _score, fact in best if isinstance(fact.subject, int)]
    recs: dict[int | None, Recognition] = {}
    if ids:
        query = select(Recognition).where(col(Recognition.id).in_(ids))
        recs = {rec.id: rec for rec in session.exec(query)}
    result = []
    for score, fact in best:
        subject = recs.get(fact.subject) if isinstance(fact.subject, int) else fact.subject
        if subject is not None:  # a recognition deleted since the first query (no snapshot)
            result.append(_candidate(parts_of(fact), score, fact, subject))
    return result


# --- consent ------------------------------------------------------------------------------


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def placeholder(kind: str) -> str:
    """A unique token_hash that no link matches (not 64 hex digits)."""
    return kind + secrets.token_hex(24)


def consent_state(feature: Feature) -> ConsentState:
    """ "no" if anyone named said no, "pending" while anyone has not answered, else "ok"."""
    answers = {c.answer for c in feature.consents}
    if ConsentAnswer.no in answers:
        return "no"
    if ConsentAnswer.pending in answers or not feature.consents:
        return "pending"
    return "ok"


def people_of(subject: Subject) -> list[Person]:
    """Who a feature of `subject` names: the recipients, or the photographer."""
    if isinstance(subject, ContestEntry):
        return [subject.author]
    return [r.person for r in subject.recipients]


def _consent_rows(subject: Subject, now: datetime) -> list[FeatureConsent]:
    rows = []
    for person in people_of(subject):
        if person.feature_always_agree:
            rows.append(
                FeatureConsent(
                    person=person,
                    answer=ConsentAnswer.yes,
                    token_hash=placeholder(NO_LINK),
                    asked_at=now,
                    answered_at=now,
                )
            )
        else:
            rows.append(
                FeatureConsent(
                    person=person,
                    answer=ConsentAnswer.pending,
                    token_hash=placeholder(QUEUED),
                    asked_at=now,
                )
            )
    return rows


def consent_for_token(session: Session, raw_token: str) -> FeatureConsent | None:
    """The unanswered question behind a one-click link, or None (unknown, used, malformed)."""
    if not TOKEN_RE.match(raw_token or ""):
        return None
    return session.exec(
        select(FeatureConsent).where(
            FeatureConsent.token_hash == token_digest(raw_token),
            FeatureConsent.answer == ConsentAnswer.pending,
        )
    ).first()


def _lock(session: Session, feature: Feature) -> None:
    """Serialise with a concurrent publish of the same feature (PostgreSQL; SQLite is serial)."""
    session.exec(
        select(Feature.id).where(Feature.id == feature.id).with_for_update(key_share=True)
    ).first()
    session.refresh(feature)


def _answer(
    session: Session, consent: FeatureConsent, yes: bool, actor: Person, now: datetime
) -> FeatureConsent:
    feature = consent.feature
    _lock(session, feature)
    consent.answer = ConsentAnswer.yes if yes else ConsentAnswer.no
    consent.answered_at = now
    consent.token_hash = placeholder(NO_LINK)  # the e-mail's link is used up
    session.add(consent)
    session.flush()
    audit(
        session,
        feature.org,
        actor,
        "feature.consent",
        f"feature {feature.id}",
        answer=consent.answer.value,
    )
    if not yes and feature.status == FeatureStatus.published:
        # Taking it back after publication takes the feature down everywhere, webhooks too.
        _withdraw(session, feature, actor, now, reason="consent")
    return consent


def answer_consent(
    session: Session, *, person: Person, feature: Feature, yes: bool, now: datetime | None = None
) -> FeatureConsent:
    """The person's answer in the app; they may change their mind, also after publication."""
    consent = next((c for c in feature.consents if c.person_id == person.id), None)
    if consent is None:
        raise NotFound()
    return _answer(session, consent, yes, person, now or utcnow())


def answer_consent_by_token(
    session: Session, raw_token: str, yes: bool, now: datetime | None = None
) -> FeatureConsent:
    """The one-click answer from the e-mail; a link works once."""
    consent = consent_for_token(session, raw_token)
    if consent is None:
        raise Invalid({"token": NOT_FOUND_TOKEN})
    return _answer(session, consent, yes, consent.person, now or utcnow())


def ask_again(
    session: Session,
    consent: FeatureConsent,
    actor: Person | None = None,
    now: datetime | None = None,
) -> None:
    """Queue a fresh consent e-mail (the old link stops working)."""
    if actor is not None and not actor.is_curator:
        raise PermissionDenied()
    if consent.answer != ConsentAnswer.pending:
        raise Invalid({"consent": Problem("answered", N_("They have already answered."))})
    if consent.feature.status not in (FeatureStatus.draft, FeatureStatus.approved):
        raise Invalid({"consent": PUBLISHED})
    consent.token_hash = placeholder(QUEUED)
    consent.asked_at = now or utcnow()
    session.add(consent)
    audit(
        session,
        consent.feature.org,
        actor,
        "feature.ask_again",
        f"feature {consent.feature_id}",
        person=consent.person_id,
    )


def send_consent_requests(
    session_factory: Callable[[], Session],
    feature_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Send due consent e-mails now (opens its own sessions; call after committing a draft).

    The weekly job sends them every minute anyway; this only saves the wait.
    """
    from app.weekly import jobs  # jobs imports this module

    return jobs.send_consent_requests(session_factory, feature_id, now=now)


# --- drafting, editing, approving ---------------------------------------------------------


def _headline_for(org: Organisation, subject: Subject) -> str:
    if isinstance(subject, ContestEntry):
        headline = subject.contest.title
        return headline if len(headline) <= HEADLINE_MAX else headline[: HEADLINE_MAX - 1] + "…"
    names = [p.name for p in people_of(subject)]
    locale = babel_name(org.locale or "nb")
    try:
        headline = format_list(names, locale=locale)
    except (ValueError, LookupError):
        headline = ", ".join(names)
    return headline if len(headline) <= HEADLINE_MAX else headline[: HEADLINE_MAX - 1] + "…"


def _check_featurable(org: Organisation, rec: Recognition) -> None:
    if rec.org_id != org.id:
        raise NotFound()
    if not rec.listed or rec.hidden_by_curator or rec.visibility != Visibility.org:
        raise Invalid(
            {
                "recognition": Problem(
                    "not_listed",
                    N_("Only recognitions everyone in the organisation can see can be featured."),
                )
            }
        )
    if not rec.feature_consent:
        raise Invalid(
            {
                "recognition": Problem(
                    "no_giver_consent", N_("The giver did not agree that it may be featured.")
                )
            }
        )
    if any(
        r.feature_opt_out or r.person.feature_opt_out or not r.person.active for r in rec.recipients
    ):
        raise Invalid(
            {
                "recognition": Problem(
                    "opted_out", N_("Someone named in it does not want to be featured.")
                )
            }
        )


def _draft(
    session: Session,
    org: Organisation,
    subject: Subject,
    *,
    year: int,
    week: int,
    actor: Person | None,
    now: datetime,
    reasons: list[dict[str, Any]] | None,
    replace: bool,
) -> tuple[Feature, bool]:
    """Create the week's draft from `subject`, or (when `replace`) point the existing one at it.

    Returns (feature, changed). Without `replace` an existing feature is returned untouched.
    """
    if isinstance(subject, ContestEntry):
        _check_entry_featurable(session, org, subject, now)
        unavailable = _entry_unavailable(session, subject, year, week)
    else:
        _check_featurable(org, subject)
        unavailable = (
            session.exec(
                select(Recognition.id).where(
                    Recognition.id == subject.id, or_(_refused(), _featured_elsewhere(year, week))
                )
            ).first()
            is not None
        )
    if unavailable:
        raise Invalid(
            {
                "recognition": Problem(
                    "no_consent",
                    N_("It cannot be featured: someone named said no, or it was featured before."),
                )
            }
        )
    if reasons is None:
        facts = (
            [_entry_facts(subject.contest, _placing(session, subject, now))]
            if isinstance(subject, ContestEntry)
            else _recognition_facts(session, [subject], [subject.id])
        )
        scored = _score(session, org, facts, year=year, week=week, now=now)
        reasons = scored[0].reasons if scored else []
    feature = week_feature(session, org, year, week)
    if feature is None:
        feature = Feature(org=org, iso_year=year, iso_week=week, created_at=now)
        _fill(session, feature, org, subject, reasons, now)
        try:
            with session.begin_nested():
                session.add(feature)
                session.flush()
        except IntegrityError:
            # Another process drafted this week at the same moment: that one is the feature.
            winner = week_feature(session, org, year, week)
            if winner is None:
                raise
            feature = winner
        else:
            _audit_draft(session, feature, actor)
            return feature, True
    if not replace:
        return feature, False
    if feature.published_at is not None:
        raise Invalid({"feature": PUBLISHED})
    _fill(session, feature, org, subject, reasons, now)
    session.add(feature)
    session.flush()
    _audit_draft(session, feature, actor)
    return feature, True


def _placing(session: Session, entry: ContestEntry, now: datetime) -> "contests.Placing":
    found = [p for p in contests.winners(session, entry.contest, now) if p.entry.id == entry.id]
    return found[0]  # _check_entry_featurable made sure it placed first


def _fill(
    session: Session,
    feature: Feature,
    org: Organisation,
    subject: Subject,
    reasons: list[dict[str, Any]],
    now: datetime,
) -> None:
    is_entry = isinstance(subject, ContestEntry)
    same = feature.entry_id == subject.id if is_entry else feature.recognition_id == subject.id
    if not same:
        if feature.consents:
            feature.consents = []
            session.flush()  # the old answers go before new rows reuse (feature, person)
        feature.consents = _consent_rows(subject, now)
    if isinstance(subject, ContestEntry):
        feature.entry, feature.recognition = subject, None
        feature.body = subject.caption[:BODY_MAX]
        feature.image = subject.image
    else:
        feature.recognition, feature.entry = subject, None
        feature.body = subject.text[:BODY_MAX]
        feature.image = subject.photo
    feature.status = FeatureStatus.draft
    feature.headline = _headline_for(org, subject)
    feature.reasons = reasons
    feature.approved_by_id = None
    feature.approved_at = None
    feature.updated_at = now


def _audit_draft(session: Session, feature: Feature, actor: Person | None) -> None:
    audit(
        session,
        feature.org,
        actor,
        "feature.draft",
        f"week {week_label(feature.iso_year, feature.iso_week)}",
        feature=feature.id,
        recognition=feature.recognition_id,
        entry=feature.entry_id,
    )


def draft_feature(
    session: Session,
    org: Organisation,
    subject: Subject,
    *,
    year: int,
    week: int,
    actor: Person | None = None,
    now: datetime | None = None,
) -> Feature:
    """Draft the week's feature from a recognition or a winning competition photo (replacing
    an unpublished one).

    Each person named gets a consent question: a standing yes answers it at once; the others
    are e-mailed by the job (`send_consent_requests`) after the caller commits.
    """
    if actor is not None and (actor.org_id != org.id or not actor.is_curator):
        raise PermissionDenied()
    feature, _changed = _draft(
        session,
        org,
        subject,
        year=year,
        week=week,
        actor=actor,
        now=now or utcnow(),
        reasons=None,
        replace=True,
    )
    return feature


@dataclass
class PickResult:
    feature: Feature | None
    created: bool
    candidate: Candidate | None = None


def pick_week(
    session: Session, org: Organisation, *, year: int, week: int, now: datetime
) -> PickResult:
    """Draft the week from its top candidate unless the week already has a feature."""
    existing = week_feature(session, org, year, week)
    if existing is not None:
        return PickResult(existing, created=False)
    top = candidates(session, org, year=year, week=week, now=now, limit=1)
    if not top:
        return PickResult(None, created=False)
    feature, created = _draft(
        session,
        org,
        top[0].subject,
        year=year,
        week=week,
        actor=None,
        now=now,
        reasons=top[0].reasons,
        replace=False,
    )
    return PickResult(feature, created=created, candidate=top[0])


def _check_curator(feature: Feature, actor: Person) -> None:
    if actor.org_id != feature.org_id or not actor.is_curator:
        raise PermissionDenied()


def _clean_texts(headline: str, body: str) -> tuple[str, str]:
    errors: dict[str, Problem] = {}
    headline = " ".join(clean_paragraphs(headline).split())
    body = clean_paragraphs(body)
    if len(headline) < HEADLINE_MIN:
        errors["headline"] = Problem("too_short", N_("Write a headline of at least 3 characters."))
    elif len(headline) > HEADLINE_MAX:
        errors["headline"] = Problem("too_long", N_("Write a headline of at most 120 characters."))
    if len(body) < BODY_MIN:
        errors["body"] = Problem("too_short", N_("Write at least 10 characters."))
    elif len(body) > BODY_MAX:
        errors["body"] = Problem("too_long", N_("Write at most 1200 characters."))
    if errors:
        raise Invalid(errors)
    return headline, body


def _check_editable(feature: Feature) -> None:
    if feature.published_at is not None or feature.status not in (
        FeatureStatus.draft,
        FeatureStatus.approved,
    ):
        raise Invalid({"feature": PUBLISHED})


def update_draft(
    session: Session, feature: Feature, *, headline: str, body: str, actor: Person
) -> Feature:
    """Edit the headline and text before publication (an approved one stays approved)."""
    _check_curator(feature, actor)
    _check_editable(feature)
    feature.headline, feature.body = _clean_texts(headline, body)
    feature.updated_at = utcnow()
    session.add(feature)
    audit(session, feature.org, actor, "feature.edit", f"feature {feature.id}")
    return feature


def subject_photo(feature: Feature) -> MediaImage | None:
    """The photo that came with what is featured (the recognition's, or the winning entry's)."""
    subject = feature.entry or feature.recognition
    if isinstance(subject, ContestEntry):
        return subject.image if contests.has_photo(subject) else None
    if subject is not None and subject.photo is not None and subject.photo.variants:
        return subject.photo
    return None


def set_photo(
    session: Session, feature: Feature, image: MediaImage | None, *, actor: Person
) -> Feature:
    """Show `image` with the feature, or no photo (None). The photo must be the one that came
    with the recognition or entry, or one the curator uploaded themselves."""
    _check_curator(feature, actor)
    _check_editable(feature)
    if image is not None:
        own = image.owner_id == actor.id and image.org_id == feature.org_id
        if not own and (subject_photo(feature) is None or subject_photo(feature) != image):
            raise NotFound()
        if not image.variants:
            raise Invalid({"photo": Problem("gone", N_("That photo has been deleted."))})
    if feature.image_id == (image.id if image is not None else None):
        return feature
    feature.image = image
    feature.updated_at = utcnow()
    session.add(feature)
    audit(
        session,
        feature.org,
        actor,
        "feature.photo",
        f"feature {feature.id}",
        image=image.id if image is not None else None,
    )
    return feature


def approve(
    session: Session, feature: Feature, actor: Person, now: datetime | None = None
) -> Feature:
    """Approve for publication at the publish moment; it still waits for every yes."""
    now = now or utcnow()
    _check_curator(feature, actor)
    _check_editable(feature)
    if consent_state(feature) == "no":
        raise Invalid(
            {
                "consent": Problem(
                    "no_consent", N_("Someone named in it said no. Choose another candidate.")
                )
            }
        )
    _clean_texts(feature.headline, feature.body)
    if feature.status == FeatureStatus.approved:
        return feature
    feature.status = FeatureStatus.approved
    feature.approved_by_id = actor.id
    feature.approved_at = now
    feature.updated_at = now
    session.add(feature)
    audit(session, feature.org, actor, "feature.approve", f"feature {feature.id}")
    return feature


# --- publishing ---------------------------------------------------------------------------


class _ConsentChanged(Exception):
    """Someone answered while we were publishing: undo the savepoint."""


def publish_feature(session: Session, feature: Feature, now: datetime) -> bool:
    """Publish now; True only for the one call that did it (whoever else tries at once).

    The caller checks approval and the schedule; this checks consent. A conditional UPDATE
    decides who publishes; the "published" webhook deliveries go into the outbox in the same
    transaction, so they exist exactly when the publication does.
    """
    from app.weekly import webhooks  # webhooks builds payloads with this module

    if feature.published_at is not None:
        return False
    state = consent_state(feature)
    if state != "ok":
        raise Invalid(
            {
                "consent": Problem(
                    "no_consent" if state == "no" else "consent_pending",
                    N_("Everyone named must agree before it is published."),
                )
            }
        )
    disagreeing = select(FeatureConsent.id).where(
        FeatureConsent.feature_id == feature.id, FeatureConsent.answer != ConsentAnswer.yes
    )
    try:
        with session.begin_nested():
            won = session.execute(
                update(Feature)
                .where(
                    col(Feature.id) == feature.id,
                    col(Feature.published_at).is_(None),
                    col(Feature.status).in_([FeatureStatus.draft, FeatureStatus.approved]),
                    ~disagreeing.exists(),
                )
                .values(status=FeatureStatus.published, published_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if won == 1 and session.exec(disagreeing).first() is not None:
                # A "no" committed while our UPDATE waited for the row (PostgreSQL): the row
                # is ours now, so this second look sees it. Undo instead of publishing.
                raise _ConsentChanged
    except _ConsentChanged:
        won = 0
    session.refresh(feature)
    if won != 1:
        return False
    webhooks.enqueue(session, feature, "published", now=now)
    audit(session, feature.org, None, "feature.publish", f"feature {feature.id}")
    return True


PublishCode = Literal[
    "published",
    "already_published",
    "withdrawn",
    "no_feature",
    "not_due",
    "too_late",
    "not_approved",
    "consent_pending",
    "consent_refused",
]


@dataclass
class PublishResult:
    code: PublishCode
    feature: Feature | None
    schedule: WeekSchedule

    @property
    def needs_curator(self) -> bool:
        """Nothing goes out unless a curator acts (approve, pick another, ask again)."""
        return self.code in ("no_feature", "not_approved", "consent_pending", "consent_refused")


def publish_week(
    session: Session,
    org: Organisation,
    *,
    year: int,
    week: int,
    now: datetime,
    early: bool = False,
) -> PublishResult:
    """Publish the week's feature if its time has come (or `early`), it is approved (or a draft
    with auto-publish) and everyone named agreed; the code says what happened or what is missing.
    """
    sched = schedule(org, year, week)
    feature = week_feature(session, org, year, week)

    def result(code: PublishCode) -> PublishResult:
        return PublishResult(code, feature, sched)

    if feature is not None and feature.status == FeatureStatus.published:
        return result("already_published")
    if feature is not None and feature.status == FeatureStatus.withdrawn:
        return result("withdrawn")
    if now >= sched.closes_at:
        return result("too_late")
    if now < sched.publish_at and not early:
        return result("not_due")
    if feature is None:
        return result("no_feature")
    if feature.status == FeatureStatus.draft and not org.auto_publish:
        return result("not_approved")
    state = consent_state(feature)
    if state != "ok":
        return result("consent_refused" if state == "no" else "consent_pending")
    return result("published" if publish_feature(session, feature, now) else "already_published")


def publish_due(session: Session, org: Organisation, now: datetime) -> Feature | None:
    """Publish whatever is due at `now`; the feature this call published, else None."""
    for sched in open_weeks(org, now):
        if sched.publish_at <= now:
            outcome = publish_week(session, org, year=sched.year, week=sched.week, now=now)
            if outcome.code == "published":
                return outcome.feature
    return None


def _withdraw(
    session: Session, feature: Feature, actor: Person | None, now: datetime, *, reason: str
) -> bool:
    from app.weekly import webhooks

    done = session.execute(
        update(Feature)
        .where(col(Feature.id) == feature.id, col(Feature.status) == FeatureStatus.published)
        .values(status=FeatureStatus.withdrawn, withdrawn_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.refresh(feature)
    if done != 1:
        return False
    webhooks.enqueue(session, feature, "withdrawn", now=now)
    audit(session, feature.org, actor, "feature.withdraw", f"feature {feature.id}", reason=reason)
    return True


def withdraw(
    session: Session, feature: Feature, actor: Person, now: datetime | None = None
) -> Feature:
    """Take a published feature down (widget, archive, feed) and tell the webhooks."""
    _check_curator(feature, actor)
    if feature.status == FeatureStatus.withdrawn:
        return feature
    if feature.status != FeatureStatus.published:
        raise Invalid(
            {"feature": Problem("not_published", N_("Only a published feature can be withdrawn."))}
        )
    _withdraw(session, feature, actor, now or utcnow(), reason="curator")
    return feature


# --- reading ------------------------------------------------------------------------------


def _public() -> list[ColumnElement[bool]]:
    """Published, not withdrawn, and everyone named still agrees: checked at every read."""
    not_agreed = exists(
        select(FeatureConsent.id).where(
            col(FeatureConsent.feature_id) == Feature.id,
            FeatureConsent.answer != ConsentAnswer.yes,
        )
    )
    opted_out = exists(
        select(RecognitionRecipient.person_id)
        .join(Person, col(Person.id) == RecognitionRecipient.person_id)
        .where(
            col(RecognitionRecipient.recognition_id) == Feature.recognition_id,
            or_(
                col(RecognitionRecipient.feature_opt_out).is_(True),
                col(Person.feature_opt_out).is_(True),
            ),
        )
    )
    recognition_shown = exists(
        select(Recognition.id).where(
            col(Recognition.id) == Feature.recognition_id,
            col(Recognition.listed).is_(True),
            col(Recognition.feature_consent).is_(True),
        )
    )
    entry_shown = exists(
        select(ContestEntry.id)
        .join(Person, col(Person.id) == ContestEntry.author_id)
        .where(
            col(ContestEntry.id) == Feature.entry_id,
            ContestEntry.status == EntryStatus.approved,
            col(Person.feature_opt_out).is_(False),
        )
    )
    return [
        col(Feature.status) == FeatureStatus.published,
        col(Feature.published_at).is_not(None),
        ~not_agreed,
        ~opted_out,
        or_(
            and_(col(Feature.recognition_id).is_not(None), recognition_shown),
            and_(col(Feature.entry_id).is_not(None), entry_shown),
        ),
    ]


def is_public(session: Session, feature: Feature) -> bool:
    return (
        session.exec(select(Feature.id).where(Feature.id == feature.id, *_public())).first()
        is not None
    )


def archive(
    session: Session, org: Organisation, limit: int = 50, before: datetime | None = None
) -> list[Feature]:
    """Public features, newest first; `before` pages on from a publication time."""
    stmt = select(Feature).where(Feature.org_id == org.id, *_public())
    if before is not None:
        stmt = stmt.where(col(Feature.published_at) < before)
    stmt = stmt.order_by(col(Feature.published_at).desc(), col(Feature.id).desc()).limit(limit)
    return list(session.exec(stmt))


def current_feature(session: Session, org: Organisation) -> Feature | None:
    found = archive(session, org, limit=1)
    return found[0] if found else None


def named_people(feature: Feature) -> list[Person]:
    """The people named who agreed, in the recognition's order (or the photographer)."""
    agreed = {c.person_id: c.person for c in feature.consents if c.answer == ConsentAnswer.yes}
    subject = feature.entry or feature.recognition
    order = [p.id for p in people_of(subject)] if subject is not None else []
    ordered = [agreed[pid] for pid in order if pid in agreed]
    return ordered + [p for pid, p in agreed.items() if pid not in order]


def feature_values(feature: Feature) -> list[Value]:
    if feature.entry is not None:
        value = feature.entry.contest.value
        return [value] if value is not None else []
    rec = feature.recognition
    if rec is None:
        return []
    return sorted((link.value for link in rec.value_links), key=lambda v: v.position)


def pending_people(feature: Feature) -> list[Person]:
    return [c.person for c in feature.consents if c.answer == ConsentAnswer.pending]


def feature_image_visible(session: Session, viewer: Person, image_id: int) -> bool:
    """A feature's photo (perhaps uploaded by another curator) is seen by the curators while
    they work on it, and by every member once the feature is public."""
    featuring = session.exec(
        select(Feature).where(Feature.image_id == image_id, Feature.org_id == viewer.org_id)
    ).all()
    return any(viewer.is_curator or is_public(session, f) for f in featuring)


def curators(session: Session, org: Organisation) -> list[Person]:
    """Who hears about the weekly pick and problems: active curators and admins."""
    return list(
        session.exec(
            select(Person)
            .where(
                Person.org_id == org.id,
                col(Person.active).is_(True),
                col(Person.role).in_([Role.curator, Role.admin]),
            )
            .order_by(col(Person.id))
        )
    )


def pending_consents(session: Session, person: Person) -> list[FeatureConsent]:
    """Questions the person has not answered, for features that may still be published.

    An old draft nobody published stops asking after the same time as its e-mails do.
    """
    return list(
        session.exec(
            select(FeatureConsent)
            .join(Feature, col(Feature.id) == FeatureConsent.feature_id)
            .where(
                FeatureConsent.person_id == person.id,
                FeatureConsent.answer == ConsentAnswer.pending,
                col(Feature.status).in_([FeatureStatus.draft, FeatureStatus.approved]),
                col(Feature.created_at) >= utcnow() - ASK_HORIZON,
            )
            .order_by(col(FeatureConsent.asked_at).desc())
        )
    )
