"""Photo competitions for the demo: one finished (results out), one voting, one taking photos,
per organisation, in its language, all through the contest service and the photo pipeline."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlmodel import Session

from app.contests import service as contests
from app.contests.models import Contest, ContestEntry
from app.demo.photos import SEASON_SCENES, make_photo, season
from app.orgs.models import Organisation, Person, Role
from app.weekly import schedule

if TYPE_CHECKING:
    from app.demo.seed import DemoOrg

# Each caption comes with its scene: "out" is the season's landscape, "in" a room with the
# season outside the window, or a palette by name.
Caption = tuple[str, str]


@dataclass(frozen=True)
class ContestText:
    title: str
    theme: str
    captions: tuple[Caption, ...]
    value: str | None = None  # the name of one of the organisation's values


CONTEST_TEXTS: dict[str, dict[str, ContestText]] = {
    "asnes": {
        "finished": ContestText(
            "Hverdagsglimt fra jobben",
            "Vis oss et øyeblikk fra arbeidsdagen som gjorde deg glad, stolt eller bare fikk deg"
            " til å smile. Spør alltid dem som er med på bildet før du sender det inn.",
            (
                ("Morgenkaffe på pauserommet før første runde i hjemmetjenesten.", "in"),
                ("Utsikten fra bilen mellom to hjemmebesøk i Hof.", "out"),
                ("Vaktmesteren har snekret nye benker til uteområdet på helsetunet.", "out"),
                ("Biblioteket pyntet til lesekampanjen – bøker overalt!", "in"),
                ("Ny pumpestasjon på plass. Stolte folk i vann og avløp!", "out"),
                ("Lunsj med utsikt fra rådhuset.", "in"),
                ("Kjøkkenhagen til Flisa skole, planlagt av 6. trinn.", "out"),
                ("Ryddig og klart på Servicetorget før vi åpner.", "in"),
            ),
            value="Engasjement",
        ),
        "open": ContestText(
            "Samarbeid på tvers",
            "Fotografer et øyeblikk der dere løser noe sammen, gjerne på tvers av enheter.",
            (
                ("Felles planleggingsdag for alle skolene i kommunen.", "in"),
                ("Dugnad i sansehagen med pårørende og ansatte.", "out"),
                ("IKT og legekontoret rigget det nye timebokssystemet sammen.", "in"),
            ),
            value="Samarbeid",
        ),
        "winter": ContestText(
            "Vinter i Åsnes",
            "Snø, frost og blått lys: vis oss vinteren slik du ser den på vei til og fra jobb.",
            (
                ("Rimfrost på bjørkene langs Glomma i morgentimen.", "winter"),
                ("Nybrøytet skolegård før elevene kommer.", "winter"),
                ("Blåtimen over Flisa sentrum klokka tre.", "dusk"),
                ("Skispor rett utenfor helsetunet – beboerne fulgte med fra vinduet.", "in"),
                ("Snømåking i fellesskap utenfor barnehagen.", "winter"),
                ("Solnedgang over Kjernåsen på vei hjem fra vakt.", "dusk"),
                ("Vedstabelen ved kulturskolen er klar for kuldegradene.", "winter"),
            ),
        ),
        "spring": ContestText(
            "Vår i Åsnes",
            "Lysere dager, snøsmelting og de første blomstene: vis oss våren rundt"
            " arbeidsplassen din.",
            (
                ("Hestehoven har kommet fram ved parkeringsplassen.", "out"),
                ("Isløsning i Glomma, sett fra brua på Flisa.", "out"),
                ("Barnehagebarna fant de første blåveisene.", "out"),
                ("Første lunsj ute i år – endelig!", "out"),
                ("Vårrengjøring i parken med vaktmesterne.", "out"),
                ("Våren titter inn på personalrommet.", "in"),
                ("Sykkelsesongen er i gang på vei til jobb.", "out"),
            ),
        ),
        "summer": ContestText(
            "Sommer i Åsnes",
            "Ferievikarer, lange kvelder og sol over skogen: vis oss sommeren på jobb.",
            (
                ("Kveldssol over Flisa fra hagen på helsetunet.", "out"),
                ("Beboerne på tur til bryggeplassen.", "out"),
                ("Jordbærkake fra sommervikarene våre.", "in"),
                ("Gressklipping ved Hof skole før skolestart.", "out"),
                ("Badeplassen er klar etter dugnaden.", "out"),
                ("Lyse netter over skogen på vei hjem.", "out"),
                ("Blomsterkassene utenfor rådhuset blomstrer.", "out"),
            ),
        ),
        "autumn": ContestText(
            "Høst i Åsnes",
            "Farger, tåke og mørkere kvelder: vis oss høsten slik du ser den i jobben.",
            (
                ("Morgentåke over jordene på vei til første hjemmebesøk.", "out"),
                ("Elevene plukket epler til skolekjøkkenet.", "out"),
                ("Løvfall i parken ved helsetunet.", "out"),
                ("Refleksvestene er på – barnehagen på tur.", "out"),
                ("Høstfarger langs Flisa elv.", "out"),
                ("Tyttebær fra personalturen, nå på pauserommet.", "in"),
                ("Første frostnatt: isroser på bilruta.", "out"),
            ),
        ),
    },
    "avesta": {
        "finished": ContestText(
            "Arbetsglädje",
            "Fånga ett ögonblick av arbetsglädje: något som fick dig eller en kollega att le."
            " Fråga alltid dem som syns på bilden innan du skickar in.",
            (
                ("Fikapaus i personalrummet på Krylbo skola.", "in"),
                ("Hemtjänstens bilar står redo en tidig morgon.", "out"),
                ("Eleverna har byggt ett insektshotell i skolträdgården.", "out"),
                ("Nya bänkar i parken, byggda av gata och park.", "out"),
                ("Vårt nya samlingsrum på Förskolan Solgläntan.", "in"),
                ("Glada miner efter planeringsdagen i kommunhuset.", "in"),
                ("Utsikt över Dalälven under friskvårdstimmen.", "out"),
            ),
            value="Delaktighet",
        ),
        "open": ContestText(
            "Min arbetsplats",
            "Visa oss var du jobbar: köket, skolgården, bilen i hemtjänsten eller kontoret.",
            (
                ("Skrivbordet med den bästa utsikten i kommunhuset.", "in"),
                ("Vårt kök på särskilt boende, redo för lunch.", "in"),
            ),
            value="Nytänkande",
        ),
        "winter": ContestText(
            "Vinter i Avesta",
            "Snö, frost och tidiga kvällar: visa oss vintern som du ser den på väg till och från"
            " jobbet.",
            (
                ("Rimfrost på björkarna vid Dalälven.", "winter"),
                ("Nyplogad skolgård innan eleverna kommer.", "winter"),
                ("Blå timmen över Avesta centrum.", "dusk"),
                ("Skidspår bakom det särskilda boendet.", "winter"),
                ("Snöskottning tillsammans utanför förskolan.", "winter"),
                ("Solnedgång över Koppardalen på väg hem.", "dusk"),
                ("Vinterljus i personalrummet.", "in"),
            ),
        ),
        "spring": ContestText(
            "Vår i Avesta",
            "Ljusare dagar, snösmältning och de första blommorna: visa oss våren runt din"
            " arbetsplats.",
            (
                ("Tussilago vid parkeringen.", "out"),
                ("Islossning i Dalälven.", "out"),
                ("Förskolebarnen hittade de första blåsipporna.", "out"),
                ("Första lunchen utomhus i år!", "out"),
                ("Vårstädning i parken.", "out"),
                ("Våren tittar in genom fönstret på kontoret.", "in"),
                ("Cykelsäsongen har börjat.", "out"),
            ),
        ),
        "summer": ContestText(
            "Sommar i Avesta",
            "Sommarvikarier, ljusa kvällar och sol över skogen: visa oss sommaren på jobbet.",
            (
                ("Kvällssol över Dalälven.", "out"),
                ("Boende på utflykt till badplatsen.", "out"),
                ("Jordgubbstårta från sommarvikarierna.", "in"),
                ("Gräsklippning vid Karlbergsskolan.", "out"),
                ("Blomlådorna utanför kommunhuset blommar.", "out"),
                ("Midsommarstången på det särskilda boendet.", "out"),
                ("Ljus natt över skogen på väg hem.", "out"),
            ),
        ),
        "autumn": ContestText(
            "Höst i Avesta",
            "Färger, dimma och mörkare kvällar: visa oss hösten som du ser den i jobbet.",
            (
                ("Morgondimma över åkrarna på väg till första besöket.", "out"),
                ("Eleverna plockade äpplen till skolköket.", "out"),
                ("Lövfall i parken vid det särskilda boendet.", "out"),
                ("Reflexvästarna på – förskolan på utflykt.", "out"),
                ("Höstfärger längs Dalälven.", "out"),
                ("Lingon från personalutflykten, nu i fikarummet.", "in"),
                ("Första frostnatten: isblommor på bilrutan.", "out"),
            ),
        ),
    },
}
# Votes for the finished competition's photos, most first: a clear podium, many voters.
FINISHED_VOTES = {"asnes": (17, 12, 9, 6, 4, 3, 2), "avesta": (10, 7, 5, 3, 2, 1)}
VOTING_APPROVED = 6  # plus one photo still in the moderation queue
OPEN_APPROVED = {"asnes": 2, "avesta": 1}  # plus one waiting for moderation


@dataclass
class DemoContest:
    org: Organisation
    contest: Contest
    phase: contests.Phase
    approved: int
    pending: int
    podium: list[contests.Placing] = field(default_factory=list)


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
            contests.submit_entry(
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
        contests.moderate_entry(session, curator, entry, approve=True, now=at)


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
                contests.vote(session, voter, entry, now=at)
                voters.remove(voter)
        contests.announce_results(session, contest, announced)
        made.append(
            DemoContest(
                org,
                contest,
                contests.phase(contest, now),
                len(entries),
                0,
                contests.winners(session, contest, now),
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
                contests.vote(session, voter, entry, now=at)
        made.append(DemoContest(org, contest, contests.phase(contest, now), VOTING_APPROVED, 1))

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
        made.append(DemoContest(org, contest, contests.phase(contest, now), count - 1, 1))
        session.flush()
    return made
