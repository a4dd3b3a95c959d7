"""The administrator's people page in a real browser: the last administrator cannot deactivate themselves (the
page says why), and making someone else an administrator first lets them — on a laptop and on a phone."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.web.browser.conftest import axe_violations, screenshot, sign_in
from workflow.context import Services

OpenPage = Callable[..., Page]
LAST = "Admin is the last active administrator; make someone else an administrator first"


def button(action: str, person: str) -> re.Pattern[str]:
    """A row's button: what it does, then (for screen readers) whom to."""
    return re.compile(rf"^{action}\s*: {person}$")


def test_the_last_administrator_is_told_to_make_someone_else_one_first(org: Services, open_page: OpenPage) -> None:
    for viewport, name in (((1366, 768), "laptop"), ((390, 844), "phone")):
        page = open_page(viewport)
        sign_in(page, "admin", "/admin/people")
        page.get_by_role("button", name=button("Deactivate", "Admin")).click()
        expect(page.get_by_role("alert")).to_have_text(LAST)
        screenshot(page, f"people-last-administrator-{name}")
        assert axe_violations(page) == []
    page.get_by_role("button", name=button("Make administrator", "Acting Dean")).click()
    expect(page.get_by_role("status")).to_have_text("The person is now an administrator.")
    page.get_by_role("button", name=button("Remove administrator", "Admin")).click()
    expect(page.get_by_role("status")).to_have_text("The person is no longer an administrator.")
    screenshot(page, "people-after-handing-over-phone")
    assert axe_violations(page) == []
    assert org.people.user(org.people.user_id("admin"))["is_admin"] is False
