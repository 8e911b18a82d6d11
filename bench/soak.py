"""Soak: minutes of mixed traffic against `python -m app serve`; errors, latency, memory.

    .venv/bin/python bench/soak.py                    # 300 s on a fresh SQLite file
    .venv/bin/python bench/soak.py --duration 60      # shorter (at most 300 s)
    .venv/bin/python bench/soak.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/x

It sets up one organisation (40 people, 3 values, API tokens and session cookies) on a fresh
database, starts the app with production settings (one worker, pinned to core 0), and runs
`--clients` client threads (pinned to core 1 with the script) that loop over a weighted mix:
the home feed page, the feed API, giving through the API, reacting, the intranet widget (page
and JSON) and photo uploads. It prints the requests, the error rate (5xx and failed
connections; 4xx are counted apart), p50/p99/max per kind and overall, and the server's
resident memory at the start, every 30 s and at the end. Everything is on 127.0.0.1; the run
never exceeds 300 s of load.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from PIL import Image  # noqa: E402
from processes import free_port, pinned, stop, wait_http  # noqa: E402 - beside this file
from sqlmodel import Session  # noqa: E402

MAX_DURATION = 300
ORG = "soakby"
SECRET = secrets.token_urlsafe(48)  # a fresh production secret per run
# kind: weight in the mix
MIX = {
    "home page": 25,
    "feed API": 20,
    "give": 15,
    "react": 15,
    "widget page": 10,
    "widget JSON": 10,
    "upload": 5,
}


@dataclass
class Setup:
    tokens: list[str]
    cookies: list[str]
    people: list[int]
    values: list[int]


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    client_errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float, status: int) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            if status == 0 or status >= 500:
                self.errors[kind] += 1
            elif status >= 400:
                self.client_errors[kind] += 1


def set_up(database_url: str, people: int = 40) -> Setup:
    from app import db as app_db
    from app.auth.service import create_api_token, start_session
    from app.migrate import upgrade
    from app.orgs.models import Organisation, Person, Value

    upgrade(database_url)
    engine = app_db.make_engine(database_url)
    with Session(engine, expire_on_commit=False) as s:
        org = Organisation(slug=ORG, name="Soakby kommune", locale="nb")
        s.add(org)
        s.flush()
        persons = [
            Person(org_id=org.id, email=f"p{n}@soakby.no", name=f"Person {n}")
            for n in range(people)
        ]
        values = [
            Value(org_id=org.id, name=name, position=n)
            for n, name in enumerate(("Engasjement", "Samarbeid", "Servicefokus"))
        ]
        s.add_all([*persons, *values])
        s.flush()
        setup = Setup(
            tokens=[create_api_token(s, p, "soak")[1] for p in persons],
            cookies=[start_session(s, p) for p in persons],
            people=[p.id or 0 for p in persons],
            values=[v.id or 0 for v in values],
        )
        s.commit()
    engine.dispose()
    return setup


def photo(seed: int) -> bytes:
    rnd = random.Random(seed)
    im = Image.new("RGB", (1200, 900), (rnd.randrange(256), rnd.randrange(256), 90))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85)
    return out.getvalue()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def client_loop(n: int, base: str, setup: Setup, stats: Stats, until: float) -> None:
    rnd = random.Random(n)
    me = n % len(setup.people)
    auth = {"Authorization": f"Bearer {setup.tokens[me]}"}
    api = f"{base}/api/v1/orgs/{ORG}"
    known: list[int] = []
    kinds = list(MIX)
    weights = list(MIX.values())
    with httpx.Client(timeout=30, cookies={"tod_session": setup.cookies[me]}) as c:
        i = 0
        while time.monotonic() < until:
            kind = rnd.choices(kinds, weights)[0]
            started = time.perf_counter()
            status = 0
            try:
                if kind == "home page":
                    status = c.get(f"{base}/{ORG}/").status_code
                elif kind == "feed API":
                    r = c.get(f"{api}/recognitions", headers=auth)
                    status = r.status_code
                    if status == 200:
                        known[:] = [item["id"] for item in r.json()["items"]][:20]
                elif kind == "give":
                    other = setup.people[
                        (me + 1 + rnd.randrange(len(setup.people) - 1)) % len(setup.people)
                    ]
                    body = {
                        "recipients": [other],
                        "values": [rnd.choice(setup.values)],
                        "text": f"Takk for hjelpen i dag, runde {n}-{i}!",
                    }
                    status = c.post(f"{api}/recognitions", json=body, headers=auth).status_code
                elif kind == "react":
                    if not known:
                        continue
                    rec = rnd.choice(known)
                    reaction = rnd.choice(("clap", "heart", "raise"))
                    url = f"{api}/recognitions/{rec}/reactions/{reaction}"
                    status = c.post(url, headers=auth).status_code
                elif kind == "widget page":
                    status = httpx.get(f"{base}/embed/{ORG}/feature", timeout=30).status_code
                elif kind == "widget JSON":
                    status = httpx.get(f"{base}/embed/{ORG}/feature.json", timeout=30).status_code
                elif kind == "upload":
                    files = {"file": ("foto.jpg", photo(n * 100_000 + i), "image/jpeg")}
                    status = c.post(f"{api}/media", files=files, headers=auth).status_code
            except httpx.HTTPError:
                status = 0
            stats.record(kind, time.perf_counter() - started, status)
            i += 1


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=MAX_DURATION)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temp folder")
    args = parser.parse_args()
    duration = max(5, min(args.duration, MAX_DURATION))
    tmp = Path(tempfile.mkdtemp(prefix="tod-soak-"))
    url = args.database_url or f"sqlite:///{tmp / 'soak.db'}"
    setup = set_up(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOD_")}
    env.update(
        {
            "TOD_ENV": "production",
            "TOD_SECRET_KEY": SECRET,
            "TOD_DATABASE_URL": url,
            "TOD_BASE_URL": base,
            "TOD_MEDIA_URL": f"file:{tmp / 'media'}",
            "TOD_SCHEDULER": "on",
            "TOD_WORKERS": "1",
            "TOD_WRITE_RATE_PER_MINUTE": "1000000",
            "TOD_LOG_LEVEL": "WARNING",
        }
    )
    log = tmp / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            pinned([sys.executable, "-m", "app", "serve", "--port", str(port)], 0),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"{base}/healthz", proc, log, timeout=180)
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {1})
        # Warm up every kind once, then measure memory from there.
        warm = Stats()
        client_loop(10_000, base, setup, warm, time.monotonic() + 3)
        memory = [(0.0, rss_kb(proc.pid))]
        stats = Stats()
        started = time.monotonic()
        until = started + duration
        threads = [
            threading.Thread(target=client_loop, args=(n, base, setup, stats, until))
            for n in range(args.clients)
        ]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            time.sleep(1)
            elapsed = time.monotonic() - started
            if elapsed - memory[-1][0] >= 30:
                memory.append((elapsed, rss_kb(proc.pid)))
        for t in threads:
            t.join()
        memory.append((time.monotonic() - started, rss_kb(proc.pid)))
    finally:
        stop(proc)
    server_log = log.read_text(errors="replace")
    every = [s for values in stats.latencies.values() for s in values]
    errors = sum(stats.errors.values())
    report = {
        "duration_s": duration,
        "clients": args.clients,
        "database": "sqlite" if url.startswith("sqlite") else "postgresql",
        "requests": len(every),
        "req_per_s": round(len(every) / duration, 1),
        "errors": errors,
        "error_rate": round(errors / max(1, len(every)), 5),
        "client_errors_4xx": dict(stats.client_errors),
        "p50_ms": round(pct(every, 50) * 1000, 1),
        "p99_ms": round(pct(every, 99) * 1000, 1),
        "max_ms": round(max(every, default=0) * 1000, 1),
        "per_kind": {
            kind: {
                "n": len(values),
                "errors": stats.errors.get(kind, 0),
                "p50_ms": round(statistics.median(values) * 1000, 1),
                "p99_ms": round(pct(values, 99) * 1000, 1),
            }
            for kind, values in sorted(stats.latencies.items())
        },
        "rss_mb": [(round(t), round(kb / 1024, 1)) for t, kb in memory],
        "log_tracebacks": server_log.count("Traceback"),
        "log_locked": server_log.count("database is locked"),
        "load_average": os.getloadavg(),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
