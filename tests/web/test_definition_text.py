"""Definition text shown by the administration page and the API carries no control character."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.testclient import TestClient

from tests.web.pages import sign_in
from workflow.context import Services

WHITESPACE = {"\n", "\t", "\r"}
# A phrase from each definition's folded description (a folded YAML block becomes one line of text)
DESCRIPTIONS = {"microcredential": "then renewal or sunset.", "university": "and closure. Any stage may be put",
                "enrolment": "an alternative path; a completion deadline"}


def control_characters(text: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) == "Cc" and c not in WHITESPACE]


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from strings(inner)


def test_the_definitions_page_shows_no_control_character(app_client: TestClient) -> None:
    sign_in(app_client, "admin")
    page = app_client.get("/admin").text
    assert "then renewal or sunset." in page  # the folded description of the lifecycle is on the page
    assert not control_characters(page)


def test_the_definitions_api_returns_no_control_character(
        org: Services, client_for: Callable[[str], TestClient]) -> None:
    client = client_for("admin")
    listing = client.get("/api/v1/definitions").json()
    assert listing and not [c for s in strings(listing) for c in control_characters(s)]
    for entry in listing:
        one = client.get(f"/api/v1/definitions/{entry['name']}").json()
        assert DESCRIPTIONS[entry["name"]] in one["definition"]["description"]
        found = [(s, control_characters(s)) for s in strings(one) if control_characters(s)]
        assert not found, found
