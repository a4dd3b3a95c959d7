"""The committed JSON Schema of the definition format is the one the model produces."""

from __future__ import annotations

import json
from pathlib import Path

from workflow.definitions.model import json_schema

SCHEMA = Path(__file__).resolve().parents[2] / "definitions" / "definition.schema.json"


def test_committed_schema_matches_the_model() -> None:
    committed = json.loads(SCHEMA.read_text())
    assert committed == json_schema(), "run: workflow definitions schema > definitions/definition.schema.json"
    assert sorted(committed["properties"]) == sorted(
        ["name", "title", "description", "roles", "permissions", "notify", "fields", "states", "gates", "transitions",
         "timers"])
