"""Cleaning what people type: one rule for text, lines, ids and e-mail addresses.

Each cleaner raises `ValueError(Problem)` for its field; services collect them into `Invalid`.
"""

import re
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import Field, StrictInt

from app.errors import N_, Problem

# PostgreSQL's integer: a larger id is an error there (not a miss), and SQLite could not bind
# one above 2**63. Every id from a request is checked against this one bound.
MAX_ID = 2_147_483_647
RowId = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
_ID_RE = re.compile(r"^[0-9]{1,10}$")

REQUIRED = Problem("required", N_("This field is required."))
TOO_LONG = Problem("too_long", N_("This is too long."))
ONE_LINE = Problem("one_line", N_("Write this on one line."))

# Bidirectional controls can make text read differently from what is stored ("Trojan Source").
BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def strip_controls(value: str | None, *, keep: str = "\n\t") -> str:
    """Drop control and bidi characters, keeping those in `keep`."""
    text = (value or "").translate(BIDI).replace("\r\n", "\n")
    return "".join(ch for ch in text if ch in keep or ord(ch) >= 32)


def clean_text(value: str | None, *, max_length: int, required: bool = False) -> str:
    """Several lines of text: trimmed, no controls; the field's Problem as a ValueError."""
    text = strip_controls(value).strip()
    if required and not text:
        raise ValueError(REQUIRED)
    if len(text) > max_length:
        raise ValueError(TOO_LONG)
    return text


def clean_line(value: str | None, *, max_length: int, required: bool = False) -> str:
    """One line (a name, a headline, a theme): a line break is refused, not stored.

    A stored line break would end up in e-mail headers and break every message built from it.
    """
    text = clean_text(value, max_length=max_length, required=required)
    if "\n" in text or "\r" in text or "\t" in text:
        raise ValueError(ONE_LINE)
    return text


def clean_paragraphs(value: str | None) -> str:
    """A longer text as people write it: no controls, at most one empty line in a row."""
    return re.sub(r"\n{3,}", "\n\n", strip_controls(value)).strip()


def parse_id(raw: str | None) -> int | None:
    """A row id typed into a form or a query string, or None when it cannot be one."""
    raw = (raw or "").strip()
    if not _ID_RE.match(raw) or not 1 <= int(raw) <= MAX_ID:
        return None
    return int(raw)


def normalise_email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(Problem("email", N_("Write a valid e-mail address."))) from exc
