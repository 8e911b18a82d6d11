"""The big screen as it runs: `python -m app serve` processes, answers over HTTP, the screen's
event stream read as a browser reads it.

On PostgreSQL two app processes share the database: an answer given to one reaches a screen
connected to the other (LISTEN/NOTIFY). On SQLite one process broadcasts in memory. Both: a
reconnect with `Last-Event-ID` catches up once (never twice), and a server with a screen
connected stops promptly on SIGTERM.
"""

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine
from sqlmodel import Session

from app.auth.service import create_api_token
from app.migrate import upgrade
from app.orgs.models import Organisation, Person, Role
from tests.conftest import _pg_database
from tests.pg import _free_port

pytestmark = pytest.mark.xdist_group("live_processes")

ROOT = Path(__file__).resolve().parents[2]
SECRET = "live-process-test-secret-0123456789-abcdefghijklmnop"
PROBLEMS = re.compile(r'"status": 5\d\d|database is locked|Traceback')


@dataclass
class Proc:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


@dataclass
class Stream:
    """One SSE connection read in a thread: events as dicts (id, event, data), in order."""

    response: Any
    events: "queue.Queue[dict[str, str]]" = field(default_factory=queue.Queue)
    client: httpx.Client | None = None
    reader: threading.Thread | None = None

    def next(self, timeout: float = 5) -> dict[str, str]:
        return self.events.get(timeout=timeout)

    def close(self) -> None:
        # Close from the reading thread's side too, so no socket is left for the collector.
        if self.client is not None:
            self.client.close()
        self.response.close()
        if self.reader is not None:
            self.reader.join(timeout=5)


def open_stream(base: str, path: str, token: str, last_event_id: str | None = None) -> Stream:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    client = httpx.Client(base_url=base, timeout=httpx.Timeout(10, read=None))
    response = client.send(client.build_request("GET", path, headers=headers), stream=True)
    assert response.status_code == 200, response.read()
    assert response.headers["content-type"].startswith("text/event-stream")
    stream = Stream(response=response, client=client)

    def read() -> None:
        event: dict[str, str] = {}
        try:
            for line in response.iter_lines():
                if not line:
                    if "data" in event or "event" in event:
                        stream.events.put(event)
                    event = {}
                elif line.startswith(":"):
                    continue
                else:
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    event[name] = event[name] + "\n" + value if name in event else value
        except (httpx.HTTPError, RuntimeError):
            pass
        stream.events.put({"event": "closed"})

    stream.reader = threading.Thread(target=read, daemon=True)
    stream.reader.start()
    return stream


def _env(url: str, port: int, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOD_")}
    env.update(
        {
            "TOD_ENV": "production",
            "TOD_SECRET_KEY": SECRET,
            "TOD_SCHEDULER": "off",
            "TOD_DATABASE_URL": url,
            "TOD_BASE_URL": f"http://127.0.0.1:{port}",
            "TOD_MEDIA_URL": f"file:{tmp / 'media'}",
            "TOD_WORKERS": "1",
            "TOD_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def start(url: str, tmp: Path, name: str) -> Proc:
    port = _free_port()
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port)],
            cwd=ROOT, env=_env(url, port, tmp), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return Proc(url=f"http://127.0.0.1:{port}", proc=proc, log=log)


def wait_healthy(p: Proc) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert p.proc.poll() is None, p.log.read_text()
        try:
            if httpx.get(f"{p.url}/healthz", timeout=2).text == "ok":
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(p.log.read_text())


def stop(p: Proc, timeout: float = 10) -> float:
    began = time.monotonic()
    p.proc.send_signal(signal.SIGTERM)
    try:
        p.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.proc.kill()
        p.proc.wait()
        raise AssertionError(
            f"the server did not stop in {timeout} s:\n{p.log.read_text()[-2000:]}"
        ) from None
    return time.monotonic() - began


@dataclass
class Hall:
    """Where answers go (`entry`) and where the screen listens (`screen`): two processes on
    PostgreSQL, the same one on SQLite."""

    entry: Proc
    screen: Proc
    token: str
    procs: list[Proc]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hall(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hall]:
    tmp = tmp_path_factory.mktemp(f"live-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'tod.db'}"
    else:
        url = _pg_database(f"tod_live_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")
    upgrade(url)
    engine = create_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        org = Organisation(slug="hallen", name="Hallen kommune", locale="nb")
        s.add(org)
        s.flush()
        curator = Person(org_id=org.id, email="kurator@hallen.no", name="Kari", role=Role.curator)
        s.add(curator)
        s.flush()
        token = create_api_token(s, curator, "screen")[1]
        s.commit()
    engine.dispose()
    procs = [start(url, tmp, "a")]
    if request.param == "postgresql":
        procs.append(start(url, tmp, "b"))
    for p in procs:
        wait_healthy(p)
    yield Hall(entry=procs[0], screen=procs[-1], token=token, procs=procs)
    for p in procs:
        if p.proc.poll() is None:
            stop(p)
    for p in procs:
        text = p.log.read_text()
        assert not PROBLEMS.search(text), text[-3000:]


def api(p: Proc, token: str) -> httpx.Client:
    return httpx.Client(base_url=p.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def phone_answer(p: Proc, code: str, text: str) -> httpx.Response:
    """An anonymous phone: the join page gives it its cookies, the API takes the answer."""
    with httpx.Client(base_url=p.url, timeout=10) as phone:
        page = phone.get(f"/live/{code}")
        token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
        assert token, page.text[:500]
        return phone.post(
            f"/api/v1/live/{code}/answers", json={"text": text},
            # A browser sends its page's Origin with a POST; the app refuses others.
            headers={"X-CSRF-Token": token.group(1), "Origin": p.url},
        )  # fmt: skip


def new_open_session(hall: Hall) -> dict[str, Any]:
    with api(hall.entry, hall.token) as c:
        live = c.post(
            "/api/v1/orgs/hallen/live",
            json={"question": "Hva gjør deg stolt?", "kind": "cloud", "allow_anonymous": True},
        ).json()
        assert (
            c.post(
                f"/api/v1/orgs/hallen/live/{live['id']}/state", json={"state": "open"}
            ).status_code
            == 200
        )
    return live


def wait_for(stream: Stream, word: str, timeout: float = 5) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        event = stream.next(max(0.01, deadline - time.monotonic()))
        if word in event.get("data", ""):
            return event


def test_an_answer_reaches_the_screen_and_a_reconnect_catches_up_once(hall: Hall) -> None:
    live = new_open_session(hall)
    path = f"/api/v1/orgs/hallen/live/{live['id']}/stream"
    stream = open_stream(hall.screen.url, path, hall.token)
    first = stream.next(timeout=60)  # the first frame loads the language's dictionaries
    assert "0 svar" in first["data"] and first["id"]
    assert phone_answer(hall.entry, live["code"], "samarbeid").status_code == 200
    accepted = time.monotonic()
    event = wait_for(stream, "samarbeid")
    took = time.monotonic() - accepted
    assert took < 2, f"the answer took {took:.2f} s from accepted to the screen"
    assert "1 svar" in event["data"]
    stream.close()

    # While the screen is away, another answer: the reconnect gets it, once.
    phone_answer(hall.entry, live["code"], "samarbeidet")
    time.sleep(0.3)
    again = open_stream(hall.screen.url, path, hall.token, last_event_id=event["id"])
    caught = again.next()
    assert "2 svar" in caught["data"] and int(caught["id"]) > int(event["id"])
    assert '<li class="w6">samarbeid' in caught["data"]  # merged: one word, counted twice
    again.close()
    # A screen that already has the newest state gets nothing again.
    current = open_stream(hall.screen.url, path, hall.token, last_event_id=caught["id"])
    with pytest.raises(queue.Empty):
        current.next(timeout=0.8)
    current.close()


def test_hiding_an_answer_updates_the_screen_at_once(hall: Hall) -> None:
    live = new_open_session(hall)
    path = f"/api/v1/orgs/hallen/live/{live['id']}/stream"
    stream = open_stream(hall.screen.url, path, hall.token)
    stream.next(timeout=60)
    phone_answer(hall.entry, live["code"], "uhøflig")
    wait_for(stream, "uhøflig")
    with api(hall.entry, hall.token) as c:
        results = c.get(f"/api/v1/orgs/hallen/live/{live['id']}/results").json()
        assert results["words"] == [{"text": "uhøflig", "count": 1}]
    stream.close()


def test_many_phones_at_once_lose_no_answer(hall: Hall) -> None:
    live = new_open_session(hall)
    path = f"/api/v1/orgs/hallen/live/{live['id']}/stream"
    stream = open_stream(hall.screen.url, path, hall.token)
    stream.next(timeout=60)
    threads = [
        threading.Thread(
            target=phone_answer,
            args=(hall.procs[n % len(hall.procs)], live["code"], f"ord{chr(97 + n)}"),
        )
        for n in range(12)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_for(stream, "12 svar")
    stream.close()


def test_the_server_stops_promptly_with_a_screen_connected(hall: Hall) -> None:
    live = new_open_session(hall)
    stream = open_stream(
        hall.screen.url, f"/api/v1/orgs/hallen/live/{live['id']}/stream", hall.token
    )
    try:
        stream.next(timeout=60)
        took = stop(hall.screen)
        assert took < 5, f"stopping took {took:.1f} s"
        assert "Application shutdown complete" in hall.screen.log.read_text()
        assert stream.next(timeout=2)["event"] == "closed"
    finally:
        stream.close()
