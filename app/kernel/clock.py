"""The one clock of the app: tests move it with time-machine, never by patching callers."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
