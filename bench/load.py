"""Load-test the app on a generated database, beside nginx serving the same bytes.

    .venv/bin/python bench/load.py                        # the SQLite database of generate.py
    .venv/bin/python bench/load.py --postgres             # a throwaway PostgreSQL, generated first
    .venv/bin/python bench/load.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/x

It starts `python -m app serve` (production settings, one worker, pinned to core 0), nginx
with a static copy of the home page (core 0 too), and wrk on core 1, all on 127.0.0.1 and
bounded in time. Before the load it prints the home feed query's plan and its time at the
newest page and deep in history. Recognitions given by the benchmark are deleted at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from processes import free_port, pinned, stop, wait_http  # noqa: E402 - beside this file
from sqlalchemy import Engine, event, text, tuple_  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from bench.generate import DATA_DIR, DEFAULT_CREDENTIALS, DEFAULT_URL, generate  # noqa: E402

MAX_DURATION = 15  # seconds of load per target, never more
BENCH_KEY_PREFIX = "wrk-"
CSRF_COOKIE_VALUE = "bench-fixed-csrf-cookie-value"

# --- wrk scripts ----------------------------------------------------------------------------

LUA_DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d status=%d connect=%d read=%d write=%d timeout=%d " ..
    "p50_us=%.0f p95_us=%.0f p99_us=%.0f max_us=%.0f\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""

LUA_HEADERS = r"""
wrk.headers["Accept-Language"] = "nb"
{headers}
"""

LUA_PATHS = r"""
local paths = {{ {paths} }}
local i = 0
function request()
  i = i + 1
  return wrk.format(nil, paths[(i % #paths) + 1])
end
"""

LUA_GIVE = r"""
local recipients = {{ {recipients} }}
local values = {{ {values} }}
local texts = {{ {texts} }}
local counter = 0
local tid = 0
local nonce = "{nonce}"

function setup(thread)
  tid = tid + 1
  thread:set("tid", tid)
end

function init(args)
  math.randomseed(os.time() + (tid or 0) * 7919)
end

function request()
  counter = counter + 1
  local r1 = recipients[math.random(#recipients)]
  local body = "csrf_token={csrf}&recipients=" .. r1
  if math.random() < 0.3 then
    local r2 = recipients[math.random(#recipients)]
    if r2 ~= r1 then body = body .. "&recipients=" .. r2 end
  end
  body = body .. "&values=" .. values[math.random(#values)]
  body = body .. "&text=" .. texts[math.random(#texts)] .. "&visibility=org&feature_consent=1"
  body = body .. "&idempotency_key={prefix}" .. nonce .. "-" .. tostring(tid) .. "-" .. counter
  return wrk.format("POST", "{path}", nil, body)
end
"""

GIVE_TEXTS = (
    "Takk for at du tok ekstra vakt på kort varsel i dag.",
    "Så bra at du hjalp den nye kollegaen med turnusen!",
    "Du holdt roen i en vanskelig situasjon. Det betydde mye for beboeren.",
    "Tusen takk for vaflene på personalmøtet, de løftet hele avdelingen.",
)


def thousands(n: float) -> str:
    return f"{n:,.0f}".replace(",", " ")


def lua_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=True)  # a JSON string is a valid Lua string here


# --- processes ------------------------------------------------------------------------------


def tree_cpu_seconds(roots: list[int]) -> float:
    """User + system CPU time of these processes and all their descendants (Linux /proc)."""
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone
        pid = int(entry.name)
        parent[pid] = int(fields[1])
        cpu[pid] = sum(int(f) for f in fields[11:15]) / tick  # utime stime cutime cstime
    total = 0.0
    for pid, seconds in cpu.items():
        p = pid
        while p > 1:
            if p in roots:
                total += seconds
                break
            p = parent.get(p, 0)
    return total


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def fetch(
    url: str, headers: dict[str, str], data: bytes | None = None
) -> tuple[int, bytes, dict[str, str]]:
    """One request without following redirects: (status, body, headers)."""
    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - loopback only
    try:
        with opener.open(req, timeout=30) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


class PgCluster:
    """A throwaway PostgreSQL on loopback (initdb + pg_ctl; as `postgres` when run as root)."""

    def __init__(self, core: int | None) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            raise SystemExit("PostgreSQL is not installed (apt-get install -y postgresql)")
        self.bindir = found[-1].parent
        self.tmp = Path(tempfile.mkdtemp(prefix="tod-bench-pg-"))
        self.port = free_port()
        self.core = core
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(pinned(cmd, self.core), check=True, capture_output=True)

    def start(self) -> str:
        if self.as_root:
            shutil.chown(self.tmp, "postgres")
        data = str(self.tmp / "data")
        self._run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.tmp} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=512MB "
            "-c max_wal_size=4GB -c maintenance_work_mem=256MB"
        )
        self._run("pg_ctl", "-D", data, "-l", str(self.tmp / "log"), "-w", "-o", opts, "start")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def pid(self) -> int:
        return int((self.tmp / "data" / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.tmp / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


# --- the database side: plans and query times -----------------------------------------------


def capture(engine: Engine) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def _before(_conn: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", _before)
    return seen


def feed_statement(seen: list[tuple[str, Any]]) -> tuple[str, Any]:
    return next(s for s in seen if "FROM recognition" in s[0] and "ORDER BY" in s[0])


def explain(engine: Engine, statement: str, params: Any) -> list[str]:
    if engine.dialect.name == "sqlite":
        prefix = "EXPLAIN QUERY PLAN "
    else:
        prefix = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + statement, params).all()
    return [str(r[-1]) for r in rows]


def median_ms(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def database_report(url: str, creds: dict[str, Any], repeat: int) -> list[str]:
    """EXPLAIN of the home feed query, and its time at the newest page and deep in history."""
    from app.db import make_engine
    from app.orgs.models import Person
    from app.recognition import feeds as service
    from app.recognition.models import Recognition

    engine = make_engine(url)
    seen = capture(engine)
    lines: list[str] = []
    with Session(engine) as session:
        person = session.get(Person, creds["person_id"])
        assert person is not None
        org_rows = session.execute(
            text("SELECT count(*) FROM recognition WHERE org_id = :o AND listed = :t"),
            {"o": person.org_id, "t": True},
        ).scalar_one()
        total = session.execute(text("SELECT count(*) FROM recognition")).scalar_one()
        deep_offset = int(org_rows * 0.9)
        deep_id = session.execute(
            text(
                "SELECT id FROM recognition WHERE org_id = :o AND listed = :t "
                "ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET :n"
            ),
            {"o": person.org_id, "t": True, "n": deep_offset},
        ).scalar_one()
        deep_rec = session.get(Recognition, deep_id)
        assert deep_rec is not None
        deep_cursor = service.encode_cursor(deep_rec)
    lines.append(
        f"recognitions: {thousands(total)} in all; {thousands(org_rows)} listed in "
        f"{creds['org']} (the benchmark person's home feed)"
    )

    pages = {
        "newest page": None,
        f"deep page ({thousands(deep_offset)} rows back, {deep_rec.created_at:%Y-%m-%d})": (
            deep_cursor
        ),
    }
    for label, cursor in pages.items():
        seen.clear()
        with Session(engine) as session:
            person = session.get(Person, creds["person_id"])
            service.feed(session, person, cursor=cursor)  # type: ignore[arg-type]
        statement, params = feed_statement(seen)

        def run_query(statement: str = statement, params: Any = params) -> None:
            with engine.connect() as conn:
                conn.exec_driver_sql(statement, params).all()

        def run_feed(cursor: str | None = cursor) -> None:
            with Session(engine) as session:
                person = session.get(Person, creds["person_id"])
                service.feed(session, person, cursor=cursor)  # type: ignore[arg-type]

        run_query()  # warm the cache
        query_ms = median_ms(run_query, repeat)
        feed_ms = median_ms(run_feed, repeat)
        lines.append("")
        lines.append(
            f"{label}: feed query {query_ms:.2f} ms, service.feed() with its "
            f"relations and reactions {feed_ms:.2f} ms (median of {repeat})"
        )
        lines.append(f"  SQL: {' '.join(statement.split())}")
        lines.extend(f"  {line}" for line in explain(engine, statement, params))

    # The same deep page with the cursor as one row-value comparison, which both databases
    # can seek to in the feed index. Not what the app runs today: a proposed fix, measured.
    at, rid = service.decode_cursor(deep_cursor)
    fixed = (
        select(Recognition)
        .where(
            Recognition.org_id == deep_rec.org_id,
            col(Recognition.listed).is_(True),
            tuple_(col(Recognition.created_at), col(Recognition.id)) < (at, rid),
        )
        .order_by(col(Recognition.created_at).desc(), col(Recognition.id).desc())
        .limit(21)
    )
    with Session(engine) as session:
        person = session.get(Person, creds["person_id"])
        page = service.feed(session, person, cursor=deep_cursor)  # type: ignore[arg-type]
        expected = [r.id for r in page.items]
    seen.clear()
    with engine.connect() as conn:
        got = [row.id for row in conn.execute(fixed)][: len(expected)]
    statement, params = feed_statement(seen)

    def run_fixed() -> None:
        with engine.connect() as conn:
            conn.execute(fixed).all()

    run_fixed()
    lines.append("")
    lines.append(
        f"deep page, proposed fix (cursor as a row value, (created_at, id) < (:at, :id)): "
        f"feed query {median_ms(run_fixed, repeat):.2f} ms; the same rows as the app's "
        f"query: {'yes' if got == expected else 'NO'}"
    )
    lines.append(f"  SQL: {' '.join(statement.split())}")
    lines.extend(f"  {line}" for line in explain(engine, statement, params))
    engine.dispose()
    return lines


def delete_bench_gifts(url: str, person_id: int) -> int:
    from app.db import make_engine  # foreign keys on: recipients, values, outbox cascade

    engine = make_engine(url)
    with engine.begin() as conn:
        deleted = conn.execute(
            text("DELETE FROM recognition WHERE giver_id = :p AND idempotency_key LIKE :k"),
            {"p": person_id, "k": BENCH_KEY_PREFIX + "%"},
        ).rowcount
    engine.dispose()
    return int(deleted or 0)


# --- the load -------------------------------------------------------------------------------


@dataclass
class Result:
    target: str
    requests: int = 0
    seconds: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    errors: int = 0
    socket_errors: int = 0
    cpu_ms: float = 0.0  # server CPU time per request
    note: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def row(self) -> str:
        if self.note and not self.requests:
            return f"| {self.target} | – | – | – | – | {self.note} | – |"
        errors = f"{self.errors}" + (
            f" (+{self.socket_errors} socket)" if self.socket_errors else ""
        )
        note = f" {self.note}" if self.note else ""
        return (
            f"| {self.target} | {thousands(self.rps)} | {self.p50:.1f} | {self.p95:.1f} | "
            f"{self.p99:.1f} | {errors}{note} | {self.cpu_ms:.2f} |"
        )


def run_wrk(
    url: str, script: Path, args: argparse.Namespace, duration: int, core: int | None
) -> dict[str, float]:
    cmd = pinned(
        [
            "wrk",
            f"-t{args.threads}",
            f"-c{args.connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        core,
    )
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30, check=True)
    match = re.search(r"^BENCH (.*)$", out.stdout, re.M)
    if not match:
        raise RuntimeError(f"wrk printed no BENCH line:\n{out.stdout}\n{out.stderr}")
    return {k: float(v) for k, v in (kv.split("=") for kv in match.group(1).split())}


@contextlib.contextmanager
def app_server(
    url: str, port: int, secret: str, args: argparse.Namespace, tmp: Path
) -> Iterator[tuple[str, int]]:
    env = {
        **os.environ,
        "TOD_ENV": "production",
        "TOD_SECRET_KEY": secret,
        "TOD_SCHEDULER": "off",
        "TOD_DATABASE_URL": url,
        "TOD_MEDIA_URL": f"file:{tmp / 'media'}",
        "TOD_BASE_URL": f"http://127.0.0.1:{port}",
        "TOD_WORKERS": "1",
        "TOD_WRITE_RATE_PER_MINUTE": "100000000",
        "TOD_LOG_LEVEL": args.log_level,
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp / "app.log"
    cmd = [
        sys.executable,
        "-m",
        "app",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            pinned(cmd, args.server_core), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", proc, log)
        yield base, proc.pid
    finally:
        stop(proc)


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
    default_type text/html;
    location / {{ try_files /home.html =404; }}
  }}
}}
"""


@contextlib.contextmanager
def nginx_server(body: bytes, args: argparse.Namespace, tmp: Path) -> Iterator[tuple[str, int]]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is missing: apt-get install -y nginx-light")
    port = free_port()
    www = tmp / "www"
    www.mkdir()
    (www / "home.html").write_bytes(body)
    for path in (tmp, www, www / "home.html"):  # nginx's worker runs as nobody
        path.chmod(0o755 if path.is_dir() else 0o644)
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
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
        wait_http(f"{base}/", proc, log)
        yield base, proc.pid
    finally:
        stop(proc, signal.SIGQUIT)


@dataclass
class Target:
    key: str
    label: str
    base: str
    paths: list[str]
    headers: dict[str, str]
    lua: str = ""
    pids: tuple[int, ...] = ()  # the server side, for its CPU time


def write_script(tmp: Path, target: Target) -> Path:
    lines = "\n".join(
        f"wrk.headers[{lua_str(k)}] = {lua_str(v)}" for k, v in target.headers.items()
    )
    body = target.lua or LUA_PATHS.format(paths=", ".join(map(lua_str, target.paths)))
    path = tmp / f"{target.key}.lua"
    body = body.replace("%NONCE%", secrets.token_hex(6))
    path.write_text(LUA_HEADERS.format(headers=lines) + body + LUA_DONE)
    return path


def measure(target: Target, args: argparse.Namespace, tmp: Path) -> tuple[Result, int]:
    """A warm-up run, then the measured one; returns the result and the warm-up's requests."""
    warm: dict[str, float] = {}
    if args.warmup:
        warm = run_wrk(target.base, write_script(tmp, target), args, args.warmup, args.wrk_core)
    script = write_script(tmp, target)
    cpu_before = tree_cpu_seconds(list(target.pids))
    raw = run_wrk(target.base, script, args, args.duration, args.wrk_core)
    cpu = tree_cpu_seconds(list(target.pids)) - cpu_before
    result = Result(
        target=target.label,
        requests=int(raw["requests"]),
        seconds=raw["duration_us"] / 1e6,
        p50=raw["p50_us"] / 1000,
        p95=raw["p95_us"] / 1000,
        p99=raw["p99_us"] / 1000,
        errors=int(raw["status"]),
        socket_errors=int(raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]),
        cpu_ms=cpu * 1000 / raw["requests"] if raw["requests"] else 0.0,
    )
    return result, int(warm.get("requests", 0))


def run(args: argparse.Namespace) -> int:
    cluster: PgCluster | None = None
    url: str = args.database_url or ""
    creds_path: Path = args.credentials
    tmp = Path(tempfile.mkdtemp(prefix="tod-bench-"))
    try:
        if args.postgres and not url:
            cluster = PgCluster(args.server_core)
            url = cluster.start()
            print(f"throwaway PostgreSQL at {url} (pinned to core {args.server_core})")
            if creds_path == DEFAULT_CREDENTIALS:
                creds_path = DATA_DIR / "credentials-pg.json"
            generate(
                url,
                people=args.people,
                recognitions=args.recognitions,
                seed=args.seed,
                credentials=creds_path,
            )
        url = url or DEFAULT_URL
        if not creds_path.exists():
            raise SystemExit(f"{creds_path} is missing: run bench/generate.py first")
        creds = json.loads(creds_path.read_text())
        if creds["database_url"] != url:
            raise SystemExit(
                f"{creds_path} belongs to {creds['database_url']}, not {url}: "
                "run bench/generate.py for this database or pass --credentials"
            )
        return benchmark(url, creds, args, tmp, cluster.pid if cluster else None)
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def benchmark(
    url: str, creds: dict[str, Any], args: argparse.Namespace, tmp: Path, db_pid: int | None
) -> int:
    from app import migrate

    org = creds["org"]
    backend = make_url(url).get_backend_name()
    try:
        migrate.upgrade(url)  # the code under test may be a migration ahead of the data
    except Exception as exc:
        raise SystemExit(
            f"could not bring the database to the newest migration ({exc}); "
            "generate it again: bench/generate.py --force"
        ) from exc
    load1, load5, _ = os.getloadavg()
    print(
        f"\n# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
        f"load average {load1:.2f} / {load5:.2f} (1 / 5 min), database: {backend}, "
        f"commit {git_revision()}"
    )
    if load1 > 1.0:
        print("warning: the machine is busy; figures will be lower and noisier than on a quiet one")
    removed = delete_bench_gifts(url, creds["person_id"])
    if removed:
        print(f"removed {removed} recognitions left by an earlier run")

    if not args.skip_explain:
        print("\n## The home feed query (service.feed, kind=all) for the biggest organisation\n")
        for line in database_report(url, creds, args.repeat):
            print(line)

    secret = secrets.token_urlsafe(48)
    # The form token is bound to the CSRF cookie and the session (app/web.py `_csrf_mac`).
    csrf = hmac.new(
        secret.encode(), f"{CSRF_COOKIE_VALUE}\x00{creds['session']}".encode(), hashlib.sha256
    ).hexdigest()
    cookie = f"tod_session={creds['session']}; tod_csrf={CSRF_COOKIE_VALUE}"
    results: list[Result] = []
    sent_to_give = 0
    wanted = set(args.targets.split(",")) if args.targets else None

    def want(key: str) -> bool:
        return wanted is None or key in wanted

    with app_server(url, free_port(), secret, args, tmp) as (base, app_pid):
        status, home, _ = fetch(f"{base}/{org}/", {"Cookie": cookie, "Accept-Language": "nb"})
        if status != 200:
            raise SystemExit(
                f"GET /{org}/ answered {status}: is the session in the credentials valid?"
            )
        with nginx_server(home, args, tmp) as (static_base, nginx_pid):
            s_status, s_body, _ = fetch(f"{static_base}/", {})
            assert s_status == 200 and s_body == home, "nginx does not serve the same bytes"
            print(
                f"\n## Load: wrk -t{args.threads} -c{args.connections} -d{args.duration}s "
                f"(+{args.warmup} s warm-up), app and nginx on core {args.server_core}, "
                f"wrk on core {args.wrk_core}; home page {thousands(len(home))} bytes\n"
            )

            api_path = f"/api/v1/orgs/{org}/recognitions"
            people_paths = [
                f"/{org}/give/people?q={urllib.parse.quote(q)}" for q in creds["queries"]
            ]
            session_h = {"Cookie": cookie}
            htmx_h = {"Cookie": cookie, "HX-Request": "true"}
            bearer_h = {"Authorization": f"Bearer {creds['api_token']}"}
            form_h = {
                "Cookie": cookie,
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": base,  # the app refuses cookie writes from another origin
            }
            give_lua = LUA_GIVE.format(
                recipients=", ".join(map(str, creds["recipient_ids"])),
                values=", ".join(map(str, creds["value_ids"])),
                texts=", ".join(lua_str(urllib.parse.quote_plus(t)) for t in GIVE_TEXTS),
                nonce="%NONCE%",  # a new one for every run of wrk: keys never repeat
                csrf=csrf,
                prefix=BENCH_KEY_PREFIX,
                path=f"/{org}/give",
            )
            targets = [
                Target(
                    "static",
                    f"nginx static file ({len(home)} B, the home page's bytes)",
                    static_base,
                    ["/"],
                    {},
                ),
                Target("healthz", "app: GET /healthz (trivial)", base, ["/healthz"], {}),
                Target(
                    "home",
                    f"app: GET /{org}/ (home feed page, cookie)",
                    base,
                    [f"/{org}/"],
                    session_h,
                ),
                Target("api", f"app: GET {api_path} (Bearer)", base, [api_path], bearer_h),
                Target(
                    "people",
                    f"app: GET /{org}/give/people?q= ({len(people_paths)} queries, htmx)",
                    base,
                    people_paths,
                    htmx_h,
                ),
                Target(
                    "give",
                    f"app: POST /{org}/give (form, answers 303)",
                    base,
                    [],
                    form_h,
                    lua=give_lua,
                ),
            ]
            # CPU per request: nginx's processes; the app's, plus PostgreSQL's when it is ours.
            app_side = (app_pid, db_pid) if db_pid else (app_pid,)
            for target in targets:
                target.pids = (nginx_pid,) if target.key == "static" else app_side
            print(
                "server CPU ms/req: "
                + (
                    "nginx, or the app process plus the whole PostgreSQL cluster"
                    if db_pid
                    else "nginx, or the app process"
                    + (" (not the external PostgreSQL server)" if backend != "sqlite" else "")
                )
                + "\n"
            )
            for target in targets:
                if not want(target.key):
                    continue
                # One request first: a redirect to the login page would count as a success.
                if target.paths:
                    got, _, _ = fetch(target.base + target.paths[0], target.headers)
                    if got != 200:
                        if target.key == "api" and got in (404, 405):
                            results.append(Result(target.label, note="no such API yet (404)"))
                            continue
                        raise SystemExit(f"{target.key}: {target.paths[0]} answered {got}")
                else:
                    probe = urllib.parse.urlencode(
                        {
                            "csrf_token": csrf,
                            "recipients": creds["recipient_ids"][0],
                            "values": creds["value_ids"][0],
                            "text": GIVE_TEXTS[0],
                            "idempotency_key": f"{BENCH_KEY_PREFIX}probe-{secrets.token_hex(4)}",
                        }
                    ).encode()
                    got, _, _ = fetch(f"{base}/{org}/give", form_h, probe)
                    if got != 303:
                        raise SystemExit(f"give: POST /{org}/give answered {got}, not 303")
                result, warm = measure(target, args, tmp)
                if target.key == "give":
                    sent_to_give = 1 + warm + result.requests
                results.append(result)
                print(f"  {result.row()}  (load average {os.getloadavg()[0]:.2f})", flush=True)

    given = delete_bench_gifts(url, creds["person_id"])
    print(
        "\n| target | req/s | p50 ms | p95 ms | p99 ms | errors (non-2xx/3xx) | server CPU ms/req |"
    )
    print("|---|---:|---:|---:|---:|---|---:|")
    for result in results:
        print(result.row())
    if sent_to_give:
        print(
            f"\ngiving created {given} recognitions for {sent_to_give} completed requests "
            "(probe, warm-up and measured run; requests still in flight at the end also "
            "count); all deleted again"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help=f"default: {DEFAULT_URL}")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="start a throwaway PostgreSQL cluster and generate the data into it first",
    )
    parser.add_argument("--credentials", type=Path, default=DEFAULT_CREDENTIALS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--duration", type=int, default=10, help=f"seconds, at most {MAX_DURATION}")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load first")
    parser.add_argument(
        "--targets", help="comma-separated subset of: static,healthz,home,api,people,give"
    )
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--wrk-core", type=int, default=1)
    parser.add_argument("--log-level", default="INFO", help="the app's TOD_LOG_LEVEL")
    parser.add_argument("--repeat", type=int, default=20, help="runs per timed query")
    parser.add_argument("--skip-explain", action="store_true")
    parser.add_argument("--people", type=int, default=10_000, help="with --postgres")
    parser.add_argument("--recognitions", type=int, default=1_000_000, help="with --postgres")
    parser.add_argument("--seed", type=int, default=1, help="with --postgres")
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= MAX_DURATION or not 0 <= args.warmup <= 5:
        parser.error(f"--duration must be 1-{MAX_DURATION} and --warmup 0-5 seconds")
    for tool in ("wrk",):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is missing: apt-get install -y wrk nginx-light")
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
