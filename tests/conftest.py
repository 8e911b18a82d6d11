"""Test set-up: every database test runs on SQLite and on a real PostgreSQL server.

Each test runs inside a transaction that is rolled back, so tests never see each other's rows.
"""

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# Settings for the app under test, before anything imports it.
os.environ.update(
    {
        "TOD_ENV": "dev",
        "TOD_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "TOD_SCHEDULER": "off",
        "TOD_SMTP_URL": "",
        "TOD_BASE_URL": "http://testserver",
        "TOD_WRITE_RATE_PER_MINUTE": "100000",
        "TOD_LOGIN_RATE_PER_HOUR": "100000",
        # The suite's webhook receivers listen on loopback; only that address is let through.
        "TOD_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
        # Photos written by tests land in a throwaway folder, never in ./data.
        "TOD_MEDIA_URL": "file:" + tempfile.mkdtemp(prefix="tod-test-media-"),
    }
)

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from app import db as app_db
from app.config import get_settings
from app.migrate import upgrade

PG_ENV = "TOD_TEST_POSTGRES_URL"
_cluster: Any = None


def pytest_configure(config: pytest.Config) -> None:
    """Start one PostgreSQL cluster per run (in the controller; xdist workers inherit it)."""
    global _cluster
    if os.environ.get("PYTEST_XDIST_WORKER") or os.environ.get(PG_ENV):
        return
    from tests.pg import Cluster

    _cluster = Cluster()
    os.environ[PG_ENV] = _cluster.start()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`--dist loadgroup` on pytest 9: put the xdist_group name back into the node ids.

    pytest-xdist (3.8) groups tests by an "@group" suffix it writes to `item._nodeid`, which
    pytest 9 no longer reads (a node id is a structured `item._id`): every group was spread
    over the workers, so `tests/test_real_server.py` started its servers on both and the
    browser tests shared nothing. Once xdist's own suffix shows in `item.nodeid` this does
    nothing.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    import copy

    for item in items:
        names = {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
        node_id: Any = getattr(item, "_id", None)
        if not names or "@" in item.nodeid or not hasattr(node_id, "_str_cache"):
            continue
        grouped = copy.copy(node_id)
        object.__setattr__(grouped, "_str_cache", f"{item.nodeid}@{'_'.join(sorted(names))}")
        item._id = grouped


def pytest_unconfigure(config: pytest.Config) -> None:
    if _cluster is not None:
        _cluster.stop()


def _pg_database(name: str) -> str:
    """A fresh database on the run's cluster, for one worker."""
    admin_url = os.environ[PG_ENV]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def use_database(url: str) -> None:
    """Point the app's settings and engine at `url`."""
    os.environ["TOD_DATABASE_URL"] = url
    get_settings.cache_clear()
    app_db.get_engine.cache_clear()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    else:
        url = _pg_database(f"tod_test_{worker}")
    upgrade(url)
    use_database(url)
    engine = app_db.get_engine()
    yield engine
    engine.dispose()


@pytest.fixture
def db_connection(engine: Engine) -> Iterator[Connection]:
    """One connection in a transaction that is rolled back after the test."""
    conn = engine.connect()
    outer = conn.begin()
    try:
        yield conn
    finally:
        outer.rollback()
        conn.close()


def _joined_session(conn: Connection) -> Session:
    # Commits inside the test become savepoints of the outer, rolled-back transaction.
    return Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def db(db_connection: Connection) -> Iterator[Session]:
    session = _joined_session(db_connection)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def app(db: Session, db_connection: Connection) -> Any:
    """The app with every session, also those of background work, inside the test transaction."""
    from app.main import create_app

    application = create_app()

    def request_session() -> Iterator[Session]:
        # What the test wrote before the request is committed data to it (a savepoint of the
        # outer transaction): a route that rolls back its own work must not take that along.
        db.commit()
        yield db

    application.dependency_overrides[app_db.get_session] = request_session
    application.dependency_overrides[app_db.get_session_factory] = lambda: (
        lambda: _joined_session(db_connection)
    )
    return application


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    """A browser on the app's pages: it sends their `Origin`, as browsers do with every POST."""
    with TestClient(
        app, base_url="http://testserver", headers={"Origin": "http://testserver"}
    ) as c:
        yield c


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Change TOD_* settings for one test: `settings_env(smtp_url="smtp://...")`."""

    def apply(**values: Any) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"TOD_{key.upper()}", str(value))
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()


class Inbox:
    """What a loopback SMTP server received, in order (filled from the server's thread)."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.url = ""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def wait_for(self, match: Callable[[Any], bool], timeout: float = 15, after: int = 0) -> Any:
        """The first message from index `after` on that `match`es, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        while True:
            for msg in list(self.messages[after:]):
                if match(msg):
                    return msg
            if time.monotonic() > deadline:
                seen = [(m["To"], m["Subject"]) for m in self.messages]
                raise AssertionError(f"no matching e-mail within {timeout} s; got {seen}")
            time.sleep(0.05)


@contextmanager
def smtp_inbox() -> Iterator[Inbox]:
    """A real SMTP server on loopback (aiosmtpd) for as long as the block runs."""
    from aiosmtpd.controller import Controller

    from tests.pg import _free_port

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{controller.port}"
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[Inbox]:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""
    with smtp_inbox() as inbox:
        yield inbox


@pytest.fixture
def factory(db_connection: Connection) -> Any:
    """Sessions for background jobs inside the test transaction: their commits are savepoints."""
    return lambda: _joined_session(db_connection)


@pytest.fixture
def inbox(smtp_server: Any, settings_env: Any) -> Any:
    """The real SMTP server on loopback, with the app sending its mail there."""
    settings_env(smtp_url=smtp_server.url, base_url="https://tod.example")
    return smtp_server


@pytest.fixture
def receiver() -> Iterator[Any]:
    """A real HTTP server on loopback: answers by path (/ok, /fail, /hang, ...), remembers each POST."""
    import threading
    from http.server import ThreadingHTTPServer

    from tests.helpers import Receiver, receiver_handler

    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), receiver_handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()  # waits for the handler threads
        thread.join()


# --- object storage: a real S3-compatible server on loopback (media and privacy tests) ---


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A real S3-compatible server on loopback (moto), for the whole run."""
    from moto.server import ThreadedMotoServer

    from tests.pg import _free_port

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_url(moto_server: str, monkeypatch: pytest.MonkeyPatch, request: Any) -> Iterator[str]:
    """A fresh bucket on the moto server for one test, as a TOD_MEDIA_URL."""
    from app.media.storage import S3Storage, storage_for

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    bucket = f"tod-media-test-{abs(hash(request.node.nodeid)) % 10**8}"
    url = f"s3://{bucket}/photos?endpoint={moto_server}&region=eu-north-1"
    storage = storage_for(url)
    assert isinstance(storage, S3Storage)
    storage.client.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-north-1"}
    )
    yield url
    storage_for.cache_clear()


class OidcMockProvider:
    """oidc-provider-mock (PyPI) on loopback: a real OpenID provider for the tests."""

    def __init__(self, url: str) -> None:
        self.url = url

    def user(self, sub: str, **claims: Any) -> str:
        """Set the claims its ID tokens carry for `sub` (Entra's `tid` and `oid`, e-mail...)."""
        import httpx

        httpx.put(f"{self.url}/users/{sub}", json=claims, timeout=5).raise_for_status()
        return sub


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OidcMockProvider]:
    """A real OpenID provider on a free loopback port, for the whole run of a worker.

    A subprocess: the package warns with an AuthlibDeprecationWarning on import, which `-W
    error` would turn into a failure here. The environment passes on, so faketime (`make
    pytest-future`) moves its clock with the app's.
    """
    import subprocess
    import sys

    import httpx

    from tests.pg import _free_port

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/.well-known/openid-configuration", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("oidc-provider-mock did not start")
            time.sleep(0.1)
        yield OidcMockProvider(url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
