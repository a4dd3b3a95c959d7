"""Browsers sign in through a form (protected by a double-submit token) and land where they were heading."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.organisation import PASSWORD


def form_token(client: TestClient, next_: str = "/approvals") -> str:
    page = client.get("/login", params={"next": next_})
    assert page.status_code == 200 and '<label for="password">Password</label>' in page.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_signing_in_opens_a_session_and_goes_on_to_the_page_asked_for(app_client: TestClient) -> None:
    to_approvals = app_client.get("/approvals", headers={"Accept": "text/html"}, follow_redirects=False)
    assert (to_approvals.status_code, to_approvals.headers["location"]) == (303, "/login?next=/approvals")

    token = form_token(app_client)
    signed_in = app_client.post("/login", data={"username": "dean.business", "password": PASSWORD,
                                                "csrf_token": token, "next": "/approvals"}, follow_redirects=False)
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/approvals")
    cookie = signed_in.headers["set-cookie"].lower()
    assert "mcw_session=" in cookie and "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie
    assert app_client.get("/approvals").status_code == 200
    assert app_client.get("/api/v1/me").json()["username"] == "dean.business"


def test_wrong_password_and_forged_posts_are_refused_without_a_session(app_client: TestClient) -> None:
    token = form_token(app_client)
    wrong = app_client.post("/login", data={"username": "dean.business", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401 and "Wrong username or password." in wrong.text
    assert "mcw_session" not in app_client.cookies

    app_client.cookies.clear()  # a cross-site form has no token cookie to match
    forged = app_client.post("/login", data={"username": "dean.business", "password": PASSWORD,
                                             "csrf_token": "guessed"})
    assert forged.status_code == 403 and "The form had expired" in forged.text
    assert "mcw_session" not in app_client.cookies


def test_only_same_site_paths_are_followed_after_signing_in(app_client: TestClient) -> None:
    token = form_token(app_client, "//evil.example/phish")
    response = app_client.post("/login", data={"username": "pm.business", "password": PASSWORD, "csrf_token": token,
                                               "next": "//evil.example/phish"}, follow_redirects=False)
    assert response.headers["location"] == "/"
