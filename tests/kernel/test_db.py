"""Database: migrations match the models, SQLite settings, concurrent writers."""

import threading

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, text
from sqlmodel import select

from app.db import make_engine, new_session
from app.migrate import upgrade
from app.models import AuditEvent, Organisation, metadata


def test_migrations_match_the_models(engine):
    """Runs on SQLite and PostgreSQL: autogenerate finds nothing to add, drop or alter."""
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert diff == []


def test_upgrade_from_empty_twice_is_harmless(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(url)
    upgrade(url)
    eng = make_engine(url)
    with eng.connect() as conn:
        tables = {
            r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
        }
    eng.dispose()
    assert {"organisation", "person", "value", "department", "alembic_version"} <= tables


def test_sqlite_pragmas_on_every_connection(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    conns = [eng.connect().execution_options(tod_readonly=True) for _ in range(3)]
    try:
        for conn in conns:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        for conn in conns:
            conn.close()
        eng.dispose()


def test_concurrent_writers_never_see_database_is_locked(tmp_path):
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    upgrade(url)
    eng = make_engine(url)
    with new_session(engine=eng) as s:
        org = Organisation(slug="busy", name="Busy")
        s.add(org)
        s.commit()
        org_id = org.id

    errors: list[BaseException] = []
    threads_n, writes = 8, 30

    def writer(n: int) -> None:
        try:
            for i in range(writes):
                with new_session(engine=eng) as s:
                    # Read first, then write: the pattern that fails with deferred transactions.
                    s.exec(select(func.count()).select_from(AuditEvent)).one()
                    s.add(AuditEvent(org_id=org_id, action="test", target=f"{n}-{i}"))
                    s.commit()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(writes):
                with new_session(readonly=True, engine=eng) as s:
                    s.exec(select(func.count()).select_from(AuditEvent)).one()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_n)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with new_session(engine=eng) as s:
        assert s.exec(select(func.count()).select_from(AuditEvent)).one() == threads_n * writes
    eng.dispose()


def test_foreign_keys_are_enforced(db):
    """Both databases refuse a row that points at nothing."""
    import pytest
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), db.begin_nested():
        db.add(AuditEvent(org_id=999_999, action="orphan"))
        db.flush()
