"""Load-test the intranet widget beside nginx serving the same bytes, in one run.

    .venv/bin/python bench/bench_embed.py
    .venv/bin/python bench/bench_embed.py --duration 10 --connections 20 --targets html,json

It migrates a throwaway SQLite database, seeds the demo (Åsnes and Avesta), publishes a
feature for Åsnes, starts `python -m app serve` (production settings, one worker, core 0)
and nginx with static copies of the widget page and its JSON (core 0 too), then runs wrk on
core 1 against both: fresh requests, and revalidations with If-None-Match (each server's own
ETag, added by the wrk Lua script) that answer 304. Everything stays on 127.0.0.1 and every
run is bounded in time. Self-contained on purpose: bench/load.py is for the feed database.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from processes import free_port, pinned, stop, wait_http  # noqa: E402 - beside this file

MAX_DURATION = 15  # seconds of load per target, never more
ORG = "asnes"
INTRANET = "https://intranett.asnes.example"

LUA = r"""
{headers}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d status=%d connect=%d read=%d write=%d timeout=%d " ..
    "p50_us=%.0f p95_us=%.0f p99_us=%.0f\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""

NGINX_CONF = """
worker_processes 1;
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path {tmp}/nginx-body;
  proxy_temp_path {tmp}/nginx-proxy;
  fastcgi_temp_path {tmp}/nginx-fastcgi;
  uwsgi_temp_path {tmp}/nginx-uwsgi;
  scgi_temp_path {tmp}/nginx-scgi;
  server {{
    listen 127.0.0.1:{port};
    root {tmp}/www;
    location = /embed/{org}/feature {{
      default_type "text/html; charset=utf-8";
      add_header Cache-Control "public, max-age=60, stale-while-revalidate=300";
      try_files /feature.html =404;
    }}
    location = /embed/{org}/feature.json {{
      default_type application/json;
      add_header Cache-Control "public, max-age=60, stale-while-revalidate=300";
      add_header Access-Control-Allow-Origin "{intranet}";
      add_header Vary Origin;
      try_files /feature.json =404;
    }}
  }}
}}
"""


# --- processes ------------------------------------------------------------------------------


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback only
            return resp.status, resp.read(), {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), {k.lower(): v for k, v in exc.headers.items()}


@contextlib.contextmanager
def app_server(db_url: str, args: argparse.Namespace, tmp: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TOD_ENV": "production",
        "TOD_SECRET_KEY": secrets.token_urlsafe(48),
        "TOD_SCHEDULER": "off",
        "TOD_DATABASE_URL": db_url,
        "TOD_MEDIA_URL": f"file:{tmp / 'media'}",
        "TOD_BASE_URL": base,
        "TOD_WORKERS": "1",
        "TOD_LOG_LEVEL": args.log_level,
        "PYTHONUNBUFFERED": "1",
    }
    cmd = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = tmp / "app.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            pinned([*cmd, "--workers", "1"], args.server_core),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"{base}/healthz", proc, log)
        yield base
    finally:
        stop(proc)


@contextlib.contextmanager
def nginx_server(files: dict[str, bytes], args: argparse.Namespace, tmp: Path) -> Iterator[str]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is missing: apt-get install -y nginx-light")
    port = free_port()
    www = tmp / "www"
    www.mkdir()
    for name, body in files.items():
        (www / name).write_bytes(body)
        (www / name).chmod(0o644)
    for path in (tmp.parent, tmp, www):  # nginx's worker runs as nobody
        path.chmod(0o755)
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, org=ORG, intranet=INTRANET))
    log = tmp / "nginx.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            pinned(
                [nginx, "-c", str(conf), "-p", str(tmp), "-e", str(tmp / "nginx-error.log")],
                args.server_core,
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/embed/{ORG}/feature", proc, log)
        yield base
    finally:
        stop(proc, signal.SIGQUIT)


# --- data -----------------------------------------------------------------------------------


def prepare_database(url: str) -> str:
    """Migrate, seed the demo and publish this week's feature for Åsnes; returns its headline."""
    from sqlmodel import Session, col, select

    from app import migrate
    from app.db import make_engine
    from app.demo.seed import seed_demo
    from app.kernel.clock import utcnow
    from app.orgs.models import Organisation, Person, Value
    from app.recognition.giving import give_recognition
    from app.weekly.models import ConsentAnswer, Feature, FeatureConsent, FeatureStatus

    migrate.upgrade(url)
    engine = make_engine(url)
    headline = "Nattevakta som holdt hjulene i gang"
    with Session(engine) as session:
        seed_demo(session)
        org = session.exec(select(Organisation).where(Organisation.slug == ORG)).one()
        org.intranet_origins = [INTRANET]
        giver, recipient = session.exec(
            select(Person)
            .where(Person.org_id == org.id, col(Person.feature_opt_out).is_(False))
            .order_by(col(Person.id))
            .limit(2)
        ).all()
        values = session.exec(select(Value).where(Value.org_id == org.id).limit(2)).all()
        rec, _ = give_recognition(
            session,
            giver=giver,
            recipient_ids=[recipient.id],  # type: ignore[list-item]
            value_ids=[v.id for v in values],  # type: ignore[misc]
            text="Takk for at du tok de ekstra vaktene da vi trengte det!",
            feature_consent=True,
            idempotency_key=f"bench-{secrets.token_hex(6)}",
        )
        feature = Feature(
            org=org,
            recognition=rec,
            iso_year=1999,
            iso_week=52,
            status=FeatureStatus.published,
            headline=headline,
            body="Da halve avdelingen var syk, tok hun tre ekstra vakter.\n\n" * 3,
            published_at=utcnow(),
        )
        feature.consents.append(
            FeatureConsent(
                person=recipient,
                answer=ConsentAnswer.yes,
                token_hash=secrets.token_hex(32),
                answered_at=utcnow(),
            )
        )
        session.add(feature)
        session.commit()
    engine.dispose()
    return headline


# --- the load -------------------------------------------------------------------------------


@dataclass
class Target:
    key: str
    label: str
    url: str
    headers: dict[str, str]
    expect: int = 200


@dataclass
class Result:
    label: str
    requests: int
    seconds: float
    p50: float
    p95: float
    p99: float
    errors: int

    def row(self) -> str:
        rps = self.requests / self.seconds if self.seconds else 0.0
        rate = f"{rps:,.0f}".replace(",", " ")
        return (
            f"| {self.label} | {rate} | {self.p50:.2f} | {self.p95:.2f} | {self.p99:.2f} | "
            f"{self.errors} |"
        )


def run_wrk(target: Target, args: argparse.Namespace, tmp: Path, duration: int) -> dict[str, float]:
    headers = "\n".join(
        f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in target.headers.items()
    )
    script = tmp / f"{target.key}.lua"
    script.write_text(LUA.format(headers=headers))
    cmd = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        target.url,
    ]
    out = subprocess.run(
        pinned(cmd, args.wrk_core),
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=True,
    )
    match = re.search(r"^BENCH (.*)$", out.stdout, re.M)
    if not match:
        raise RuntimeError(f"wrk printed no BENCH line:\n{out.stdout}\n{out.stderr}")
    return {k: float(v) for k, v in (kv.split("=") for kv in match.group(1).split())}


def measure(target: Target, args: argparse.Namespace, tmp: Path) -> Result:
    status, _, _ = fetch(target.url, target.headers)
    if status != target.expect:
        raise SystemExit(f"{target.label}: answered {status}, expected {target.expect}")
    if args.warmup:
        run_wrk(target, args, tmp, args.warmup)
    raw = run_wrk(target, args, tmp, args.duration)
    return Result(
        label=target.label,
        requests=int(raw["requests"]),
        seconds=raw["duration_us"] / 1e6,
        p50=raw["p50_us"] / 1000,
        p95=raw["p95_us"] / 1000,
        p99=raw["p99_us"] / 1000,
        errors=int(raw["status"] + raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]),
    )


def benchmark(args: argparse.Namespace, tmp: Path) -> int:
    db_url = f"sqlite:///{tmp / 'embed.db'}"
    print("preparing a demo database ...", flush=True)
    headline = prepare_database(db_url)
    load1, load5, _ = os.getloadavg()
    print(
        f"\n# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
        f"load average {load1:.2f} / {load5:.2f}; wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration}s (+{args.warmup} s warm-up); servers on core {args.server_core}, "
        f"wrk on core {args.wrk_core}; SQLite, one uvicorn worker, TOD_LOG_LEVEL={args.log_level}"
    )
    wanted = set(args.targets.split(",")) if args.targets else None
    results: list[Result] = []
    with app_server(db_url, args, tmp) as app:
        page_url = f"{app}/embed/{ORG}/feature"
        json_url = f"{app}/embed/{ORG}/feature.json"
        _, page, page_h = fetch(page_url)
        _, data, json_h = fetch(json_url, {"Origin": INTRANET})
        if headline.encode() not in page:
            raise SystemExit("the widget page does not show the published feature")
        (tmp / "nginx").mkdir()
        with nginx_server(
            {"feature.html": page, "feature.json": data}, args, tmp / "nginx"
        ) as static:
            _, _, s_page_h = fetch(f"{static}/embed/{ORG}/feature")
            _, _, s_json_h = fetch(f"{static}/embed/{ORG}/feature.json")
            sizes = f"page {len(page)} B, JSON {len(data)} B"
            print(f"bodies: {sizes}; the same bytes for nginx and the app\n")
            targets = [
                ("html", Target("s-html", "nginx: widget page (static file)", f"{static}/embed/{ORG}/feature", {})),
                ("html", Target("s-html-304", "nginx: widget page, If-None-Match → 304", f"{static}/embed/{ORG}/feature", {"If-None-Match": s_page_h["etag"]}, 304)),
                ("html", Target("a-html", f"app: GET /embed/{ORG}/feature", page_url, {})),
                ("html", Target("a-html-304", f"app: GET /embed/{ORG}/feature, If-None-Match → 304", page_url, {"If-None-Match": page_h["etag"]}, 304)),
                ("json", Target("s-json", "nginx: feature.json (static file)", f"{static}/embed/{ORG}/feature.json", {})),
                ("json", Target("s-json-304", "nginx: feature.json, If-None-Match → 304", f"{static}/embed/{ORG}/feature.json", {"If-None-Match": s_json_h["etag"]}, 304)),
                ("json", Target("a-json", f"app: GET /embed/{ORG}/feature.json (CORS Origin)", json_url, {"Origin": INTRANET})),
                ("json", Target("a-json-304", f"app: GET /embed/{ORG}/feature.json, If-None-Match → 304", json_url, {"Origin": INTRANET, "If-None-Match": json_h["etag"]}, 304)),
                ("healthz", Target("a-healthz", "app: GET /healthz (trivial, for scale)", f"{app}/healthz", {})),
            ]  # fmt: skip
            for group, target in targets:
                if wanted is not None and group not in wanted:
                    continue
                result = measure(target, args, tmp)
                results.append(result)
                print(f"  {result.row()}", flush=True)
    print("\n| target | req/s | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for result in results:
        print(result.row())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--duration", type=int, default=8, help=f"seconds, at most {MAX_DURATION}")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load first")
    parser.add_argument("--targets", help="comma-separated subset of: html,json,healthz")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--wrk-core", type=int, default=1)
    parser.add_argument("--log-level", default="INFO", help="the app's TOD_LOG_LEVEL")
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= MAX_DURATION or not 0 <= args.warmup <= 5:
        parser.error(f"--duration must be 1-{MAX_DURATION} and --warmup 0-5 seconds")
    if shutil.which("wrk") is None:
        parser.error("wrk is missing: apt-get install -y wrk nginx-light")
    print("$ " + shlex.join([Path(sys.executable).name, *sys.argv]))
    tmp = Path(tempfile.mkdtemp(prefix="tod-bench-embed-"))
    try:
        return benchmark(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
