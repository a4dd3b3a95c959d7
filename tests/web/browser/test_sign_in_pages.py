"""The sign-in security pages in Chromium, on a laptop and a phone: an administrator without a second factor is sent
to set one up (QR code drawn here), signs in again with a code, and reads their recent activity and everyone's
sign-in log; no serious accessibility violation on any of them."""

from __future__ import annotations

from collections.abc import Callable

import pyotp
import pytest
from playwright.sync_api import Page

from tests.organisation import PASSWORD
from tests.web.browser.conftest import axe_violations, screenshot
from workflow.clock import ManualClock
from workflow.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"second_factor_required": "administrators"})


def password_sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize("viewport", [(1366, 768), (390, 844)], ids=["laptop", "phone"])
def test_administrator_sets_up_a_second_factor_then_signs_in_with_it(
        open_page: Callable[..., Page], clock: ManualClock, viewport: tuple[int, int]) -> None:
    width = viewport[0]
    page = open_page(viewport)
    password_sign_in(page, "admin")
    page.wait_for_url("**/account/second-factor")
    assert page.get_by_text("Administrators need a second factor here").is_visible()
    assert page.get_by_role("img", name="QR code for your authenticator app").count() == 1 or \
        page.locator("svg.segno").count() == 1
    screenshot(page, f"second-factor-enrol-{width}")
    assert axe_violations(page) == []
    totp = pyotp.TOTP(page.get_by_test_id("totp-secret").inner_text())
    page.get_by_label("The six-digit code the app shows now").fill(totp.generate_otp(totp.timecode(clock.now())))
    page.get_by_role("button", name="Set up the second factor").click()
    assert page.get_by_test_id("recovery-codes").locator("li").count() == 10
    screenshot(page, f"second-factor-recovery-codes-{width}")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Sign out").click()

    page.wait_for_url("**/login")
    password_sign_in(page, "admin")
    page.wait_for_url("**/login/second-factor**")
    screenshot(page, f"second-factor-prompt-{width}")
    assert axe_violations(page) == []
    page.get_by_label("Code from your authenticator app, or a recovery code").fill("123 456")
    page.get_by_role("button", name="Continue").click()
    assert "That code is wrong or was already used" in page.get_by_role("alert").inner_text()
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(
        totp.generate_otp(totp.timecode(clock.now()) + 1))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(lambda url: url.endswith("/"))

    page.get_by_role("link", name="Recent activity").click()
    assert page.get_by_test_id("sign-in-event").count() >= 5
    screenshot(page, f"recent-activity-{width}")
    assert axe_violations(page) == []
    page.goto("/admin/sign-ins")
    assert page.get_by_role("link", name="Sign-in log").get_attribute("aria-current") == "page"
    screenshot(page, f"admin-sign-in-log-{width}")
    assert axe_violations(page) == []
