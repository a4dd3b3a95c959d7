"""Text in the definitions reaches people exactly as written: no control character on the way."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from tests.conftest import DEFINITIONS
from workflow.definitions import model
from workflow.definitions.loader import load_all
from workflow.definitions.yamlsource import read_yaml

ALLOWED = {"\n", "\t"}  # multi-line text (a `|` or `>` block) legitimately holds line breaks


def texts(value: Any, path: str = "") -> Iterator[tuple[str, type[BaseModel] | None, str]]:
    """Every string in a model, with its path and the model class that holds it."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            inner = getattr(value, name)
            if isinstance(inner, str):
                yield f"{path}.{name}", type(value), inner
            else:
                yield from texts(inner, f"{path}.{name}")
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from texts(inner, f"{path}[{key!r}]")
    elif isinstance(value, (tuple, list)):
        for index, inner in enumerate(value):
            yield from texts(inner, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, None, value


def control_characters(text: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) == "Cc" and c not in ALLOWED]


def test_no_text_of_any_definition_holds_a_control_character() -> None:
    loaded = load_all([DEFINITIONS])
    assert loaded, "definitions/ holds no definition"
    holders: set[type[BaseModel] | None] = set()
    for name, item in loaded.items():
        for path, holder, text in texts(item.definition, name):
            holders.add(holder)
            assert not control_characters(text), f"{path}: {control_characters(text)} in {text!r}"
    # the walk reached the text of states, gates, roles, fields, transitions, timers and checklist items
    assert {model.Definition, model.Role, model.CredentialField, model.State, model.Gate, model.ChecklistItem,
            model.Transition, model.Timer} <= holders


def test_a_folded_description_reads_as_the_words_it_folds() -> None:
    text = "description: >\n  Ideation, design,\n  then renewal.\n\n  Any phase may pause.\ntitle: |\n  one\n  two\n"
    data = read_yaml(text).data
    assert data == {"description": "Ideation, design, then renewal.\nAny phase may pause.\n",
                    "title": "one\ntwo\n"}
