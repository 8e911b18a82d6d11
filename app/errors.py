"""Errors raised by services; routes and handlers turn them into responses."""

from collections.abc import Mapping
from typing import NamedTuple


class NotFound(Exception):
    """The thing does not exist or the caller may not know it exists (other organisation)."""


class PermissionDenied(Exception):
    """The caller is known but lacks the role for this."""


class Problem(NamedTuple):
    """What is wrong with one field: a stable code for machines, a message id for people."""

    code: str
    message: str


class Invalid(Exception):
    """Input that breaks a rule; `errors` maps a field to its Problem (translated on render)."""

    def __init__(self, errors: Mapping[str, Problem]) -> None:
        super().__init__(dict(errors))
        self.errors: dict[str, Problem] = dict(errors)

    @property
    def first(self) -> Problem:
        return next(iter(self.errors.values()))


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


class CsrfFailed(Exception):
    """An unsafe request without a valid CSRF token."""


class NotAuthenticated(Exception):
    """No valid session cookie or API token."""
