"""Fixtures for the HTTP API: an app over the test database, a small organisation, and clients per person."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.web.organisation import ORG, PASSWORD
from workflow.context import Services
from workflow.services.access import Caller
from workflow.services.orgfile import parse_org
from workflow.store.people import USER
from workflow.web.app import create_app

__all__ = ["ORG", "PASSWORD", "as_person"]

@pytest.fixture
def org(services: Services) -> Services:
    """The services with the test organisation loaded."""
    loaded = parse_org(ORG, file="org.yaml", known_roles=services.people.known_roles)
    services.people.load(loaded, by=Caller.system("test"))
    with services.database.begin() as conn:  # everyone has a mailbox: <username>@test.example
        conn.execute(update(USER).values(email=USER.c.username + "@test.example"))
    return services


@pytest.fixture
def app_client(org: Services) -> Iterator[TestClient]:
    """A client without credentials, over HTTPS (the session cookie is Secure)."""
    app = create_app(org.settings, services=org)
    with TestClient(app, base_url="https://testserver") as client:
        yield client


@pytest.fixture
def client_for(org: Services, app_client: TestClient) -> Callable[[str], TestClient]:
    """A client per person, authenticated with a fresh personal API token."""
    app = app_client.app
    made: dict[str, TestClient] = {}

    def make(username: str) -> TestClient:
        if username not in made:
            token = org.auth.create_token(org.people.user_id(username), "tests").token
            client = TestClient(app, base_url="https://testserver", headers={"Authorization": f"Bearer {token}"})
            made[username] = client
        return made[username]

    return make


def as_person(org: Services, username: str) -> Caller:
    """The service-level caller for a person of the test organisation."""
    return org.access.caller_by_name(username)
