"""The app run the way it runs: `python -m app serve` in its own process, driven over HTTP.

In-process tests share one database connection, so they cannot see what only happens between
connections: a request's session holding SQLite's write lock while something else in the same
request opens a second writing session waits for it until the busy timeout and answers 500
("database is locked"). That is how every API write with a fresh token failed on a real
server while the suite was green. Here the server runs on a fresh SQLite file (and once on
PostgreSQL) with production settings, the in-process scheduler and a real SMTP server; it is
set up with the CLI as an operator would, and the main flows run against it with a cookie
session (magic link from the e-mail, CSRF token from the page) and with bearer tokens.

Any 5xx answer fails the test that got it; a 5xx, "database is locked", a failed job or a
Traceback in the server's log fails the test during which it was written, and the module.
Every unsafe operation of the JSON API must succeed here at least once: the last test compares
what was called with the server's own OpenAPI document.
"""

import io
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from PIL import Image

from tests.conftest import Inbox, _pg_database, smtp_inbox
from tests.pg import _free_port

pytestmark = pytest.mark.xdist_group("real_server")

ROOT = Path(__file__).resolve().parent.parent
ORG = "realby"
API = f"/api/v1/orgs/{ORG}"
SECRET = "real-server-test-secret-0123456789-abcdefghijklmnop"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Longer than the SQLite busy timeout (10 s): a request stuck behind a lock answers 500 first.
TIMEOUT = 30.0
PEOPLE_CSV = """email,name,department,title,role
kurator@realby.no,Kari Kurator,Kommunikasjon,Kommunikasjonsrådgiver,curator
leder@realby.no,Lars Leder,Helse,Avdelingsleder,leader
ansatt1@realby.no,Anne Ansatt,Helse,Sykepleier,employee
ansatt2@realby.no,Bjørn Ansatt,Helse,Helsefagarbeider,employee
ansatt3@realby.no,Cecilie Ansatt,Skole,Lærer,employee
ansatt4@realby.no,Dag Ansatt,Skole,Lærer,employee
ansatt5@realby.no,Eva Ansatt,Teknisk,Ingeniør,employee
"""
CONCURRENT_WRITERS = 6
CONCURRENT_CSV = "".join(
    f"samtidig{n}@realby.no,Samtidig {n},Teknisk,Driftsoperatør,employee\n"
    for n in range(1, CONCURRENT_WRITERS + 1)
)
# Tokens made before the first test with `python -m app token create` and, once the server
# runs, with the admin's tokens page (a CLI start costs seconds on a busy machine). All but the
# leader's (a GET) are first used by a write, the case that took the write lock twice.
CLI_TOKENS = ("ansatt4",)
PAGE_TOKENS = ("kurator", "leder", "ansatt1", "ansatt2", "ansatt3", "ansatt5")

# What must never be in the server's output.
LOG_PROBLEMS = re.compile(
    r'"status": 5\d\d|database is locked|Traceback|^job \S+ failed|^weekly: organisation .* failed',
    re.MULTILINE,
)


def email(name: str) -> str:
    return f"{name}@{ORG}.no"


_shade = iter(range(1, 10_000))


def jpeg(width: int = 480, height: int = 360) -> bytes:
    """A small real JPEG, different every time (the media store refuses duplicates)."""
    n = next(_shade)
    rng = random.Random(n)
    image = Image.new("RGB", (width, height), ((n * 37) % 256, (n * 91) % 256, (n * 53) % 256))
    pixels = image.load()
    assert pixels is not None
    for _ in range(400):
        x, y = rng.randrange(width), rng.randrange(height)
        pixels[x, y] = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def photo_file(name: str = "photo.jpg") -> tuple[str, bytes, str]:
    return (name, jpeg(), "image/jpeg")


NAMES = {
    line.split(",")[0].split("@")[0]: line.split(",")[1]
    for line in (PEOPLE_CSV + CONCURRENT_CSV).splitlines()[1:]
}


@dataclass
class Directory:
    people: dict[str, int]  # by e-mail user part: "ansatt1"
    values: dict[str, int]  # by name


# --- the server -----------------------------------------------------------------------------


@dataclass
class Server:
    """One `python -m app serve` process and what the tests learnt about it."""

    database: str
    base_url: str
    env: dict[str, str]
    log_path: Path
    inbox: Inbox
    tokens: dict[str, str] = field(default_factory=dict)
    unsafe_operations: dict[tuple[str, str], re.Pattern[str]] = field(default_factory=dict)
    called: set[tuple[str, str]] = field(default_factory=set)
    log_checked: int = 0
    directory: Directory | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def cli(self, *args: str, expect: int = 0) -> str:
        """`python -m app ...` against the server's database; its standard output."""
        result = subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == expect, f"{args}: {result.stdout}{result.stderr}"
        return result.stdout

    def create_token(self, who: str) -> str:
        out = self.cli("token", "create", "--org", ORG, "--email", email(who), "--name", who)
        return out.strip().splitlines()[-1]

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def new_log_problems(self) -> list[str]:
        """Problem lines written to the log since the last call."""
        text = self.log()
        fresh, self.log_checked = text[self.log_checked :], len(text)
        return problems(fresh)

    def _on_response(self, response: httpx.Response) -> None:
        request = response.request
        if response.status_code >= 500:
            response.read()
            raise AssertionError(
                f"{request.method} {request.url.path} answered {response.status_code} "
                f"(X-Request-ID {response.headers.get('x-request-id')}): {response.text[:500]}"
            )
        if request.method in UNSAFE and 200 <= response.status_code < 300:
            for (method, template), pattern in self.unsafe_operations.items():
                if method == request.method and pattern.fullmatch(request.url.path):
                    with self.lock:
                        self.called.add((method, template))

    def client(self, token: str | None = None) -> httpx.Client:
        # Without a token it is a browser: it sends the page's origin with every POST.
        headers = {"Authorization": f"Bearer {token}"} if token else {"Origin": self.base_url}
        return httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=TIMEOUT,
            event_hooks={"response": [self._on_response]},
        )

    def api(self, who: str) -> httpx.Client:
        """A client with `who`'s token, made before the tests started and not used yet."""
        return self.client(self.tokens[who])

    def browser(self) -> "Browser":
        return Browser(self, self.client())

    def load_openapi(self) -> None:
        with self.client() as c:
            spec = c.get("/api/v1/openapi.json").json()
        for template, operations in spec["paths"].items():
            pattern = re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)))
            for method in operations:
                if method.upper() in UNSAFE:
                    self.unsafe_operations[(method.upper(), template)] = pattern


def problems(log: str) -> list[str]:
    return [line for line in log.splitlines() if LOG_PROBLEMS.search(line)]


def _server_env(database_url: str, port: int, tmp: Path, smtp_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOD_")}
    env.update(
        {
            "TOD_ENV": "production",
            "TOD_SECRET_KEY": SECRET,
            "TOD_SCHEDULER": "on",
            "TOD_DATABASE_URL": database_url,
            "TOD_BASE_URL": f"http://127.0.0.1:{port}",
            "TOD_SMTP_URL": smtp_url,
            "TOD_MAIL_FROM": "Tre om dagen <noreply@realby.no>",
            "TOD_MEDIA_URL": f"file:{tmp / 'media'}",
            "TOD_HOST": "127.0.0.1",
            "TOD_PORT": str(port),
            # Whatever a developer's .env says: one process, and a log line per request.
            "TOD_WORKERS": "1",
            "TOD_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _wait_until_healthy(proc: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"the server exited with {proc.returncode}:\n{log_path.read_text()}"
            )
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).text == "ok":
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server did not answer /healthz in 60 s:\n{log_path.read_text()}")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The app on a fresh database, set up with the CLI, serving on a free loopback port."""
    tmp = tmp_path_factory.mktemp(f"real-server-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'tod.db'}"
    else:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        url = _pg_database(f"tod_real_server_{worker}")
    port = _free_port()
    with smtp_inbox() as inbox:
        srv = Server(
            database=request.param,
            base_url=f"http://127.0.0.1:{port}",
            env=_server_env(url, port, tmp, inbox.url),
            log_path=tmp / "server.log",
            inbox=inbox,
        )
        # The operator's steps: the schema, then (while the server starts: a CLI start costs
        # seconds on a busy machine) the organisation with its first admin, people, a token.
        srv.cli("db", "upgrade")
        people = tmp / "people.csv"
        people.write_text(PEOPLE_CSV + CONCURRENT_CSV, encoding="utf-8")
        with srv.log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "app", "serve", "--port", str(port)],
                cwd=ROOT,
                env=srv.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                srv.cli(
                    "org", "create", "--slug", ORG, "--name", "Realby kommune",
                    "--values", "Engasjement,Samarbeid,Servicefokus", "--admin", email("admin"),
                )  # fmt: skip
                srv.cli("people", "import", str(people), "--org", ORG)
                srv.tokens = {who: srv.create_token(who) for who in CLI_TOKENS}
                _wait_until_healthy(proc, srv.base_url, srv.log_path)
                srv.load_openapi()
                with srv.browser().log_in("admin") as admin:
                    srv.tokens.update({who: admin.create_token(who) for who in PAGE_TOKENS})
                yield srv
            finally:
                proc.terminate()
                code: int | None
                try:
                    code = proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    code = None
    log_text = srv.log()
    found = problems(log_text)
    assert not found, f"the server logged problems ({srv.log_path}):\n" + "\n".join(found)
    # uvicorn re-raises the SIGTERM it handled once it has shut down.
    stopped = code in (0, -signal.SIGTERM) and "Application shutdown complete" in log_text
    assert stopped, f"the server did not stop cleanly (exit {code}):\n{log_text[-3000:]}"


@pytest.fixture(autouse=True)
def _clean_server_log(server: Server) -> Iterator[None]:
    """Fail the test during which the server logged a 5xx, a lock error or a Traceback."""
    server.new_log_problems()  # what came before (the scheduler, say) is another test's
    yield
    time.sleep(0.2)  # background tasks of the last response (e-mail) log after it
    found = server.new_log_problems()
    assert not found, f"the server logged problems ({server.log_path}):\n" + "\n".join(found)


# --- a browser: cookies, CSRF token from the page, magic link from the e-mail -------------


CSRF_META = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)"')
HIDDEN = r'<input type="hidden" name="{}" value="([^"]*)"'


@dataclass
class Browser:
    server: Server
    http: httpx.Client
    token: str = ""

    def get(self, url: str, **kw: Any) -> httpx.Response:
        response = self.http.get(url, **kw)
        if match := CSRF_META.search(response.text):
            self.token = match.group(1)
        return response

    def page(self, url: str) -> httpx.Response:
        response = self.get(url)
        assert response.status_code == 200, f"GET {url}: {response.status_code}"
        return response

    def submit(
        self,
        url: str,
        data: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
        expect: int | tuple[int, ...] = 303,
    ) -> httpx.Response:
        """POST a form as the page would (with its CSRF token field), not following redirects."""
        if not self.token:
            self.get("/login")
        response = self.http.post(url, data={"csrf_token": self.token, **(data or {})}, files=files)
        assert response.status_code in (expect if isinstance(expect, tuple) else (expect,)), (
            f"POST {url}: {response.status_code} {response.text[:800]}"
        )
        if match := CSRF_META.search(response.text):
            self.token = match.group(1)
        return response

    def htmx(self, url: str, data: dict[str, Any]) -> httpx.Response:
        """POST as htmx does from the page: the token from the meta tag in a header."""
        response = self.http.post(
            url, data=data, headers={"HX-Request": "true", "X-CSRF-Token": self.token}
        )
        assert response.status_code == 200, f"htmx POST {url}: {response.status_code}"
        return response

    def log_in(self, who: str) -> "Browser":
        """Ask for a login link, read it from the e-mail, confirm it on its page."""
        inbox = self.server.inbox
        seen = len(inbox.messages)
        self.page("/login")
        self.submit("/login", {"email": email(who)}, expect=200)
        mail = inbox.wait_for(lambda m: m["To"] == email(who), after=seen)
        body = mail.get_body(preferencelist=("plain",)).get_content()
        link = re.search(re.escape(self.server.base_url) + r"(/auth/magic/[\w-]+)", body)
        assert link, body
        self.page(link.group(1))
        response = self.submit(link.group(1))
        assert response.headers["location"] == f"/{ORG}/"
        assert "tod_session" in self.http.cookies
        self.page(f"/{ORG}/")
        return self

    def create_token(self, who: str) -> str:
        """As an admin: a token for `who` from the tokens page (the secret is shown once)."""
        page = self.page(f"/{ORG}/admin/tokens")
        option = re.search(
            rf'<option value="(\d+)">[^<]*\({re.escape(email(who))}\)</option>', page.text
        )
        assert option, page.text[:3000]
        created = self.submit(
            f"/{ORG}/admin/tokens", {"person": option.group(1), "name": who}, expect=200
        )
        raw = re.search(r'id="raw-token" type="text" value="([^"]+)"', created.text)
        assert raw, created.text[:3000]
        return raw.group(1)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def browsers(server: Server) -> Iterator[dict[str, Browser]]:
    """Signed-in browsers by person, logged in on first use."""
    opened: dict[str, Browser] = {}

    class Lazy(dict[str, Browser]):
        def __missing__(self, who: str) -> Browser:
            opened[who] = self[who] = server.browser().log_in(who)
            return opened[who]

    yield Lazy()
    for b in opened.values():
        b.close()


@pytest.fixture
def apis(server: Server) -> Iterator[dict[str, httpx.Client]]:
    """API clients by person, with the tokens made for them before the tests."""
    opened: dict[str, httpx.Client] = {}

    class Lazy(dict[str, httpx.Client]):
        def __missing__(self, who: str) -> httpx.Client:
            opened[who] = self[who] = server.api(who)
            return opened[who]

    yield Lazy()
    for c in opened.values():
        c.close()


def people_and_values(server: Server) -> Directory:
    """Person and value ids, read once through the API (the leader's token: a GET first)."""
    found = server.directory
    if found is None:
        with server.api("leder") as c:
            by_name = {
                p["name"]: p["id"] for p in c.get(f"{API}/people", params={"limit": 200}).json()
            }
            values = {v["name"]: v["id"] for v in c.get(f"{API}/values").json()}
        found = Directory({who: by_name[name] for who, name in NAMES.items()}, values)
        server.directory = found
    return found


def give_in_page(b: Browser, to: list[int], value: int, text: str, **extra: Any) -> int:
    """Give through the give page's form (its idempotency key included); the new id."""
    page = b.page(f"/{ORG}/give")
    key = re.search(HIDDEN.format("idempotency_key"), page.text)
    assert key, page.text[:2000]
    files = extra.pop("files", None)
    data = {
        "idempotency_key": key.group(1),
        "recipients": [str(i) for i in to],
        "values": [str(value)],
        "text": text,
        "visibility": "org",
        **extra,
    }
    response = b.submit(f"/{ORG}/give", data, files=files)
    given = re.fullmatch(rf"/{ORG}/given/(\d+)", response.headers["location"])
    assert given, response.headers["location"]
    b.page(given.group(0))
    return int(given.group(1))


# --- the tests, in the order a new organisation lives through them ------------------------


def test_the_server_is_healthy_ready_and_describes_its_api(server: Server) -> None:
    with server.client() as c:
        assert c.get("/healthz").text == "ok"
        ready = c.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True, ready.text
        login = c.get("/login")
        assert login.status_code == 200
        assert "server" not in login.headers  # no banner naming the software
        assert login.headers["cache-control"] == "private, no-store"
        # Production over plain http (a proxy in front terminates TLS): no Secure cookies,
        # or a browser on this URL would never send them back.
        assert "Secure" not in login.headers["set-cookie"]
        assert c.get(f"/{ORG}/", follow_redirects=False).headers["location"].startswith("/login")
    assert ("POST", "/api/v1/orgs/{org}/media") in server.unsafe_operations
    log = server.log()
    assert "scheduler started" in log and "dev mode" not in log, log


def test_a_fresh_tokens_first_request_is_a_photo_upload(server: Server, apis: Any) -> None:
    """The bug of issue 9: the first write of a new token waited 10 s for its own lock."""
    people = people_and_values(server).people
    api = apis["ansatt4"]
    started = time.monotonic()
    upload = api.post(f"{API}/media", files={"file": photo_file()}, data={"alt": "Kaffekoppen"})
    assert upload.status_code == 201, upload.text
    assert time.monotonic() - started < 5
    photo = upload.json()
    assert photo["alt"] == "Kaffekoppen" and photo["variants"]
    variant = api.get(photo["variants"][0]["url"])
    assert variant.status_code == 200 and variant.headers["content-type"].startswith("image/")

    given = api.post(
        f"{API}/recognitions",
        json={
            "recipients": [email("ansatt5")],
            "values": ["Samarbeid"],
            "text": "Takk for at du tok vakta mi på kort varsel!",
            "photo_id": photo["id"],
        },
    )
    assert given.status_code == 201, given.text
    assert given.json()["photo"]["id"] == photo["id"]
    assert [r["id"] for r in given.json()["recipients"]] == [people["ansatt5"]]


def test_recognitions_through_the_api(server: Server, apis: Any) -> None:
    d = people_and_values(server)
    giver, recipient, curator = apis["ansatt1"], apis["ansatt2"], apis["kurator"]
    body = {
        "recipients": [email("ansatt2"), d.people["ansatt3"]],
        "values": ["Engasjement", d.values["Servicefokus"]],
        "text": "Dere ryddet lageret på en ettermiddag. Imponerende!",
    }
    key = {"Idempotency-Key": "real-server-give-1"}
    first = giver.post(f"{API}/recognitions", json=body, headers=key)  # the token's first use
    assert first.status_code == 201, first.text
    rec = first.json()["id"]
    again = giver.post(f"{API}/recognitions", json=body, headers=key)
    assert (again.status_code, again.json()["id"]) == (200, rec)

    r = f"{API}/recognitions/{rec}"
    on = recipient.post(f"{r}/reactions/heart")  # the recipient token's first use
    assert on.status_code == 200 and on.json() == {"kind": "heart", "on": True, "count": 1}
    assert recipient.post(f"{r}/reactions/heart").json()["on"] is False
    assert recipient.post(f"{r}/reactions/clap").json()["on"] is True
    assert recipient.post(f"{r}/hide", json={"hidden": True}).json() == {"hidden": True}
    assert recipient.post(f"{r}/hide", json={"hidden": False}).json() == {"hidden": False}
    out = recipient.post(f"{r}/feature-opt-out", json={"opt_out": True})
    assert out.json() == {"opt_out": True}
    assert recipient.post(f"{r}/feature-opt-out", json={"opt_out": False}).status_code == 200

    hidden = curator.post(f"{r}/moderate", json={"hidden": True, "reason": "Navn på en pasient"})
    assert hidden.status_code == 200 and hidden.json()["hidden"] is True, hidden.text
    assert recipient.get(r).status_code == 404
    assert curator.post(f"{r}/moderate", json={"hidden": False}).json()["hidden"] is False
    assert recipient.get(r).status_code == 200

    feed = recipient.get(f"{API}/recognitions", params={"feed": "to_me"})
    assert feed.status_code == 200, feed.text
    assert rec in [item["id"] for item in feed.json()["items"]]
    assert giver.get(f"{API}/me/today").json()["given_today"] >= 1

    oops = giver.post(
        f"{API}/recognitions",
        json={**body, "recipients": [email("ansatt3")], "text": "Feil person, beklager."},
    )
    assert oops.status_code == 201, oops.text
    gone = giver.delete(f"{API}/recognitions/{oops.json()['id']}")
    assert gone.status_code == 204, gone.text
    assert giver.get(f"{API}/recognitions/{oops.json()['id']}").status_code == 404


def test_a_token_revokes_itself(server: Server, browsers: Any) -> None:
    spare = browsers["admin"].create_token("ansatt5")
    with server.client(spare) as c:
        mine = c.get(f"{API}/me/tokens")
        assert mine.status_code == 200, mine.text
        token_id = next(t["id"] for t in mine.json() if spare.startswith(t["prefix"]))
        assert c.delete(f"{API}/me/tokens/{token_id}").status_code == 204
        assert c.get(f"{API}/me").status_code == 401


def test_a_cookie_session_gives_reacts_hides_moderates_and_logs_out(
    server: Server, browsers: Any
) -> None:
    d = people_and_values(server)
    giver = browsers["ansatt1"]
    plain = give_in_page(
        giver, [d.people["ansatt2"]], d.values["Samarbeid"], "Du hjalp meg med turnusen i dag."
    )
    with_photo = give_in_page(
        giver,
        [d.people["ansatt2"]],
        d.values["Engasjement"],
        "Se så fint det ble på avdelingen etter dugnaden!",
        photo_alt="Avdelingen pyntet",
        files={"photo": photo_file()},
    )
    page = giver.page(f"/{ORG}/r/{with_photo}")
    src = re.search(rf'<img src="(/{ORG}/media/\d+/[^"]+)"', page.text)
    assert src, page.text[:3000]
    image = giver.get(src.group(1))
    assert image.status_code == 200 and image.headers["content-type"].startswith("image/")

    giver.submit(f"/{ORG}/r/{plain}/react", {"kind": "clap"})
    fragment = giver.htmx(f"/{ORG}/r/{with_photo}/react", {"kind": "raise"})
    assert "<html" not in fragment.text and f"/{ORG}/r/{with_photo}/react" in fragment.text
    recipient = browsers["ansatt2"]
    recipient.page(f"/{ORG}/r/{plain}")
    recipient.submit(f"/{ORG}/r/{plain}/react", {"kind": "heart", "next": f"/{ORG}/"})
    recipient.submit(f"/{ORG}/r/{plain}/hide", {"hidden": "1"})
    recipient.submit(f"/{ORG}/r/{plain}/hide", {"hidden": ""})
    recipient.submit(f"/{ORG}/r/{plain}/feature", {"opt_out": "1"})
    recipient.submit(f"/{ORG}/r/{plain}/feature", {"opt_out": ""})
    recipient.page(f"/{ORG}/feed")
    recipient.page(f"/{ORG}/me")

    curator = browsers["kurator"]
    curator.page(f"/{ORG}/r/{plain}")
    curator.submit(f"/{ORG}/r/{plain}/moderate", {"hidden": "1", "reason": "Må sjekkes"})
    curator.submit(f"/{ORG}/r/{plain}/moderate", {"hidden": ""})

    giver.page(f"/{ORG}/r/{plain}/delete")
    giver.submit(f"/{ORG}/r/{plain}/delete", {"confirm": "yes"})
    assert giver.get(f"/{ORG}/r/{plain}").status_code == 404
    giver.submit("/auth/logout")
    assert giver.get(f"/{ORG}/", follow_redirects=False).status_code == 303


def mail_text(msg: Any) -> str:
    return str(msg.get_body(preferencelist=("plain",)).get_content())


def test_settings_and_a_people_import_from_the_admin_page(
    server: Server, browsers: Any, apis: Any
) -> None:
    member = browsers["ansatt5"]
    member.page(f"/{ORG}/me")
    member.submit("/lang", {"lang": "en", "next": f"/{ORG}/me"})
    assert '<html lang="en"' in member.page(f"/{ORG}/me").text
    member.submit(f"/{ORG}/me/language", {"lang": ""})
    member.submit(f"/{ORG}/me/notifications", {"email_frequency": "daily", "feature_choice": "ask"})

    # The import runs as a background task after the answer, in sessions of its own.
    admin = browsers["admin"]
    admin.page(f"/{ORG}/admin/people/import")
    csv = (
        "email,name,department,title,role\n"
        "nina.ny@realby.no,Nina Ny,Skole,Rektor,leader\n"
        "ansatt5@realby.no,Eva Ansatt,Teknisk,Overingeniør,employee\n"
    )
    started = admin.submit(
        f"/{ORG}/admin/people/import", files={"file": ("folk.csv", csv.encode(), "text/csv")}
    )
    job = started.headers["location"]
    deadline = time.monotonic() + 20
    while 'hx-trigger="every 1s"' in (progress := admin.page(job).text):
        assert time.monotonic() < deadline, progress[-2000:]
        time.sleep(0.2)
    assert 'class="error"' not in progress, progress[-2000:]
    found = apis["leder"].get(f"{API}/people", params={"q": "Rektor"}).json()
    assert [p["name"] for p in found] == ["Nina Ny"]
    assert apis["leder"].get(f"{API}/people", params={"q": "Overingeniør"}).json()


def consent_link(server: Server, who: str, after: int) -> str:
    """The one-click link of the newest consent e-mail to `who` that still works.

    When the scheduler's weekly pick drafted the same recognition a moment before the curator
    did, the curator's pick asked again and the first e-mail's link is no longer valid.
    """
    deadline = time.monotonic() + 15
    with server.client() as c:
        while time.monotonic() < deadline:
            links = [
                found.group(1)
                for m in server.inbox.messages[after:]
                if m["To"] == email(who)
                and (found := re.search(r"(/consent/[\w-]+)\?answer=yes", mail_text(m)))
            ]
            for link in reversed(links):
                if c.get(link).status_code == 200:
                    return link
            time.sleep(0.1)
    raise AssertionError(f"no working consent link for {who} in {server.inbox.messages[after:]}")


def test_ukens_ess_is_picked_agreed_approved_published_and_shown_in_the_widget(
    server: Server, browsers: Any
) -> None:
    d = people_and_values(server)
    seen = len(server.inbox.messages)
    rec = give_in_page(
        browsers["ansatt3"],
        [d.people["ansatt4"]],
        d.values["Servicefokus"],
        "Dag fikk skolekjøkkenet i gang igjen før lunsj. Elevene fikk varm mat!",
        feature_consent="1",
        photo_alt="Skolekjøkkenet",
        files={"photo": photo_file()},
    )
    year, week, _day = datetime.now(ZoneInfo("Europe/Oslo")).isocalendar()
    label = f"{year}-W{week:02d}"
    # The operator drafts the week from its top candidate, ours (or the scheduler did already,
    # when the week's pick moment has passed); the curator's pick then replaces that draft.
    drafted = server.cli("weekly", "pick", "--org", ORG, "--week", label)
    assert re.search(r"(drafted|already has) feature \d+", drafted), drafted
    curator = browsers["kurator"]
    curator.page(f"/{ORG}/curate")
    picked = curator.submit(f"/{ORG}/curate/pick", {"recognition_id": str(rec)})
    feature = int(picked.headers["location"].rsplit("/", 1)[1])
    assert f"feature {feature}" in drafted
    editor = f"/{ORG}/curate/{feature}"
    curator.page(editor)
    headline = "Varm lunsj takket vaere Dag"
    curator.submit(editor, {"headline": headline, "body": "Skolekjøkkenet var i gang igjen."})
    curator.page(f"{editor}/preview?headline=Forslag&body=Tekst")
    curator.submit(editor, {"choice": "subject"})
    curator.submit(f"{editor}/approve")

    # The one named answers from the e-mail's link, on a device where they are not signed in.
    link = consent_link(server, "ansatt4", after=seen)
    with server.browser() as phone:
        phone.page(f"{link}?answer=yes")
        phone.submit(link, {"answer": "yes"}, expect=200)

    out = server.cli("weekly", "publish", "--org", ORG, "--week", label)
    assert f"published feature {feature}" in out, out

    members = browsers["ansatt1"]
    assert headline in members.page(f"/{ORG}/features").text
    assert headline in members.page(f"/{ORG}/features/{feature}").text
    with server.client() as intranet:  # the widget is public: no cookie, no token
        assert headline in intranet.get(f"/embed/{ORG}/feature").text
        data = intranet.get(f"/embed/{ORG}/feature.json").json()
        assert data["feature"]["headline"] == headline
        assert data["feature"]["people"] == [{"name": NAMES["ansatt4"]}]
        photo = intranet.get(data["feature"]["image"]["src"])
        assert photo.status_code == 200 and photo.headers["content-type"].startswith("image/")
        atom = intranet.get(f"/embed/{ORG}/feed.atom")
        assert atom.status_code == 200 and headline in atom.text
        oembed = intranet.get("/oembed", params={"url": f"{server.base_url}/{ORG}/"})
        assert oembed.status_code == 200 and oembed.json()["title"] == headline
        thumbnail = intranet.get(oembed.json()["thumbnail_url"])
        assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
        script = intranet.get(f"/embed/{ORG}/widget.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert intranet.get(f"/embed/{ORG}/theme.css").status_code == 200

        # Withdrawn: its photo is gone from the intranet at once (checked at every request).
        curator.page(editor)
        curator.submit(f"{editor}/withdraw", {"confirm": "1"})
        assert intranet.get(data["feature"]["image"]["src"]).status_code == 404
    assert members.get(f"/{ORG}/features/{feature}").status_code == 404


def _windows(submit: tuple[float, float], vote: tuple[float, float]) -> dict[str, str]:
    """Contest windows as minutes from now (aware UTC times, as an API client sends them)."""
    now = datetime.now(UTC)
    at = [now + timedelta(minutes=m) for m in (*submit, *vote)]
    names = ("submit_opens_at", "submit_closes_at", "vote_opens_at", "vote_closes_at")
    return {n: t.isoformat() for n, t in zip(names, at, strict=True)}


SUBMITTING = ((-60, 60), (60, 120))
VOTING = ((-120, -1), (-1, 60))
CLOSED = ((-180, -120), (-120, -1 / 60))


def test_contests_entries_votes_jury_and_results(server: Server, apis: Any, browsers: Any) -> None:
    curator = apis["kurator"]
    contests = f"{API}/contests"
    body = {"title": "Høstfarger", "theme": "Ta bilde av høsten", "votes_per_person": 1}
    made = curator.post(contests, json={**body, **_windows(*SUBMITTING)})
    assert made.status_code == 201, made.text
    c = f"{contests}/{made.json()['id']}"
    jury_made = curator.post(
        contests,
        json={**body, "title": "Juryens valg", "winner_rule": "jury", **_windows(*SUBMITTING)},
    )
    assert jury_made.status_code == 201, jury_made.text
    j = f"{contests}/{jury_made.json()['id']}"
    renamed = curator.put(c, json={**body, "title": "Høstfarger 2026", **_windows(*SUBMITTING)})
    assert renamed.status_code == 200 and renamed.json()["phase"] == "submitting", renamed.text

    def send(who: str, contest: str, caption: str) -> int:
        entry = apis[who].post(
            f"{contest}/entries",
            files={"file": photo_file()},
            data={"caption": caption, "people_consent": "true"},
        )
        assert entry.status_code == 201, entry.text
        return int(entry.json()["id"])

    first = send("ansatt1", c, "Lønnetrær ved rådhuset")
    # A browser sends its entry through the contest page's form (multipart, CSRF field).
    b = browsers["ansatt2"]
    b.page(f"/{ORG}/contests/{made.json()['id']}")
    b.submit(
        f"/{ORG}/contests/{made.json()['id']}/entries",
        {"caption": "Tåke over fjorden", "people_consent": "1"},
        files={"photo": photo_file()},
    )
    mine = apis["ansatt2"].get(f"{c}/entries", params={"mine": "true"}).json()["items"]
    second = mine[0]["id"]
    jury_entry = send("ansatt5", j, "Rim på gresset")
    for contest, entry in ((c, first), (c, second), (j, jury_entry)):
        ok = curator.post(f"{contest}/entries/{entry}/moderate", json={"approve": True})
        assert ok.status_code == 200 and ok.json()["status"] == "approved", ok.text

    rules = {c: "votes", j: "jury"}
    for contest, rule in rules.items():
        voting = curator.put(contest, json={**body, "winner_rule": rule, **_windows(*VOTING)})
        assert voting.status_code == 200 and voting.json()["phase"] == "voting", voting.text
    voter = apis["ansatt3"]
    assert voter.post(f"{c}/entries/{first}/vote").json()["voted"] is True
    assert voter.delete(f"{c}/entries/{first}/vote").json()["voted"] is False
    assert voter.post(f"{c}/entries/{second}/vote").json()["voted"] is True
    html_voter = browsers["ansatt4"]
    html_voter.page(f"/{ORG}/contests/{made.json()['id']}/gallery")
    html_voter.submit(f"/{ORG}/contests/{made.json()['id']}/entries/{first}/vote")
    placed = curator.put(f"{j}/jury", json={"places": {str(jury_entry): 1}})
    assert placed.status_code == 204, placed.text

    for contest, rule in rules.items():
        closed = curator.put(contest, json={**body, "winner_rule": rule, **_windows(*CLOSED)})
        assert closed.status_code == 200 and closed.json()["phase"] == "closed", closed.text
        results = voter.get(f"{contest}/results")
        assert results.status_code == 200, results.text
        assert results.json()["winners"], results.text
    assert {e["id"]: e["votes"] for e in voter.get(f"{c}/results").json()["entries"]} == {
        first: 1,
        second: 1,
    }


def test_fresh_tokens_writing_at_once_all_succeed_quickly(server: Server, browsers: Any) -> None:
    """Each writer's first request is a write, all at the same moment."""
    admin = browsers["admin"]
    writers = [f"samtidig{n}" for n in range(1, CONCURRENT_WRITERS + 1)]
    tokens = [admin.create_token(who) for who in writers]
    people = people_and_values(server).people
    start = threading.Barrier(len(tokens))

    def write(n: int) -> tuple[int, float]:
        with server.client(tokens[n]) as c:
            start.wait(timeout=30)
            began = time.monotonic()
            if n % 2:
                r = c.post(f"{API}/media", files={"file": photo_file()})
            else:
                r = c.post(
                    f"{API}/recognitions",
                    json={
                        "recipients": [people[writers[(n + 1) % len(writers)]]],
                        "values": ["Samarbeid"],
                        "text": f"Takk for hjelpen med vaktskiftet, nummer {n}!",
                    },
                )
            assert r.status_code == 201, r.text
            return r.status_code, time.monotonic() - began

    began = time.monotonic()
    with ThreadPoolExecutor(len(tokens)) as pool:
        results = list(pool.map(write, range(len(tokens))))
    took = time.monotonic() - began
    assert [status for status, _ in results] == [201] * len(tokens)
    assert took < 8, f"{len(tokens)} concurrent first writes took {took:.1f} s: {results}"


def test_a_live_session_on_the_big_screen(server: Server, apis: Any, browsers: Any) -> None:
    """Storskjerm: a curator's session, a member's answer by token, an anonymous phone's by
    cookie and CSRF header, the results; the screen's stream itself is tested in
    tests/live/test_live_processes.py."""
    curator = apis["kurator"]
    created = curator.post(
        f"{API}/live",
        json={"question": "Hva gjør deg stolt?", "kind": "cloud", "allow_anonymous": True},
    )
    assert created.status_code == 201, created.text
    live = created.json()
    opened = curator.post(f"{API}/live/{live['id']}/state", json={"state": "open"})
    assert opened.json()["state"] == "open"
    member = apis["ansatt1"].post(
        f"/api/v1/live/{live['code']}/answers", json={"text": "samarbeid"}
    )
    assert member.status_code == 200, member.text
    phone = server.browser()
    phone.page(f"/live/{live['code']}")
    anonymous = phone.http.post(
        f"/api/v1/live/{live['code']}/answers",
        json={"text": "samarbeidet, glede"},
        headers={"X-CSRF-Token": phone.token},
    )
    assert anonymous.status_code == 200, anonymous.text
    phone.close()
    results = curator.get(f"{API}/live/{live['id']}/results").json()
    assert results["participants"] == 2
    assert {w["text"]: w["count"] for w in results["words"]} == {"samarbeid": 2, "glede": 1}
    screen = browsers["kurator"].page(f"/{ORG}/live/{live['id']}/screen")
    assert live["code"] in screen.text


def test_every_unsafe_api_operation_was_called(
    server: Server, request: pytest.FixtureRequest
) -> None:
    """A new endpoint of the JSON API needs a call on the real server (in this module)."""
    here = [
        item
        for item in request.session.items
        if item.module is request.module and item.callspec.params.get("server") == server.database  # type: ignore[attr-defined]
    ]
    if len(here) < len([n for n in dir(request.module) if n.startswith("test_")]):
        pytest.skip("only part of the module ran: the calls cannot all have been made")
    missing = sorted(set(server.unsafe_operations) - server.called)
    assert not missing, f"unsafe API operations never called successfully here: {missing}"
