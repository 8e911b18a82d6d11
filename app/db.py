"""Engine, sessions and the SQLite settings every connection gets."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, create_engine

from app.config import get_settings

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": "10000",  # TOD_SQLITE_BUSY_MS replaces it (tests of a held lock)
    "foreign_keys": "on",
    "synchronous": "normal",
}
# What SQLite says when the database cannot be used for now (another process holds the lock past
# the busy timeout, the disk is full): the request is refused with 503, not a 500.
SQLITE_UNAVAILABLE = ("database is locked", "database is busy", "database or disk is full")
RETRY_AFTER_SECONDS = 5
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout, foreign keys and explicit locking."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    busy_ms = get_settings().sqlite_busy_ms
    pragmas = {**SQLITE_PRAGMAS, "busy_timeout": str(busy_ms)}
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": busy_ms / 1000}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when a transaction begins (see _on_begin).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        for name, value in pragmas.items():
            cursor.execute(f"PRAGMA {name}={value}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that later writes fails at once with "database is locked"
        # when another writer got there first; IMMEDIATE takes the write lock up front and
        # waits for busy_timeout instead. Read-only sessions stay deferred so they never queue.
        if conn.get_execution_options().get("tod_readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


def unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot serve us *for now*, so the request may be tried
    again (503): SQLite locked past its busy timeout or its disk full; PostgreSQL unreachable,
    restarting or the connection lost (the pool's pre-ping reconnects on the next request).
    A programming error (no such table, bad SQL) is not: that stays a 500."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    module = type(orig).__module__
    if module.startswith("sqlite3"):
        text = str(orig).lower()
        return any(s in text for s in SQLITE_UNAVAILABLE)
    if module.startswith("psycopg"):
        import psycopg

        # OperationalError: cannot connect, the server closed the connection or is shutting
        # down, a deadlock or a cancelled statement: all worth a retry. Errors in what we asked
        # (syntax, constraints) are other classes and stay 500s or 422s.
        return isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError)
    return False


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def new_session(*, readonly: bool = False, engine: Engine | None = None) -> Session:
    """A session for work outside a request (CLI, jobs). Read-only ones never take the lock."""
    session = Session(engine or get_engine(), expire_on_commit=False)
    if readonly:
        session.connection(execution_options={"tod_readonly": True})
    return session


@contextmanager
def session_scope(*, readonly: bool = False) -> Iterator[Session]:
    session = new_session(readonly=readonly)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; GET-like requests read without taking SQLite's write lock."""
    session = new_session(readonly=request.method in SAFE_METHODS)
    try:
        yield session
    finally:
        session.close()


def get_session_factory() -> Callable[[], Session]:
    """How background work started by a request opens its own sessions (tests override it)."""
    return new_session


SessionDep = Annotated[Session, Depends(get_session)]
SessionFactoryDep = Annotated[Callable[[], Session], Depends(get_session_factory)]
