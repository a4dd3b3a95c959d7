"""Evidence in a real browser: the finance office uploads the budget (a PDF) to its item, the dean reads it on the
decision page and approves, the PM replaces it, the dean's approval shows as outdated with the reason, and the
first version still downloads with the hash the history recorded; a file that is HTML inside is refused."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.evidence import HTML, PDF, PDF_V2, with_finance
from tests.steps import SYSTEM, at_feasibility
from tests.web.browser.conftest import axe_violations, screenshot, sign_in
from workflow.context import Services

OpenPage = Callable[..., Page]
LAPTOP = (1366, 768)
PHONE = (390, 844)
GATE = "feasibility_approval"


def upload(page: Page, path: Path) -> None:
    page.get_by_label("File").set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()


def test_the_budget_is_read_approved_replaced_and_the_approval_outdated(org: Services, open_page: OpenPage,
                                                                        tmp_path: Path) -> None:
    org = with_finance(org)
    cid = at_feasibility(org, leave_open=("funding_applied",))  # the gate stays open after the dean approves
    (tmp_path / "budget.pdf").write_bytes(PDF)
    (tmp_path / "budget-v2.pdf").write_bytes(PDF_V2)
    (tmp_path / "sneaky.pdf").write_bytes(HTML)

    finance = open_page(viewport=LAPTOP)
    sign_in(finance, "fin.business", f"/credentials/{cid}")
    finance.get_by_role("link", name="Attach evidence for “Initial budget drafted”").click()
    expect(finance.get_by_role("heading", name="Evidence: Initial budget drafted")).to_be_visible()
    upload(finance, tmp_path / "sneaky.pdf")
    expect(finance.locator("#file-error")).to_contain_text("The file is an HTML, SVG or XML document")
    expect(finance.get_by_text("No evidence attached yet.")).to_be_visible()  # nothing stored
    screenshot(finance, "evidence-refused")
    upload(finance, tmp_path / "budget.pdf")
    expect(finance.get_by_role("status")).to_have_text("The evidence is attached as a new version.")
    expect(finance.get_by_test_id("version-1")).to_contain_text("budget.pdf")
    expect(finance.get_by_test_id("version-1")).to_contain_text("Finance Business")
    assert axe_violations(finance) == []
    screenshot(finance, "evidence-page")

    dean = open_page(viewport=LAPTOP)
    sign_in(dean, "dean.business", f"/credentials/{cid}/gates/{GATE}")
    budget = dean.get_by_test_id("document-initial_budget")
    expect(budget).to_contain_text("budget.pdf")
    expect(budget).to_contain_text("version 1, Finance Business")
    expect(budget.get_by_role("link", name="preview of budget.pdf, opens in a new tab")).to_have_attribute(
        "href", f"/credentials/{cid}/evidence/initial_budget/1/preview")
    preview = dean.request.get(f"/credentials/{cid}/evidence/initial_budget/1/preview")
    assert preview.headers["content-type"] == "application/pdf"
    assert preview.headers["content-disposition"].startswith("inline;")  # the browser's own PDF viewer
    assert preview.headers["x-content-type-options"] == "nosniff"
    assert axe_violations(dean) == []
    screenshot(dean, "evidence-decision-page")
    panel = dean.get_by_test_id("decision-panel")
    panel.get_by_role("radio", name="Approve").check()
    panel.get_by_role("button", name="Record my decision").click()
    expect(dean.get_by_role("status")).to_have_text("Your approval is recorded.")

    pm = open_page(viewport=PHONE)
    sign_in(pm, "pm.business", f"/credentials/{cid}/evidence/initial_budget")
    upload(pm, tmp_path / "budget-v2.pdf")
    expect(pm.get_by_test_id("version-2")).to_contain_text("budget-v2.pdf")
    expect(pm.get_by_test_id("version-1")).to_contain_text("budget.pdf")  # the old version is kept
    screenshot(pm, "evidence-page-phone")

    dean.reload()
    expect(dean.get_by_test_id("outdated")).to_have_text(
        "(outdated: the evidence of “Initial budget drafted” was replaced (version 1 → version 2))")
    budget = dean.get_by_test_id("document-initial_budget")
    expect(budget).to_contain_text("budget-v2.pdf")
    expect(budget).to_contain_text("new version since you looked")
    screenshot(dean, "evidence-approval-outdated")

    dean.goto(f"/credentials/{cid}/evidence/initial_budget")
    with dean.expect_download() as waiting:
        dean.get_by_role("link", name="Download budget.pdf").click()
    first = Path(waiting.value.path()).read_bytes()
    assert first == PDF
    recorded = next(e for e in org.views.history(cid, by=SYSTEM)
                    if e.kind == "evidence" and e.details["version"] == 1)
    assert recorded.details["sha256"] == hashlib.sha256(first).hexdigest()
