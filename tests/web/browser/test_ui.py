"""The pages in a real browser: a dean approves, a project manager sees the milestone move, a registrar ticks an
item, someone from another faculty is kept out — with screenshots of each page and an accessibility check."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from playwright.sync_api import Page, expect

from tests.steps import SYSTEM, at_build, at_feasibility
from tests.web.browser.conftest import axe_violations, screenshot, sign_in
from workflow.context import Services
from workflow.services.access import Caller

OpenPage = Callable[..., Page]


def test_a_dean_finds_the_pending_feasibility_gate_and_approves_it(org: Services, open_page: OpenPage) -> None:
    cid = at_feasibility(org)
    page = open_page()
    sign_in(page, "dean.business")
    expect(page.get_by_test_id("signed-in-as")).to_have_text("Dean of Business")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My approvals").click()
    row = page.get_by_test_id("approval").filter(has_text="Supply-chain analytics")
    expect(row).to_contain_text("Feasibility approval")
    expect(row).to_contain_text("10 of 10")
    expect(row.get_by_role("link", name="Supply-chain analytics", exact=True)).to_have_attribute(
        "href", f"/credentials/{cid}/gates/feasibility_approval")
    screenshot(page, "approvals")
    row.get_by_role("link", name="Supply-chain analytics", exact=True).click()
    expect(page.get_by_role("heading", name="Feasibility approval: Supply-chain analytics")).to_be_visible()
    page.get_by_role("radio", name="Approve").check()
    page.get_by_label("Your comment").fill("Strong employer demand; go ahead.")
    screenshot(page, "credential-deciding")
    page.get_by_role("button", name="Record my decision").click()
    expect(page.get_by_role("status")).to_have_text("The credential moved on.")
    expect(page.get_by_test_id("state")).to_have_text("Design")
    expect(page.locator("#history")).to_contain_text("Strong employer demand; go ahead.")
    assert org.views.get(cid, by=SYSTEM).state == "design"
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My approvals").click()
    expect(page.get_by_text("Nothing is waiting for your decision.")).to_be_visible()


def test_a_project_manager_sees_the_milestone_move(org: Services, open_page: OpenPage) -> None:
    cid = at_feasibility(org)
    org.clock.advance(timedelta(days=50))  # type: ignore[attr-defined]  # 5 days past the 45 planned
    page = open_page()
    sign_in(page, "pm.business", "/portfolio")
    row = page.get_by_test_id("portfolio-row").filter(has_text="Supply-chain analytics")
    expect(row.get_by_test_id("row-state")).to_have_text("Feasibility")
    expect(row).to_contain_text("5 days late")
    screenshot(page, "portfolio")
    org.credentials.decide(credential_id=cid, gate="feasibility_approval", verdict="approve",
                           by=Caller.system("dean.business"), role="dean")
    page.reload()
    expect(row.get_by_test_id("row-state")).to_have_text("Design")
    expect(row).to_contain_text("on plan")
    row.get_by_role("link", name="Supply-chain analytics").click()
    feasibility = page.locator("table.milestones tr", has_text="Feasibility")
    expect(feasibility).to_contain_text("5 days late")
    expect(page.locator("table.milestones tr.current")).to_contain_text("Design")
    expect(page.locator("table.milestones tr.current")).to_contain_text("in progress")
    screenshot(page, "credential")


def test_a_registrar_ticks_an_item_with_the_keyboard(org: Services, open_page: OpenPage) -> None:
    cid = at_build(org, leave_open=("transcript_entry_planned",))
    page = open_page()
    sign_in(page, "registrar", "/tasks")
    group = page.get_by_test_id("task-group").filter(has_text="Supply-chain analytics")
    expect(group).to_contain_text("Transcript entry planned")
    screenshot(page, "tasks")
    group.get_by_label("Note for “Transcript entry planned”").fill("Course code MC-SCA-101")
    group.get_by_label("Note for “Transcript entry planned”").press("Tab")
    page.keyboard.press("Enter")  # the focused "Mark done" button
    expect(page.get_by_role("status")).to_have_text("The checklist item is updated.")
    expect(page.get_by_text("Nothing to do: no checklist item waits for your roles.")).to_be_visible()
    item = next(i for i in org.views.get(cid, by=SYSTEM).checklist if i.key == "transcript_entry_planned")
    assert item.done and item.note == "Course code MC-SCA-101" and item.done_by == "registrar"


def test_someone_from_another_faculty_cannot_reach_the_page(org: Services, open_page: OpenPage) -> None:
    cid = at_feasibility(org)
    page = open_page()
    sign_in(page, "dean.health")
    response = page.goto(f"/credentials/{cid}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.locator("body")).not_to_contain_text("Supply-chain analytics")
    screenshot(page, "not-found")
    page.goto("/approvals")
    expect(page.get_by_text("Nothing is waiting for your decision.")).to_be_visible()
    page.goto("/portfolio")
    expect(page.get_by_test_id("portfolio-row")).to_have_count(0)


def test_the_main_pages_pass_an_accessibility_check(org: Services, open_page: OpenPage) -> None:
    cid = at_feasibility(org)
    org.credentials.comment(credential_id=cid, gate="feasibility_approval", text="Budget confirmed", by=SYSTEM)
    at_build(org, leave_open=("transcript_entry_planned",))
    found: dict[str, list[object]] = {}
    checks = {"dean.business": ["/", "/approvals", f"/credentials/{cid}",
                                f"/credentials/{cid}/gates/feasibility_approval",
                                f"/credentials/{cid}/moves/withdraw", "/portfolio"],
              "registrar": ["/tasks"],
              "admin": ["/admin", "/admin/people", "/admin/outbox", "/admin/definitions/microcredential/migrate"]}
    page = open_page()
    page.goto("/login")
    found["/login"] = axe_violations(page)
    screenshot(page, "login")
    page.goto("/docs")
    page.get_by_text("Micro-credential workflow").first.wait_for()  # the API description, drawn by its script
    found["/docs"] = axe_violations(page)
    screenshot(page, "docs")
    for person, paths in checks.items():
        page = open_page()
        sign_in(page, person)
        for path in paths:
            page.goto(path)
            found[f"{person} {path}"] = axe_violations(page)
            screenshot(page, f"{person}-{path.strip('/').replace('/', '-') or 'home'}")
    assert {where: v for where, v in found.items() if v} == {}


def test_the_credential_page_reads_on_a_phone(org: Services, open_page: OpenPage) -> None:
    cid = at_feasibility(org)
    page = open_page(viewport=(390, 844))
    sign_in(page, "dean.business", f"/credentials/{cid}")
    expect(page.get_by_role("link", name="Review and decide")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px wide)"
    assert axe_violations(page) == []
    screenshot(page, "credential-phone")
