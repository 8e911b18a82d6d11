"""The app as it runs, for fault tests: `python -m app serve` processes on a database of their
own, set up in this process (no CLI start per step), and the data the tests give with.

Not a test module: the fault tests import it as they import tests.helpers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select

from app import db as app_db
from app.auth.service import create_api_token, start_session
from app.migrate import upgrade
from app.orgs.models import Organisation, Person, Role, Value
from tests.pg import _free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "fault-test-secret-0123456789-abcdefghijklmnopqrstuv"
ORG = "feilby"
GIVERS = 10


def server_env(database_url: str, tmp: Path, **extra: str) -> dict[str, str]:
    """Production settings on `database_url`, whatever the developer's environment says."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOD_")}
    env.update(
        {
            "TOD_ENV": "production",
            "TOD_SECRET_KEY": SECRET,
            "TOD_SCHEDULER": "off",
            "TOD_DATABASE_URL": database_url,
            "TOD_SMTP_URL": "",
            "TOD_MEDIA_URL": f"file:{tmp / 'media'}",
            "TOD_WORKERS": "1",
            "TOD_LOG_LEVEL": "INFO",
            "TOD_WRITE_RATE_PER_MINUTE": "100000",
            "TOD_LOGIN_RATE_PER_HOUR": "100000",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


@dataclass
class Proc:
    """One `python -m app ...` process with its log."""

    args: list[str]
    env: dict[str, str]
    log_path: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Proc:
        self.env = {**self.env, "TOD_BASE_URL": self.base_url}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app", *self.args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_healthy(self, timeout: float = 180) -> Proc:
        deadline = time.monotonic() + timeout
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2).text == "ok":
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"no /healthz within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            return None


def app_server(env: dict[str, str], log_path: Path, port: int | None = None) -> Proc:
    port = port or _free_port()
    return Proc(["serve", "--port", str(port)], env, log_path, port=port)


@contextmanager
def running(*procs: Proc) -> Iterator[tuple[Proc, ...]]:
    try:
        for p in procs:
            p.start()
        for p in procs:
            if p.args[0] == "serve":
                p.wait_healthy()
        yield procs
    finally:
        for p in procs:
            p.stop()


@dataclass
class Directory:
    """What was set up: ids, tokens and session cookies the tests use."""

    org_id: int
    admin_id: int
    givers: list[int]
    recipients: list[int]
    values: list[int]
    tokens: dict[int, str] = field(default_factory=dict)  # person id -> raw API token
    sessions: dict[int, str] = field(default_factory=dict)  # person id -> session cookie


def set_up(database_url: str) -> Directory:
    """Migrations, one organisation with an admin, givers, recipients, values and tokens."""
    upgrade(database_url)
    engine = app_db.make_engine(database_url)
    try:
        with Session(engine, expire_on_commit=False) as s:
            org = Organisation(slug=ORG, name="Feilby kommune", locale="nb")
            s.add(org)
            s.flush()
            admin = Person(
                org_id=org.id, email="admin@feilby.no", name="Åse Admin", role=Role.admin
            )
            givers = [
                Person(org_id=org.id, email=f"giver{n}@feilby.no", name=f"Giver {n}")
                for n in range(GIVERS)
            ]
            recipients = [
                Person(org_id=org.id, email=f"mottaker{n}@feilby.no", name=f"Mottaker {n}")
                for n in range(3)
            ]
            values = [
                Value(org_id=org.id, name=name, position=n)
                for n, name in enumerate(("Engasjement", "Samarbeid"))
            ]
            s.add_all([admin, *givers, *recipients, *values])
            s.flush()
            directory = Directory(
                org_id=org.id or 0,
                admin_id=admin.id or 0,
                givers=[p.id or 0 for p in givers],
                recipients=[p.id or 0 for p in recipients],
                values=[v.id or 0 for v in values],
            )
            for person in [admin, *givers]:
                directory.tokens[person.id or 0] = create_api_token(s, person, "fault")[1]
                directory.sessions[person.id or 0] = start_session(s, person)
            s.commit()
    finally:
        engine.dispose()
    return directory


def give_body(d: Directory, text: str, *, n: int = 0) -> dict[str, Any]:
    return {
        "recipients": [d.recipients[n % len(d.recipients)]],
        "values": [d.values[n % len(d.values)]],
        "text": text,
    }


def api(base_url: str, token: str, **kw: Any) -> httpx.Client:
    return httpx.Client(
        base_url=f"{base_url}/api/v1/orgs/{ORG}",
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "nb"},
        timeout=kw.pop("timeout", 30),
        **kw,
    )


def texts_in_db(database_url: str) -> list[str]:
    """Every recognition's text, read straight from the database."""
    from app.recognition.models import Recognition

    engine = app_db.make_engine(database_url)
    try:
        with Session(engine) as s:
            return list(s.exec(select(Recognition.text)).all())
    finally:
        engine.dispose()


def engine_for(database_url: str) -> Engine:
    return app_db.make_engine(database_url)


class StoppableCluster:
    """A throwaway PostgreSQL cluster of its own (so stopping it hits no other test), which a
    test can stop and start again on the same port and data."""

    def __init__(self) -> None:
        from tests.pg import Cluster

        self._cluster = Cluster()
        self.url = ""

    def start(self) -> str:
        self.url = self._cluster.start()
        return self.url

    def _opts(self) -> str:
        c = self._cluster
        return (
            f"-c listen_addresses=127.0.0.1 -p {c.port} -k {c.tmp} -c fsync=off "
            "-c max_connections=200"
        )

    def pause(self) -> None:
        """Stop the server (fast: connections are cut, as in a crash or a failover)."""
        self._cluster._run("pg_ctl", "-D", str(self._cluster.data), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        c = self._cluster
        c._run(
            "pg_ctl", "-D", str(c.data), "-l", str(c.tmp / "log"), "-w", "-o", self._opts(), "start"
        )

    def destroy(self) -> None:
        self._cluster.stop()
