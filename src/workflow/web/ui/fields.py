"""The credential's fields as a form: each typed value to the text of an input, and back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow.definitions.model import Definition
from workflow.errors import InvalidInput


def as_text(kind: str, value: Any) -> str:
    """What an input shows for a stored value."""
    if value is None:
        return ""
    if kind == "list":
        return "\n".join(str(v) for v in value)
    if kind == "boolean":
        return "yes" if value else "no"
    if kind == "credentials":
        return ", ".join(str(v) for v in value)
    return str(value)


def from_form(definition: Definition, form: Mapping[str, str], data: Mapping[str, Any]) -> dict[str, Any]:
    """The changes the form asks for (fields left as they were are not changes); empty clears a field."""
    changes: dict[str, Any] = {}
    for name, field in definition.fields.items():
        key = f"field.{name}"
        if key not in form:
            continue
        text = form[key].strip()
        if text == as_text(field.type, data.get(name)).strip():
            continue
        changes[name] = None if text == "" else _typed(name, field.type, text, field.label)
    return changes


def _typed(name: str, kind: str, text: str, label: str) -> Any:
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        raise InvalidInput(name, f"'{text}' is not a {'whole ' if kind == 'integer' else ''}number",
                           label=label) from None
    if kind == "boolean":
        if text not in ("yes", "no"):
            raise InvalidInput(name, "choose yes or no", label=label)
        return text == "yes"
    if kind == "list":
        return [line.strip() for line in text.splitlines() if line.strip()]
    if kind == "credentials":
        numbers = [part.strip().lstrip("#") for part in text.replace("\n", ",").split(",") if part.strip()]
        if not all(n.isdigit() for n in numbers):
            raise InvalidInput(name, "give credential numbers separated by commas, such as 4, 12", label=label)
        return [int(n) for n in numbers]
    return text
