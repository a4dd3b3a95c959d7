"""Checking a credential's data against the fields its definition declares."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any

from workflow.definitions.model import CredentialField, Definition
from workflow.definitions.validate import did_you_mean
from workflow.errors import InvalidInput

MAX_TEXT = 20_000
MAX_LIST = 200
MAX_NUMBER = 1_000_000


def check_plain_text(name: str, value: str) -> None:
    """Refuse text that cannot be stored and read back as UTF-8 everywhere (lone surrogates, NUL characters).

    Raises:
        InvalidInput: naming the field.
    """
    if "\x00" in value:
        raise InvalidInput(name, "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(name, "is not valid Unicode text (it holds a lone surrogate)") from None


def check_changes(definition: Definition, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Validate changes to a credential's data; ``None`` clears a field.

    Args:
        definition: the credential's definition.
        changes: field name → new value.

    Returns:
        The changes, normalised (dates as ISO text, numbers as numbers).

    Raises:
        InvalidInput: naming the first field that is unknown or of the wrong type.
    """
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        field = definition.fields.get(name)
        if field is None:
            raise InvalidInput(name, f"unknown field{did_you_mean(name, definition.fields)}; "
                                     f"known fields: {', '.join(definition.fields)}")
        try:
            checked[name] = None if value is None else _check(name, field, value)
        except InvalidInput as refused:  # said with the field's label, as the person knows the field
            raise InvalidInput(name, refused.message, label=field.label) from None
    return checked


def _check(name: str, field: CredentialField, value: Any) -> Any:
    kind = field.type
    if kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidInput(name, "must be true or false")
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(name, "must be a whole number")
        if abs(value) > MAX_NUMBER:
            raise InvalidInput(name, f"must be between -{MAX_NUMBER} and {MAX_NUMBER}")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidInput(name, "must be a finite number")
        if abs(value) > MAX_NUMBER:
            raise InvalidInput(name, f"must be between -{MAX_NUMBER} and {MAX_NUMBER}")
        return value
    if kind == "date":
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            raise InvalidInput(name, f"must be a date as YYYY-MM-DD, not {str(value)[:40]!r}") from None
        if not 1900 <= day.year <= 2200:
            raise InvalidInput(name, "must be a date between the years 1900 and 2200")
        return day.isoformat()
    if kind == "credentials":
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                                  for v in value):
            raise InvalidInput(name, "must be a list of credential numbers")
        if len(value) > MAX_LIST or len(set(value)) != len(value):
            raise InvalidInput(name, f"must name each credential once (at most {MAX_LIST})")
        return list(value)
    if kind == "list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInput(name, "must be a list of text")
        if len(value) > MAX_LIST or any(len(v) > MAX_TEXT for v in value):
            raise InvalidInput(name, f"is too long (at most {MAX_LIST} entries of {MAX_TEXT} characters)")
        for entry in value:
            check_plain_text(name, entry)
        return list(value)
    if not isinstance(value, str):
        raise InvalidInput(name, "must be text")
    if kind == "choice" and value not in field.options:
        raise InvalidInput(name, f"must be one of {', '.join(field.options)}{did_you_mean(value, field.options)}")
    if len(value) > MAX_TEXT:
        raise InvalidInput(name, f"is too long (at most {MAX_TEXT} characters)")
    check_plain_text(name, value)
    return value
