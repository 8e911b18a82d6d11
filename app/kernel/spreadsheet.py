"""CSV for Excel in Norway and Sweden: a byte order mark, semicolons, no formulas."""

import csv
import io
from collections.abc import Iterable
from typing import Any

BOM = "\ufeff"  # Excel reads UTF-8 only with a byte order mark
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """Text as a spreadsheet shows it, never as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_line(values: Iterable[Any]) -> str:
    """One row, semicolon-separated (Excel's list separator in these locales), CRLF-ended."""
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerow(csv_cell(v) for v in values)
    return out.getvalue()
