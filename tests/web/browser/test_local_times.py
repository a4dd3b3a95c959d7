"""Local times in a real browser: the expiry timer reads as Toronto time with its abbreviation, the footer names
the zone, and a delegation whose last day is over is refused beside its dates — on a laptop and on a phone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.services.test_timers import PATH, SUMMARY, walk
from tests.steps import SYSTEM
from tests.web.browser.conftest import axe_violations, screenshot, sign_in
from workflow.context import Services

OpenPage = Callable[..., Page]


@pytest.mark.parametrize("viewport", [(1366, 768), (390, 844)], ids=["laptop", "phone"])
def test_times_read_as_local_time_and_an_ended_delegation_is_refused(
        org: Services, open_page: OpenPage, viewport: tuple[int, int]) -> None:
    cid = org.credentials.create(definition="microcredential", title="Forklift safety", by=SYSTEM, data=SUMMARY)
    walk(org, cid, PATH)
    org.credentials.update(credential_id=cid, changes={"expires_on": "2026-11-01"}, by=SYSTEM)
    name = "laptop" if viewport[0] > 800 else "phone"

    page = open_page(viewport=viewport)
    sign_in(page, "admin", f"/credentials/{cid}")
    expect(page.get_by_text("2026-11-01 00:00 EDT — Hard expiry date passed")).to_be_visible()
    expect(page.get_by_test_id("zone")).to_have_text("Dates and times are Toronto time (America/Toronto).")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0]
    assert axe_violations(page) == []
    screenshot(page, f"local-times-credential-{name}")

    page = open_page(viewport=viewport)
    sign_in(page, "dean.business", "/approvals")
    page.get_by_label("Username of the person").fill("acting.dean")
    page.get_by_label("Last day").evaluate("input => input.removeAttribute('min')")  # as an old browser would
    page.get_by_label("First day").fill("2026-08-30")
    page.get_by_label("Last day").fill("2026-08-31")
    page.get_by_role("button", name="Delegate").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Last day: 2026-08-31 is already over (today is 2026-09-01, Toronto time)")
    expect(page.get_by_label("Username of the person")).to_have_value("acting.dean")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0]
    assert axe_violations(page) == []
    page.get_by_role("alert").scroll_into_view_if_needed()
    screenshot(page, f"local-times-delegation-refused-{name}")
