"""Request bodies take the types their schema states: every boolean field of every body refuses 0, 1 and "true",
every integer field refuses "3", 3.5 and true, each with a 422 naming the field. The fields come from the API's
own OpenAPI document, so a field added later is covered without changing this test."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import settings_for
from workflow.context import Services
from workflow.web.app import create_app

DOCUMENT = create_app(settings_for("sqlite://", Path("unused"))).openapi()
WRONG = {"boolean": (0, 1, "true", "false", None), "integer": ("3", 3.5, True)}
REFUSAL = {"boolean": "Input should be a valid boolean", "integer": "Input should be a valid integer"}


def _types(schema: dict[str, Any]) -> set[str]:
    options = schema.get("anyOf", [schema])
    return {option["type"] for option in options if "type" in option}


def typed_fields() -> Iterator[tuple[str, str, str, str]]:
    """(method, path, field, boolean or integer) for every such field of every request body."""
    schemas = DOCUMENT["components"]["schemas"]
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            ref = operation.get("requestBody", {}).get("content", {}).get("application/json", {}) \
                .get("schema", {}).get("$ref")
            if ref is None:
                continue
            body = schemas[ref.rsplit("/", 1)[1]]
            for field, spec in body["properties"].items():
                for kind in ("boolean", "integer"):
                    if kind in _types(spec):
                        yield method, path, field, kind


def test_the_document_has_the_fields_this_test_is_about() -> None:
    found = {(path, field) for _, path, field, _ in typed_fields()}
    assert {("/api/v1/credentials/{credential_id}/checklist/{item}", "done"), ("/api/v1/users", "admin"),
            ("/api/v1/users/{user_id}", "active"), ("/api/v1/users/{user_id}", "admin"),
            ("/api/v1/credentials/{credential_id}", "version")} <= found


def test_every_boolean_and_integer_body_field_refuses_other_types(
        org: Services, client_for: Callable[[str], TestClient]) -> None:
    admin = client_for("admin")
    user_id = org.people.user_id("outsider")
    for method, path, field, kind in typed_fields():
        url = re.sub(r"\{user_id\}", str(user_id), path)
        url = re.sub(r"\{[a-z_]*id\}", "1", url)
        url = re.sub(r"\{[a-z_]+\}", "some_key", url)
        for value in WRONG[kind]:
            if value is None and kind == "boolean" and path.endswith("{user_id}"):
                continue  # null there means "leave as it is"
            answer = admin.request(method.upper(), url, json={field: value})
            assert answer.status_code == 422, (method, path, field, value, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            refusals = [e["message"] for e in answer.json()["errors"] if e["field"] == field]
            assert refusals and refusals[0].startswith(REFUSAL[kind]), (method, path, field, value, answer.json())
    assert org.people.user(user_id)["active"] is True  # none of it changed anything


def test_true_and_false_are_taken(org: Services, client_for: Callable[[str], TestClient]) -> None:
    admin = client_for("admin")
    user_id = org.people.user_id("outsider")
    assert admin.patch(f"/api/v1/users/{user_id}", json={"active": False}).json()["active"] is False
    assert admin.patch(f"/api/v1/users/{user_id}", json={"active": True, "admin": False}).json() == \
        {"id": user_id, "active": True, "is_admin": False}


def test_boolean_query_parameters_say_which_spellings_they_read() -> None:
    for path, name in (("/api/v1/credentials", "overdue"), ("/api/v1/timers", "due")):
        parameter = next(p for p in DOCUMENT["paths"][path]["get"]["parameters"] if p["name"] == name)
        assert parameter["schema"]["type"] == "boolean"
        assert "`1`/`0`, `yes`/`no`, `on`/`off`" in parameter["description"]


def test_delegation_days_are_taken_as_text_only(org: Services, client_for: Callable[[str], TestClient]) -> None:
    dean = client_for("dean.business")
    today = org.clock.now().date().isoformat()
    for field in ("starts_on", "ends_on"):
        body = {"to": "acting.dean", "starts_on": today, "ends_on": today, field: 1_800_000_000}
        answer = dean.post("/api/v1/delegations", json=body)
        assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
        assert any(e["field"] == field and "YYYY-MM-DD" in e["message"] for e in answer.json()["errors"]), answer.json()
    assert org.people.delegations(by=org.access.caller_by_name("dean.business")) == []  # nothing was given
    given = dean.post("/api/v1/delegations", json={"to": "acting.dean", "starts_on": today, "ends_on": today})
    assert given.status_code == 201, given.text
