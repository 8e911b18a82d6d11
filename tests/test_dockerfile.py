"""The Dockerfile cannot be built here (no Docker engine); check what can be checked."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_runs_as_a_non_root_user_with_a_volume_and_healthcheck():
    assert re.search(r"^USER (?!root)\w+", DOCKERFILE, re.M)
    assert 'VOLUME ["/data"]' in DOCKERFILE
    assert "/healthz" in DOCKERFILE.split("HEALTHCHECK", 1)[1]
    assert "TOD_ENV=production" in DOCKERFILE


def test_copies_what_the_app_needs():
    for path in ["app", "migrations", "templates", "static", "requirements.lock"]:
        assert (ROOT / path).exists()
        assert re.search(rf"^COPY {re.escape(path)}\b", DOCKERFILE, re.M), path


def test_entry_commands_exist():
    cmd = re.search(r"^CMD \[.*\"(.+)\"\]$", DOCKERFILE, re.M).group(1)
    assert "python -m app db upgrade" in cmd and "python -m app serve" in cmd
    out = subprocess.run(
        [sys.executable, "-m", "app", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "serve" in out and "db" in out
    out = subprocess.run(
        [sys.executable, "-m", "app", "db", "upgrade", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "usage" in out
