"""Demo data: Åsnes kommune (ESS, bokmål) and Avesta kommun (Swedish, other values).

The demo is planned first (plain data, deterministic from one seeded `random.Random`) and then
written through the service functions. `seed_demo_orgs` returns the created rows grouped per
organisation, so later seeders (recognitions, contests, stories) can reuse the same people:

    rng = random.Random(DEMO_SEED)
    demo = seed_demo_orgs(session, rng)
    seed_recognitions(session, demo, rng)  # for example, once recognitions exist

Nothing here commits; the caller does.
"""

import random
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, delete, select

from app.orgs.models import Department, DepartmentLeader, Organisation, Person, Role, Value
from app.orgs.service import add_department, add_value, create_org, upsert_person
from app.recognition.models import Notification, Reaction, ReactionKind, Recognition
from app.recognition.service import give_recognition
from app.types import utcnow

DEMO_SEED = 2026
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


def summarise(demo: Sequence[DemoOrg], recognitions: int = 0) -> str:
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
    return (
        "Seeded the demo. "
        + " ".join(parts)
        + (f" {recognitions} recognitions over the last four weeks." if recognitions else "")
        + " In dev mode (TOD_ENV=dev) /login lists everyone for a one-click demo login."
    )


def seed_demo(session: Session, now: datetime | None = None) -> str:
    """Seed Åsnes kommune and Avesta kommun; return a one-paragraph summary. Does not commit."""
    rng = random.Random(DEMO_SEED)
    demo = seed_demo_orgs(session, rng)
    made = seed_recognitions(session, demo, rng, now or utcnow())
    return summarise(demo, made)
