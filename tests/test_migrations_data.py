"""Migrations also upgrade a database that already holds data (not only an empty one)."""

from sqlalchemy import text

from app.db import make_engine
from app.migrate import upgrade


def test_upgrade_keeps_existing_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, revision="898c552ce5e8")  # the first schema
    eng = make_engine(url)
    with eng.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organisation (slug, name, locale, timezone, daily_goal, feature_name, "
                "theme_primary, theme_accent, intranet_origins, pick_weekday, pick_time, "
                "publish_weekday, publish_time, auto_publish, created_at) VALUES ('old', 'Old', "
                "'nb', 'Europe/Oslo', 3, '', '#1d4f73', '#b3261e', '[]', 3, '09:00', 0, '07:00', "
                "0, '2026-01-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO person (org_id, email, name, title, role, active, email_frequency, "
                "feature_opt_out, search_text, created_at) VALUES (1, 'a@b.no', 'A', '', "
                "'employee', 1, 'instant', 0, 'a', '2026-01-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO apitoken (token_hash, prefix, name, person_id, created_at) "
                "VALUES ('h', 'tod_x', 'kept', 1, '2026-01-01 00:00:00')"
            )
        )
    eng.dispose()
    upgrade(url)
    eng = make_engine(url)
    with eng.connect().execution_options(tod_readonly=True) as conn:
        row = conn.execute(text("SELECT feature_always_agree FROM person")).one()
        token = conn.execute(text("SELECT name FROM apitoken")).one()
        org = conn.execute(
            text("SELECT keep_photo_originals, contest_photo_retention_days FROM organisation")
        ).one()
    eng.dispose()
    assert row == (0,)
    assert token == ("kept",)  # rows pointing at rebuilt tables survive
    assert tuple(org) == (0, 365)
