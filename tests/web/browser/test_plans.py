"""Planning in a real browser: a project manager sets a target launch date on the credential page, moves one
phase with a reason (after being told a reason is needed), and sees the portfolio timeline follow — on a laptop
and on a phone, each page passing an accessibility check."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from playwright.sync_api import Page, expect

from tests.organisation import as_person
from tests.web.browser.conftest import axe_violations, screenshot, sign_in
from workflow.clock import ManualClock
from workflow.context import Services

OpenPage = Callable[..., Page]


def test_a_pm_plans_a_credential_and_sees_the_timeline_update(org: Services, clock: ManualClock,
                                                               open_page: OpenPage) -> None:
    pm = as_person(org, "pm.business")
    cid = org.credentials.create(definition="microcredential", title="Forklift safety", by=pm,
                                 org_unit_id=org.people.unit_id("business"))
    other = org.credentials.create(definition="microcredential", title="Cold-chain logistics", by=pm,
                                   org_unit_id=org.people.unit_id("logistics"))
    org.plans.set_target(credential_id=other, target=(clock.now() + timedelta(days=200)).date(), by=pm)
    clock.advance(timedelta(days=3))
    page = open_page(viewport=(1366, 768))
    sign_in(page, "pm.business", f"/credentials/{cid}")
    plan = page.get_by_role("region", name="Plan", exact=True)
    expect(plan).to_contain_text("No target yet")

    plan.get_by_label("Target launch date").fill("2027-09-07")
    plan.get_by_role("button", name="Set the target and plan the phases").click()
    expect(page.locator(".notice")).to_contain_text("The target launch date is set")
    expect(page.get_by_test_id("plan-target")).to_have_text("2027-09-07")
    expect(page.get_by_test_id("planned-design")).to_have_text("2027-04-25")
    assert axe_violations(page) == []
    screenshot(page, "plan-set")

    # a move with no reason is refused beside the reason, the date typed kept
    plan = page.get_by_role("region", name="Plan", exact=True)
    plan.get_by_label("Phase", exact=True).select_option(label="Design (planned to end 2027-04-25)")
    plan.get_by_label("New planned end").fill("2027-05-20")
    plan.get_by_role("button", name="Move the date").click()
    reason = page.locator("#plan-phase-reason")
    expect(reason).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#plan-phase-reason-error")).to_have_text(
        "Say why the date moves (the history keeps the reason).")
    expect(page.get_by_label("New planned end")).to_have_value("2027-05-20")
    expect(page.get_by_test_id("planned-design")).to_have_text("2027-04-25")  # nothing changed
    assert axe_violations(page) == []
    screenshot(page, "plan-move-refused")
    reason.fill("The curriculum committee meets in May")
    page.get_by_role("button", name="Move the date").click()
    expect(page.get_by_test_id("planned-design")).to_contain_text("2027-05-20 (moved)")
    design = page.locator('tr[data-phase="design"]')
    expect(design.locator("td").nth(0)).to_have_text("2027-04-25")  # the baseline stays
    history = page.locator("#history")
    expect(history).to_contain_text("Plan: end of Design moved from 2027-04-25 to 2027-05-20")

    phone = open_page(viewport=(390, 844))
    sign_in(phone, "pm.business", f"/credentials/{cid}")
    expect(phone.get_by_test_id("plan-target")).to_have_text("2027-09-07")
    page_width = phone.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 390, f"the credential page scrolls sideways on a phone ({page_width}px wide)"
    assert axe_violations(phone) == []
    phone.locator("#plan").screenshot(path=str(screenshot(phone, "plan-phone").with_name("plan-phone-section.png")))

    for viewport, name in (((1366, 768), "timeline"), ((390, 844), "timeline-phone")):
        page = open_page(viewport=viewport)
        sign_in(page, "pm.business", "/timeline")
        rows = page.get_by_test_id("timeline-row")
        expect(rows).to_have_count(2)
        mine = page.locator(f'tr[data-credential="{cid}"]')
        expect(mine.get_by_test_id("row-target")).to_have_text("2027-09-07")
        expect(mine.locator('td[data-phase="design"]')).to_contain_text("2027-05-20")
        expect(page.get_by_test_id("gantt").locator(f'g[data-credential="{cid}"] [data-testid="target-marker"]')
               ).to_have_count(1)
        page.get_by_label("Faculty or department").select_option(label="School of Logistics")
        page.get_by_role("button", name="Show").click()
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Cold-chain logistics")
        page_width = page.evaluate("document.documentElement.scrollWidth")
        assert page_width <= viewport[0], f"the page scrolls sideways ({page_width}px wide)"
        if viewport[0] == 1366:  # the chart is wide enough to read: its titles are at least 11px on screen
            box = page.get_by_test_id("gantt").bounding_box()
            assert box is not None and box["width"] >= 1100
        assert axe_violations(page) == []
        page.goto("/timeline")
        screenshot(page, name)
