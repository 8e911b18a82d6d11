"""Time the insights page for a year of the biggest organisation of the million-recognition
database, beside a `count(*)` over the same rows in the same run.

    .venv/bin/python bench/bench_insights.py --database-url sqlite:///bench/.data/insights.db
    .venv/bin/python bench/bench_insights.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/tod

The database comes from bench/generate.py (10 000 people in five organisations, 1 000 000
recognitions over two years; the biggest, Storvik, has 40 % of both). Its bulk inserts do not
pass the ORM, so the first run rebuilds Storvik's aggregates (`python -m app insights
rebuild`, timed once). Then, for the whole organisation as an admin sees it and for the
biggest unit as its leader sees it, it times over the last twelve months by month and the
last 52 weeks by week:

- `figures.insights` (every figure, suppression applied), cold (new engine) and warm;
- the whole page through HTTP (`GET /{org}/insights`, routing, access, templates), warm;
- the anchor: `SELECT count(*)` of the organisation's recognitions in the same year on the
  feed index, the cheapest indexed read of those rows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

DEFAULT_URL = f"sqlite:///{ROOT / 'bench' / '.data' / 'insights.db'}"


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    os.environ["TOD_DATABASE_URL"] = args.database_url
    os.environ.setdefault("TOD_SECRET_KEY", "bench-" + "x" * 40)

    import app.models  # noqa: F401
    from app.auth.service import start_session
    from app.db import make_engine
    from app.insights import figures
    from app.insights.maintain import local_day, org_zone, refresh_org
    from app.insights.models import InsightCount
    from app.insights.periods import Granularity
    from app.insights.scope import insight_scope
    from app.orgs.models import DepartmentLeader, Organisation, Person, Role
    from app.recognition.models import Recognition

    engine = make_engine(args.database_url)
    with Session(engine, expire_on_commit=False) as s:
        org = s.exec(
            select(Organisation)
            .join(Recognition, col(Recognition.org_id) == Organisation.id)
            .group_by(col(Organisation.id))
            .order_by(func.count().desc())
        ).first()
        assert org is not None, "generate the database first (bench/generate.py)"
        org_id = org.id
        if not s.exec(
            select(InsightCount.day).where(InsightCount.org_id == org_id).limit(1)
        ).first():
            ms, days = timed(lambda: refresh_org(s, org_id))
            s.commit()
            print(f"rebuilt {org.slug}: {days} days in {ms / 1000:.1f} s")
        # The page asks the app's clock: generate the database with --end a few days ago.
        now = datetime.now(UTC)
        admin = s.exec(
            select(Person).where(Person.org_id == org_id, Person.role == Role.admin)
        ).first()
        leader_row = s.exec(
            select(DepartmentLeader.person_id, func.count())
            .join(Person, col(Person.id) == DepartmentLeader.person_id)
            .where(Person.org_id == org_id)
            .group_by(col(DepartmentLeader.person_id))
            .order_by(func.count().desc())
        ).first()
        leader = s.get(Person, leader_row[0]) if leader_row else None
        if leader is not None and leader.role != Role.leader:
            leader = None
        tz = org_zone(org)
        today = local_day(now, tz)
        viewers = [("admin, whole organisation", admin)] + (
            [("leader, own units", leader)] if leader else []
        )
        cookies = {}
        for label, viewer in viewers:
            cookies[label] = start_session(s, viewer)
        s.commit()
        people = s.exec(
            select(func.count()).select_from(Person).where(Person.org_id == org_id)
        ).one()
        year_start = datetime.combine(today - timedelta(days=365), datetime.min.time(), tz)
        rows = s.exec(
            select(func.count())
            .select_from(Recognition)
            .where(Recognition.org_id == org_id, col(Recognition.created_at) >= year_start)
        ).one()
        aggregate_rows = s.exec(
            select(func.count())
            .select_from(InsightCount)
            .where(
                InsightCount.org_id == org_id,
                col(InsightCount.day) >= (today - timedelta(days=365)),
            )
        ).one()
    print(
        f"{org.slug}: {people} people, {rows} recognitions in the year, {aggregate_rows} aggregate rows"
    )

    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    def anchor() -> int:
        with Session(engine) as s:
            return s.exec(
                select(func.count())
                .select_from(Recognition)
                .where(Recognition.org_id == org_id, col(Recognition.created_at) >= year_start)
            ).one()

    from fastapi.testclient import TestClient

    from app.access import SESSION_COOKIE
    from app.main import create_app

    client = TestClient(create_app())
    out = [
        "| viewer | period | figures cold | figures warm median | p95 | CPU median | SQL | page (HTTP) median | p95 | count(*) median |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    from app.insights.periods import last_buckets_start, period_between

    def figures_for(eng: Any, viewer_id: int, period: Any) -> Any:
        with Session(eng) as s:
            v = s.get(Person, viewer_id)
            return figures.insights(s, insight_scope(s, v), period, now)

    for label, viewer in viewers:
        for gran, count in ((Granularity.month, 12), (Granularity.week, 52)):
            period = period_between(last_buckets_start(today, gran, count), today, gran)
            cold_engine = make_engine(args.database_url)
            cold_ms, _ = timed(lambda e=cold_engine, v=viewer.id, p=period: figures_for(e, v, p))
            cold_engine.dispose()
            warm, cpu = [], []
            statements.clear()
            figures_for(engine, viewer.id, period)
            n_sql = len(statements)
            for _ in range(args.runs):
                c0 = time.process_time()
                ms, _ = timed(lambda v=viewer.id, p=period: figures_for(engine, v, p))
                cpu.append((time.process_time() - c0) * 1000)
                warm.append(ms)
            client.cookies.set(SESSION_COOKIE, cookies[label])
            url = f"/{org.slug}/insights?by={gran.value}&start={period.start}&end={period.last_day}"
            assert client.get(url).status_code == 200
            pages = []
            for _ in range(args.runs):
                ms, response = timed(lambda u=url: client.get(u))
                assert response.status_code == 200
                pages.append(ms)
            anchors = [timed(anchor)[0] for _ in range(args.runs)]
            out.append(
                f"| {label} | {len(period.buckets)} {gran.value}s | {cold_ms:.0f} ms | "
                f"{statistics.median(warm):.1f} ms | {p95(warm):.1f} ms | "
                f"{statistics.median(cpu):.1f} ms | {n_sql} | {statistics.median(pages):.1f} ms | "
                f"{p95(pages):.1f} ms | {statistics.median(anchors):.1f} ms |"
            )
            print(out[-1], flush=True)
    print()
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
