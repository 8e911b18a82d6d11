"""The JSON API's shared shapes: the error body every route answers with, and its statuses."""

from typing import Any

from pydantic import BaseModel


class ProblemOut(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: dict[str, ProblemOut] | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No valid session cookie or API token"},
    404: {"model": ErrorOut, "description": "Not found, or not visible to the caller"},
    422: {"model": ErrorOut, "description": "Invalid input; `fields` says what, per field"},
    503: {
        "model": ErrorOut,
        "description": "The database or the photo storage cannot serve for a moment; nothing "
        "was saved. `Retry-After` says when to try again",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds"}},
    },
}
