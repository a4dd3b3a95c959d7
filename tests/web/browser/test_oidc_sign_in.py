"""Signing in with the institution's account, against a real OpenID Connect provider (oidc-provider, run with
Node by the test) in Chromium: the first sign-in creates the person with the roles their groups map to, a
changed group changes the roles at the next sign-in, sign-out ends both sessions, and an ID token that is
tampered with (signature, issuer, audience, expiry, nonce), a replayed state and a wrong redirect are refused with a
page that says why, and no session."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx2 as httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, RunningProvider, oidc_provider
from tests.organisation import load_org
from tests.serving import free_port
from tests.web.browser.conftest import axe_violations, screenshot
from workflow.clock import ManualClock
from workflow.config import GroupRole, OidcProvider, Settings
from workflow.context import Services
from workflow.store.people import ASSIGNMENT, ORG_UNIT, USER
from workflow.web.app import create_app

ALICE = {"alice": {"email": "alice@northern.example", "name": "Alice Adeyemi", "groups": ["grp-deans-business"]}}


@dataclass
class Site:
    """The app and the provider it trusts."""

    base: str
    idp: RunningProvider
    services: Services


@pytest.fixture
def clock() -> ManualClock:
    """The provider stamps its ID tokens with the real time: the app's clock starts there too."""
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def site(settings: Settings, clock: ManualClock, tmp_path: Path) -> Iterator[Site]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with oidc_provider(tmp_path, redirect_uri=f"{base}/login/oidc/northern/callback",
                       post_logout_uri=f"{base}/login") as idp:
        provider = OidcProvider(
            key="northern", display_name="Northern University", issuer=idp.issuer, client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET, scopes=("openid", "email", "profile", "groups"), create_accounts=True,
            roles=(GroupRole(value="grp-deans-business", role="dean", unit="business"),
                   GroupRole(value="grp-deans-health", role="dean", unit="health")))
        services = Services.start(settings.model_copy(update={"public_url": base, "oidc_providers": (provider,)}),
                                  clock)
        try:
            load_org(services)
            server = uvicorn.Server(uvicorn.Config(create_app(services.settings, services=services), host="127.0.0.1",
                                                   port=port, log_level="warning", lifespan="on"))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            deadline = time.monotonic() + 15
            while not server.started:
                assert time.monotonic() < deadline and thread.is_alive(), "the app did not start"
                time.sleep(0.02)
            yield Site(base, idp, services)
            server.should_exit = True
            thread.join(timeout=10)
        finally:
            services.close()


def new_page(browser: Browser, site: Site, width: int = 1366, height: int = 768) -> Page:
    context = browser.new_context(base_url=site.base, viewport={"width": width, "height": height})
    context.set_default_timeout(10_000)
    return context.new_page()


def through_provider(page: Page, site: Site, login: str) -> None:
    """At the provider's sign-in form: sign in as ``login`` and allow the service (first time)."""
    page.wait_for_url(f"{site.idp.issuer}/**")
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("anything at all")
    page.get_by_role("button", name="Sign-in").click()
    page.wait_for_load_state()
    if page.url.startswith(site.idp.issuer) and page.get_by_role("button", name="Continue").count():
        page.get_by_role("button", name="Continue").click()


def sign_in_with_provider(page: Page, site: Site, login: str) -> None:
    page.goto("/login")
    page.get_by_role("link", name="Sign in with Northern University").click()
    through_provider(page, site, login)
    page.wait_for_url(f"{site.base}/**")


def roles_of(services: Services, username: str) -> set[tuple[str, str]]:
    with services.database.begin_read() as conn:
        return {(row.role, row.key) for row in conn.execute(
            select(ASSIGNMENT.c.role, ORG_UNIT.c.key).join(USER, USER.c.id == ASSIGNMENT.c.user_id)
            .join(ORG_UNIT, ORG_UNIT.c.id == ASSIGNMENT.c.org_unit_id).where(USER.c.username == username))}


def session_cookie(page: Page) -> str | None:
    return next((c["value"] for c in page.context.cookies() if c["name"] == "mcw_session"), None)


def test_first_sign_in_creates_the_person_with_mapped_roles_and_group_changes_apply_next_time(
        browser: Browser, site: Site) -> None:
    site.idp.set_accounts(ALICE)
    page = new_page(browser, site)
    page.goto("/login")
    screenshot(page, "oidc-login-page")
    assert axe_violations(page) == []
    phone = new_page(browser, site, 390, 844)
    phone.goto("/login")
    screenshot(phone, "oidc-login-page-phone")
    assert axe_violations(phone) == []
    sign_in_with_provider(page, site, "alice")
    assert page.get_by_test_id("signed-in-as").inner_text() == "Alice Adeyemi"
    assert roles_of(site.services, "alice") == {("dean", "business")}
    page.goto("/approvals")
    screenshot(page, "oidc-signed-in-approvals")

    page.get_by_role("button", name="Sign out").click()  # ends ours, then the provider's own session
    page.wait_for_url(f"{site.idp.issuer}/**")
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{site.base}/login")
    page.goto("/approvals")
    assert page.url.startswith(f"{site.base}/login")

    site.idp.set_accounts({"alice": {**ALICE["alice"], "groups": ["grp-deans-health", "grp-unrelated"]}})
    sign_in_with_provider(page, site, "alice")
    assert roles_of(site.services, "alice") == {("dean", "health")}
    with site.services.database.begin_read() as conn:
        assert conn.execute(select(USER.c.email).where(USER.c.username == "alice")).scalar() == \
            "alice@northern.example"
    page.goto("/account/activity")
    kinds = page.get_by_test_id("sign-in-event").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert kinds[:3] == ["sign_in", "sign_out", "sign_in"]
    assert "Northern University" in page.get_by_test_id("sign-in-event").nth(0).inner_text()
    assert "Northern University" in page.get_by_test_id("sign-in-event").nth(1).inner_text()  # the sign-out
    screenshot(page, "oidc-recent-activity")
    assert axe_violations(page) == []


def test_a_person_removed_at_the_provider_cannot_get_in(browser: Browser, site: Site) -> None:
    site.idp.set_accounts(ALICE)
    page = new_page(browser, site)
    sign_in_with_provider(page, site, "alice")
    page.context.clear_cookies()
    site.idp.set_accounts({})  # gone from the institution's directory
    page.goto("/login")
    page.get_by_role("link", name="Sign in with Northern University").click()
    page.wait_for_url(f"{site.idp.issuer}/**")
    page.locator("input[name=login]").fill("alice")
    page.locator("input[name=password]").fill("anything at all")
    page.get_by_role("button", name="Sign-in").click()
    page.wait_for_load_state()
    assert page.url.startswith(site.idp.issuer) and "error" in page.inner_text("body")  # oidc-provider stops here
    assert session_cookie(page) is None

    # Providers that send the browser back with an error instead (Entra ID, Okta: "access_denied") are refused too.
    started = page.context.request.get(f"{site.base}/login/oidc/northern", max_redirects=0)
    state = dict(parse_qsl(urlsplit(started.headers["location"]).query))["state"]
    page.goto(f"/login/oidc/northern/callback?error=access_denied&error_description=User+account+is+disabled"
              f"&state={state}")
    assert "did not sign you in (User account is disabled)" in page.get_by_test_id("refusal").inner_text()
    assert session_cookie(page) is None


@pytest.mark.parametrize(("mode", "reason"), [
    ("signature", "signature is not the provider's"),
    ("issuer", "issued by another provider"),
    ("audience", "made for another service"),
    ("expired", "has expired"),
    ("nonce", "does not belong to this sign-in"),
])
def test_a_tampered_id_token_is_refused_with_a_clear_page_and_no_session(
        browser: Browser, site: Site, mode: str, reason: str) -> None:
    site.idp.set_accounts(ALICE)
    site.idp.tamper_next_id_token(mode)
    page = new_page(browser, site)
    page.goto("/login")
    page.get_by_role("link", name="Sign in with Northern University").click()
    through_provider(page, site, "alice")
    page.wait_for_url(f"{site.base}/login/oidc/northern/callback**")
    assert page.get_by_role("heading", name="Sign-in refused").is_visible()
    assert reason in page.get_by_test_id("refusal").inner_text()
    assert session_cookie(page) is None
    if mode == "signature":
        screenshot(page, "oidc-refused")
        assert axe_violations(page) == []
        page.set_viewport_size({"width": 390, "height": 844})
        screenshot(page, "oidc-refused-phone")
    with site.services.database.begin_read() as conn:
        assert conn.execute(select(USER.c.id).where(USER.c.username == "alice")).first() is None  # nobody created
    page.goto("/approvals")
    assert page.url.startswith(f"{site.base}/login")
    events, _ = site.services.sign_in_log.recent(limit=1)
    assert events[0]["kind"] == "failure" and reason in events[0]["detail"]


def test_a_replayed_state_is_refused(browser: Browser, site: Site) -> None:
    site.idp.set_accounts(ALICE)
    page = new_page(browser, site)
    callbacks: list[str] = []
    page.on("request", lambda r: callbacks.append(r.url) if "/login/oidc/northern/callback" in r.url else None)
    sign_in_with_provider(page, site, "alice")
    assert session_cookie(page) is not None and callbacks

    thief = new_page(browser, site)  # the same answer, in another browser: not started there
    thief.goto(callbacks[0])
    assert "did not start in this browser" in thief.get_by_test_id("refusal").inner_text()
    assert session_cookie(thief) is None

    page.context.clear_cookies()  # the same browser, the state cookie put back: the state was used already
    state = dict(parse_qsl(urlsplit(callbacks[0]).query))["state"]
    page.context.add_cookies([{"name": "mcw_oidc_state", "value": state, "url": f"{site.base}/login/oidc/"}])
    page.goto(callbacks[0])
    assert "already used" in page.get_by_test_id("refusal").inner_text()
    assert session_cookie(page) is None


def test_a_wrong_redirect_is_refused(browser: Browser, site: Site) -> None:
    site.idp.set_accounts(ALICE)
    started = httpx.get(f"{site.base}/login/oidc/northern", follow_redirects=False)
    assert started.status_code == 303
    parts = urlsplit(started.headers["location"])
    query = dict(parse_qsl(parts.query)) | {"redirect_uri": "http://127.0.0.1:9/steal"}
    page = new_page(browser, site)
    page.goto(urlunsplit(parts._replace(query=urlencode(query))))
    assert page.url.startswith(site.idp.issuer)  # the provider refuses to send the code anywhere else
    assert "redirect_uri" in page.content()
    assert session_cookie(page) is None

    page.goto("/login?next=//evil.example/")  # nor does the service send anyone off-site afterwards
    page.get_by_role("link", name="Sign in with Northern University").click()
    through_provider(page, site, "alice")
    page.wait_for_url(f"{site.base}/")
    assert session_cookie(page) is not None
