"""With local passwords switched off only the institution's providers sign people in: the page offers them alone,
password sign-ins are refused on the page and the API, and an unreachable provider is said so plainly."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.organisation import PASSWORD
from workflow.config import OidcProvider, Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    down = OidcProvider(key="northern", display_name="Northern University", issuer="http://127.0.0.1:9",
                        client_id="workflow")
    return settings.model_copy(update={"local_passwords": False, "oidc_providers": (down,)})


def test_only_the_provider_signs_in(app_client: TestClient) -> None:
    page = app_client.get("/login")
    assert 'href="/login/oidc/northern?next=/"' in page.text and "Sign in with Northern University" in page.text
    assert 'name="password"' not in page.text
    refused = app_client.post("/login", data={"username": "dean.business", "password": PASSWORD,
                                              "csrf_token": "x"}, follow_redirects=False)
    assert refused.status_code == 403 and "Passwords are switched off here" in refused.text
    api = app_client.post("/api/v1/auth/login", json={"username": "dean.business", "password": PASSWORD})
    assert api.status_code == 403 and "mcw_session" not in app_client.cookies
    unreachable = app_client.get("/login/oidc/northern", follow_redirects=False)
    assert unreachable.status_code == 503 and "cannot be reached just now" in unreachable.text
    assert app_client.get("/login/oidc/elsewhere").status_code == 404


def test_switching_passwords_off_needs_a_provider() -> None:
    with pytest.raises(ValueError, match="needs at least one provider"):
        Settings(local_passwords=False)
