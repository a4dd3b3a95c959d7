"""Generated requests against every operation of the API's own OpenAPI document, as several kinds of caller.

Schemathesis derives valid and invalid requests from the document (boundary values and missing or mistyped
fields, then random data) and every answer must hold: never a 5xx, and its status, content type, headers and
body are ones the document declares for that operation. The seed is fixed and generation derandomized, so CI
sends the same requests every run. The bulk runs on SQLite; PostgreSQL gets a smaller share of random requests.

One organisation and database serve all operations of a backend (setting one up per operation would cost more
than the requests): what one operation's requests change, the next operation's requests see.
"""

from __future__ import annotations

import copy
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from sqlalchemy import update
from starlette.routing import compile_path

from tests.conftest import settings_for
from tests.databases import postgres_schema
from tests.organisation import load_org
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.store.people import USER
from workflow.web.app import create_app
from workflow.web.ui.pages import LOGIN_CSRF_COOKIE

CALLERS = ("admin", "dean.business", "pm.business", "registrar")
# Every answer conforms, and a request the document calls invalid is refused (4xx). Not `positive_data_acceptance`:
# a request the document calls valid may still break a rule of the workflow (a rejection needs a comment, one
# delegates only roles one holds), and such a request is rightly a 422 naming the field.
def allow_lists_every_method(_ctx: CheckContext, response: Response, case: schemathesis.Case) -> bool | None:
    """A 405's Allow names every method the document gives the path (RFC 9110), and HEAD with GET."""
    if response.status_code != 405:
        return None
    path = urlsplit(response.request.url).path
    declared = {method.upper() for template, item in DOCUMENT["paths"].items()
                if compile_path(template)[0].match(path) for method in item}
    declared |= {"HEAD"} if "GET" in declared else set()
    order = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
    expected = ", ".join(method for method in order if method in declared)
    assert response.headers.get("allow") == [expected], (case.method, path, response.headers.get("allow"), expected)
    return True


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, unsupported_method, negative_data_rejection, allow_lists_every_method]
SEED = 20261129
# A slow request is not a finding here (argon2 on every sign-in attempt is slow on purpose).
FUZZ = {"deadline": None, "derandomize": True, "database": None,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]}


# The document does not depend on the database: it is read from an app that is never started.
DOCUMENT = create_app(settings_for("sqlite://", Path("unused"))).openapi()
# Every request is signed with a real caller's token (below), so the document's security schemes are not generated:
# a generated Authorization header or session cookie would be replaced by the real one, not sent.
SIGNED = {"seed": SEED, "generation": {"with-security-parameters": False}}
schema = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=schemathesis.Config.from_dict(SIGNED))
# PostgreSQL gets random requests only; the boundary-value phase (a fixed set, hundreds of requests) runs on SQLite.
pg_schema = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=schemathesis.Config.from_dict(
    {**SIGNED, "phases": {"coverage": {"enabled": False}}}))


@dataclass(frozen=True)
class Api:
    """A started app over a loaded organisation, and a personal API token per kind of caller."""

    services: Services
    app: FastAPI
    tokens: dict[str, str]

    def bearer(self, caller: str) -> dict[str, str]:
        """The caller's token, made anew if a generated request revoked it or deactivated the caller."""
        if self.services.auth.token_user(self.tokens[caller]) is None:
            user_id = self.services.people.user_id(caller)
            with self.services.database.begin() as conn:
                conn.execute(update(USER).where(USER.c.id == user_id).values(active=True))
            self.tokens[caller] = self.services.auth.create_token(user_id, "fuzz").token
        return {"Authorization": f"Bearer {self.tokens[caller]}"}


def _serve(database_url: str, data_dir: Path) -> Iterator[Api]:
    services = Services.start(settings_for(database_url, data_dir), ManualClock(datetime(2026, 9, 1, 9, tzinfo=UTC)))
    try:
        load_org(services)
        for unit, owner in (("logistics", "pm.business"), ("health", "pm.health")):  # ids 1 and 2 exist
            services.credentials.create(definition="microcredential", title=f"Fuzzed in {unit}",
                                        by=services.access.caller_by_name(owner),
                                        org_unit_id=services.people.unit_id(unit))
        tokens = {name: services.auth.create_token(services.people.user_id(name), "fuzz").token for name in CALLERS}
        yield Api(services, create_app(services.settings, services=services), tokens)
    finally:
        shutdown_lifespans()
        services.close()


@pytest.fixture(scope="module")
def sqlite_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("fuzz")
    yield from _serve(f"sqlite:///{folder / 'workflow.db'}", folder / "data")


@pytest.fixture(scope="module")
def postgres_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    url = os.environ.get("WORKFLOW_TEST_POSTGRES_URL", "")
    if not url:
        pytest.skip("set WORKFLOW_TEST_POSTGRES_URL to run against PostgreSQL")
    with postgres_schema(url) as schema_url:
        yield from _serve(schema_url, tmp_path_factory.mktemp("fuzz") / "data")


def _caller_for(case: schemathesis.Case) -> str:
    """Who sends this request: chosen from its content, so a request replayed while shrinking keeps its sender.

    (``@schema.given`` could draw the caller instead, but Schemathesis then leaves out its boundary-value phase.)
    """
    body = case.body if isinstance(case.body, str | bytes | int | float | list | dict) else None
    key = repr((case.path_parameters, case.query, body)).encode()
    return CALLERS[zlib.crc32(key) % len(CALLERS)]


def _send(api: Api, case: schemathesis.Case) -> None:
    case.call_and_validate(app=api.app, headers=api.bearer(_caller_for(case)), checks=CHECKS)


@schema.parametrize()
@settings(max_examples=40, **FUZZ)
def test_generated_requests_on_sqlite_get_documented_answers(case: schemathesis.Case, sqlite_api: Api) -> None:
    _send(sqlite_api, case)


@pytest.mark.postgres
@pg_schema.parametrize()
@settings(max_examples=15, **FUZZ)
def test_generated_requests_on_postgres_get_documented_answers(case: schemathesis.Case,
                                                                postgres_api: Api) -> None:
    _send(postgres_api, case)


def test_nul_characters_in_text_are_refused_by_field_on_every_database(
        client_for: Callable[[str], TestClient], app_client: TestClient, org: Services) -> None:
    """What the generated requests first found: PostgreSQL cannot store NUL, which once made a 500."""
    pm = client_for("pm.business")
    cid = org.credentials.create(definition="microcredential", title="NUL", by=org.access.caller_by_name("pm.business"),
                                 org_unit_id=org.people.unit_id("logistics"))
    refused = {
        "username": pm.post(f"/api/v1/credentials/{cid}/team", json={"username": "\x00", "role": "sme"}),
        "query.state": pm.get("/api/v1/credentials", params={"state": "ideation\x00"}),
        "path.item": pm.post(f"/api/v1/credentials/{cid}/checklist/%00", json={"done": True}),
        "path.name": pm.get("/api/v1/definitions/micro%00credential"),
        "comment": pm.post(f"/api/v1/credentials/{cid}/transitions", json={"trigger": "x", "comment": "a\x00"}),
    }
    for field, response in refused.items():
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert [(e["field"], e["message"]) for e in response.json()["errors"]] == \
            [(field, "Value error, must not contain NUL characters")]
    login = app_client.post("/api/v1/auth/login", json={"username": "admin\x00", "password": "x"})
    assert login.status_code == 422 and login.json()["errors"][0]["field"] == "username"
    app_client.get("/login")
    signed = app_client.post("/login", data={"username": "admin\x00", "password": "x",
                                             "csrf_token": app_client.cookies[LOGIN_CSRF_COOKIE]})
    assert signed.status_code == 401 and "Wrong username or password." in signed.text
