"""The sign-in log: each sign-in, refusal, second-factor and recovery-code use, sign-out and API token use, with
time, method, address and browser; each person sees theirs under Recent activity, administrators everyone's; old
lines go after the kept period."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from tests.web.signing_in import current_code, enrol, form_value, sign_in
from workflow.clock import ManualClock
from workflow.context import Services


def test_each_event_is_logged_and_shown_to_the_person_and_to_administrators(
        app_client: TestClient, org: Services, clock: ManualClock) -> None:
    app_client.headers["User-Agent"] = "Firefox/150 on a test laptop"
    assert sign_in(app_client, "dean.business", password="not the password!").status_code == 401
    sign_in(app_client, "dean.business")
    secret, codes = enrol(app_client, clock)
    app_client.post("/logout", data={"csrf_token": form_value(app_client.get("/").text, "csrf_token")})
    clock.advance(timedelta(minutes=1))
    for code in (current_code(secret, clock), codes[0]):
        app_client.cookies.clear()
        sign_in(app_client, "dean.business")
        page = app_client.get("/login/second-factor")
        app_client.post("/login/second-factor", data={"csrf_token": form_value(page.text, "csrf_token"),
                                                      "code": code})
    token = org.auth.create_token(org.people.user_id("dean.business"), "laptop").token
    assert app_client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    page = app_client.get("/account/activity")
    assert page.status_code == 200
    kinds = [line.split('data-kind="')[1].split('"')[0] for line in page.text.splitlines() if 'data-kind="' in line]
    assert kinds == ["token_use", "sign_in", "recovery_code", "sign_in", "second_factor", "sign_out",
                     "second_factor_enrolled", "sign_in", "failure"]
    for words in ("API token used", "Recovery code used", "Second factor used", "Signed out", "Sign-in refused",
                  "Firefox/150 on a test laptop", "testclient", "wrong username or password", token[:12]):
        assert words in page.text, words
    assert token[12:] not in page.text and secret not in page.text and codes[0] not in page.text

    assert app_client.get("/admin/sign-ins").status_code == 403  # a dean is not an administrator
    admin = TestClient(app_client.app, base_url="https://testserver")
    sign_in(admin, "admin")
    everyone = admin.get("/admin/sign-ins", params={"username": "dean.business"})
    assert everyone.status_code == 200 and everyone.text.count('data-testid="sign-in-event"') == 9
    assert admin.get("/admin/sign-ins").text.count("admin</td>") >= 1


def test_lines_older_than_the_kept_period_are_removed(app_client: TestClient, org: Services,
                                                      clock: ManualClock) -> None:
    assert org.settings.sign_in_log_days == 180
    sign_in(app_client, "qa")
    clock.advance(timedelta(days=181))
    sign_in(app_client, "registrar")
    assert org.sign_in_log.recent(username="qa")[1] == 0
    assert org.sign_in_log.recent(username="registrar")[1] == 1
