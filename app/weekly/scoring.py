"""The ranking's score: capped parts (engagement, substance, rest, recency) and their reasons."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Literal, NamedTuple

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from app.contests.models import Contest, ContestEntry
from app.orgs.models import Department, Organisation, Person, Value
from app.recognition.models import Recognition, RecognitionRecipient, RecognitionValue
from app.stories.models import Story
from app.weekly.models import Feature, Subject
from app.weekly.schedule import monday_of, week_bounds

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
STORY_POINTS = 5.0  # a leader's story from the relay: written with care, read by many
WINNER_POINTS = 3.0  # a competition's winning photo ...
JURY_POINTS = 5.0  # ... chosen by the jury (instead of points per vote, as per reactor)
# A reason is listed for each part that adds at least this much, so the list explains the score.
REASON_MIN_POINTS = 1.0
ALWAYS_LISTED = {"colleagues", "contest_winner", "votes", "jury", "leader_story"}


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
    def story(self) -> Story | None:
        return self.subject if isinstance(self.subject, Story) else None

    @property
    def key(self) -> str:
        """An id for the page: "r12" a recognition, "e7" a competition entry, "s3" a story."""
        kind = "e" if self.entry is not None else "s" if self.story is not None else "r"
        return kind + str(self.subject.id)


def _week_key(year: int, week: int) -> int:
    return year * 100 + week


def _weeks_since(key: int | None, year: int, week: int) -> int | None:
    if key is None:
        return None
    y, w = divmod(key, 100)
    return (monday_of(year, week) - monday_of(y, w)).days // 7


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


Part = tuple[float, dict[str, Any]]  # points and the reason (shared: copied, never changed)


class Named(NamedTuple):
    """Someone named in a recognition, as far as the score needs them (read as plain columns)."""

    id: int
    department_id: int | None
    feature_always_agree: bool


@dataclass(slots=True)
class Facts:
    """What the common parts of the score look at, for either kind of candidate."""

    subject: Subject | int  # an int: a recognition's id, loaded only if it makes the list
    engagement: Sequence[Part]  # reactions, or votes and the win
    chars: int  # the recognition's text, or the caption
    values: Sequence[Value]
    people: Sequence[Person | Named]  # the recipients, or the photographer
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
) -> Callable[[Facts], list[Part]]:
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
    def substance(chars: int) -> Part:
        return (
            SUBSTANCE_POINTS * min(chars, SUBSTANCE_CHARS) / SUBSTANCE_CHARS,
            {"code": "substance", "chars": chars},
        )

    # By the list itself (`_week_facts` shares one per combination of values), kept with it
    # so that its id is not reused while cached.
    value_parts: dict[int, tuple[Sequence[Value], Part | None]] = {}

    def value_part(given: Sequence[Value]) -> Part | None:
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
    def department_part(depts: tuple[int, ...]) -> Part | None:
        dept_rest = [(since(dept_last.get(d)), dept_names.get(d, "")) for d in depts]
        if not dept_rest:
            return None
        weeks, name = _most_rested(dept_rest)
        return (
            _rest_points(weeks, DEPARTMENT_REST_POINTS),
            {"code": "department_rest", "department": name, "weeks": weeks},
        )

    @cache
    def recipient_part(weeks: int | None) -> Part:
        return (
            _rest_points(weeks, RECIPIENT_REST_POINTS),
            {"code": "recipient_rest", "weeks": weeks},
        )

    @cache
    def recent_part(days: int, code: str) -> Part | None:
        if 0 <= days < 7:
            return RECENT_POINTS * (7 - days) / 7, {"code": code, "days": days}
        return None

    person_weeks = {person: since(key) for person, key in person_last.items()}

    def named_parts(people: Sequence[Person | Named]) -> tuple[Part | None, Part]:
        depts = tuple(sorted({d for p in people if (d := p.department_id) is not None}))
        # The most recently featured of the people named decides: fresh faces first.
        seen = [w for p in people if (w := person_weeks.get(p.id or 0)) is not None]
        return department_part(depts), recipient_part(min(seen) if seen else None)

    by_person: dict[int, tuple[Part | None, Part]] = {}  # one person named: most often

    def parts_of(fact: Facts) -> list[Part]:
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


def rank_facts(
    session: Session,
    org: Organisation,
    facts: list[Facts],
    *,
    year: int,
    week: int,
    now: datetime,
    limit: int | None = None,
) -> tuple[Callable[[Facts], list[Part]], list[tuple[float, Facts]]]:
    """The `limit` best (score, facts), best first, ties to recognitions, then id; and the
    parts of a score, to explain the few that are shown (`to_candidate`)."""
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


def _subject_id(fact: Facts) -> int:
    return fact.subject if isinstance(fact.subject, int) else fact.subject.id or 0


def to_candidate(parts: list[Part], score: float, fact: Facts, subject: Subject) -> Candidate:
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


def score_candidates(
    session: Session, org: Organisation, facts: list[Facts], *, year: int, week: int, now: datetime
) -> list[Candidate]:
    """Score the candidates described by `facts` (subjects loaded); best first, ties to
    recognitions, then id."""
    if not facts:
        return []
    parts_of, ranked = rank_facts(session, org, facts, year=year, week=week, now=now)
    result = []
    for score, fact in ranked:
        assert not isinstance(fact.subject, int), "score_candidates needs loaded subjects"
        result.append(to_candidate(parts_of(fact), score, fact, fact.subject))
    return result


def reaction_parts(total: int, distinct: int) -> tuple[Part, ...]:
    """The reactions part: points per distinct colleague who reacted."""
    if not distinct:
        return ()
    pts = POINTS_PER_REACTOR * min(distinct, REACTORS_CAP)
    return (
        (pts, {"code": "reactions", "count": total}),
        (0.0, {"code": "colleagues", "count": distinct}),
    )
