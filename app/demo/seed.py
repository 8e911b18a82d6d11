"""Demo data: Åsnes kommune (ESS, bokmål) and Avesta kommun (Swedish, other values).

The organisations, their values, departments and people, and the texts they write live apart
from this code, in world/*.toml (asnes, avesta, texts; the photo competitions' in contests).
The demo is planned first (plain data, deterministic from one seeded `random.Random`) and then
written through the service functions. `seed_demo_orgs` returns the created rows grouped per
organisation, so later seeders (recognitions, contests, features) reuse the same people:

    rng = random.Random(DEMO_SEED)
    demo = seed_demo_orgs(session, rng)
    seed_recognitions(session, demo, rng, now)
    seed_contests(session, demo, rng, now)  # three photo competitions per organisation
    seed_features(session, demo, rng, now)  # last week's Ukens ESS, published

Everything happened in the past of `now` and is history: no e-mail, notification or consent
question is left for the scheduler to send about it. Nothing here commits; the caller does.
"""

import random
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, delete, select

from app.contests import phases as contests
from app.demo.contests import DemoContest, seed_contests
from app.demo.photos import make_photo, season
from app.kernel.clock import utcnow
from app.media import service as media
from app.orgs.departments import add_department
from app.orgs.models import Department, DepartmentLeader, Organisation, Person, Role, Value
from app.orgs.people import upsert_person
from app.orgs.settings import create_org
from app.orgs.values import add_value
from app.recognition.giving import give_recognition
from app.recognition.models import Notification, Reaction, ReactionKind, Recognition
from app.weekly import drafting, publish, ranking, schedule
from app.weekly.consent import answer_consent
from app.weekly.models import ConsentAnswer, Feature

DEMO_SEED = 2026
HISTORY_DAYS = 28  # recognitions over the last four weeks
MAX_SAME_FIRST = 2
MAX_SAME_LAST = 3
WORLD = Path(__file__).with_name("world")  # the demo's data: people, values, texts


# --- the plan (plain data) ------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedPerson:
    first: str
    last: str
    unit: str
    title: str
    role: Role = Role.employee
    leads: tuple[str, ...] = ()
    active: bool = True
    locale: str | None = None
    demo_login: bool = False  # named as a demo login in the summary

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(frozen=True)
class OrgSpec:
    """Everything about a demo organisation that is written by hand."""

    slug: str
    name: str
    locale: str
    timezone: str
    country: str
    domain: str
    values: tuple[tuple[str, str, str], ...]  # name, description, colour
    departments: tuple[tuple[str, str | None], ...]  # name, parent (parents come first)
    key_people: tuple[PlannedPerson, ...]
    staffing: tuple[tuple[str, int, tuple[str, ...]], ...]  # unit, head count, titles
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    inactive: int = 0
    nynorsk: int = 0
    feature_name: str = ""
    theme_primary: str | None = None


@dataclass(frozen=True)
class OrgPlan:
    spec: OrgSpec
    people: tuple[PlannedPerson, ...]


_TRANSLIT = str.maketrans(
    {"æ": "ae", "ø": "o", "å": "a", "ä": "a", "ö": "o", "ü": "u", "é": "e", "ß": "ss"}
)


def email_part(name: str) -> str:
    """ASCII for an e-mail local part: æ→ae, ø→o, å→a (and ä/ö→a/o), spaces → hyphens."""
    text = name.strip().lower().translate(_TRANSLIT)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = "-".join(text.replace("-", " ").split())
    return "".join(ch for ch in text if ch.isalnum() or ch == "-")


def email_for(first: str, last: str, domain: str) -> str:
    return f"{email_part(first)}.{email_part(last)}@{domain}"


def _read(name: str) -> dict[str, Any]:
    with (WORLD / f"{name}.toml").open("rb") as file:
        return tomllib.load(file)


def _planned(row: dict[str, Any]) -> PlannedPerson:
    return PlannedPerson(
        **{**row, "role": Role(row.get("role", "employee")), "leads": tuple(row.get("leads", ()))}
    )


def load_org(name: str) -> OrgSpec:
    """A demo organisation as written in world/NAME.toml."""
    data = _read(name)
    return OrgSpec(
        slug=data["slug"],
        name=data["name"],
        locale=data["locale"],
        timezone=data["timezone"],
        country=data["country"],
        domain=data["domain"],
        values=tuple((v["name"], v["description"], v["colour"]) for v in data["values"]),
        departments=tuple((d["name"], d.get("parent")) for d in data["departments"]),
        key_people=tuple(_planned(p) for p in data["key_people"]),
        staffing=tuple((s["unit"], s["count"], tuple(s["titles"])) for s in data["staffing"]),
        first_names=tuple(data["first_names"]),
        last_names=tuple(data["last_names"]),
        inactive=data.get("inactive", 0),
        nynorsk=data.get("nynorsk", 0),
        feature_name=data.get("feature_name", ""),
        theme_primary=data.get("theme_primary"),
    )


ASNES = load_org("asnes")
AVESTA = load_org("avesta")
DEMO_ORGS: tuple[OrgSpec, ...] = (ASNES, AVESTA)
WRITTEN = _read("texts")  # what the demo's people write, by language


def plan_people(spec: OrgSpec, rng: random.Random) -> tuple[PlannedPerson, ...]:
    """The organisation's people: the hand-written key people, then staff drawn from `rng`."""
    people = list(spec.key_people)
    taken = {p.name for p in people}
    emails = {email_for(p.first, p.last, spec.domain) for p in people}
    # A real staff list rarely has one first name more than twice in a small municipality.
    firsts = Counter(p.first for p in people)
    lasts = Counter(p.last for p in people)

    def draw(unit: str, titles: Sequence[str], *, active: bool = True) -> PlannedPerson:
        while True:
            first, last = rng.choice(spec.first_names), rng.choice(spec.last_names)
            email = email_for(first, last, spec.domain)
            if (
                firsts[first] < MAX_SAME_FIRST
                and lasts[last] < MAX_SAME_LAST
                and f"{first} {last}" not in taken
                and email not in emails
            ):
                taken.add(f"{first} {last}")
                emails.add(email)
                firsts[first] += 1
                lasts[last] += 1
                return PlannedPerson(first, last, unit, rng.choice(titles), active=active)

    staff = [draw(unit, titles) for unit, count, titles in spec.staffing for _ in range(count)]
    for i in sorted(rng.sample(range(len(staff)), spec.nynorsk)):
        p = staff[i]
        staff[i] = PlannedPerson(p.first, p.last, p.unit, p.title, locale="nn")
    former = []
    for _ in range(spec.inactive):
        unit, _count, titles = rng.choice(spec.staffing)
        former.append(draw(unit, titles, active=False))
    return (*people, *staff, *former)


def plan_demo(rng: random.Random | None = None) -> tuple[OrgPlan, ...]:
    """The whole demo as plain data; the same seed always gives the same plan."""
    rng = rng or random.Random(DEMO_SEED)
    return tuple(OrgPlan(spec, plan_people(spec, rng)) for spec in DEMO_ORGS)


# --- writing it -----------------------------------------------------------------------------


@dataclass
class DemoOrg:
    """The rows of one seeded demo organisation, for later seeders to build on."""

    plan: OrgPlan
    org: Organisation
    values: list[Value] = field(default_factory=list)
    departments: dict[str, Department] = field(default_factory=dict)
    people: list[Person] = field(default_factory=list)  # in plan order

    @property
    def active_people(self) -> list[Person]:
        return [p for p in self.people if p.active]

    def with_role(self, role: Role) -> list[Person]:
        return [p for p in self.people if p.role == role and p.active]

    def demo_logins(self) -> list[Person]:
        """One person per role (admin, curator, leader, employee) to try the demo as."""
        return [
            person
            for planned, person in zip(self.plan.people, self.people, strict=True)
            if planned.demo_login
        ]


def _seed_org(session: Session, plan: OrgPlan) -> DemoOrg:
    spec = plan.spec
    org = create_org(
        session,
        slug=spec.slug,
        name=spec.name,
        locale=spec.locale,
        timezone=spec.timezone,
        country=spec.country,
    )
    org.daily_goal = 3
    org.feature_name = spec.feature_name
    if spec.theme_primary:
        org.theme_primary = spec.theme_primary
    session.add(org)
    demo = DemoOrg(plan=plan, org=org)
    for name, description, colour in spec.values:
        demo.values.append(
            add_value(session, org, name=name, description=description, colour=colour)
        )
    for name, parent in spec.departments:
        demo.departments[name] = add_department(
            session, org, name=name, parent=demo.departments[parent] if parent else None
        )
    for planned in plan.people:
        person, _created = upsert_person(
            session,
            org,
            email=email_for(planned.first, planned.last, spec.domain),
            name=planned.name,
            department=planned.unit,
            title=planned.title,
            role=planned.role.value,
            create_departments=False,
        )
        person.active, person.locale = planned.active, planned.locale
        session.add(person)
        demo.people.append(person)
    session.flush()
    for planned, person in zip(plan.people, demo.people, strict=True):
        for dept_name in planned.leads:
            session.add(
                DepartmentLeader(department_id=demo.departments[dept_name].id, person_id=person.id)
            )
    session.flush()
    return demo


def seed_demo_orgs(session: Session, rng: random.Random | None = None) -> list[DemoOrg]:
    """Create the demo organisations (flushed, not committed); refuse if one exists."""
    slugs = [spec.slug for spec in DEMO_ORGS]
    existing = session.exec(
        select(Organisation.slug).where(col(Organisation.slug).in_(slugs))
    ).all()
    if existing:
        raise ValueError(
            f"The demo is already in this database (organisation {', '.join(sorted(existing))}"
            " already exists); seed it only into a database without the demo organisations."
        )
    return [_seed_org(session, plan) for plan in plan_demo(rng or random.Random(DEMO_SEED))]


# --- a few weeks of recognitions ------------------------------------------------------------

TEXTS: dict[str, list[str]] = WRITTEN["recognitions"]


def seed_recognitions(
    session: Session, demo: Sequence[DemoOrg], rng: random.Random, now: datetime, days: int = 28
) -> int:
    """Recognitions on the working days of the last `days` days, with reactions.

    Goes through the same service as the give form; the e-mails they would have caused are
    history, so they are not queued.
    """
    made = 0
    for d in demo:
        tz = ZoneInfo(d.org.timezone)
        people = d.active_people
        today = now.astimezone(tz).date()
        for back in range(days, 0, -1):
            day = today - timedelta(days=back)
            if day.weekday() >= 5:
                continue
            for _ in range(rng.randint(len(people) // 12, len(people) // 7)):
                giver = rng.choice(people)
                recipients = rng.sample(
                    [p for p in people if p is not giver], rng.choice((1, 1, 1, 2))
                )
                language = (
                    "sv" if d.org.locale == "sv" else ("nn" if giver.locale == "nn" else "nb")
                )
                at = datetime.combine(day, time(7), tzinfo=tz) + timedelta(
                    minutes=rng.randint(0, 540)
                )
                rec, _ = give_recognition(
                    session,
                    giver=giver,
                    recipient_ids=[p.id for p in recipients if p.id is not None],
                    value_ids=[v.id for v in rng.sample(d.values, rng.choice((1, 1, 2))) if v.id],
                    text=rng.choice(TEXTS[language]),
                    visibility="private" if rng.random() < 0.08 else "org",
                    feature_consent=rng.random() < 0.6,
                    idempotency_key=f"demo-{d.org.slug}-{made:06d}",
                    now=at.astimezone(UTC),
                )
                for reactor in rng.sample(people, rng.randint(0, 4)):
                    session.add(
                        Reaction(
                            recognition_id=rec.id,
                            person_id=reactor.id,
                            kind=rng.choice(list(ReactionKind)),
                        )
                    )
                made += 1
        session.flush()
    org_ids = [d.org.id for d in demo]
    session.execute(
        delete(Notification).where(
            col(Notification.recognition_id).in_(
                select(Recognition.id).where(col(Recognition.org_id).in_(org_ids))
            )
        )
    )
    session.flush()
    return made


# --- Ukens ESS --------------------------------------------------------------------------------


def _agree(
    session: Session, feature: Feature, rng: random.Random, after: datetime, now: datetime
) -> None:
    """Everyone named says yes in the app, so no consent e-mail is left to send."""
    for consent in list(feature.consents):
        if consent.answer == ConsentAnswer.pending:
            at = min(after + timedelta(minutes=rng.randint(15, 24 * 60)), now)
            answer_consent(session, person=consent.person, feature=feature, yes=True, now=at)


# The curator's headline: what the story is about, not only who (the draft starts with the names).
FEATURE_HEADLINES: dict[str, list[str]] = WRITTEN["feature_headlines"]
FEATURE_PHOTO_ALT: dict[str, str] = WRITTEN["feature_photo_alt"]


def _feature_week(
    session: Session,
    d: DemoOrg,
    sched: schedule.WeekSchedule,
    rng: random.Random,
    now: datetime,
) -> Feature | None:
    """The week's best recognition (visible to everyone, the giver agreed), drafted at the
    pick moment by a curator, agreed to by everyone named and approved."""
    curator = d.with_role(Role.curator)[0]
    found = ranking.candidates(session, d.org, year=sched.year, week=sched.week, now=sched.pick_at)
    best = next((c.recognition for c in found if c.recognition is not None), None)
    if best is None:
        return None
    feature = drafting.draft_feature(
        session, d.org, best, year=sched.year, week=sched.week, actor=curator, now=sched.pick_at
    )
    # The curator adds a photo from the workplace, as the editor lets them.
    when = season(sched.pick_at.astimezone(ZoneInfo(d.org.timezone)).date())
    photo = media.save_upload(
        session,
        d.org,
        curator,
        make_photo(rng.randrange(2**31), "indoor", when),
        alt=FEATURE_PHOTO_ALT.get(d.org.locale, FEATURE_PHOTO_ALT["nb"]),
    )
    drafting.set_photo(session, feature, photo, actor=curator)
    headlines = FEATURE_HEADLINES.get(d.org.locale, FEATURE_HEADLINES["nb"])
    drafting.update_draft(
        session, feature, headline=rng.choice(headlines), body=feature.body, actor=curator
    )
    _agree(session, feature, rng, sched.pick_at, now)
    drafting.approve(session, feature, curator, now=min(sched.pick_at + timedelta(hours=26), now))
    return feature


def seed_features(
    session: Session, demo: Sequence[DemoOrg], rng: random.Random, now: datetime
) -> list[Feature]:
    """Last week's feature, published at its moment; returns the published ones.

    Before last week's publish moment (early on a Monday) the week before is the published
    one, and last week's is approved and agreed, for the scheduler to publish on time. When
    this week's pick moment has passed, this week is drafted as the job would have (the
    week's top candidate, perhaps the winning photo), everyone named agreeing, for a curator
    to approve. So the scheduler finds nothing to pick, ask or alert about the past.
    """
    published = []
    for d in demo:
        org = d.org
        last = schedule.schedule(org, *schedule.week_of(org, now - timedelta(days=7)))
        if last.publish_at > now:
            _feature_week(session, d, last, rng, now)
            last = schedule.schedule(org, *schedule.week_of(org, now - timedelta(days=14)))
        feature = _feature_week(session, d, last, rng, now)
        if feature is not None and publish.publish_feature(session, feature, last.publish_at):
            published.append(feature)
        this = schedule.schedule(org, *schedule.week_of(org, now))
        if this.pick_at <= now:
            picked = drafting.pick_week(
                session, org, year=this.year, week=this.week, now=this.pick_at
            )
            if picked.feature is not None:
                _agree(session, picked.feature, rng, this.pick_at, now)
        session.flush()
    return published


# --- the summary ------------------------------------------------------------------------------

PHASE_TEXT = {
    contests.Phase.closed: "results out",
    contests.Phase.voting: "voting",
    contests.Phase.submitting: "taking photos",
}


def _contest_line(c: DemoContest) -> str:
    parts = [f"{c.approved} photo{'s' if c.approved != 1 else ''}"]
    if c.pending:
        parts.append(f"{c.pending} awaiting moderation")
    if c.podium:
        parts.append(f"won by {c.podium[0].entry.author.name}")
    return f"«{c.contest.title}» ({PHASE_TEXT.get(c.phase, c.phase.value)}, {', '.join(parts)})"


def summarise(
    demo: Sequence[DemoOrg],
    recognitions: int = 0,
    contests_made: Sequence[DemoContest] = (),
    published: Sequence[Feature] = (),
) -> str:
    parts = []
    for d in demo:
        people = len(d.people)
        active = len(d.active_people)
        nynorsk = sum(1 for p in d.people if p.locale == "nn")
        leaders = len(d.with_role(Role.leader))
        logins = ", ".join(f"{p.role.value} {p.email} ({p.name})" for p in d.demo_logins())
        parts.append(
            f"{d.org.name} (/{d.org.slug}/, {d.org.locale}): "
            f"{len(d.values)} values ({', '.join(v.name for v in d.values)}), "
            f"{len(d.departments)} departments, {people} people "
            f"({active} active, {people - active} former, {leaders} leaders"
            + (f", {nynorsk} writing nynorsk" if nynorsk else "")
            + f"); demo logins: {logins}."
        )
    extra = []
    for d in demo:
        made = [c for c in contests_made if c.org is d.org]
        if made:
            extra.append(
                f"Photo competitions in {d.org.name}: {'; '.join(_contest_line(c) for c in made)}."
            )
    for feature in published:
        org = feature.org
        extra.append(
            f"{org.display_feature_name} for week "
            f"{schedule.week_label(feature.iso_year, feature.iso_week)} is published in {org.name}"
            f" («{feature.headline}»), on /embed/{org.slug}/feature and /{org.slug}/curate."
        )
    return (
        "Seeded the demo. "
        + " ".join(parts)
        + (f" {recognitions} recognitions over the last four weeks." if recognitions else "")
        + "".join(" " + line for line in extra)
        + " In dev mode (TOD_ENV=dev) /login lists everyone for a one-click demo login."
    )


def seed_demo(session: Session, now: datetime | None = None) -> str:
    """Seed Åsnes kommune and Avesta kommun; return a one-paragraph summary. Does not commit."""
    now = now or utcnow()
    rng = random.Random(DEMO_SEED)
    demo = seed_demo_orgs(session, rng)
    for d in demo:  # the organisations existed before the weeks of history seeded below
        d.org.created_at = min(d.org.created_at, now - timedelta(days=HISTORY_DAYS + 7))
        session.add(d.org)
    made = seed_recognitions(session, demo, rng, now, days=HISTORY_DAYS)
    contests_made = seed_contests(session, demo, rng, now)
    published = seed_features(session, demo, rng, now)
    return summarise(demo, made, contests_made, published)
