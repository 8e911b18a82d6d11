"""Settings: production refuses missing or default secrets."""

import subprocess
import sys

import pytest
from pydantic import ValidationError

from app.config import DEV_SECRET, Settings


@pytest.mark.parametrize("secret", ["", DEV_SECRET, "short"])
def test_production_refuses_weak_secrets(secret):
    with pytest.raises(ValidationError, match="TOD_SECRET_KEY"):
        Settings(env="production", secret_key=secret)


def test_production_accepts_a_real_secret():
    settings = Settings(env="production", secret_key="k" * 40)
    assert settings.dev is False


def test_dev_allows_the_default_secret():
    assert Settings(env="dev", secret_key=DEV_SECRET).dev is True


def test_production_server_does_not_start_with_the_default_secret(tmp_path):
    env = {
        "TOD_ENV": "production",
        "TOD_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "PATH": "",
    }
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "TOD_SECRET_KEY" in result.stderr
