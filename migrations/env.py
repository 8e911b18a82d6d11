"""Alembic environment: the app's own engine, so SQLite gets the same pragmas."""

from alembic import context

import app.models  # noqa: F401 - registers every table on the metadata
from app.config import get_settings
from app.db import make_engine
from app.models import metadata

config = context.config


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
    engine = make_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations copy a table and drop the old one. With foreign keys on, that
            # DROP deletes every row pointing at it (ON DELETE CASCADE): switch them off while
            # migrating, outside any transaction, and check the result afterwards.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(
                        f"migration left rows with broken foreign keys: {broken[:5]}"
                    )
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
run_migrations_online()
