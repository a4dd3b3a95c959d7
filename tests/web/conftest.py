"""Fixtures for the HTTP API: an app over the test database, a small organisation, and clients per person."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from workflow.context import Services
from workflow.services.access import Caller
from workflow.services.orgfile import parse_org
from workflow.web.app import create_app

PASSWORD = "correct horse battery"

ORG = f"""
units:
  - {{key: northern, name: Northern College, kind: institution}}
  - {{key: business, name: Faculty of Business, kind: faculty, parent: northern}}
  - {{key: logistics, name: School of Logistics, kind: department, parent: business}}
  - {{key: health, name: Faculty of Health, kind: faculty, parent: northern}}
users:
  - {{username: admin, name: Admin, admin: true, password: "{PASSWORD}"}}
  - {{username: dean.business, name: Dean of Business, password: "{PASSWORD}", roles: [{{role: dean, unit: business}}]}}
  - {{username: dean.health, name: Dean of Health, password: "{PASSWORD}", roles: [{{role: dean, unit: health}}]}}
  - {{username: pm.business, name: PM Business, password: "{PASSWORD}",
     roles: [{{role: project_manager, unit: business}}, {{role: initiative_lead, unit: business}}]}}
  - {{username: pm.health, name: PM Health, password: "{PASSWORD}",
     roles: [{{role: project_manager, unit: health}}, {{role: initiative_lead, unit: health}}]}}
  - {{username: registrar, name: Registrar, password: "{PASSWORD}", roles: [{{role: registrar, unit: northern}}]}}
  - {{username: qa, name: QA Office, password: "{PASSWORD}", roles: [{{role: qa_office, unit: northern}}]}}
  - {{username: council.a, name: Council A, roles: [{{role: academic_governance, unit: northern}}]}}
  - {{username: council.b, name: Council B, roles: [{{role: academic_governance, unit: northern}}]}}
  - {{username: council.c, name: Council C, roles: [{{role: academic_governance, unit: northern}}]}}
  - {{username: sme, name: SME, roles: [{{role: sme, unit: northern}}]}}
  - {{username: engage, name: Engagement lead, roles: [{{role: employer_engagement_lead, unit: northern}}]}}
  - {{username: acting.dean, name: Acting Dean, password: "{PASSWORD}"}}
  - {{username: outsider, name: Nobody in particular, password: "{PASSWORD}"}}
"""


@pytest.fixture
def org(services: Services) -> Services:
    """The services with the test organisation loaded."""
    loaded = parse_org(ORG, file="org.yaml", known_roles=services.people.known_roles)
    services.people.load(loaded, by=Caller.system("test"))
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
