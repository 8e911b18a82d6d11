"""The command line: onboarding, tokens, backup and restore."""

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli(tmp_path):
    """Run `python -m app ...` against a fresh SQLite database, as an operator would."""
    db_path = tmp_path / "cli.db"
    url = f"sqlite:///{db_path}"
    upgrade(url)
    env = {"TOD_DATABASE_URL": url, "TOD_ENV": "dev", "PATH": "/usr/bin:/bin"}

    def run(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == expect, result.stdout + result.stderr
        return result

    run.db_path = db_path  # type: ignore[attr-defined]
    return run


def test_help_lists_the_commands(cli):
    out = cli("--help").stdout
    for command in ["serve", "db", "demo", "org", "people", "token", "scim", "backup"]:
        assert command in out


def test_org_create_and_token(cli):
    out = cli(
        "org",
        "create",
        "--slug",
        "vaga",
        "--name",
        "Vågå kommune",
        "--locale",
        "nn",
        "--values",
        "Raus,Modig,Open",
        "--admin",
        "Admin@Vaga.kommune.no",
    ).stdout
    assert "vaga" in out
    conn = sqlite3.connect(cli.db_path)
    assert conn.execute("SELECT name, locale FROM organisation").fetchall() == [
        ("Vågå kommune", "nn")
    ]
    assert [r[0] for r in conn.execute("SELECT name FROM value ORDER BY position")] == [
        "Raus",
        "Modig",
        "Open",
    ]
    assert conn.execute("SELECT email, role FROM person").fetchall() == [
        ("admin@vaga.kommune.no", "admin")
    ]

    token_out = cli(
        "token",
        "create",
        "--org",
        "vaga",
        "--email",
        "admin@vaga.kommune.no",
        "--name",
        "intranett",
    )
    raw = token_out.stdout.strip().splitlines()[-1]
    assert raw.startswith("tod_") and len(raw) > 30
    stored = conn.execute("SELECT token_hash, name FROM apitoken").fetchone()
    assert raw not in stored[0] and stored[1] == "intranett"

    cli("token", "revoke", raw[:10])
    assert conn.execute("SELECT revoked_at IS NOT NULL FROM apitoken").fetchone() == (1,)
    conn.close()


def test_scim_token_is_the_last_line_and_can_be_revoked(cli):
    cli("org", "create", "--slug", "scimby", "--name", "Scimby kommune")
    out = cli("scim", "token", "--org", "scimby", "--name", "Entra ID").stdout
    raw = out.strip().splitlines()[-1]
    assert raw.startswith("scim_") and len(raw) > 40
    assert "/scim/v2/scimby" in out  # the tenant URL to paste into Entra ID
    conn = sqlite3.connect(cli.db_path)
    stored = conn.execute("SELECT token_hash, name, prefix FROM scimtoken").fetchone()
    assert raw not in stored[0] and stored[1] == "Entra ID" and raw.startswith(stored[2])
    cli("scim", "revoke", "nope", "--org", "scimby", expect=2)
    cli("scim", "token", "--org", "nosuch", expect=1)
    cli("scim", "revoke", stored[2], "--org", "scimby")
    assert conn.execute("SELECT revoked_at IS NOT NULL FROM scimtoken").fetchone() == (1,)
    conn.close()


def test_org_create_rejects_bad_input_and_writes_nothing(cli):
    err = cli("org", "create", "--slug", "api", "--name", "X", expect=2).stderr
    assert "slug" in err
    cli("org", "create", "--slug", "Bad Slug!", "--name", "X", expect=2)
    conn = sqlite3.connect(cli.db_path)
    assert conn.execute("SELECT count(*) FROM organisation").fetchone() == (0,)
    conn.close()


def test_backup_of_a_live_database_can_be_restored(cli, tmp_path):
    cli("org", "create", "--slug", "asnes", "--name", "Åsnes kommune", "--values", "Engasjement")
    live = sqlite3.connect(cli.db_path)  # a reader holding the database open, like the app
    live.execute("BEGIN")
    live.execute("SELECT count(*) FROM organisation").fetchone()
    backup = tmp_path / "backup" / "tod.db"
    assert "wrote" in cli("backup", str(backup)).stdout
    live.rollback()
    live.close()

    restored = sqlite3.connect(backup)
    assert restored.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert restored.execute("SELECT name FROM organisation").fetchall() == [("Åsnes kommune",)]
    restored.close()
    cli("backup", str(backup), expect=1)  # never overwrites an existing file


def test_org_oidc_sets_up_the_provider_and_keeps_the_secret_sealed(cli):
    cli("org", "create", "--slug", "asnes", "--name", "Åsnes kommune")
    tenant = "11111111-2222-4333-8444-555555555555"
    out = cli(
        "org",
        "oidc",
        "--org",
        "asnes",
        "--issuer",
        f"https://login.microsoftonline.com/{tenant}/v2.0",
        "--client-id",
        "app-123",
        "--client-secret",
        "very-secret-value",
        "--tenant",
        tenant.upper(),
        "--link-by-email",
        "--magic-link",
        "off",
    ).stdout
    assert "redirect URI" in out and out.strip().endswith("/auth/oidc/callback")
    assert "e-mail login link: off" in out
    with sqlite3.connect(cli.db_path) as conn:
        _issuer, tid, client, sealed, by_email = conn.execute(
            "SELECT issuer, tenant_id, client_id, client_secret_sealed, link_by_email"
            " FROM oidcprovider"
        ).fetchone()
        magic = conn.execute("SELECT magic_link_login FROM organisation").fetchone()[0]
    assert (tid, client, by_email, magic) == (tenant, "app-123", 1, 0)
    assert "very-secret-value" not in sealed

    # Entra ID without a tenant, a plain-http issuer elsewhere, an unknown organisation: refused.
    err = cli(
        "org",
        "oidc",
        "--org",
        "asnes",
        "--issuer",
        "https://login.microsoftonline.com/x/v2.0",
        "--client-id",
        "a",
        "--client-secret",
        "b",
        expect=2,
    ).stderr
    assert "tenant_id" in err
    cli(
        "org",
        "oidc",
        "--org",
        "asnes",
        "--issuer",
        "http://idp.example.no",
        "--client-id",
        "a",
        "--client-secret",
        "b",
        expect=2,
    )
    cli(
        "org",
        "oidc",
        "--org",
        "nope",
        "--issuer",
        "https://idp.example.no",
        "--client-id",
        "a",
        "--client-secret",
        "b",
        expect=1,
    )
