"""Fill a database with a realistic organisation mix and a million recognitions.

    .venv/bin/python bench/generate.py                      # SQLite file under bench/.data/
    .venv/bin/python bench/generate.py --database-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres

The database is migrated with app.migrate.upgrade, then filled with Core bulk inserts in one
transaction per chunk of 10 000 recognitions (PostgreSQL: COPY). The same --seed (and --end)
gives the same rows. At the end one person in the biggest organisation gets a login session
and an API token; they are written with the ids the load test needs to
bench/.data/credentials.json.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import os
import random
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/generate.py` from anywhere finds `app`

from sqlalchemy import (  # noqa: E402
    Connection,
    Engine,
    MetaData,
    Table,
    create_engine,
    event,
    insert,
    text,
)
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

import app.models  # noqa: E402, F401 - every table on the metadata, for the defaults
from app import migrate  # noqa: E402
from app.auth.service import create_api_token, start_session  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.orgs.models import (  # noqa: E402
    Department,
    DepartmentLeader,
    Organisation,
    Person,
    Value,
    fold,
)

DATA_DIR = ROOT / "bench" / ".data"
DEFAULT_URL = f"sqlite:///{DATA_DIR / 'bench.db'}"
DEFAULT_CREDENTIALS = DATA_DIR / "credentials.json"
CHUNK = 10_000
DAYS = 730  # two years of history
SQLITE_STAMP = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime on SQLite

# --- what the organisations look like ---------------------------------------------------------


@dataclass(frozen=True)
class OrgSpec:
    slug: str
    name: str
    locale: str
    share: float  # of all people
    activity: float  # recognitions per head, relative
    values: tuple[tuple[str, str, str], ...]  # name, description, colour


ORGS = (
    OrgSpec(
        "storvik",
        "Storvik kommune",
        "nb",
        0.40,
        1.0,
        (
            ("Engasjement", "Vi bryr oss og tar initiativ", "#1d4f73"),
            ("Samarbeid", "Vi løser oppgavene sammen", "#2e6b30"),
            ("Servicefokus", "Vi møter innbyggerne med respekt", "#8a3b12"),
        ),
    ),
    OrgSpec(
        "fjordbygd",
        "Fjordbygd kommune",
        "nn",
        0.18,
        1.1,
        (
            ("Open", "Vi deler og seier ifrå", "#1d4f73"),
            ("Modig", "Vi prøver nye ting", "#6a2c70"),
            ("Nær", "Vi ser kvarandre og innbyggjarane", "#2e6b30"),
        ),
    ),
    OrgSpec(
        "elvedal",
        "Elvedal kommune",
        "nb",
        0.12,
        0.9,
        (
            ("Respekt", "Vi tar hverandre på alvor", "#1d4f73"),
            ("Åpenhet", "Vi deler det vi vet", "#7a5c00"),
            ("Raushet", "Vi gir hverandre rom", "#8a3b12"),
            ("Trygghet", "Vi er til å stole på", "#2e6b30"),
        ),
    ),
    OrgSpec(
        "askeby",
        "Askeby kommun",
        "sv",
        0.10,
        1.2,
        (
            ("Tillit", "Vi litar på varandra", "#1d4f73"),
            ("Engagemang", "Vi bryr oss om resultatet", "#8a3b12"),
            ("Ansvar", "Vi tar ansvar för helheten", "#2e6b30"),
        ),
    ),
    OrgSpec(
        "nordli",
        "Nordli kommune",
        "nb",
        0.08,
        1.3,
        (
            ("Jordnær", "Vi er ekte og enkle å ha med å gjøre", "#7a5c00"),
            ("Glød", "Vi har lyst til å få det til", "#8a3b12"),
            ("Omsorg", "Vi tar vare på hverandre", "#2e6b30"),
        ),
    ),
    OrgSpec(
        "sjovik",
        "Sjøvik kommune",
        "nb",
        0.06,
        0.8,
        (
            ("Stolthet", "Vi er stolte av jobben vi gjør", "#1d4f73"),
            ("Tillit", "Vi stoler på hverandre", "#2e6b30"),
            ("Handlekraft", "Vi får ting gjort", "#8a3b12"),
        ),
    ),
    OrgSpec(
        "heimdal",
        "Heimdal kommune",
        "nn",
        0.04,
        1.0,
        (
            ("Ope", "Vi deler kunnskap", "#1d4f73"),
            ("Inkluderande", "Alle skal høyre til", "#6a2c70"),
            ("Skapande", "Vi finn nye løysingar", "#8a3b12"),
        ),
    ),
    OrgSpec(
        "vesteng",
        "Vesteng kommune",
        "nb",
        0.02,
        1.5,
        (
            ("Hjertevarme", "Vi bryr oss", "#8a3b12"),
            ("Samhandling", "Vi jobber på tvers", "#2e6b30"),
            ("Utvikling", "Vi blir bedre hver dag", "#1d4f73"),
            ("Kvalitet", "Vi gjør ting ordentlig", "#7a5c00"),
            ("Mot", "Vi sier ifra", "#6a2c70"),
        ),
    ),
)

# Sectors of a municipality: name, share of the staff, unit name patterns, titles.
SECTORS = (
    (
        "Helse og omsorg",
        0.38,
        ("{p} sykehjem", "Hjemmetjenesten {p}", "{p} bo- og aktivitetssenter", "Legevakt {p}"),
        ("Sykepleier", "Helsefagarbeider", "Vernepleier", "Assistent", "Spesialsykepleier"),
    ),
    (
        "Oppvekst og utdanning",
        0.34,
        ("{p} skole", "{p} barnehage", "{p} ungdomsskole", "PPT {p}"),
        ("Lærer", "Barnehagelærer", "Fagarbeider", "Miljøterapeut", "Assistent", "Rektor"),
    ),
    (
        "Teknisk drift",
        0.10,
        ("Vei og park {p}", "Vann og avløp {p}", "Eiendom {p}", "Brann og redning {p}"),
        ("Ingeniør", "Driftsoperatør", "Fagarbeider", "Renholder", "Brannkonstabel"),
    ),
    (
        "Kultur og fritid",
        0.05,
        ("Biblioteket {p}", "Kulturskolen {p}", "Fritidsklubben {p}"),
        ("Bibliotekar", "Kulturskolelærer", "Miljøarbeider"),
    ),
    (
        "Administrasjon",
        0.08,
        ("Økonomi {p}", "HR {p}", "IT {p}", "Servicetorget {p}", "Kommunikasjon {p}"),
        ("Rådgiver", "Konsulent", "Controller", "IT-konsulent", "Kommunikasjonsrådgiver"),
    ),
    (
        "NAV og helse",
        0.05,
        ("NAV {p}", "Helsestasjonen {p}", "Flyktningtjenesten {p}"),
        ("Veileder", "Helsesykepleier", "Konsulent", "Jordmor"),
    ),
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


PLACES = _words(
    "Sentrum Nordbyen Haugen Bakken Lia Moen Solbakken Vestli Østby Åsen Fjellstad Bjørkeli "
    "Furuly Granli Holtet Engen Skogly Sandvik Ørnes Kvåle Brattli Tveit Nesset Øyra Rønningen "
    "Strand Elvebakken Løkken Sætre Hovin Myra Vika Berg Dalen Åkre Grønli Hagen Kleiva Rud"
)

FIRST_NAMES = _words(
    "Kari Ola Nora Emma Jonas Lars Ingrid Siri Øystein Åse Bjørn Kjersti Sølvi Håkon Pål Ståle "
    "Mette Anne Hilde Marit Tone Randi Liv Turid Gunn Berit Astrid Solveig Ragnhild Sigrid Hege "
    "Trine Camilla Ida Thea Sara Maja Sofie Linnea Frida Ole Per Jan Knut Arne Terje Geir Morten "
    "Espen Anders Magnus Sindre Eirik Even Tor Trond Rune Stian Vegard Ørjan Åsmund Ahmed Fatima "
    "Mohammed Aisha Piotr Agnieszka Linh Sanjay Olena Yusuf Amina Tomasz Mariam Jørgen Kåre Bård"
)
LAST_NAMES = _words(
    "Hansen Johansen Olsen Larsen Andersen Pedersen Nilsen Kristiansen Jensen Karlsen Johnsen "
    "Pettersen Eriksen Berg Haugen Hagen Johannessen Andreassen Jacobsen Dahl Jørgensen Halvorsen "
    "Henriksen Lund Sørensen Jakobsen Moen Gundersen Iversen Strand Solberg Svendsen Eide Knutsen "
    "Martinsen Paulsen Bakken Kristoffersen Mathisen Lie Amundsen Nguyen Rasmussen Ali Lunde "
    "Solheim Berge Moe Nygård Bakke Kristensen Fredriksen Holm Lien Hauge Christensen Andresen "
    "Nielsen Knudsen Evensen Sæther Aas Myhre Hanssen Ahmed Haugland Thomassen Sivertsen Simonsen "
    "Danielsen Berntsen Sandvik Rønning Arnesen Antonsen Næss Vik Haug Ellingsen Thorsen Birkeland "
    "Isaksen Ruud Aasen Strøm Myklebust Tangen Ødegård Eliassen Helland Bøe Aune Mikkelsen Tveit "
    "Brekke Abrahamsen Kowalski Nowak Hussain Tran"
)

TEXTS = {
    "nb": (
        (
            "Takk for at du",
            "Så bra at du",
            "Tusen takk for at du",
            "Jeg så at du",
            "Stor takk til deg som",
        ),
        (
            "tok deg tid til å lytte til en bekymret pårørende",
            "hjalp en ny kollega med turnusen",
            "ryddet opp etter kveldsvakta uten at noen ba deg om det",
            "stilte opp på kort varsel da vi var underbemannet",
            "fikk en urolig beboer til å smile igjen",
            "lagde en flott samling for barna",
            "fikset brøytingen før skolebussen kom",
            "svarte en innbygger tålmodig og vennlig på telefonen",
            "delte kunnskapen din på fagmøtet",
            "tok ansvar for vaktbyttet i helgen",
            "bakte vafler til hele avdelingen",
            "holdt roen i en vanskelig situasjon",
            "hjalp meg med et regneark jeg sto fast i",
            "fulgte opp eleven som hadde en tung dag",
            "organiserte turdagen for hele trinnet",
            "ga god veiledning til lærlingen",
            "la merke til at jeg trengte en pause",
        ),
        ("i dag", "i går", "på mandag", "denne uka", "på nattevakta", "i morges", "på møtet", ""),
        (
            "Det betydde mye for oss alle.",
            "Du gjør en forskjell!",
            "Det er sånt som gjør det godt å gå på jobb.",
            "Beboerne merket det med en gang.",
            "Innbyggeren ringte tilbake bare for å si takk.",
            "Du er et forbilde.",
            "Takk for at du alltid stiller opp.",
            "",
            "",
        ),
        "og",
    ),
    "nn": (
        (
            "Takk for at du",
            "Så bra at du",
            "Tusen takk for at du",
            "Eg såg at du",
            "Stor takk til deg som",
        ),
        (
            "tok deg tid til å lytte til ein uroleg pårørande",
            "hjelpte ein ny kollega med turnusen",
            "rydda etter kveldsvakta utan at nokon bad deg om det",
            "stilte opp på kort varsel då vi mangla folk",
            "fekk ein uroleg bebuar til å smile att",
            "laga ei fin samling for borna",
            "svarte ein innbyggjar tolmodig på telefonen",
            "delte kunnskapen din på fagmøtet",
            "heldt roa i ein vanskeleg situasjon",
            "følgde opp eleven som hadde ein tung dag",
            "gav god rettleiing til lærlingen",
        ),
        ("i dag", "i går", "på måndag", "denne veka", "på nattevakta", "i morgon tidleg", ""),
        (
            "Det betydde mykje for oss alle.",
            "Du gjer ein skilnad!",
            "Det er slikt som gjer det godt å gå på jobb.",
            "Du er eit førebilete.",
            "",
            "",
        ),
        "og",
    ),
    "sv": (
        ("Tack för att du", "Så bra att du", "Stort tack för att du", "Jag såg att du"),
        (
            "tog dig tid att lyssna på en orolig anhörig",
            "hjälpte en ny kollega med schemat",
            "ställde upp med kort varsel när vi var underbemannade",
            "fick en orolig boende att le igen",
            "ordnade en fin samling för barnen",
            "svarade en invånare tålmodigt i telefonen",
            "delade med dig av din kunskap på mötet",
            "höll lugnet i en svår situation",
            "gav bra handledning till praktikanten",
        ),
        ("i dag", "i går", "i måndags", "den här veckan", "på nattpasset", "i morse", ""),
        (
            "Det betydde mycket för oss alla.",
            "Du gör skillnad!",
            "Det är sånt som gör det roligt att gå till jobbet.",
            "Du är en förebild.",
            "",
        ),
        "och",
    ),
}
HIDDEN_REASON = "Inneholder helseopplysninger om en bruker"
REACTION_KINDS = ("clap", "heart", "raise")
REACTION_CUM = (50, 85, 100)


def ascii_local(name: str) -> str:
    tr = name.lower().translate(str.maketrans({"æ": "ae", "ø": "o", "å": "a"}))
    plain = "".join(c for c in unicodedata.normalize("NFKD", tr) if not unicodedata.combining(c))
    return ".".join("".join(c for c in part if c.isalnum()) for part in plain.split())


# --- the plan in memory ---------------------------------------------------------------------


@dataclass
class Org:
    id: int
    spec: OrgSpec
    size: int
    value_ids: list[int] = field(default_factory=list)
    value_cum: list[float] = field(default_factory=list)
    people: list[int] = field(default_factory=list)  # person ids
    giver_cum: list[float] = field(default_factory=list)
    dept_members: dict[int, list[int]] = field(default_factory=dict)  # leaf dept -> people
    recognitions: int = 0


class Ids:
    def __init__(self) -> None:
        self.counters: dict[str, itertools.count[int]] = {}

    def next(self, table: str) -> int:
        return next(self.counters.setdefault(table, itertools.count(1)))


def org_sizes(people: int, specs: tuple[OrgSpec, ...] = ORGS) -> list[int]:
    sizes = [max(5, round(people * s.share)) for s in specs]
    sizes[0] += people - sum(sizes)  # the biggest absorbs rounding
    return sizes


def plan_people(
    rng: random.Random, ids: Ids, orgs: list[Org], created: datetime
) -> tuple[list[dict[str, Any]], ...]:
    """Values, departments (sector > unit > ward), people, leaders: rows as dicts."""
    org_rows, value_rows, dept_rows, person_rows, leader_rows = [], [], [], [], []
    for org in orgs:
        spec = org.spec
        org_rows.append(
            {
                "id": org.id,
                "slug": spec.slug,
                "name": spec.name,
                "locale": spec.locale,
                "timezone": "Europe/Oslo" if spec.locale != "sv" else "Europe/Stockholm",
                "daily_goal": 3,
                "feature_name": "",
                "theme_primary": spec.values[0][2],
                "theme_accent": "#b3261e",
                "intranet_origins": [f"https://intranett.{spec.slug}.kommune.no"],
                "pick_weekday": 3,
                "pick_time": "09:00",
                "publish_weekday": 0,
                "publish_time": "07:00",
                "auto_publish": False,
                "created_at": created,
            }
        )
        popularity = []
        for pos, (name, desc, colour) in enumerate(spec.values):
            vid = ids.next("value")
            org.value_ids.append(vid)
            popularity.append(rng.uniform(0.6, 1.6))
            value_rows.append(
                {
                    "id": vid,
                    "org_id": org.id,
                    "name": name,
                    "description": desc,
                    "colour": colour,
                    "position": pos,
                    "active": True,
                }
            )
        org.value_cum = list(itertools.accumulate(popularity))

        # Departments: about one unit per 25 people, spread over the sectors by staff share.
        units_total = max(len(SECTORS), org.size // 25)
        leaves: list[tuple[int, tuple[str, ...]]] = []  # (dept id, titles)
        leaf_weights: list[float] = []
        parents: dict[int, int | None] = {}
        names: set[str] = set()

        def dept(
            name: str,
            parent: int | None,
            org: Org = org,
            names: set[str] = names,
            parents: dict[int, int | None] = parents,
        ) -> int:
            base, n = name, 2
            while name in names:
                name, n = f"{base} {n}", n + 1
            names.add(name)
            did = ids.next("department")
            dept_rows.append({"id": did, "org_id": org.id, "name": name, "parent_id": parent})
            parents[did] = parent
            return did

        for sector, share, patterns, titles in SECTORS:
            sector_id = dept(sector, None)
            for _ in range(max(1, round(units_total * share))):
                unit_name = rng.choice(patterns).format(p=rng.choice(PLACES))
                unit_id = dept(unit_name, sector_id)
                weight = rng.uniform(0.5, 2.0)
                if weight > 1.6 and org.size >= 400:  # a big unit: wards below it
                    for ward in "ABC"[: rng.randint(2, 3)]:
                        leaves.append((dept(f"{unit_name}, avdeling {ward}", unit_id), titles))
                        leaf_weights.append(share * weight / 2)
                else:
                    leaves.append((unit_id, titles))
                    leaf_weights.append(share * weight)
        leaf_cum = list(itertools.accumulate(leaf_weights))

        emails: set[str] = set()
        for _ in range(org.size):
            pid = ids.next("person")
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            if rng.random() < 0.15:
                first = f"{first} {rng.choice(FIRST_NAMES)}"
            name = f"{first} {last}"
            leaf_id, titles = rng.choices(leaves, cum_weights=leaf_cum)[0]
            title = rng.choice(titles)
            local = ascii_local(name)
            email, n = f"{local}@{spec.slug}.kommune.no", 2
            while email in emails:
                email, n = f"{local}{n}@{spec.slug}.kommune.no", n + 1
            emails.add(email)
            r = rng.random()
            person_rows.append(
                {
                    "id": pid,
                    "org_id": org.id,
                    "email": email,
                    "name": name,
                    "department_id": leaf_id,
                    "title": title,
                    "role": "employee",
                    "active": rng.random() > 0.01,
                    "locale": None,
                    "email_frequency": "instant" if r < 0.6 else "daily" if r < 0.95 else "none",
                    "feature_opt_out": rng.random() < 0.03,
                    # exactly what the Person mapper event writes
                    "search_text": fold(f"{name} {title} {email.split('@')[0]}")[:600],
                    "created_at": created,
                }
            )
            org.people.append(pid)
            org.dept_members.setdefault(leaf_id, []).append(pid)

        # Leaders: one per department with people below it; curators and admins.
        by_id = {row["id"]: row for row in person_rows[-org.size :]}
        subtree: dict[int, list[int]] = {}
        for leaf_id, members in org.dept_members.items():
            d: int | None = leaf_id
            while d is not None:
                subtree.setdefault(d, []).extend(members)
                d = parents[d]
        taken: set[int] = set()
        for did in sorted(subtree):
            candidates = [p for p in subtree[did] if p not in taken]
            if not candidates:
                continue
            leader = rng.choice(candidates)
            taken.add(leader)
            by_id[leader]["role"] = "leader"
            leader_rows.append({"department_id": did, "person_id": leader})
        others = [p for p in org.people if p not in taken]
        for pid in rng.sample(others, min(len(others), 2 + org.size // 1000)):
            by_id[pid]["role"] = "curator"
        for pid in rng.sample(others, 2):
            if by_id[pid]["role"] == "employee":
                by_id[pid]["role"] = "admin"

        # Some people give a lot, many a little, a fifth never.
        weights = [
            0.0 if rng.random() < 0.2 else min(rng.paretovariate(1.6), 25.0) for _ in org.people
        ]
        org.giver_cum = list(itertools.accumulate(weights))
    return org_rows, value_rows, dept_rows, person_rows, leader_rows


def day_counts(total: int, start: date) -> list[int]:
    """Recognitions per day: weekdays, summer and Christmas dips, adoption growing."""
    weights = []
    for d in range(DAYS):
        day = start + timedelta(days=d)
        w = 1.0 if day.weekday() < 5 else 0.12
        if day.month == 7:
            w *= 0.35
        if (day.month == 12 and day.day >= 20) or (day.month == 1 and day.day <= 2):
            w *= 0.4
        weights.append(w * (0.7 + 0.6 * d / DAYS))
    scale = total / sum(weights)
    counts, carried, acc = [], 0, 0.0
    for w in weights:
        acc += w * scale
        n = round(acc) - carried
        counts.append(n)
        carried += n
    return counts


# --- writing --------------------------------------------------------------------------------


class Writer:
    """executemany (SQLite) or COPY (PostgreSQL) of plain tuples, within the caller's transaction.

    Columns come from the database itself (reflected), not from the models: a column that a
    model has but no migration created yet is left out, and a NOT NULL column that this
    script does not know gets the model's default, so the generator survives schema work.
    """

    def __init__(self, engine: Engine) -> None:
        self.pg = engine.dialect.name == "postgresql"
        self.quote = engine.dialect.identifier_preparer.quote
        self.tables: dict[str, tuple[Table, dict[str, Any]]] = {}

    def stamp(self, at: datetime) -> str:
        return at.strftime(SQLITE_STAMP)  # PostgreSQL's COPY parses the same text

    def table(self, conn: Connection, name: str, given: list[str]) -> tuple[Table, dict[str, Any]]:
        """The reflected table and the values for its columns that `given` lacks."""
        if name not in self.tables:
            reflected = Table(name, MetaData(), autoload_with=conn)
            model = SQLModel.metadata.tables.get(name)
            extra: dict[str, Any] = {}
            for column in reflected.columns:
                if column.name in given or column.nullable or column.server_default is not None:
                    continue
                default = (
                    model.c[column.name].default
                    if model is not None and column.name in model.c
                    else None
                )
                if default is None or not (default.is_scalar or default.is_callable):  # type: ignore[attr-defined]
                    raise SystemExit(
                        f"{name}.{column.name} is NOT NULL and has no default: "
                        "teach bench/generate.py about it"
                    )
                value = default.arg if default.is_scalar else default.arg(None)  # type: ignore[attr-defined]
                if isinstance(value, datetime):
                    value = self.stamp(value)
                extra[column.name] = value.value if isinstance(value, Enum) else value
            self.tables[name] = (reflected, extra)
        return self.tables[name]

    def dicts(self, conn: Connection, name: str, rows: list[dict[str, Any]]) -> None:
        """Core insert of dicts (small tables); datetimes are aware UTC."""
        if not rows:
            return
        table, extra = self.table(conn, name, list(rows[0]))
        known = set(table.c.keys())
        clean = [
            {
                **extra,
                **{
                    k: (v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) else v)
                    for k, v in row.items()
                    if k in known
                },
            }
            for row in rows
        ]
        for i in range(0, len(clean), CHUNK):
            conn.execute(insert(table), clean[i : i + CHUNK])

    def rows(self, conn: Connection, name: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        names = columns.split()
        _table, extra = self.table(conn, name, names)
        if extra:
            names += list(extra)
            tail = tuple(extra.values())
            rows = [row + tail for row in rows]
        cols = ", ".join(self.quote(c) for c in names)
        if self.pg:
            with (
                conn.connection.cursor() as cur,
                cur.copy(  # type: ignore[attr-defined]
                    f"COPY {self.quote(name)} ({cols}) FROM STDIN"
                ) as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(names))
            sql = f"INSERT INTO {self.quote(name)} ({cols}) VALUES ({marks})"  # noqa: S608 - our names
            conn.exec_driver_sql(sql, rows)


def generator_engine(url: str) -> Engine:
    """The app's own settings would fsync and check foreign keys; a bulk load needs neither."""
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url)
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        for pragma in (
            "journal_mode=wal",
            "synchronous=off",
            "foreign_keys=off",
            "cache_size=-262144",
            "temp_store=memory",
        ):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    return engine


def reset_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                Path(parsed.database + suffix).unlink(missing_ok=True)
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def generate(
    url: str,
    *,
    people: int = 10_000,
    recognitions: int = 1_000_000,
    seed: int = 1,
    end: date | None = None,
    force: bool = False,
    credentials: Path = DEFAULT_CREDENTIALS,
    org_count: int = len(ORGS),
) -> dict[str, Any]:
    t0 = time.perf_counter()
    rng = random.Random(seed)
    end = end or datetime.now(UTC).date()
    start = end - timedelta(days=DAYS)
    created = datetime.combine(start - timedelta(days=30), datetime.min.time(), tzinfo=UTC)

    if force:
        reset_database(url)
    migrate.upgrade(url)
    engine = generator_engine(url)
    with engine.connect() as conn:
        if conn.execute(text("SELECT count(*) FROM organisation")).scalar_one():
            raise SystemExit("the database already has organisations; pass --force to replace it")
    print(f"database: {make_url(url).render_as_string(hide_password=True)} (migrated)")

    ids = Ids()
    specs = ORGS[: max(1, min(org_count, len(ORGS)))]  # --orgs 1: everyone in the biggest one
    orgs = [
        Org(id=ids.next("organisation"), spec=spec, size=size)
        for spec, size in zip(specs, org_sizes(people, specs), strict=True)
    ]
    rows = plan_people(rng, ids, orgs, created)
    writer = Writer(engine)
    with engine.begin() as conn:
        for model, batch in zip(
            (Organisation, Value, Department, Person, DepartmentLeader), rows, strict=True
        ):
            writer.dicts(conn, model.__tablename__, batch)  # type: ignore[arg-type]
    print(
        f"{len(orgs)} organisations, {len(rows[1])} values, {len(rows[2])} departments, "
        f"{len(rows[3])} people ({time.perf_counter() - t0:.1f} s)"
    )

    # The benchmark person: an employee of the biggest organisation in a unit of 20 or more,
    # who gives a few recognitions a week like an engaged colleague.
    big = orgs[0]
    person_rows = {r["id"]: r for r in rows[3]}
    bench_id = next(
        pid
        for dept_id, members in sorted(big.dept_members.items())
        if len(members) >= 20
        for pid in members
        if person_rows[pid]["role"] == "employee" and person_rows[pid]["active"]
    )
    weights = [big.giver_cum[0]] + [b - a for a, b in itertools.pairwise(big.giver_cum)]
    weights[big.people.index(bench_id)] = 2.0 * sum(weights) / len(weights)
    big.giver_cum = list(itertools.accumulate(weights))

    org_cum = list(itertools.accumulate(o.size * o.spec.activity for o in orgs))
    rec_cols = (
        "id org_id giver_id text visibility feature_consent listed hidden_by_curator "
        "hidden_reason idempotency_key created_at"
    )
    counts = day_counts(recognitions, start)
    rec_rows: list[tuple[Any, ...]] = []
    recip_rows: list[tuple[Any, ...]] = []
    value_rows: list[tuple[Any, ...]] = []
    reaction_rows: list[tuple[Any, ...]] = []
    totals = {"recipients": 0, "values": 0, "reactions": 0}
    rid = 0
    last_report = time.perf_counter()
    t_recs = time.perf_counter()
    dept_of = {pid: r["department_id"] for pid, r in person_rows.items()}
    choice, random_ = rng.choice, rng.random

    def flush() -> None:
        with engine.begin() as conn:
            writer.rows(conn, "recognition", rec_cols, rec_rows)
            writer.rows(
                conn,
                "recognitionrecipient",
                "recognition_id person_id hidden feature_opt_out",
                recip_rows,
            )
            writer.rows(conn, "recognitionvalue", "recognition_id value_id", value_rows)
            writer.rows(conn, "reaction", "recognition_id person_id kind created_at", reaction_rows)
        totals["recipients"] += len(recip_rows)
        totals["values"] += len(value_rows)
        totals["reactions"] += len(reaction_rows)
        for batch in (rec_rows, recip_rows, value_rows, reaction_rows):
            batch.clear()

    end_at = datetime.combine(end, datetime.min.time(), tzinfo=UTC)
    for day_index, n in enumerate(counts):
        day = datetime.combine(start + timedelta(days=day_index), datetime.min.time(), tzinfo=UTC)
        # Mostly working hours in Norway (UTC+1/+2), some evening and night shifts.
        seconds = sorted(
            min(86_399.999, max(0.0, rng.gauss(10.0 * 3600, 3.0 * 3600))) for _ in range(n)
        )
        org_picks = rng.choices(orgs, cum_weights=org_cum, k=n)
        for sec, org in zip(seconds, org_picks, strict=True):
            rid += 1
            at = day + timedelta(seconds=sec)
            giver = rng.choices(org.people, cum_weights=org.giver_cum)[0]
            # Most recognitions stay in the giver's own unit; some cross to other units.
            pool = org.dept_members[dept_of[giver]] if random_() < 0.7 else org.people
            if len(pool) < 4:
                pool = org.people
            r = random_()
            k = 1 if r < 0.7 else 2 if r < 0.9 else 3
            recipients: list[int] = []
            while len(recipients) < k:
                p = choice(pool)
                if p != giver and p not in recipients:
                    recipients.append(p)
            vals = rng.choices(org.value_ids, cum_weights=org.value_cum, k=2)
            if vals[0] == vals[1] or random_() < 0.65:
                vals = vals[:1]
            private = random_() < 0.05
            hidden_recipient = random_() < 0.003
            by_curator = random_() < 0.0002
            openers, actions, whens, effects, conj = TEXTS[org.spec.locale]
            body = choice(actions)
            if random_() < 0.25:
                body = f"{body} {conj} {choice(actions)}"
            when = choice(whens)
            msg = f"{choice(openers)} {body}{' ' + when if when else ''}. {choice(effects)}"
            rec_rows.append(
                (
                    rid,
                    org.id,
                    giver,
                    msg.strip(),
                    "private" if private else "org",
                    1 if random_() < 0.6 else 0,
                    0 if (private or hidden_recipient or by_curator) else 1,
                    1 if by_curator else 0,
                    HIDDEN_REASON if by_curator else "",
                    f"gen-{rid:09d}",
                    writer.stamp(at),
                )
            )
            for i, p in enumerate(recipients):
                recip_rows.append((rid, p, 1 if hidden_recipient and i == 0 else 0, 0))
            for v in vals:
                value_rows.append((rid, v))
            if random_() < 0.35:  # reactions from colleagues, minutes to days later
                reactors: set[int] = set()
                for _ in range(min(12, int(rng.expovariate(0.5)) + 1)):
                    p = choice(org.people)
                    if p in reactors:
                        continue
                    reactors.add(p)
                    kind = REACTION_KINDS[bisect.bisect(REACTION_CUM, random_() * 100)]
                    later = min(at + timedelta(minutes=rng.expovariate(1 / 240)), end_at)
                    reaction_rows.append((rid, p, kind, writer.stamp(later)))
            org.recognitions += 1
            if len(rec_rows) >= CHUNK:
                flush()
                now = time.perf_counter()
                if now - last_report > 5 or rid == recognitions:
                    last_report = now
                    print(
                        f"  {rid:>9,} recognitions  {now - t_recs:6.1f} s  "
                        f"{rid / (now - t_recs):8,.0f}/s".replace(",", " "),
                        flush=True,
                    )
    flush()
    print(
        f"{rid:,} recognitions, {totals['recipients']:,} recipients, {totals['values']:,} value "
        f"links, {totals['reactions']:,} reactions ({time.perf_counter() - t_recs:.1f} s)".replace(
            ",", " "
        )
    )

    t_fin = time.perf_counter()
    with engine.connect() as conn:
        if writer.pg:
            for table in ("organisation", "value", "department", "person", "recognition"):
                name = writer.quote(table)
                sql = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {name}))"  # noqa: S608 - fixed names
                conn.exec_driver_sql(sql)
            conn.commit()
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    print(
        f"finished ({'VACUUM ANALYZE' if writer.pg else 'checkpoint'}: "
        f"{time.perf_counter() - t_fin:.1f} s)"
    )

    # A login session and an API token for the benchmark person, through the app's own code.
    app_engine = make_engine(url)
    with Session(app_engine) as session:
        person = session.get(Person, bench_id)
        assert person is not None
        raw_session = start_session(session, person, user_agent="bench/load.py")
        _token, raw_token = create_api_token(session, person, "bench")
        session.commit()
    app_engine.dispose()

    colleagues = [p for p in big.people if p != bench_id and person_rows[p]["active"]]
    first = person_rows[bench_id]["name"].split()[0]
    info = {
        "database_url": url,
        "org": big.spec.slug,
        "person_id": bench_id,
        "person_name": person_rows[bench_id]["name"],
        "session": raw_session,
        "api_token": raw_token,
        "recipient_ids": random.Random(seed + 1).sample(colleagues, 200),
        "value_ids": big.value_ids,
        # Type-ahead: a short prefix, a last name, Nordic letters, a unit, a title, two words.
        "queries": ["ka", "hansen", "øyst", "sykehjem", "sykepl", f"{first[:3]} be"],
        "generated": {
            "seed": seed,
            "end": end.isoformat(),
            "people": people,
            "recognitions": rid,
            "recipients": totals["recipients"],
            "values": totals["values"],
            "reactions": totals["reactions"],
            "orgs": [
                {"slug": o.spec.slug, "people": o.size, "recognitions": o.recognitions}
                for o in orgs
            ],
            "seconds": round(time.perf_counter() - t0, 1),
        },
    }
    credentials.parent.mkdir(parents=True, exist_ok=True)
    credentials.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    os.chmod(credentials, 0o600)
    print(f"credentials for {info['person_name']} ({big.spec.slug}) in {credentials}")
    print(f"total time {time.perf_counter() - t0:.1f} s")
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--recognitions", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--orgs",
        type=int,
        default=len(ORGS),
        help=f"how many of the {len(ORGS)} organisations (1: all people and recognitions in one)",
    )
    parser.add_argument(
        "--end",
        type=date.fromisoformat,
        help="last day of the history (default: today, UTC); fix it for identical databases",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing database")
    parser.add_argument("--credentials", type=Path, default=DEFAULT_CREDENTIALS)
    args = parser.parse_args(argv)
    if args.people < 100:
        parser.error("--people must be at least 100")
    generate(
        args.database_url,
        people=args.people,
        recognitions=args.recognitions,
        seed=args.seed,
        end=args.end,
        force=args.force,
        credentials=args.credentials,
        org_count=args.orgs,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
