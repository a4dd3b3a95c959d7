"""Password guessing is paused: five failures for a username within 15 minutes refuse that username for 15
minutes (429, Retry-After) whatever password comes next; one address gets more tries, across usernames. The
count lives in the database, so every server over it refuses alike. Time moves by the injected clock only."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from fastapi.testclient import TestClient

from tests.organisation import PASSWORD
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.services.auth import ADDRESS_LIMIT, COOLING, USERNAME_LIMIT, AuthService
from workflow.web.app import create_app
from workflow.web.deps import SESSION_COOKIE
from workflow.web.ui.pages import LOGIN_CSRF_COOKIE

LOGIN = "/api/v1/auth/login"


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> int:
    return client.post(LOGIN, json={"username": username, "password": password}).status_code


def fail(client: TestClient, username: str, times: int = USERNAME_LIMIT) -> None:
    assert [sign_in(client, username, "wrong password!") for _ in range(times)] == [401] * times


def test_a_paused_username_is_refused_even_the_right_password_until_it_cools(
        app_client: TestClient, clock: ManualClock) -> None:
    fail(app_client, "dean.business")
    clock.advance(timedelta(minutes=2))
    refused = app_client.post(LOGIN, json={"username": "dean.business", "password": PASSWORD})
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == str(int((COOLING - timedelta(minutes=2)).total_seconds()))
    body = refused.json()
    assert body["retry_after"] == 780 and "try again in 13 minute(s)" in body["detail"]
    assert SESSION_COOKIE not in refused.cookies
    # A wrong password gets the same answer: the password is not even looked at while paused.
    assert sign_in(app_client, "dean.business", "wrong password!") == 429
    assert sign_in(app_client, "pm.business") == 200  # another username is unaffected

    clock.advance(timedelta(minutes=13))
    answer = app_client.post(LOGIN, json={"username": "dean.business", "password": PASSWORD})
    assert answer.status_code == 200 and answer.json()["username"] == "dean.business"
    assert app_client.get("/api/v1/me").json()["username"] == "dean.business"


def test_a_correct_password_starts_the_count_afresh_and_slow_mistakes_never_pause(
        app_client: TestClient, clock: ManualClock) -> None:
    fail(app_client, "pm.business", USERNAME_LIMIT - 1)
    assert sign_in(app_client, "pm.business") == 200
    fail(app_client, "pm.business", USERNAME_LIMIT - 1)
    assert sign_in(app_client, "pm.business") == 200
    for _ in range(USERNAME_LIMIT + 1):  # one mistake every four minutes: never five within fifteen
        fail(app_client, "registrar", 1)
        clock.advance(timedelta(minutes=4))
    assert sign_in(app_client, "registrar") == 200


def test_usernames_that_do_not_exist_are_paused_alike(app_client: TestClient) -> None:
    fail(app_client, "nobody.here")
    assert sign_in(app_client, "nobody.here", "anything at all") == 429


def test_one_address_trying_many_usernames_is_paused_and_others_are_not(org: Services, clock: ManualClock) -> None:
    assert ADDRESS_LIMIT == 50  # the served limit; a smaller one keeps this quick (every try costs an Argon2 check)
    limit = 3 * (USERNAME_LIMIT - 1)
    app = create_app(org.settings, services=replace(org, auth=AuthService(org.database, clock, address_limit=limit)))
    guesser = TestClient(app, base_url="https://testserver", client=("203.0.113.9", 40000))
    colleague = TestClient(app, base_url="https://testserver", client=("198.51.100.4", 40000))
    for n in range(limit):  # never five for one username
        assert sign_in(guesser, f"user{n // (USERNAME_LIMIT - 1)}", "wrong password!") == 401
    assert sign_in(guesser, "dean.health") == 429  # a username it never tried
    assert sign_in(colleague, "dean.health") == 200
    clock.advance(COOLING)
    assert sign_in(guesser, "dean.health") == 200


def test_another_server_over_the_same_database_refuses_alike(org: Services, clock: ManualClock) -> None:
    other = Services.start(org.settings, clock, migrate=False)
    try:
        with TestClient(create_app(org.settings, services=org), base_url="https://testserver") as first, \
                TestClient(create_app(other.settings, services=other), base_url="https://testserver") as second:
            fail(first, "qa", USERNAME_LIMIT - 2)
            fail(second, "qa", 2)
            assert sign_in(first, "qa") == 429
            assert sign_in(second, "qa") == 429
    finally:
        other.close()


def test_the_sign_in_form_says_to_wait(app_client: TestClient) -> None:
    def post(password: str):  # type: ignore[no-untyped-def]
        app_client.get("/login")
        return app_client.post("/login", data={"username": "dean.health", "password": password,
                                               "csrf_token": app_client.cookies[LOGIN_CSRF_COOKIE]},
                               follow_redirects=False)

    assert [post("wrong password!").status_code for _ in range(USERNAME_LIMIT)] == [401] * USERNAME_LIMIT
    for password in ("wrong password!", PASSWORD):
        paused = post(password)
        assert paused.status_code == 429 and paused.headers["retry-after"] == "900"
        assert "Too many failed sign-ins. Please wait 15 minute(s) and try again." in paused.text
    assert SESSION_COOKIE not in app_client.cookies
