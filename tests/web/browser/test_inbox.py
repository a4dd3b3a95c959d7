"""The approvals table in a real browser: a dean narrows it to overdue feasibility decisions with the filter form
(no JavaScript needed), and a committee member reads their agenda, on a laptop and on a phone, each page passing
an accessibility check."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.inbox_population import committee_waiting, populate
from tests.web.browser.conftest import axe_violations, screenshot, sign_in
from workflow.clock import ManualClock
from workflow.context import Services

OpenPage = Callable[..., Page]


def test_a_dean_filters_to_overdue_feasibility_gates(org: Services, clock: ManualClock,
                                                      open_page: OpenPage) -> None:
    populate(org, clock)
    for viewport, name in (((1366, 768), "approvals-filtered"), ((390, 844), "approvals-filtered-phone")):
        page = open_page(viewport=viewport)
        sign_in(page, "acting.dean", "/approvals")
        expect(page).to_have_title("Approvals (3) — Micro-credential workflow")
        expect(page.get_by_test_id("approval")).to_have_count(3)
        page.get_by_label("Gate").select_option(label="Feasibility approval")
        page.get_by_label("Due", exact=True).select_option(label="Overdue")
        page.get_by_role("button", name="Show").click()
        rows = page.get_by_test_id("approval")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text("Alpha analytics")
        expect(rows.nth(0)).to_contain_text("6 days overdue")
        expect(rows.nth(1)).to_contain_text("Beta data care")
        expect(rows.nth(1)).to_contain_text("for Dean of Health, delegated")
        expect(page.get_by_test_id("showing")).to_contain_text("Showing 1–2 of 2 matching")
        assert "due=overdue" in page.url and "gate=feasibility_approval" in page.url
        title = rows.nth(0).get_by_role("link", name="Alpha analytics", exact=True)
        expect(title).to_be_in_viewport()  # the credential column stays in view
        page_width = page.evaluate("document.documentElement.scrollWidth")
        assert page_width <= viewport[0], f"the page scrolls sideways ({page_width}px wide)"
        assert axe_violations(page) == []
        screenshot(page, name)
        page.get_by_role("link", name="Checklist complete").click()
        expect(page.get_by_role("columnheader", name="Checklist complete")).to_have_attribute(
            "aria-sort", "descending")
        expect(page.get_by_test_id("approval")).to_have_count(2)


def test_a_committee_member_reads_the_agenda_by_meeting(org: Services, clock: ManualClock,
                                                        open_page: OpenPage) -> None:
    committee_waiting(org, clock)
    for viewport, name in (((1366, 768), "approvals-agenda"), ((390, 844), "approvals-agenda-phone")):
        page = open_page(viewport=viewport)
        sign_in(page, "council.d", "/approvals")
        agenda = page.get_by_role("region", name="Agenda: Academic governance body (college council / quality "
                                                  "council)")
        expect(agenda.get_by_role("heading", name="Meeting of Tuesday 6 October 2026")).to_be_visible()
        expect(agenda.get_by_role("link", name="Governance sign-off: Supply-chain analytics")).to_be_visible()
        expect(agenda.get_by_role("heading", name="Meeting of Tuesday 3 November 2026")).to_be_visible()
        expect(agenda.get_by_test_id("meeting").nth(1)).to_have_text("Nothing on this agenda yet.")
        page_width = page.evaluate("document.documentElement.scrollWidth")
        assert page_width <= viewport[0], f"the page scrolls sideways ({page_width}px wide)"
        assert axe_violations(page) == []
        screenshot(page, name)
