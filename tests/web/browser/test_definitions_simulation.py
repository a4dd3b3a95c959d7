"""An administrator in a real browser changes a definition on disk, checks the folder, reads what the simulation
finds with today's people, and publishes the new version — on a laptop and on a phone."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import DEFINITIONS
from tests.web.browser.conftest import axe_violations, screenshot, sign_in
from workflow.config import Settings
from workflow.context import Services

OpenPage = Callable[..., Page]


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    folder = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS, folder)
    return settings.model_copy(update={"definitions_dir": folder})


def test_an_administrator_checks_a_changed_definition_before_publishing_it(org: Services,
                                                                           open_page: OpenPage) -> None:
    path = org.settings.definitions_dir / "microcredential.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("    planned_days: 45\n", "    planned_days: 50\n", 1),
                    encoding="utf-8")
    for viewport, name in (((1366, 768), "laptop"), ((390, 844), "phone")):
        page = open_page(viewport)
        sign_in(page, "admin", "/admin")
        simulations = page.get_by_role("heading", name="Simulation with the people who hold roles now")
        expect(simulations).to_have_count(len(org.definitions.names()))  # one per definition
        screenshot(page, f"admin-definitions-simulation-{name}")
        assert axe_violations(page) == []
        page.get_by_role("button", name="Check the folder").click()
        expect(page.get_by_role("heading", name="What a reload would publish")).to_be_visible()
        expect(page.get_by_text("a new version would replace version 1")).to_be_visible()
        expect(page.get_by_text("Credentials in Feasibility can go no further").first).to_be_visible()
        screenshot(page, f"admin-definitions-check-{name}")
        assert axe_violations(page) == []
    page.get_by_role("button", name="Publish 1 new version").click()
    expect(page.get_by_text("(microcredential, version 2)")).to_be_visible()
    assert org.definitions.current_version("microcredential") == 2
