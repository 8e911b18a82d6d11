"""Settings read from the environment (prefix TOD_)."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-secret-change-me"  # noqa: S105 - the value production refuses


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOD_", env_file=".env", extra="ignore")

    env: Literal["dev", "production"] = "dev"
    secret_key: str = DEV_SECRET
    database_url: str = "sqlite:///data/tod.db"
    base_url: str = "http://127.0.0.1:8000"
    smtp_url: str = ""
    mail_from: str = "Tre om dagen <noreply@treomdagen.no>"
    scheduler: Literal["on", "off"] = "on"
    workers: int = 1
    # How long a SQLite writer waits for another's lock before the request answers 503.
    sqlite_busy_ms: int = 10000
    host: str = "127.0.0.1"
    port: int = 8000
    session_days: int = 30
    magic_link_minutes: int = 15
    login_rate_per_hour: int = 10
    write_rate_per_minute: int = 60
    log_level: str = "INFO"
    # file:PATH or s3://BUCKET[/PREFIX]?endpoint=...&region=... (credentials: AWS_* variables)
    media_url: str = "file:data/media"
    # Every call to an identity provider during one login step shares this budget: a provider
    # that is down or slow gives a clear page well within 10 s.
    oidc_timeout_seconds: float = 7.0
    max_upload_mb: int = 25  # request bodies above this are refused with 413 before reading
    # Comma-separated host names or addresses webhooks may reach although they are inside the
    # network (loopback, private): for tests and development only (app/kernel/netguard.py).
    webhook_allow_hosts: str = ""

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")

    @field_validator("media_url")
    @classmethod
    def _media_url_scheme(cls, v: str) -> str:
        if not v.startswith(("file:", "s3://")):
            raise ValueError("TOD_MEDIA_URL must be file:PATH or s3://BUCKET?endpoint=...")
        return v

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> "Settings":
        if self.env == "production" and (
            not self.secret_key or self.secret_key == DEV_SECRET or len(self.secret_key) < 32
        ):
            raise ValueError(
                "TOD_SECRET_KEY must be set to a random value of at least 32 characters "
                "in production (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return self

    @property
    def dev(self) -> bool:
        return self.env == "dev"

    @property
    def webhook_allowed(self) -> frozenset[str]:
        return frozenset(
            h.strip().lower() for h in self.webhook_allow_hosts.split(",") if h.strip()
        )

    @property
    def https(self) -> bool:
        return self.base_url.startswith("https://")


@lru_cache
def get_settings() -> Settings:
    return Settings()
