"""Checking a form field by field: every problem is collected before anything changes."""

from typing import Any

from app.errors import N_, Problem


def collect(errors: dict[str, Problem], field: str, fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except ValueError as exc:
        problem = (
            exc.args[0]
            if exc.args and isinstance(exc.args[0], Problem)
            else Problem("invalid", N_("This value is not valid."))
        )
        errors[field] = problem
        return None
