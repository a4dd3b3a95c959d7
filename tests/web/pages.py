"""Signing in through the form, as a browser does, for page tests over HTTP."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.organisation import PASSWORD


def sign_in(client: TestClient, username: str) -> str:
    """Sign ``client`` in as ``username``; returns the session's form token (for posting forms)."""
    client.cookies.clear()
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    done = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1),
                                       "next": "/"}, follow_redirects=False)
    assert done.status_code == 303, done.text
    return form_token(client.get("/").text)


def form_token(html: str) -> str:
    """The session's form token as a page carries it."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "the page has no form token"
    return found.group(1)
