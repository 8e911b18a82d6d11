"""Time the weekly ranking (Ukens ESS candidates) for an organisation with a million recognitions.

    .venv/bin/python bench/bench_ranking.py                  # SQLite: bench/.data/ranking.db
    .venv/bin/python bench/bench_ranking.py --explain        # plus the plan of every statement
    .venv/bin/python bench/bench_ranking.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/tod

The first run generates the database with bench/generate.py (one organisation, 4 000 people,
1 000 000 recognitions over two years) and adds what the ranking reads besides the week: a
published feature in every other week (some of them a competition's winning photo, with the
consent answers) and a photo competition whose results came out in each measured week. Later
runs reuse it (`--force` makes a new one).

It times `app.weekly.ranking.candidates` for the newest complete week and for the busiest
week, cold (a new engine and session: empty SQLite page cache, nothing compiled) and warm (a
new session per run on the same engine), counts its SQL statements, and measures an anchor in
the same run: `SELECT count(*)` of the organisation's recognitions in the week's bounds on the
feed index, the cheapest indexed read of that week. The digest is a hash of the full ranking
(keys, scores, reasons, consent states): equal digests mean equal results.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import os
import platform
import random
import sqlite3
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/bench_ranking.py` from anywhere finds `app`

import sqlalchemy  # noqa: E402
from sqlalchemy import Engine, event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from app.contests import results as contests  # noqa: E402
from app.contests.models import Contest, ContestEntry, ContestVote, EntryStatus  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.media.models import MediaImage  # noqa: E402
from app.orgs.models import Organisation, Person, Value  # noqa: E402
from app.recognition.models import Recognition, RecognitionRecipient, Visibility  # noqa: E402
from app.weekly import consent as consents  # noqa: E402
from app.weekly import ranking, schedule, scoring  # noqa: E402
from app.weekly.models import (  # noqa: E402
    ConsentAnswer,
    Feature,
    FeatureConsent,
    FeatureStatus,
)
from bench import generate  # noqa: E402

DEFAULT_URL = f"sqlite:///{generate.DATA_DIR / 'ranking.db'}"
CREDENTIALS = generate.DATA_DIR / "credentials-ranking.json"
CREDENTIALS_OTHER = generate.DATA_DIR / "credentials-ranking-other.json"  # --database-url
CONTEST_EVERY = 9  # weeks: every ninth past week's feature is a competition's winning photo


# --- the database ---------------------------------------------------------------------------


def has_data(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").exists():
        return False
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            return bool(conn.execute(text("SELECT count(*) FROM organisation")).scalar_one())
    except sqlalchemy.exc.DBAPIError:
        return False
    finally:
        engine.dispose()


def week_counts(engine: Engine, org_id: int) -> Counter[tuple[int, int]]:
    """Recognitions per ISO week (of the UTC day; exact counts come from the anchor)."""
    sql = text(
        "SELECT substr(CAST(created_at AS TEXT), 1, 10), count(*) FROM recognition "
        "WHERE org_id = :org GROUP BY 1"
    )
    weeks: Counter[tuple[int, int]] = Counter()
    with engine.connect().execution_options(tod_readonly=True) as conn:
        for day, n in conn.execute(sql, {"org": org_id}):
            iso = date.fromisoformat(day).isocalendar()
            weeks[(iso.year, iso.week)] += n
    return weeks


def measured_weeks(
    engine: Engine, org: Organisation
) -> tuple[list[tuple[str, int, int]], list[tuple[int, int]]]:
    """(label, year, week) of the newest complete, the busiest and the median week, and all
    weeks with data."""
    weeks = week_counts(engine, org.id or 0)
    with engine.connect().execution_options(tod_readonly=True) as conn:
        newest = conn.execute(
            text("SELECT max(created_at) FROM recognition WHERE org_id = :org"), {"org": org.id}
        ).scalar_one()
    newest_at = (datetime.fromisoformat(newest) if isinstance(newest, str) else newest).replace(
        tzinfo=UTC
    )
    # Complete: the week ended before the last day with recognitions ended.
    last_day_end = datetime.combine(newest_at.date() + timedelta(1), datetime.min.time(), UTC)
    complete = [w for w in sorted(weeks) if schedule.week_bounds(org, *w)[1] <= last_day_end]
    newest_week = complete[-1]
    busiest = max(complete, key=lambda w: (weeks[w], w))
    typical = sorted(complete, key=lambda w: (weeks[w], w))[len(complete) // 2]
    chosen = [("newest complete" + (" = busiest" if busiest == newest_week else ""), *newest_week)]
    if busiest != newest_week:
        chosen.append(("busiest", *busiest))
    if typical not in (newest_week, busiest):
        chosen.append(("typical (median)", *typical))
    return chosen, sorted(weeks)


def make_image(session: Session, org: Organisation, owner: Person, n: int) -> MediaImage:
    sha = hashlib.sha256(f"bench-ranking-{n}".encode()).hexdigest()
    variants = [
        {
            "width": w,
            "height": w * 3 // 4,
            "format": f,
            "key": f"o{org.id}/{sha}{w}.{f}",
            "bytes": 1,
        }
        for w in (320, 800)
        for f in ("webp", "jpg")
    ]
    image = MediaImage(
        org_id=org.id, owner_id=owner.id, sha256=sha, width=800, height=600, variants=variants
    )
    session.add(image)
    return image


def add_contest(
    session: Session,
    rng: random.Random,
    org: Organisation,
    people: list[Person],
    values: list[Value],
    announced: datetime,
    n: int,
    *,
    entries: int,
    voters: int,
) -> ContestEntry:
    """A finished competition announced at `announced`; returns its winning entry."""
    closes = announced - timedelta(hours=1)
    contest = Contest(
        org_id=org.id,
        title=f"Hverdagsglimt {n}",
        value_id=values[n % len(values)].id,
        submit_opens_at=closes - timedelta(days=14),
        submit_closes_at=closes - timedelta(days=7),
        vote_opens_at=closes - timedelta(days=7),
        vote_closes_at=closes,
        created_at=closes - timedelta(days=15),
        results_announced_at=announced,
    )
    session.add(contest)
    session.flush()
    made = []
    for i, author in enumerate(rng.sample(people, entries)):
        entry = ContestEntry(
            contest_id=contest.id,
            author_id=author.id,
            image=make_image(session, org, author, n * 1000 + i),
            caption=f"Morgentåke over fjorden, bilde {i + 1}",
            people_consent=True,
            status=EntryStatus.approved,
            created_at=closes - timedelta(days=10, minutes=i),
        )
        session.add(entry)
        made.append(entry)
    session.flush()
    weights = [1.0 / (i + 1) for i in range(len(made))]  # a clear favourite, a long tail
    for voter in rng.sample(people, voters):
        entry = rng.choices(made, weights=weights)[0]
        session.add(
            ContestVote(
                contest_id=contest.id,
                entry_id=entry.id,
                voter_id=voter.id,
                created_at=closes - timedelta(days=2),
            )
        )
    session.flush()
    return contests.winners(session, contest, announced)[0].entry


def prepare(
    url: str, org_id: int, measured: list[tuple[int, int]], weeks: list[tuple[int, int]]
) -> bool:
    """Published features in every week before the newest measured one except the measured
    weeks (every CONTEST_EVERY-th a competition's winning photo), with their consent answers,
    and a competition announced in each measured week. Once: skipped when features exist."""
    engine = make_engine(url)
    rng = random.Random(7)
    with Session(engine) as session:
        org = session.get(Organisation, org_id)
        assert org is not None
        featured = {
            (f.iso_year, f.iso_week)
            for f in session.exec(select(Feature).where(Feature.org_id == org_id))
        }
        if featured and not featured & set(measured):
            engine.dispose()
            return False
        # The measured weeks changed: start again (consents go with their feature, entries
        # and votes with their competition, by ON DELETE CASCADE).
        for model in (Feature, Contest, MediaImage):
            table = model.__table__  # type: ignore[union-attr]
            session.execute(table.delete().where(table.c.org_id == org_id))
        t0 = time.perf_counter()
        people = list(
            session.exec(
                select(Person)
                .where(
                    Person.org_id == org_id,
                    col(Person.active).is_(True),
                    col(Person.feature_opt_out).is_(False),
                )
                .order_by(col(Person.id))
            )
        )
        values = list(
            session.exec(select(Value).where(Value.org_id == org_id).order_by(col(Value.position)))
        )
        last = max(measured)
        n = 0
        for year, week in weeks:
            if (year, week) in measured or (year, week) >= last:
                continue
            n += 1
            sched = schedule.schedule(org, year, week)
            start, end = schedule.week_bounds(org, year, week)
            feature = Feature(
                org_id=org_id,
                iso_year=year,
                iso_week=week,
                status=FeatureStatus.published,
                created_at=sched.pick_at,
                approved_at=sched.pick_at + timedelta(hours=3),
                published_at=sched.publish_at,
                updated_at=sched.publish_at,
            )
            if n % CONTEST_EVERY == 0:
                entry = add_contest(
                    session, rng, org, people, values, start + timedelta(days=1, hours=10), n,
                    entries=8, voters=60,
                )  # fmt: skip
                feature.entry_id, feature.image_id = entry.id, entry.image_id
                feature.headline, feature.body = f"Hverdagsglimt {n}", entry.caption
                named = [entry.author_id]
            else:
                ids = session.exec(
                    select(Recognition.id)
                    .where(
                        Recognition.org_id == org_id,
                        col(Recognition.created_at) >= start,
                        col(Recognition.created_at) < end,
                        col(Recognition.listed).is_(True),
                        Recognition.visibility == Visibility.org,
                        col(Recognition.feature_consent).is_(True),
                    )
                    .order_by(col(Recognition.id))
                ).all()
                if not ids:
                    continue
                rec = session.get(Recognition, rng.choice(ids))
                assert rec is not None
                feature.recognition_id, feature.body = rec.id, rec.text
                feature.headline = "Ukens ESS"
                named = list(
                    session.exec(
                        select(RecognitionRecipient.person_id).where(
                            RecognitionRecipient.recognition_id == rec.id
                        )
                    )
                )
            feature.consents = [
                FeatureConsent(
                    person_id=pid,
                    answer=ConsentAnswer.yes,
                    token_hash=consents.placeholder(consents.NO_LINK),
                    asked_at=sched.pick_at,
                    answered_at=sched.pick_at + timedelta(hours=2),
                )
                for pid in named
            ]
            session.add(feature)
        for i, (year, week) in enumerate(measured):
            start, _end = schedule.week_bounds(org, year, week)
            add_contest(
                session, rng, org, people, values, start + timedelta(days=1, hours=11),
                10_000 + i, entries=15, voters=300,
            )  # fmt: skip
        session.commit()
        print(f"prepared: {n} published features, contests ({time.perf_counter() - t0:.1f} s)")
    engine.dispose()
    return True


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    year: int
    week: int
    rows: int  # the organisation's recognitions in the week
    candidates: int  # how many the full ranking returns
    anchor_cold: float
    anchor: list[float]
    cold: float
    warm: list[float]
    cpu: list[float]  # the process's CPU time in the warm runs (SQLite runs in-process)
    statements: int
    digest: str
    top: list[str]


def p95(samples: list[float]) -> float:
    """Nearest rank: with 10 samples the slowest but none."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def digest_of(found: list[scoring.Candidate]) -> str:
    rows = [(c.key, c.score, c.reasons, c.consent_state) for c in found]
    blob = json.dumps(rows, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def measure(
    url: str, org_id: int, label: str, year: int, week: int, runs: int, explain: bool
) -> Result:
    anchor_sql = text(
        "SELECT count(*) FROM recognition WHERE org_id = :org "
        "AND created_at >= :start AND created_at < :end"
    )
    engine = make_engine(url)  # new: an empty page cache and statement cache
    captured: list[tuple[str, Any]] = []
    counting = [False]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, params: Any, *_a: Any) -> None:
        if counting[0]:
            captured.append((statement, params))

    def session() -> tuple[Session, Organisation]:
        s = Session(engine)
        s.connection(execution_options={"tod_readonly": True})
        org = s.get(Organisation, org_id)
        assert org is not None
        return s, org

    s, org = session()
    start, end = schedule.week_bounds(org, year, week)
    now = end  # the whole week: every recognition of it, and the competition announced in it
    bounds = {"org": org_id, "start": start.replace(tzinfo=None), "end": end.replace(tzinfo=None)}

    def rank(s: Session, org: Organisation, limit: int = 20) -> list[scoring.Candidate]:
        return ranking.candidates(s, org, year=year, week=week, now=now, limit=limit)

    counting[0] = True
    cold, _found = timed(lambda: rank(s, org))
    counting[0] = False
    statements = list(captured)
    s.close()

    s, org = session()
    anchor_cold, rows = timed(lambda: s.execute(anchor_sql, bounds).scalar_one())
    s.close()

    warm, cpu, anchor = [], [], []
    for _ in range(runs):
        s, org = session()
        cpu0 = time.process_time()
        ms, found = timed(lambda s=s, org=org: rank(s, org))  # type: ignore[misc]
        cpu.append((time.process_time() - cpu0) * 1000)
        warm.append(ms)
        anchor.append(timed(lambda s=s: s.execute(anchor_sql, bounds).scalar_one())[0])  # type: ignore[misc]
        s.close()

    s, org = session()
    everything = rank(s, org, limit=10**9)
    s.close()
    if explain:
        print_plans(engine, statements)
    engine.dispose()
    return Result(
        label=label,
        year=year,
        week=week,
        rows=rows,
        candidates=len(everything),
        anchor_cold=anchor_cold,
        anchor=anchor,
        cold=cold,
        warm=warm,
        cpu=cpu,
        statements=len(statements),
        digest=digest_of(everything),
        top=[f"{c.key} {c.score:g}" for c in found[:3]],
    )


def print_plans(engine: Engine, statements: list[tuple[str, Any]]) -> None:
    sqlite = engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        for i, (statement, params) in enumerate(statements, 1):
            cur = raw.cursor()
            try:
                cur.execute(prefix + statement, params)
                lines, depth = [], {0: -1}
                for row in cur.fetchall():
                    if not sqlite:
                        lines.append(str(row[0]))
                        continue
                    depth[row[0]] = depth.get(row[1], -1) + 1  # (id, parent, _, detail)
                    lines.append("  " * depth[row[0]] + str(row[3]))
            except Exception as exc:
                lines = [f"(no plan: {exc})"]
            finally:
                cur.close()
            print(f"\n[{i}] {' '.join(statement.split())[:300]}")
            print("\n".join("    " + line for line in lines))


def fmt(ms: float) -> str:
    return f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def table(results: list[Result]) -> str:
    head = (
        "| week | recognitions in the week | candidates | anchor: count(*) of the week, "
        "cold / warm median | ranking cold | ranking warm median | ranking warm p95 | "
        "ranking warm, CPU median | SQL statements |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for r in results:
        label = f"{r.label} ({schedule.week_label(r.year, r.week)})"
        lines.append(
            f"| {label} | {r.rows:,} | {r.candidates:,} | {fmt(r.anchor_cold)} / "
            f"{fmt(statistics.median(r.anchor))} ms | {fmt(r.cold)} ms | "
            f"**{fmt(statistics.median(r.warm))} ms** | {fmt(p95(r.warm))} ms | "
            f"{fmt(statistics.median(r.cpu))} ms | {r.statements} |".replace(",", " ")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=10, help="warm runs per week")
    parser.add_argument("--recognitions", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=4_000)
    parser.add_argument(
        "--end",
        type=date.fromisoformat,
        help="last day of the generated history (default: today, UTC)",
    )
    parser.add_argument("--force", action="store_true", help="generate a new database")
    parser.add_argument("--explain", action="store_true", help="print each statement's plan")
    args = parser.parse_args(argv)
    url = args.database_url

    t0 = time.perf_counter()
    if args.force or not has_data(url):
        generate.generate(
            url,
            people=args.people,
            recognitions=args.recognitions,
            end=args.end,
            force=True,
            credentials=CREDENTIALS if url == DEFAULT_URL else CREDENTIALS_OTHER,
            org_count=1,
        )
    engine = make_engine(url)
    with Session(engine) as s:
        s.connection(execution_options={"tod_readonly": True})
        org = s.exec(select(Organisation).order_by(col(Organisation.id))).first()
        assert org is not None
        total = s.execute(
            text("SELECT count(*) FROM recognition WHERE org_id = :org"), {"org": org.id}
        ).scalar_one()
        chosen, weeks = measured_weeks(engine, org)
        org_id = org.id or 0
    engine.dispose()
    prepare(url, org_id, [(y, w) for _label, y, w in chosen], weeks)
    print(
        f"database: {make_url(url).render_as_string(hide_password=True)}, organisation "
        f"{org.slug}: {total:,} recognitions ({time.perf_counter() - t0:.1f} s to get ready)"
    )

    # As the app does once it has started (app/main.py): what is loaded by now lives as long
    # as the process, so full garbage collections need not walk it.
    gc.freeze()
    load_before = os.getloadavg()
    started = datetime.now(UTC)
    results = [
        measure(url, org_id, label, year, week, args.runs, args.explain)
        for label, year, week in chosen
    ]
    load_after = os.getloadavg()

    print()
    print(
        f"{started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{engine.dialect.name}; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after; {args.runs} warm runs (a new session each) per week, "
        "now = the end of the week, limit = 20"
    )
    print()
    print(table(results))
    print()
    for r in results:
        print(
            f"{schedule.week_label(r.year, r.week)}: digest {r.digest}, top {', '.join(r.top)}; "
            f"warm runs ms: {' '.join(fmt(ms) for ms in r.warm)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
