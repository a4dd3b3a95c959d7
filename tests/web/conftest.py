"""Fixtures for the HTTP API: an app over the test organisation (``org``, tests/conftest.py), and clients per
person."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from workflow.context import Services
from workflow.web.app import create_app


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
