"""The lifecycle drawing in a real browser: styled by the site's style sheet under the strict CSP, marked where the
credential is, and inside the screen on a laptop and a phone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.steps import at_build
from tests.web.browser.conftest import SCREENSHOTS, axe_violations, sign_in
from workflow.context import Services

OpenPage = Callable[..., Page]
ACCENT = "rgb(31, 78, 121)"  # --accent in site.css
OK = "rgb(30, 107, 52)"  # --ok


@pytest.mark.parametrize("viewport", [(1366, 768), (390, 844)], ids=["laptop", "phone"])
def test_the_credential_page_draws_where_it_is_and_the_way_it_came(org: Services, open_page: OpenPage,
                                                                   viewport: tuple[int, int]) -> None:
    cid = at_build(org)
    page = open_page(viewport=viewport)
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text
            else None)
    sign_in(page, "pm.business", f"/credentials/{cid}")
    drawing = page.get_by_role("img", name="Lifecycle of Micro-credential lifecycle, now at Build. "
                                           "The way so far: Ideation, Feasibility, Design, Build.")
    expect(drawing).to_be_visible()
    current = page.locator("svg.lifecycle-graph g.state.current path").first
    assert current.evaluate("e => getComputedStyle(e).fill") == ACCENT
    taken = page.locator("svg.lifecycle-graph g.edge.taken path").first
    assert taken.evaluate("e => getComputedStyle(e).stroke") == OK
    box = drawing.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport[0]
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0]
    assert refused == []
    assert axe_violations(page) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#lifecycle").screenshot(path=str(SCREENSHOTS / f"lifecycle-{viewport[0]}.png"))
