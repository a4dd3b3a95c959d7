"""Pathways, the standard exports and the analytics in a real browser, on a laptop (1366x768) and a phone (390 px
wide): a sunset that others depend on is refused until each is ticked, the history keeps what was acknowledged;
the pathway graph, the printable summary and the analytics charts are read without serious accessibility
problems. Screenshots of each go to artifacts/screenshots/ (and /tmp/shots-portfolio/)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.steps import SUMMARY, SYSTEM, tick
from tests.web.browser.conftest import axe_violations, screenshot, sign_in
from tests.web.test_analytics import five as five
from workflow.context import Services

OpenPage = Callable[..., Page]
LAPTOP, PHONE = (1366, 768), (390, 844)
SHOTS = Path("/tmp/shots-portfolio")
TO_REVIEW = ["submit_for_feasibility", "approve_feasibility", "complete_design", "sign_off", "launch", "start_review"]


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(screenshot(page, name), SHOTS / f"{name}.png")


def fits(page: Page) -> bool:
    """Nothing wider than the window (the page scrolls down, never sideways)."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def launched(org: Services, title: str, **data: object) -> int:
    admin = org.access.caller_by_name("admin")
    cid = org.credentials.create(definition="microcredential", title=title, by=SYSTEM,
                                 org_unit_id=org.people.unit_id("business"),
                                 data={**SUMMARY, "purpose": "Warehouses need certified operators",
                                       "description": "Safe forklift operation", "learning_outcomes":
                                       ["Inspect a forklift before use", "Lift and stack loads safely"],
                                       "provider": "Northern College", "pass_mark": "80%",
                                       "learning_resources": "LMS course", "identity_verification": "Photo ID",
                                       "qa_body": "Quality Council", "learner_outcome": "Digital badge",
                                       "prerequisites": "None", "participation_mode": "on-site", **data})
    for trigger in TO_REVIEW:
        org.credentials.override(credential_id=cid, trigger=trigger, comment="Walked there for the test", by=admin)
    return cid


def test_a_sunset_others_depend_on_waits_for_each_to_be_acknowledged(org: Services, open_page: OpenPage) -> None:
    base = launched(org, "Forklift basics")
    tick(org, base)
    advanced = org.credentials.create(definition="microcredential", title="Forklift advanced", by=SYSTEM,
                                      org_unit_id=org.people.unit_id("business"),
                                      data={"purpose": "Next step", "requires": [base]})
    page = open_page(viewport=LAPTOP)
    sign_in(page, "dean.business", f"/credentials/{base}/gates/sunset_approval")
    panel = page.get_by_test_id("decision-panel")
    panel.get_by_role("radio", name="Approve").check()
    panel.get_by_label("Your comment").fill("Moved into the logistics diploma")
    panel.get_by_role("button", name="Record my decision").click()
    impact = page.get_by_test_id("impact")
    expect(impact).to_contain_text("Forklift advanced")
    expect(impact).to_contain_text("requires it")
    shot(page, "sunset-impact-laptop")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Yes, approve").click()
    expect(page.locator("#decision-error")).to_contain_text("Tick each credential below to acknowledge")
    assert org.views.get(base, by=SYSTEM).state == "review"
    shot(page, "sunset-refused-laptop")
    page.get_by_label("Forklift advanced", exact=False).check()
    page.get_by_role("button", name="Yes, approve").click()
    expect(page.get_by_role("status")).to_have_text("The credential moved on.")
    expect(page.locator("#history")).to_contain_text(f"impact acknowledged: “Forklift advanced” (#{advanced}) "
                                                     "requires it")
    assert org.views.get(base, by=SYSTEM).state == "sunset"
    shot(page, "sunset-acknowledged-laptop")

    phone = open_page(viewport=PHONE)
    other = launched(org, "Reach truck basics")
    tick(org, other)
    org.credentials.update(credential_id=advanced, changes={"requires": [base, other]}, by=SYSTEM)
    sign_in(phone, "dean.business", f"/credentials/{other}/gates/sunset_approval")
    phone.get_by_role("radio", name="Approve").check()
    phone.get_by_label("Your comment").fill("Out of date")
    phone.get_by_role("button", name="Record my decision").click()
    expect(phone.get_by_test_id("impact")).to_contain_text("Forklift advanced")
    assert fits(phone)
    shot(phone, "sunset-impact-phone")


def test_the_pathway_graph_and_the_printable_summary(org: Services, open_page: OpenPage) -> None:
    base = launched(org, "Forklift basics", credit_bearing=True, credits=2)
    org.credentials.create(definition="microcredential", title="Forklift advanced", by=SYSTEM,
                           org_unit_id=org.people.unit_id("business"),
                           data={"purpose": "Next step", "requires": [base]})
    bundle = org.credentials.create(definition="microcredential", title="Warehouse operations bundle", by=SYSTEM,
                                    org_unit_id=org.people.unit_id("business"), data={"purpose": "A bundle"})
    org.credentials.update(credential_id=base, changes={"stacks_into": [bundle]}, by=SYSTEM)
    for viewport, name in ((LAPTOP, "laptop"), (PHONE, "phone")):
        page = open_page(viewport=viewport)
        sign_in(page, "pm.business", "/portfolio")
        page.get_by_role("link", name="Pathways").click()
        drawing = page.get_by_test_id("pathway-drawing")
        expect(drawing.locator("svg")).to_be_visible()
        expect(drawing).to_contain_text("Forklift basics")
        expect(page.get_by_test_id("pathway-table")).to_contain_text("stacks into")
        assert fits(page)
        shot(page, f"pathways-{name}")
        assert axe_violations(page) == []
        page.goto(f"/credentials/{base}")
        page.get_by_test_id("summary-link").click()
        expect(page.get_by_test_id("summary-credits")).to_contain_text("Credit-bearing: 2 credits")
        expect(page.get_by_test_id("summary-learning_outcomes")).to_contain_text("Lift and stack loads safely")
        assert fits(page)
        shot(page, f"summary-{name}")
        assert axe_violations(page) == []
    page.emulate_media(media="print")
    expect(page.locator("header.site")).to_be_hidden()
    expect(page.get_by_test_id("summary-title")).to_be_visible()
    shot(page, "summary-print")


def test_the_analytics_charts_with_their_tables(org: Services, five: dict[str, int],
                                                open_page: OpenPage) -> None:
    for viewport, name in ((LAPTOP, "laptop"), (PHONE, "phone")):
        page = open_page(viewport=viewport)
        sign_in(page, "admin", "/portfolio")
        page.get_by_role("link", name="Analytics").click()
        expect(page.locator("#chart-phases")).to_be_visible()
        expect(page.get_by_test_id("phase-table")).to_contain_text("60% (3 of 5)")
        expect(page.get_by_test_id("on-time")).to_contain_text("75%")
        assert fits(page)
        shot(page, f"analytics-{name}")
        assert axe_violations(page) == []
    page.get_by_label("Faculty", exact=True).select_option(label="Faculty of Health")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("phase-table").locator("tr", has_text="Ideation (sunrise)")).to_contain_text(
        "40 days")
    shot(page, "analytics-health-phone")
