"""The week's candidates: which recognitions and winning photos may be featured, best first."""

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, DateTime, String, case, cast, exists, func, or_, type_coerce
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from app.contests import results as contests
from app.contests.models import Contest, ContestEntry, EntryStatus
from app.errors import N_, Invalid, NotFound, Problem
from app.kernel.clock import utcnow
from app.orgs.models import Organisation, Person, Value
from app.recognition.models import (
    Reaction,
    Recognition,
    RecognitionRecipient,
    RecognitionValue,
    Visibility,
)
from app.stories.models import Story, StoryConsent
from app.stories.scope import story_public
from app.weekly.models import ConsentAnswer, Feature, FeatureConsent
from app.weekly.schedule import week_bounds
from app.weekly.scoring import (
    JURY_POINTS,
    POINTS_PER_REACTOR,
    REACTORS_CAP,
    STORY_POINTS,
    WINNER_POINTS,
    Candidate,
    Facts,
    Named,
    rank_facts,
    reaction_parts,
    to_candidate,
)


def refused() -> ColumnElement[bool]:
    """Someone named already said no to featuring this recognition."""
    return exists(
        select(FeatureConsent.id)
        .join(Feature, col(Feature.id) == FeatureConsent.feature_id)
        .where(
            col(Feature.recognition_id) == Recognition.id,
            FeatureConsent.answer == ConsentAnswer.no,
        )
    )


def featured_elsewhere(year: int, week: int) -> ColumnElement[bool]:
    return exists(
        select(Feature.id).where(
            col(Feature.recognition_id) == Recognition.id,
            or_(col(Feature.iso_year) != year, col(Feature.iso_week) != week),
        )
    )


def entry_unavailable(session: Session, entry: ContestEntry, year: int, week: int) -> bool:
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


def recognition_facts(session: Session, recs: list[Recognition], reactions_of: Any) -> list[Facts]:
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
        Facts(
            subject=rec,
            engagement=reaction_parts(*counts.get(rec.id, (0, 0))),
            chars=len(rec.text),
            values=[link.value for link in rec.value_links],
            people=[r.person for r in rec.recipients],
            moment=rec.created_at,
        )
        for rec in recs
    ]


def entry_facts(contest: Contest, placing: "contests.Placing") -> Facts:
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
    return Facts(
        subject=entry,
        engagement=engagement,
        chars=len(entry.caption),
        values=[contest.value] if contest.value is not None else [],
        people=[entry.author],
        moment=contest.results_announced_at,
        recent_code="recent_results",
    )


def check_entry_featurable(
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
) -> list[Facts]:
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
                check_entry_featurable(session, org, placing.entry, now)
            except (Invalid, NotFound):
                continue
            if not entry_unavailable(session, placing.entry, year, week):
                facts.append(entry_facts(contest, placing))
    return facts


def story_unavailable(session: Session, story: Story, year: int, week: int) -> bool:
    """Someone named said no to featuring this story, or it was featured in another week."""
    said_no = exists(
        select(FeatureConsent.id).where(
            col(FeatureConsent.feature_id) == Feature.id, FeatureConsent.answer == ConsentAnswer.no
        )
    )
    found = session.exec(
        select(Feature.id).where(
            Feature.story_id == story.id,
            or_(said_no, col(Feature.iso_year) != year, col(Feature.iso_week) != week),
        )
    )
    return found.first() is not None


def story_facts(story: Story) -> Facts:
    """A leader's story: its own reason, its values, and the units of the people it names."""
    return Facts(
        subject=story,
        engagement=[(STORY_POINTS, {"code": "leader_story", "author": story.author.name})],
        chars=len(story.text),
        values=story.values,
        people=story.people or [story.author],
        moment=story.created_at,
        recent_code="recent_story",
    )


def check_story_featurable(session: Session, org: Organisation, story: Story) -> None:
    """A story public in the app whose author agreed to featuring and nobody named opted out."""
    if story.org_id != org.id:
        raise NotFound()
    if not story.feature_consent:
        raise Invalid(
            {
                "story": Problem(
                    "no_author_consent", N_("The author did not agree that it may be featured.")
                )
            }
        )
    public = session.exec(select(Story.id).where(Story.id == story.id, story_public())).first()
    if public is None:
        raise Invalid(
            {"story": Problem("not_public", N_("Not everyone the story is about has agreed yet."))}
        )
    if any(p.feature_opt_out or not p.active for p in [story.author, *story.people]):
        raise Invalid(
            {"story": Problem("opted_out", N_("Someone named in it does not want to be featured."))}
        )


def _week_stories(
    session: Session, org: Organisation, *, year: int, week: int, now: datetime
) -> list[Facts]:
    """The leaders' stories written in the week that may be featured (a handful at most)."""
    start, end = week_bounds(org, year, week)
    opted_out = exists(
        select(StoryConsent.person_id)
        .join(Person, col(Person.id) == StoryConsent.person_id)
        .where(
            col(StoryConsent.story_id) == Story.id,
            or_(col(Person.feature_opt_out).is_(True), col(Person.active).is_(False)),
        )
    )
    stories = session.exec(
        select(Story)
        .join(Person, col(Person.id) == Story.author_id)
        .where(
            Story.org_id == org.id,
            col(Story.created_at) >= start,
            col(Story.created_at) < min(end, now + timedelta(microseconds=1)),
            col(Story.feature_consent).is_(True),
            col(Person.feature_opt_out).is_(False),
            col(Person.active).is_(True),
            story_public(),
            ~opted_out,
        )
        .order_by(col(Story.id))
    ).all()
    return [story_facts(s) for s in stories if not story_unavailable(session, s, year, week)]


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
        ~refused(),
        ~featured_elsewhere(year, week),
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
) -> list[Facts]:
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
    people: dict[str, tuple[Named]] = {}  # "id:department:always" -> (the person,), once
    value_lists: dict[str, list[Value]] = {}  # "3 1" -> the values, filled in below
    engaged = cache(reaction_parts)
    facts = []
    for rows in result.partitions(256):
        for rid, at, chars, named_text, values_text, total, distinct in rows:
            if ":gone" in named_text:
                continue  # someone named opted out or left
            named_people: tuple[Named, ...] = ()
            for token in named_text.split():
                person = people.get(token)
                if person is None:
                    pid, dept, always = token.split(":")
                    person = people[token] = (
                        Named(int(pid), int(dept) if dept else None, always == "1"),
                    )
                named_people = person if not named_people else named_people + person
            values = value_lists.get(values_text)
            if values is None:
                values = value_lists[values_text] = []
            moment = at.replace(tzinfo=UTC)  # what UTCDateTime does, without its wrapper
            facts.append(Facts(rid, engaged(total, distinct), chars, values, named_people, moment))
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
    """The week's recognitions, winning competition photos and leaders' stories that may be
    featured, best first, each with its reasons.

    Reads only the week's rows (on the feed index) in a fixed number of queries: the
    recognitions as plain columns with their recipients, values and reaction counts in one
    query, scored in Python; only the `limit` best are loaded as objects. Ties go to
    recognitions, then the older (lower id), so the order is deterministic.
    """
    now = now or utcnow()
    facts = _week_facts(session, org, year, week, now)
    facts += _winning_entries(session, org, year=year, week=week, now=now)
    facts += _week_stories(session, org, year=year, week=week, now=now)
    if not facts:
        return []
    parts_of, best = rank_facts(session, org, facts, year=year, week=week, now=now, limit=limit)
    ids = [fact.subject for score_candidates, fact in best if isinstance(fact.subject, int)]
    recs: dict[int | None, Recognition] = {}
    if ids:
        query = select(Recognition).where(col(Recognition.id).in_(ids))
        recs = {rec.id: rec for rec in session.exec(query)}
    result = []
    for score, fact in best:
        subject = recs.get(fact.subject) if isinstance(fact.subject, int) else fact.subject
        if subject is not None:  # a recognition deleted since the first query (no snapshot)
            result.append(to_candidate(parts_of(fact), score, fact, subject))
    return result
