"""The credential's fields as a form: each typed value to the text of an input, and back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow.definitions.model import Definition
from workflow.engine.data import check_changes
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


def read_form(definition: Definition, form: Mapping[str, str], data: Mapping[str, Any], *,
              starting: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
    """The changes a form asks for and, by field name, what is wrong with each field (every field at once, so the
    person sees all of them beside their fields). ``starting``: a new credential, whose every required field must be
    given; when editing, a required field may not be emptied."""
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, field in definition.fields.items():
        key = f"field.{name}"
        text = form.get(key, "").strip()
        if not starting and (key not in form or text == as_text(field.type, data.get(name)).strip()):
            continue
        if text == "":
            if field.required and (starting or key in form):
                errors[name] = f"{field.label} is required."
            elif not starting:
                changes[name] = None
            continue
        try:
            value = _typed(name, field.type, text, field.label)
            changes.update(check_changes(definition, {name: value}))
        except InvalidInput as refused:
            errors[name] = sentence(refused.message, field.label)
    return changes, errors


def sentence(message: str, label: str) -> str:
    """An error beside a field as a sentence that names it: "Notional learning hours: 'lots' is not a whole
    number." """
    return f"{label}: {message.rstrip('.')}."


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
