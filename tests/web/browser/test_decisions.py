"""Deciding in a real browser on a laptop screen (1366x768): the dean reads the proposal with the decision panel in
view, a committee member's approval moves the quorum, and a withdrawal asks for its reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from playwright.sync_api import Locator, Page, expect

from tests.steps import SYSTEM, at_build, at_feasibility
from tests.web.browser.conftest import axe_violations, screenshot, sign_in
from workflow.context import Services

OpenPage = Callable[..., Page]
LAPTOP = (1366, 768)


def in_view(page: Page, locator: Locator) -> bool:
    """Whether the element's top edge and some of it lie inside the window."""
    box = locator.bounding_box()
    assert box is not None
    height = page.viewport_size["height"] if page.viewport_size else 0
    return -1 <= box["y"] < height and box["y"] + min(box["height"], 40) <= height


def test_the_dean_reads_the_proposal_beside_the_panel_and_asks_for_changes(org: Services,
                                                                            open_page: OpenPage) -> None:
    cid = at_feasibility(org, leave_open=("funding_applied",))
    org.clock.advance(timedelta(days=20))  # type: ignore[attr-defined]  # the 14 days to decide are over
    at_feasibility(org)  # a second one, still in time: the filter leaves it out
    page = open_page(viewport=LAPTOP)
    sign_in(page, "dean.business", "/approvals")
    page.get_by_label("Gate").select_option(label="Feasibility approval")
    page.get_by_label("Due", exact=True).select_option(label="Overdue")
    page.get_by_role("button", name="Show").click()
    rows = page.get_by_test_id("approval")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("6 days overdue")
    rows.first.get_by_role("link", name="Supply-chain analytics", exact=True).click()
    expect(page.get_by_role("heading", name="Feasibility approval: Supply-chain analytics")).to_be_visible()
    summary, panel = page.get_by_test_id("summary"), page.get_by_test_id("decision-panel")
    assert in_view(page, summary) and in_view(page, panel), "the proposal and the decision panel side by side"
    expect(page.get_by_text("decision 6 days overdue")).to_be_visible()
    screenshot(page, "decision-page")
    page.locator("#path").scroll_into_view_if_needed()  # reading on: the panel stays where it is
    assert in_view(page, panel) and in_view(page, page.locator("#path-h"))
    assert axe_violations(page) == []
    panel.get_by_role("radio", name="Request changes").check()
    expect(panel.locator(".verdict.chosen")).to_contain_text("stays open")  # the consequence stands out
    panel.get_by_label("Your comment").fill("Apply for the provincial fund before we go on.")
    screenshot(page, "decision-request-changes")
    panel.get_by_role("button", name="Record my decision").click()
    expect(page.get_by_role("status")).to_have_text("Your request for changes is recorded.")
    expect(page.locator("#path")).to_contain_text("asked for changes")

    pm = open_page(viewport=LAPTOP)
    sign_in(pm, "pm.business", f"/credentials/{cid}")
    expect(pm.locator("#history")).to_contain_text("Apply for the provincial fund before we go on.")
    screenshot(pm, "decision-seen-by-pm")


def test_a_committee_members_approval_moves_the_quorum_on_the_page(org: Services, open_page: OpenPage) -> None:
    cid = at_build(org, credit_bearing=True)
    for username in ("qa", "registrar"):
        org.credentials.decide(credential_id=cid, gate="governance_signoff", verdict="approve",
                               by=org.access.caller_by_name(username))
    page = open_page(viewport=LAPTOP)
    sign_in(page, "council.a", f"/credentials/{cid}/gates/governance_signoff")
    council = page.get_by_test_id("step").filter(has_text="Academic governance body")
    expect(council.get_by_test_id("quorum")).to_have_text("0 of 2")
    page.get_by_role("radio", name="Approve").check()
    page.get_by_role("button", name="Record my decision").click()
    expect(page.get_by_role("status")).to_have_text("Your approval is recorded.")
    expect(council.get_by_test_id("quorum")).to_have_text("1 of 2")
    expect(page.get_by_test_id("mine")).to_contain_text("You have approved this gate")
    expect(page.get_by_role("radio", name="Approve")).to_have_count(0)  # once; asking for changes stays open
    screenshot(page, "decision-quorum")
    assert org.views.get(cid, by=SYSTEM).state == "build"  # one more council member to go


def test_withdrawing_asks_for_a_reason_and_the_history_keeps_it(org: Services, open_page: OpenPage) -> None:
    cid = at_feasibility(org)
    page = open_page(viewport=LAPTOP)
    sign_in(page, "pm.business", f"/credentials/{cid}")
    page.get_by_role("link", name="Withdraw…").click()
    expect(page.get_by_test_id("consequence")).to_contain_text("This is final")
    page.get_by_role("button", name="Withdraw").click()  # no reason yet: the browser asks for one
    assert page.url.endswith(f"/credentials/{cid}/moves/withdraw")
    assert org.views.get(cid, by=SYSTEM).state == "feasibility"
    page.get_by_label("Reason").fill("The employer partner pulled out.")
    screenshot(page, "withdraw-confirm")
    page.get_by_role("button", name="Withdraw").click()
    expect(page.get_by_test_id("state")).to_have_text("Withdrawn")
    expect(page.locator("#history")).to_contain_text("The employer partner pulled out.")
    screenshot(page, "withdrawn")


def test_the_decision_page_reads_on_a_phone_and_rejecting_asks_first(org: Services, open_page: OpenPage) -> None:
    cid = at_feasibility(org)
    page = open_page(viewport=(390, 844))
    sign_in(page, "dean.business", f"/credentials/{cid}/gates/feasibility_approval")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px wide)"
    page.get_by_role("link", name="Go to your decision").click()
    assert in_view(page, page.get_by_test_id("decision-panel"))
    assert axe_violations(page) == []
    page.get_by_role("radio", name="Reject").check()
    page.get_by_role("button", name="Record my decision").click()  # no comment: the browser asks for one
    assert page.locator("#comment").evaluate("e => e.validity.valueMissing")
    assert page.url.endswith(f"/credentials/{cid}/gates/feasibility_approval#decide")
    assert org.views.history(cid, by=SYSTEM)[-1].kind != "decision"
    page.get_by_label("Your comment").fill("No budget this year.")
    page.get_by_role("button", name="Record my decision").click()
    expect(page.get_by_role("alert")).to_contain_text("cannot pass while your rejection stands")
    assert in_view(page, page.get_by_test_id("decision-panel"))  # the answer opens at the panel, not the top
    assert axe_violations(page) == []
    screenshot(page, "decision-reject-confirm-phone")
    assert org.views.history(cid, by=SYSTEM)[-1].kind != "decision"  # not until confirmed
    page.get_by_role("button", name="Yes, reject").click()
    expect(page.get_by_role("status")).to_have_text("Your rejection is recorded.")
    assert org.views.history(cid, by=SYSTEM)[-1].details["verdict"] == "reject"
