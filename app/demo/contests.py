"""Photo competitions for the demo: one finished (results out), one voting, one taking photos,
per organisation, in its language, all through the contest service and the photo pipeline."""

from __future__ import annotations

import random
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.contests import phases, results, submissions, voting
from app.contests import service as contests
from app.contests.models import Contest, ContestEntry
from app.demo.photos import SEASON_SCENES, make_photo, season
from app.orgs.models import Organisation, Person, Role
from app.weekly import schedule

if TYPE_CHECKING:
    from app.demo.seed import DemoOrg

WORLD = Path(__file__).with_name("world")  # the demo's data, apart from this code

# Each caption comes with its scene: "out" is the season's landscape, "in" a room with the
# season outside the window, or a palette by name.
Caption = tuple[str, str]


@dataclass(frozen=True)
class ContestText:
    title: str
    theme: str
    captions: tuple[Caption, ...]
    value: str | None = None  # the name of one of the organisation's values


def _contest_texts() -> dict[str, dict[str, ContestText]]:
    """world/contests.toml: each organisation's competitions by kind."""
    with (WORLD / "contests.toml").open("rb") as file:
        data = tomllib.load(file)
    return {
        slug: {
            kind: ContestText(
                t["title"],
                t["theme"],
                tuple((caption, scene) for caption, scene in t["captions"]),
                value=t.get("value"),
            )
            for kind, t in kinds.items()
        }
        for slug, kinds in data.items()
    }


CONTEST_TEXTS = _contest_texts()
# Votes for the finished competition's photos, most first: a clear podium, many voters.
FINISHED_VOTES = {"asnes": (17, 12, 9, 6, 4, 3, 2), "avesta": (10, 7, 5, 3, 2, 1)}
VOTING_APPROVED = 6  # plus one photo still in the moderation queue
OPEN_APPROVED = {"asnes": 2, "avesta": 1}  # plus one waiting for moderation


@dataclass
class DemoContest:
    org: Organisation
    contest: Contest
    phase: phases.Phase
    approved: int
    pending: int
    podium: list[results.Placing] = field(default_factory=list)


def _local(tz: ZoneInfo, day: date, hour: int, minute: int = 0) -> datetime:
    return schedule.local_moment(tz, day, time(hour, minute))


def _between(rng: random.Random, start: datetime, end: datetime, n: int) -> list[datetime]:
    """`n` moments in [start, end), sorted, to the second."""
    span = max(1, int((end - start).total_seconds()))
    return sorted(start + timedelta(seconds=rng.randrange(span)) for _ in range(n))


def _submit(
    session: Session,
    contest: Contest,
    rng: random.Random,
    authors: Sequence[Person],
    captions: Sequence[Caption],
    moments: Sequence[datetime],
    when: str,
) -> list[ContestEntry]:
    """One photo per author, through the competition's own submission (and photo pipeline)."""
    entries = []
    for author, (caption, scene), at in zip(authors, captions, moments, strict=True):
        if scene == "out":
            scene = rng.choice(SEASON_SCENES.get(when, (when,)))
        elif scene == "in":
            scene = "indoor"
        photo = make_photo(rng.getrandbits(32), scene, when)
        entries.append(
            submissions.submit_entry(
                session,
                author,
                contest,
                upload=photo,
                caption=caption,
                people_consent=True,
                now=at,
            )
        )
    return entries


def _approve(
    session: Session,
    curator: Person,
    entries: Sequence[ContestEntry],
    by: datetime,
    rng: random.Random,
) -> None:
    """The curator approves each photo a few hours after it came in (and before `by`)."""
    for entry in entries:
        at = min(entry.created_at + timedelta(minutes=rng.randint(20, 600)), by)
        submissions.moderate_entry(session, curator, entry, approve=True, now=at)


def _contest(
    session: Session,
    curator: Person,
    d: DemoOrg,
    text: ContestText,
    windows: Sequence[datetime],
    votes: int = 1,
) -> Contest:
    value = next((v for v in d.values if v.name == text.value), None)
    opens, closes, vote_opens, vote_closes = windows
    return contests.create_contest(
        session,
        curator,
        contests.ContestInput(
            title=text.title,
            theme=text.theme,
            value_id=value.id if value is not None else None,
            submit_opens_at=opens,
            submit_closes_at=closes,
            vote_opens_at=vote_opens,
            vote_closes_at=vote_closes,
            votes_per_person=votes,
        ),
    )


def seed_contests(
    session: Session, demo: Sequence[DemoOrg], rng: random.Random, now: datetime
) -> list[DemoContest]:
    """Three photo competitions per organisation, in its language, all through the service:

    - one that closed this week (in the organisation's zone, before `now`), results announced,
      with a clear podium from many voters;
    - one open for voting now, six approved photos and one still waiting for moderation;
    - one open for photos, with a few already sent.

    The people one logs in as (`demo_logins`) have not voted in the open competition and have
    sent nothing to the one taking photos, so they can try both.
    """
    made: list[DemoContest] = []
    for d in demo:
        org, tz = d.org, ZoneInfo(d.org.timezone)
        texts = CONTEST_TEXTS[org.slug]
        curator = d.with_role(Role.curator)[0]
        logins = {p.id for p in d.demo_logins()}
        today = now.astimezone(tz).date()
        when = season(today)
        week_start, _ = schedule.week_bounds(org, *schedule.week_of(org, now))
        staff = [p for p in d.active_people if p.role != Role.curator]

        # 1. Closed on Monday 09:00 of this week (earlier when `now` is before that), results
        #    out a minute later, as the contest job would have announced them.
        closes = _local(tz, week_start.astimezone(tz).date(), 9)
        if closes + timedelta(minutes=5) > now:
            closes = (now - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        announced = min(max(week_start + timedelta(minutes=1), closes + timedelta(minutes=1)), now)
        vote_opens = closes - timedelta(days=7)
        opens = vote_opens - timedelta(days=14)
        text = texts["finished"]
        targets = list(FINISHED_VOTES[org.slug])
        contest = _contest(session, curator, d, text, (opens, vote_opens, vote_opens, closes))
        authors = rng.sample(staff, len(targets))
        entries = _submit(
            session,
            contest,
            rng,
            authors,
            rng.sample(text.captions, len(targets)),
            _between(rng, opens, vote_opens - timedelta(hours=1), len(targets)),
            when,
        )
        _approve(session, curator, entries, vote_opens - timedelta(minutes=1), rng)
        rng.shuffle(targets)  # the winner is not simply the first photo sent
        voters = rng.sample(d.active_people, len(d.active_people))
        for entry, count in sorted(zip(entries, targets, strict=True), key=lambda et: -et[1]):
            chosen = [p for p in voters if p.id != entry.author_id][:count]
            for voter, at in zip(chosen, _between(rng, vote_opens, closes, count), strict=True):
                voting.vote(session, voter, entry, now=at)
                voters.remove(voter)
        results.announce_results(session, contest, announced)
        made.append(
            DemoContest(
                org,
                contest,
                phases.phase(contest, now),
                len(entries),
                0,
                results.winners(session, contest, now),
            )
        )

        # 2. Voting since two days ago, until 15:00 in four days; photos came in for two weeks.
        text = texts[when]
        vote_opens = _local(tz, today - timedelta(days=2), 8)
        closes = _local(tz, today + timedelta(days=4), 15)
        opens = vote_opens - timedelta(days=14)
        contest = _contest(
            session, curator, d, text, (opens, vote_opens, vote_opens, closes), votes=2
        )
        authors = rng.sample(staff, VOTING_APPROVED + 1)
        moments = _between(rng, opens, vote_opens - timedelta(hours=6), VOTING_APPROVED)
        moments.append(vote_opens - timedelta(minutes=rng.randint(10, 300)))  # sent late
        entries = _submit(
            session,
            contest,
            rng,
            authors,
            rng.sample(text.captions, VOTING_APPROVED + 1),
            moments,
            when,
        )
        approved = entries[:VOTING_APPROVED]
        _approve(session, curator, approved, vote_opens - timedelta(minutes=1), rng)
        voters = [p for p in d.active_people if p.id not in logins]
        for voter in rng.sample(voters, len(voters) * 2 // 5):
            picks = [e for e in approved if e.author_id != voter.id]
            for entry in rng.sample(picks, rng.choice((1, 1, 2))):
                at = vote_opens + (now - vote_opens) * rng.random()
                voting.vote(session, voter, entry, now=at)
        made.append(DemoContest(org, contest, phases.phase(contest, now), VOTING_APPROVED, 1))

        # 3. Taking photos until next week; a few are in, one waits for the curator.
        text = texts["open"]
        opens = _local(tz, today - timedelta(days=3), 8)
        closes = _local(tz, today + timedelta(days=11), 16)
        contest = _contest(
            session, curator, d, text, (opens, closes, closes, closes + timedelta(days=7))
        )
        count = OPEN_APPROVED[org.slug] + 1
        authors = rng.sample([p for p in staff if p.id not in logins], count)
        moments = _between(rng, opens + timedelta(hours=1), now - timedelta(minutes=30), count)
        entries = _submit(session, contest, rng, authors, text.captions[:count], moments, when)
        _approve(session, curator, entries[:-1], now - timedelta(minutes=1), rng)
        made.append(DemoContest(org, contest, phases.phase(contest, now), count - 1, 1))
        session.flush()
    return made
