"""Spreadsheet export: text that a spreadsheet would run as a formula is written as plain text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "|")


def cell(value: Any) -> str:
    """A value as a CSV cell; text starting like a formula (OWASP CSV injection) gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The CSV text, a line at a time (a UTF-8 byte-order mark first, so spreadsheets read accents right)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(list(header))
    yield "\ufeff" + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([cell(v) for v in row])
        yield buffer.getvalue()
