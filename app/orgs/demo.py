"""Demo data: Åsnes kommune (ESS, bokmål) and Avesta kommun (Swedish, other values).

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

import io
import random
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw
from sqlmodel import Session, col, delete, select

from app.contests import service as contests
from app.contests.models import Contest, ContestEntry
from app.feature import service as features
from app.feature.models import ConsentAnswer, Feature
from app.media import service as media
from app.orgs.models import Department, DepartmentLeader, Organisation, Person, Role, Value
from app.orgs.service import add_department, add_value, create_org, upsert_person
from app.recognition.models import Notification, Reaction, ReactionKind, Recognition
from app.recognition.service import give_recognition
from app.types import utcnow

DEMO_SEED = 2026
HISTORY_DAYS = 28  # recognitions over the last four weeks
MAX_SAME_FIRST = 2
MAX_SAME_LAST = 3


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


ASNES = OrgSpec(
    slug="asnes",
    name="Åsnes kommune",
    locale="nb",
    timezone="Europe/Oslo",
    domain="asnes.kommune.no",
    values=(
        ("Engasjement", "Vi bryr oss, tar initiativ og gir det lille ekstra.", "#b3261e"),
        ("Samarbeid", "Vi spiller hverandre gode, også på tvers av enheter.", "#1d5c8f"),
        ("Servicefokus", "Vi møter innbyggerne med respekt, kunnskap og løsninger.", "#2e6b30"),
    ),
    departments=(
        ("Kommunedirektørens stab", None),
        ("Lønn og personal", "Kommunedirektørens stab"),
        ("IKT", "Kommunedirektørens stab"),
        ("Økonomi", "Kommunedirektørens stab"),
        ("Servicetorget", "Kommunedirektørens stab"),
        ("Helse og omsorg", None),
        ("Åsnes helsetun", "Helse og omsorg"),
        ("Korttidsavdelingen", "Åsnes helsetun"),
        ("Skjermet enhet", "Åsnes helsetun"),
        ("Hjemmetjenesten", "Helse og omsorg"),
        ("Legekontoret", "Helse og omsorg"),
        ("Helsestasjonen", "Helse og omsorg"),
        ("Oppvekst og kultur", None),
        ("Flisa skole", "Oppvekst og kultur"),
        ("Hof skole", "Oppvekst og kultur"),
        ("Kjernåsen skole", "Oppvekst og kultur"),
        ("Flisa barnehage", "Oppvekst og kultur"),
        ("Kulturskolen", "Oppvekst og kultur"),
        ("Biblioteket", "Oppvekst og kultur"),
        ("Teknisk drift og forvaltning", None),
        ("Vann og avløp", "Teknisk drift og forvaltning"),
        ("Eiendomsdrift", "Teknisk drift og forvaltning"),
        ("Plan og byggesak", "Teknisk drift og forvaltning"),
        ("NAV Åsnes", None),
    ),
    key_people=(
        PlannedPerson(
            "Kjærstin",
            "Brænd",
            "Lønn og personal",
            "HR- og IKT-rådgiver",
            Role.admin,
            demo_login=True,
        ),
        PlannedPerson(
            "Ingrid",
            "Sæther",
            "Kommunedirektørens stab",
            "kommunikasjonsrådgiver",
            Role.curator,
            demo_login=True,
        ),
        PlannedPerson(
            "Jonas", "Østby", "Kommunedirektørens stab", "kommunikasjonsrådgiver", Role.curator
        ),
        PlannedPerson(
            "Øystein",
            "Løkken",
            "Kommunedirektørens stab",
            "kommunedirektør",
            Role.leader,
            leads=("Kommunedirektørens stab",),
        ),
        PlannedPerson(
            "Åse",
            "Åsheim",
            "Helse og omsorg",
            "kommunalsjef helse og omsorg",
            Role.leader,
            leads=("Helse og omsorg",),
            demo_login=True,
        ),
        PlannedPerson(
            "Håkon",
            "Nyhus",
            "Oppvekst og kultur",
            "kommunalsjef oppvekst og kultur",
            Role.leader,
            leads=("Oppvekst og kultur",),
            locale="nn",
        ),
        PlannedPerson(
            "Bjørn",
            "Haugen",
            "Teknisk drift og forvaltning",
            "kommunalsjef teknisk",
            Role.leader,
            leads=("Teknisk drift og forvaltning",),
        ),
        PlannedPerson(
            "Marianne", "Ødegård", "NAV Åsnes", "NAV-leder", Role.leader, leads=("NAV Åsnes",)
        ),
        PlannedPerson(
            "Randi",
            "Bekkelund",
            "Åsnes helsetun",
            "enhetsleder",
            Role.leader,
            leads=("Åsnes helsetun", "Korttidsavdelingen", "Skjermet enhet"),
        ),
        PlannedPerson(
            "Anita",
            "Grønvold",
            "Hjemmetjenesten",
            "enhetsleder",
            Role.leader,
            leads=("Hjemmetjenesten",),
        ),
        PlannedPerson(
            "Terje", "Rustad", "Flisa skole", "rektor", Role.leader, leads=("Flisa skole",)
        ),
        PlannedPerson(
            "Synnøve", "Kjernsli", "Hof skole", "rektor", Role.leader, leads=("Hof skole",)
        ),
        PlannedPerson(
            "Camilla",
            "Fossum",
            "Flisa barnehage",
            "styrer",
            Role.leader,
            leads=("Flisa barnehage",),
        ),
        PlannedPerson("Sigrid", "Fløtten", "Hjemmetjenesten", "sykepleier", demo_login=True),
        PlannedPerson("Agnieszka", "Nowak", "Åsnes helsetun", "helsefagarbeider"),
        PlannedPerson("Tomasz", "Kowalski", "Eiendomsdrift", "byggdrifter"),
        PlannedPerson("Ahmed", "Hassan", "Flisa skole", "lærer"),
    ),
    staffing=(
        ("Lønn og personal", 3, ("lønnskonsulent", "HR-rådgiver", "personalkonsulent")),
        ("IKT", 3, ("IKT-konsulent", "systemansvarlig", "IKT-rådgiver")),
        ("Økonomi", 2, ("regnskapskonsulent", "økonomirådgiver")),
        ("Servicetorget", 3, ("servicekonsulent", "konsulent", "arkivleder")),
        ("Åsnes helsetun", 5, ("sykepleier", "helsefagarbeider", "assistent", "fagsykepleier")),
        ("Korttidsavdelingen", 4, ("sykepleier", "helsefagarbeider", "fysioterapeut")),
        ("Skjermet enhet", 3, ("helsefagarbeider", "sykepleier", "aktivitør")),
        ("Hjemmetjenesten", 6, ("sykepleier", "helsefagarbeider", "assistent", "ergoterapeut")),
        ("Legekontoret", 4, ("fastlege", "legesekretær", "helsesekretær", "sykepleier")),
        ("Helsestasjonen", 3, ("helsesykepleier", "jordmor", "fysioterapeut")),
        ("Flisa skole", 6, ("lærer", "lektor", "miljøarbeider", "spesialpedagog", "assistent")),
        ("Hof skole", 4, ("lærer", "miljøarbeider", "assistent")),
        ("Kjernåsen skole", 4, ("lærer", "lektor", "assistent")),
        (
            "Flisa barnehage",
            5,
            ("barnehagelærer", "pedagogisk leder", "barne- og ungdomsarbeider", "assistent"),
        ),
        ("Kulturskolen", 2, ("kulturskolelærer", "musikkpedagog")),
        ("Biblioteket", 2, ("bibliotekar", "biblioteksassistent")),
        ("Vann og avløp", 3, ("fagarbeider", "driftsoperatør", "VA-ingeniør")),
        ("Eiendomsdrift", 4, ("vaktmester", "renholder", "byggdrifter", "fagarbeider")),
        ("Plan og byggesak", 3, ("arealplanlegger", "byggesaksbehandler", "oppmålingsingeniør")),
        ("NAV Åsnes", 3, ("veileder", "sosialkonsulent", "rådgiver")),
    ),
    first_names=(
        # traditional
        "Kari",
        "Anne",
        "Liv",
        "Åse",
        "Berit",
        "Solveig",
        "Marit",
        "Hege",
        "Tone",
        "Kjersti",
        "Kjærstin",
        "Ragnhild",
        "Torunn",
        "Gunn",
        "Bodil",
        "Sølvi",
        "Synnøve",
        "Hilde",
        "Anne-Lise",
        "Ola",
        "Per",
        "Knut",
        "Arne",
        "Bjørn",
        "Øystein",
        "Håkon",
        "Geir",
        "Rune",
        "Trond",
        "Svein",
        "Kjell",
        "Tormod",
        "Halvor",
        "Jørgen",
        "Håvard",
        "Hans-Petter",
        # modern
        "Nora",
        "Emma",
        "Ida",
        "Thea",
        "Maja",
        "Tuva",
        "Vilde",
        "Ingeborg",
        "Silje",
        "Marte",
        "Julie",
        "Astrid",
        "Jonas",
        "Emil",
        "Henrik",
        "Sindre",
        "Eirik",
        "Even",
        "Aksel",
        "Magnus",
        "Mathias",
        "Ådne",
        "Sander",
        "Kristoffer",
    ),
    last_names=(
        "Hansen",
        "Johansen",
        "Olsen",
        "Larsen",
        "Andersen",
        "Nilsen",
        "Pedersen",
        "Kristiansen",
        "Karlsen",
        "Berg",
        "Haugen",
        "Bakken",
        "Hagen",
        "Moen",
        "Strand",
        "Sæther",
        "Løkken",
        "Østby",
        "Åsheim",
        "Brænd",
        "Fossum",
        "Rustad",
        "Grønvold",
        "Ødegård",
        "Engebretsen",
        "Amundsen",
        "Tangen",
        "Myrvold",
        "Holter",
        "Gjermundrød",
        "Skaslien",
        "Kolstad",
        "Nordli",
        "Granberg",
        "Bråthen",
        "Sønsteby",
        "Opsahl",
        "Nygård",
        "Kvisler",
        "Flisen",
    ),
    inactive=5,
    nynorsk=4,
)

AVESTA = OrgSpec(
    slug="avesta",
    name="Avesta kommun",
    locale="sv",
    timezone="Europe/Stockholm",
    domain="avesta.se",
    values=(
        ("Trygghet", "Vi skapar trygghet för invånare och kollegor, varje dag.", "#005a8c"),
        ("Delaktighet", "Alla får vara med och påverka, och vi lyssnar på varandra.", "#8a3b12"),
        ("Nytänkande", "Vi vågar pröva nya sätt att göra saker bättre.", "#6a2c70"),
    ),
    departments=(
        ("Kommunledningskontoret", None),
        ("Ekonomiavdelningen", "Kommunledningskontoret"),
        ("HR-avdelningen", "Kommunledningskontoret"),
        ("Kommunikationsenheten", "Kommunledningskontoret"),
        ("Vård och omsorg", None),
        ("Hemtjänsten", "Vård och omsorg"),
        ("Särskilt boende", "Vård och omsorg"),
        ("Hemsjukvården", "Vård och omsorg"),
        ("Barn och utbildning", None),
        ("Krylbo skola", "Barn och utbildning"),
        ("Karlbergsskolan", "Barn och utbildning"),
        ("Förskolan Solgläntan", "Barn och utbildning"),
        ("Samhällsbyggnad", None),
        ("Gata och park", "Samhällsbyggnad"),
        ("Bygg och miljö", "Samhällsbyggnad"),
    ),
    key_people=(
        PlannedPerson(
            "Märta", "Öberg", "HR-avdelningen", "HR-specialist", Role.admin, demo_login=True
        ),
        PlannedPerson(
            "Åsa",
            "Lindqvist",
            "Kommunikationsenheten",
            "kommunikatör",
            Role.curator,
            demo_login=True,
        ),
        PlannedPerson("Johan", "Sjöberg", "Kommunikationsenheten", "kommunikatör", Role.curator),
        PlannedPerson(
            "Göran",
            "Ekström",
            "Kommunledningskontoret",
            "kommundirektör",
            Role.leader,
            leads=("Kommunledningskontoret",),
        ),
        PlannedPerson(
            "Björn",
            "Åkesson",
            "Vård och omsorg",
            "förvaltningschef",
            Role.leader,
            leads=("Vård och omsorg",),
            demo_login=True,
        ),
        PlannedPerson(
            "Annika",
            "Hedlund",
            "Barn och utbildning",
            "förvaltningschef",
            Role.leader,
            leads=("Barn och utbildning",),
        ),
        PlannedPerson(
            "Lars",
            "Wallin",
            "Samhällsbyggnad",
            "förvaltningschef",
            Role.leader,
            leads=("Samhällsbyggnad",),
        ),
        PlannedPerson(
            "Eva", "Nyström", "Hemtjänsten", "enhetschef", Role.leader, leads=("Hemtjänsten",)
        ),
        PlannedPerson(
            "Karin", "Söderberg", "Krylbo skola", "rektor", Role.leader, leads=("Krylbo skola",)
        ),
        PlannedPerson("Elin", "Bäckström", "Hemtjänsten", "undersköterska", demo_login=True),
    ),
    staffing=(
        ("Ekonomiavdelningen", 2, ("ekonom", "controller")),
        ("HR-avdelningen", 1, ("HR-konsulent", "lönehandläggare")),
        ("Hemtjänsten", 4, ("undersköterska", "vårdbiträde", "undersköterska")),
        ("Särskilt boende", 4, ("undersköterska", "sjuksköterska", "aktivitetsledare")),
        ("Hemsjukvården", 2, ("sjuksköterska", "fysioterapeut", "arbetsterapeut")),
        ("Krylbo skola", 4, ("lärare", "fritidspedagog", "speciallärare")),
        ("Karlbergsskolan", 3, ("lärare", "elevassistent", "skolkurator")),
        ("Förskolan Solgläntan", 3, ("förskollärare", "barnskötare")),
        ("Gata och park", 2, ("parkarbetare", "anläggningsarbetare")),
        ("Bygg och miljö", 2, ("bygglovshandläggare", "miljöinspektör")),
    ),
    first_names=(
        "Anna",
        "Maria",
        "Kerstin",
        "Åsa",
        "Märta",
        "Ingrid",
        "Birgitta",
        "Sara",
        "Ebba",
        "Linnéa",
        "Agnes",
        "Alva",
        "Elsa",
        "Lena",
        "Ulla",
        "Gunilla",
        "Anders",
        "Per",
        "Björn",
        "Göran",
        "Mats",
        "Magnus",
        "Erik",
        "Nils",
        "Oskar",
        "Hugo",
        "Axel",
        "Olle",
        "Åke",
        "Sören",
        "Jörgen",
        "Stefan",
    ),
    last_names=(
        "Andersson",
        "Johansson",
        "Karlsson",
        "Nilsson",
        "Eriksson",
        "Larsson",
        "Olsson",
        "Persson",
        "Svensson",
        "Gustafsson",
        "Öberg",
        "Berglund",
        "Lundgren",
        "Ström",
        "Högberg",
        "Källström",
        "Dahl",
        "Holm",
        "Hällström",
        "Björklund",
    ),
    inactive=2,
    feature_name="Veckans TDN",
    theme_primary="#005a8c",
)

DEMO_ORGS: tuple[OrgSpec, ...] = (ASNES, AVESTA)


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
        session, slug=spec.slug, name=spec.name, locale=spec.locale, timezone=spec.timezone
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

TEXTS = {
    "nb": [
        "Takk for at du tok ekstravakta på kort varsel i helga. Det reddet oss!",
        "Du tok deg god tid med en engstelig bruker i dag, og det merket alle rundt deg.",
        "Så bra at du ryddet og forberedte møterommet før storsamlingen.",
        "Takk for hjelpen med den nye journalrutinen – du forklarte det så alle skjønte.",
        "Du fikk elevene med på ryddeaksjonen i skolegården. Strålende engasjement!",
        "Takk for at du svarte så raskt på innbyggerhenvendelsen om byggesaken.",
        "Du stilte opp for kollegaene på kjøkkenet da det var som travlest. Ekte samarbeid.",
        "Måten du tok imot den nye lærlingen på var helt fantastisk.",
        "Takk for at du fikset vannlekkasjen på skolen før elevene kom.",
        "Du holdt roen og løste IT-problemet på legekontoret midt i rushet.",
        "Flott innlegg på personalmøtet – inspirerende og konkret.",
        "Takk for at du delte erfaringene dine med de andre enhetene. Lærerikt!",
    ],
    "nn": [
        "Takk for at du tok ekstravakta på kort varsel. Det berga helga for oss!",
        "Du tok deg god tid med ein uroleg brukar i dag, og det merka alle.",
        "Takk for hjelpa med den nye rutinen – du forklarte det slik at alle skjøna det.",
        "Du stilte opp for kollegaene dine då det var travelt. Ekte samarbeid!",
        "Så fint at du tok imot den nye lærlingen på ein så varm måte.",
        "Takk for at du svarte så raskt på spørsmålet frå innbyggjaren.",
    ],
    "sv": [
        "Tack för att du tog extrapasset med kort varsel i helgen!",
        "Du tog dig tid med en orolig brukare i dag, och det märktes.",
        "Tack för hjälpen med det nya schemat – tydligt och bra.",
        "Du ställde upp för kollegorna i köket när det var fullt upp.",
        "Fint bemötande av de nya medarbetarna på introduktionsdagen.",
        "Tack för att du svarade så snabbt på invånarens fråga.",
    ],
}


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


# --- photos ---------------------------------------------------------------------------------

RGB = tuple[int, int, int]
PHOTO_SIZE = (1024, 768)  # a photo sent at a small size; about 100 kB as JPEG
_CANVAS = (600, 450)  # drawn smaller, then scaled up: soft edges, like a lens


@dataclass(frozen=True)
class Palette:
    sky: tuple[RGB, RGB]  # top, horizon
    hills: RGB
    ground: tuple[RGB, RGB]  # near the horizon, at the bottom
    trees: tuple[RGB, ...]
    snow: bool = False
    round_trees: bool = False  # birches and maples instead of spruce only


PALETTES = {
    "winter": Palette(
        ((112, 146, 194), (226, 233, 242)),
        (170, 186, 204),
        ((232, 238, 246), (196, 208, 226)),
        ((34, 62, 48), (46, 74, 56)),
        snow=True,
    ),
    "dusk": Palette(
        ((30, 42, 94), (236, 146, 96)),
        (62, 60, 96),
        ((206, 210, 230), (110, 118, 152)),
        ((22, 32, 40), (30, 40, 48)),
        snow=True,
    ),
    "spring": Palette(
        ((92, 148, 210), (212, 232, 244)),
        (108, 146, 112),
        ((138, 178, 88), (86, 118, 60)),
        ((52, 100, 56), (120, 164, 72), (232, 214, 226)),
        round_trees=True,
    ),
    "summer": Palette(
        ((56, 120, 204), (186, 218, 242)),
        (66, 114, 82),
        ((98, 158, 64), (58, 100, 44)),
        ((30, 78, 40), (44, 104, 48), (62, 120, 52)),
        round_trees=True,
    ),
    "autumn": Palette(
        ((108, 136, 176), (232, 204, 164)),
        (126, 96, 66),
        ((164, 122, 60), (100, 78, 44)),
        ((178, 84, 32), (208, 160, 40), (40, 80, 44), (150, 50, 30)),
        round_trees=True,
    ),
}
SEASON_SCENES = {"winter": ("winter", "dusk"), "spring": ("spring",), "summer": ("summer",)}
HOUSE_COLOURS: tuple[RGB, ...] = ((156, 42, 36), (222, 186, 84), (238, 236, 228), (70, 96, 120))
INDOOR_WALLS: tuple[RGB, ...] = ((228, 218, 198), (206, 220, 214), (236, 226, 210), (214, 206, 222))
THINGS: tuple[RGB, ...] = (
    (40, 110, 170),
    (200, 70, 60),
    (70, 140, 80),
    (232, 186, 60),
    (90, 80, 140),
)


def season(day: date) -> str:
    return {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring"}.get(
        day.month, "summer" if day.month in (6, 7, 8) else "autumn"
    )


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _jitter(colour: RGB, rnd: random.Random, spread: int = 16) -> RGB:
    r, g, b = (max(0, min(255, c + rnd.randint(-spread, spread))) for c in colour)
    return (r, g, b)


def _gradient(top: RGB, bottom: RGB, size: tuple[int, int]) -> Image.Image:
    width, height = size
    column = Image.new("RGB", (1, height))
    column.putdata([_mix(top, bottom, y / max(1, height - 1)) for y in range(height)])
    return column.resize((width, height))


def _draw_outdoor(im: Image.Image, rnd: random.Random, pal: Palette) -> None:
    w, h = im.size
    horizon = rnd.randint(h * 2 // 5, h * 3 // 5)
    im.paste(_gradient(_jitter(pal.sky[0], rnd), _jitter(pal.sky[1], rnd), (w, horizon)))
    draw = ImageDraw.Draw(im)
    if rnd.random() < 0.6:  # the sun, low or high
        x, y, r = rnd.randint(60, w - 60), rnd.randint(30, horizon - 50), rnd.randint(14, 32)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=_mix(pal.sky[1], (255, 248, 220), 0.75))
    for layer in range(2):  # far ridges, a forest edge on the nearer one
        colour = _mix(_jitter(pal.hills, rnd), pal.sky[1], 0.45 - 0.35 * layer)
        base = horizon - rnd.randint(10, 45) + layer * 20
        points = [(0, h)]
        x = -10
        while x < w + 30:
            step = rnd.randint(4, 10) if layer else rnd.randint(30, 90)
            points.append((x, base - rnd.randint(0, 14 if layer else 50)))
            x += step
        points.append((w, h))
        draw.polygon(points, fill=colour)
    ground_top = horizon + 12
    im.paste(
        _gradient(_jitter(pal.ground[0], rnd), pal.ground[1], (w, h - ground_top)),
        (0, ground_top),
    )
    draw = ImageDraw.Draw(im)
    if rnd.random() < 0.45:  # a river or a lake reflecting the sky
        y = rnd.randint(ground_top + 10, ground_top + 60)
        water = _mix(pal.sky[0], pal.sky[1], 0.6)
        draw.polygon(
            [(0, y), (w, y - rnd.randint(-10, 20)), (w, y + 30), (0, y + rnd.randint(20, 50))],
            fill=water,
        )
    for _ in range(rnd.randint(0, 3)):  # houses: red, yellow or white walls, dark roofs
        hw = rnd.randint(50, 110)
        hx, hy = rnd.randint(0, w - hw), rnd.randint(ground_top + 20, h - 60)
        hh = hw * 2 // 3
        wall = _jitter(rnd.choice(HOUSE_COLOURS), rnd, 10)
        draw.rectangle((hx, hy - hh, hx + hw, hy), fill=wall)
        roof = (hx - 6, hy - hh), (hx + hw // 2, hy - hh - hw // 2), (hx + hw + 6, hy - hh)
        draw.polygon(roof, fill=(248, 250, 252) if pal.snow else _mix(wall, (30, 30, 30), 0.7))
        for i in range(2):
            wx = hx + hw // 5 + i * hw * 2 // 5
            draw.rectangle((wx, hy - hh * 2 // 3, wx + hw // 6, hy - hh // 3), fill=(250, 236, 190))
    trees = sorted(
        (rnd.randint(-20, w + 20), rnd.randint(ground_top, h + 40))
        for _ in range(rnd.randint(6, 16))
    )
    for tx, ty in sorted(trees, key=lambda t: t[1]):  # far ones first
        size = int((ty - horizon + 30) * rnd.uniform(0.5, 1.0))
        colour = _jitter(rnd.choice(pal.trees), rnd, 12)
        if pal.round_trees and rnd.random() < 0.6:
            draw.rectangle(
                (tx - size // 30 - 1, ty - size // 2, tx + size // 30 + 1, ty), fill=(70, 56, 44)
            )
            draw.ellipse((tx - size // 4, ty - size, tx + size // 4, ty - size // 3), fill=colour)
        else:
            for k in range(3):  # a spruce: three tiers
                top = ty - size + k * size // 4
                half = size * (k + 2) // 14
                draw.polygon(
                    [(tx, top), (tx - half, top + size // 2), (tx + half, top + size // 2)],
                    fill=colour,
                )
                if pal.snow:
                    draw.polygon(
                        [
                            (tx, top),
                            (tx - half // 3, top + size // 6),
                            (tx + half // 3, top + size // 6),
                        ],
                        fill=(244, 247, 252),
                    )
    if pal.snow and rnd.random() < 0.5:  # falling snow
        for _ in range(rnd.randint(80, 200)):
            x, y, r = rnd.randrange(w), rnd.randrange(h), rnd.choice((1, 1, 2))
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(250, 252, 255))


def _draw_indoor(im: Image.Image, rnd: random.Random, outside: Palette) -> None:
    w, h = im.size
    table = rnd.randint(h * 11 // 20, h * 7 // 10)
    wall = _jitter(rnd.choice(INDOOR_WALLS), rnd, 10)
    im.paste(_gradient(wall, _mix(wall, (60, 50, 40), 0.25), (w, table)))
    wood = _jitter((150, 110, 74), rnd, 20)
    im.paste(_gradient(wood, _mix(wood, (30, 20, 10), 0.4), (w, h - table)), (0, table))
    draw = ImageDraw.Draw(im)
    # A window with the season outside.
    ww, wh = rnd.randint(150, 240), rnd.randint(110, max(111, table - 80))
    wx, wy = rnd.randint(20, w - ww - 20), rnd.randint(20, max(21, table - wh - 30))
    draw.rectangle((wx - 8, wy - 8, wx + ww + 8, wy + wh + 8), fill=(244, 244, 238))
    view = Image.new("RGB", _CANVAS)
    _draw_outdoor(view, rnd, outside)
    im.paste(view.resize((ww, wh), Image.Resampling.BILINEAR), (wx, wy))
    draw.rectangle((wx + ww // 2 - 3, wy, wx + ww // 2 + 3, wy + wh), fill=(244, 244, 238))
    # Things on the table: cups, books, a plant.
    for _ in range(rnd.randint(3, 6)):
        cx, cy = rnd.randint(30, w - 30), rnd.randint(table + 25, h - 20)
        r = rnd.randint(14, 30)
        colour = _jitter(rnd.choice(THINGS), rnd, 20)
        if rnd.random() < 0.5:
            draw.rectangle((cx - r, cy - r, cx + r, cy + r // 2), fill=colour)
            draw.ellipse(
                (cx - r, cy - r - r // 3, cx + r, cy - r + r // 3),
                fill=_mix(colour, (255, 255, 255), 0.35),
            )
        else:
            for k in range(rnd.randint(2, 4)):
                book = _jitter(rnd.choice(THINGS), rnd, 30)
                draw.rectangle((cx - r * 2, cy - k * 9, cx + r * 2, cy - k * 9 + 8), fill=book)
    px = rnd.randint(20, w - 80)
    draw.polygon(
        [(px, table - 10), (px + 50, table - 10), (px + 42, table + 40), (px + 8, table + 40)],
        fill=(176, 92, 60),
    )
    for _ in range(16):
        lx, ly = px + 25 + rnd.randint(-50, 50), table - rnd.randint(20, 110)
        draw.ellipse((lx - 16, ly - 7, lx + 16, ly + 7), fill=_jitter((60, 128, 62), rnd, 24))


def make_photo(seed: int, scene: str, when: str = "summer") -> bytes:
    """A photo-like JPEG (1024×768, about 100 kB): a landscape in `scene`'s colours, or a room
    ("indoor") with the season `when` outside. The same seed always gives the same bytes."""
    rnd = random.Random(seed)
    im = Image.new("RGB", _CANVAS)
    if scene == "indoor":
        _draw_indoor(im, rnd, PALETTES[when])
    else:
        _draw_outdoor(im, rnd, PALETTES[scene])
    im = im.resize(PHOTO_SIZE, Image.Resampling.BICUBIC)
    # Sensor noise from the seed, not from Pillow's own generator, so the bytes repeat.
    w, h = PHOTO_SIZE
    grain = Image.frombytes("L", (w // 2, h // 2), rnd.randbytes(w * h // 4)).resize(PHOTO_SIZE)
    im = Image.merge("RGB", [Image.blend(band, grain, 0.05) for band in im.split()])
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return buf.getvalue()


# --- photo competitions ---------------------------------------------------------------------

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
    return features.local_moment(tz, day, time(hour, minute))


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
        week_start, _ = features.week_bounds(org, *features.week_of(org, now))
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


# --- Ukens ESS --------------------------------------------------------------------------------


def _agree(
    session: Session, feature: Feature, rng: random.Random, after: datetime, now: datetime
) -> None:
    """Everyone named says yes in the app, so no consent e-mail is left to send."""
    for consent in list(feature.consents):
        if consent.answer == ConsentAnswer.pending:
            at = min(after + timedelta(minutes=rng.randint(15, 24 * 60)), now)
            features.answer_consent(
                session, person=consent.person, feature=feature, yes=True, now=at
            )


FEATURE_PHOTO_ALT = {
    "nb": "Pauserommet med utsikt mot skogen, der historien begynte",
    "sv": "Fikarummet med utsikt mot skogen, där det hela började",
}


def _feature_week(
    session: Session,
    d: DemoOrg,
    sched: features.WeekSchedule,
    rng: random.Random,
    now: datetime,
) -> Feature | None:
    """The week's best recognition (visible to everyone, the giver agreed), drafted at the
    pick moment by a curator, agreed to by everyone named and approved."""
    curator = d.with_role(Role.curator)[0]
    found = features.candidates(session, d.org, year=sched.year, week=sched.week, now=sched.pick_at)
    best = next((c.recognition for c in found if c.recognition is not None), None)
    if best is None:
        return None
    feature = features.draft_feature(
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
    features.set_photo(session, feature, photo, actor=curator)
    _agree(session, feature, rng, sched.pick_at, now)
    features.approve(session, feature, curator, now=min(sched.pick_at + timedelta(hours=26), now))
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
        last = features.schedule(org, *features.week_of(org, now - timedelta(days=7)))
        if last.publish_at > now:
            _feature_week(session, d, last, rng, now)
            last = features.schedule(org, *features.week_of(org, now - timedelta(days=14)))
        feature = _feature_week(session, d, last, rng, now)
        if feature is not None and features.publish_feature(session, feature, last.publish_at):
            published.append(feature)
        this = features.schedule(org, *features.week_of(org, now))
        if this.pick_at <= now:
            picked = features.pick_week(
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
            f"{features.week_label(feature.iso_year, feature.iso_week)} is published in {org.name}"
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
