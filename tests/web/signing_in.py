"""Signing in through the HTML form with a test client (as a browser would), for the sign-in tests."""

from __future__ import annotations

import re

import pyotp
from fastapi.testclient import TestClient
from httpx2 import Response

from tests.organisation import PASSWORD
from workflow.clock import Clock


def form_value(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, f"no {name} in the page"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD, next_: str = "/") -> Response:
    """Post the sign-in form; returns the answer (not followed)."""
    token = form_value(client.get("/login", params={"next": next_}).text, "csrf_token")
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                       "next": next_}, follow_redirects=False)


def current_code(secret: str, clock: Clock, *, steps: int = 0) -> str:
    """The code an authenticator app with ``secret`` shows at the clock's time (``steps`` of 30 s later)."""
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(clock.now()) + steps)


def enrol(client: TestClient, clock: Clock) -> tuple[str, list[str]]:
    """Set up the second factor from its page; returns the secret and the recovery codes shown."""
    page = client.get("/account/second-factor")
    assert page.status_code == 200 and "<svg" in page.text  # the QR code, drawn here
    secret = form_value(page.text, "secret")
    done = client.post("/account/second-factor", data={"csrf_token": form_value(page.text, "csrf_token"),
                                                       "secret": secret, "code": current_code(secret, clock)})
    assert done.status_code == 200, done.text
    codes = re.findall(r"<li><code>([0-9a-f-]+)</code></li>", done.text)
    assert len(codes) == 10
    return secret, codes
