"""The second factor for local accounts (TOTP, RFC 6238): enrolment with a QR code, sign-in with a code, a wrong or
reused code refused, a recovery code good once; administrators must set one up before anything else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.organisation import PASSWORD
from tests.web.signing_in import current_code, enrol, form_value, sign_in
from workflow.clock import ManualClock
from workflow.config import Settings
from workflow.context import Services


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"second_factor_required": "administrators"})


def give_code(client: TestClient, code: str, next_: str = "/approvals") -> int:
    page = client.get(f"/login/second-factor?next={next_}")
    answer = client.post("/login/second-factor", data={"csrf_token": form_value(page.text, "csrf_token"),
                                                       "code": code, "next": next_}, follow_redirects=False)
    return answer.status_code


def test_enrol_then_sign_in_with_a_code_and_a_reused_or_wrong_code_is_refused(
        app_client: TestClient, org: Services, clock: ManualClock) -> None:
    assert sign_in(app_client, "dean.business").headers["location"] == "/"  # no second factor yet: straight in
    secret, _codes = enrol(app_client, clock)
    app_client.post("/logout", data={"csrf_token": form_value(app_client.get("/").text, "csrf_token")})

    clock.advance(timedelta(seconds=60))
    half = sign_in(app_client, "dean.business", next_="/approvals")
    assert half.headers["location"] == "/login/second-factor?next=/approvals"
    blocked = app_client.get("/approvals", follow_redirects=False)  # nothing else until the code is given
    assert (blocked.status_code, blocked.headers["location"]) == (303, "/login/second-factor")
    assert app_client.get("/api/v1/me").status_code == 401

    assert give_code(app_client, "000000" if current_code(secret, clock) != "000000" else "111111") == 401
    code = current_code(secret, clock)
    assert give_code(app_client, code) == 303
    assert app_client.get("/approvals").status_code == 200

    app_client.cookies.clear()  # a second sign-in in the same 30 seconds: the same code is not taken again
    sign_in(app_client, "dean.business")
    assert give_code(app_client, code) == 401
    assert app_client.get("/approvals", follow_redirects=False).status_code == 303
    api = TestClient(app_client.app, base_url="https://testserver")
    assert api.post("/api/v1/auth/login", json={"username": "dean.business", "password": PASSWORD}).status_code == 401
    clock.advance(timedelta(seconds=30))
    assert api.post("/api/v1/auth/login", json={"username": "dean.business", "password": PASSWORD,
                                                "second_factor": current_code(secret, clock)}).status_code == 200


def test_a_recovery_code_works_once(app_client: TestClient, org: Services, clock: ManualClock) -> None:
    sign_in(app_client, "pm.business")
    _secret, codes = enrol(app_client, clock)
    app_client.cookies.clear()
    sign_in(app_client, "pm.business")
    assert give_code(app_client, codes[3]) == 303
    assert app_client.get("/approvals").status_code == 200
    app_client.cookies.clear()
    sign_in(app_client, "pm.business")
    assert give_code(app_client, codes[3]) == 401  # used up
    assert give_code(app_client, codes[4].upper().replace("-", " ")) == 303  # typed loosely, still good
    assert org.second_factor.recovery_codes_left(org.people.user_id("pm.business")) == 8


def test_an_administrator_without_a_second_factor_is_sent_to_set_one_up_first(
        app_client: TestClient, org: Services, clock: ManualClock) -> None:
    assert sign_in(app_client, "admin", next_="/admin").headers["location"] == "/account/second-factor"
    for path in ("/", "/admin", "/approvals", "/account/activity"):
        refused = app_client.get(path, follow_redirects=False)
        assert (refused.status_code, refused.headers["location"]) == (303, "/account/second-factor"), path
    page = app_client.get("/account/second-factor")
    assert "Administrators need a second factor here" in page.text
    wrong = app_client.post("/account/second-factor", data={"csrf_token": form_value(page.text, "csrf_token"),
                                                            "secret": form_value(page.text, "secret"),
                                                            "code": "12345"})
    assert wrong.status_code == 422 and "not the code your app shows now" in wrong.text
    api = TestClient(app_client.app, base_url="https://testserver")
    assert api.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}).status_code == 403
    enrol(app_client, clock)
    assert app_client.get("/admin").status_code == 200


def test_enrolling_later_in_a_session_asks_for_the_password_again(
        app_client: TestClient, org: Services, clock: ManualClock) -> None:
    sign_in(app_client, "registrar")
    clock.advance(timedelta(minutes=11))
    app_client.get("/")  # still active, but the sign-in was more than ten minutes ago
    clock.advance(timedelta(minutes=11))
    page = app_client.get("/account/second-factor")
    assert '<label for="password">' in page.text
    secret = form_value(page.text, "secret")
    data = {"csrf_token": form_value(page.text, "csrf_token"), "secret": secret, "code": current_code(secret, clock)}
    refused = app_client.post("/account/second-factor", data=data | {"password": "not my password at all"})
    assert refused.status_code == 401 and "Your password was not right" in refused.text
    assert not org.second_factor.enrolled(org.people.user_id("registrar"))
    done = app_client.post("/account/second-factor", data=data | {"password": PASSWORD})
    assert done.status_code == 200 and "recovery codes" in done.text
