"""The administrators' definitions page shows what simulating each definition with the organisation finds, and
"Check the folder" shows it for each changed definition before a reload publishes it (and publishes nothing)."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import DEFINITIONS
from tests.web.pages import sign_in
from workflow.config import Settings
from workflow.context import Services

HTML = {"Accept": "text/html"}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The usual settings, over a copy of the definitions folder that a test may change."""
    folder = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS, folder)
    return settings.model_copy(update={"definitions_dir": folder})


def rewrite(org: Services, old: str, new: str) -> None:
    path = org.settings.definitions_dir / "microcredential.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_the_definitions_page_shows_the_simulation_with_todays_people(org: Services, app_client: TestClient) -> None:
    sign_in(app_client, "admin")
    page = text_of(app_client.get("/admin").text)
    assert "Simulation with the people who hold roles now" in page
    assert "35 findings · Dead ends: 1 · Timers that never fire: 7 · Checklist items nobody owns: 27" in page
    assert ("Dead ends (1) Credentials in Feasibility can go no further (only “Put on hold” and “Withdraw” leave it): "
            "“Approve feasibility” needs “Initial budget drafted”, owned by the Finance, and nobody holds that role"
            in page)
    assert "Checklist items nobody owns (27) Checklist item “Initial budget drafted”" in page
    assert "390 Ideation → Feasibility → Design → Build → Marketing and launch → Delivery → Sunset (teach-out) → " \
           "Retired No plan for Delivery." in page


def test_checking_the_folder_simulates_a_changed_definition_and_publishes_nothing(
        org: Services, app_client: TestClient) -> None:
    token = sign_in(app_client, "admin")
    rewrite(org, "  dean: {title: Dean (leadership champion)}\n",
            "  dean: {title: Dean (leadership champion)}\n  provost: {title: Provost}\n")
    rewrite(org, "      - {role: dean, policy: any}\n", "      - {role: provost, policy: any}\n")
    checked = app_client.post("/admin/definitions/check", data={"csrf_token": token}, headers=HTML)
    assert checked.status_code == 200
    page = text_of(checked.text)
    assert "a new version would replace version 1" in page
    assert ("Gates nobody can pass (1) Nobody can pass the gate “Feasibility approval”: it needs the approval of the "
            "Provost (any one), and nobody holds that role") in page
    assert org.definitions.current_version("microcredential") == 1  # nothing published

    publish = re.search(r'action="/admin/definitions/reload">\s*<input type="hidden" name="csrf_token" '
                        r'value="([^"]+)"[^<]*>\s*<button type="submit">Publish 1 new version</button>', checked.text)
    assert publish is not None
    done = app_client.post("/admin/definitions/reload", data={"csrf_token": publish.group(1)}, headers=HTML)
    assert done.status_code == 200 and org.definitions.current_version("microcredential") == 2
    assert "Nobody can pass the gate “Feasibility approval”" in text_of(done.text)


def test_checking_an_unchanged_folder_says_so(org: Services, app_client: TestClient) -> None:
    token = sign_in(app_client, "admin")
    checked = app_client.post("/admin/definitions/check", data={"csrf_token": token}, headers=HTML)
    assert checked.status_code == 200
    assert "Every definition in the folder is the version in use" in text_of(checked.text)


def test_checking_an_invalid_folder_lists_the_problems(org: Services, app_client: TestClient) -> None:
    token = sign_in(app_client, "admin")
    rewrite(org, "    dest: feasibility\n", "    dest: feasability\n")
    checked = app_client.post("/admin/definitions/check", data={"csrf_token": token}, headers=HTML)
    assert checked.status_code == 422
    lines = re.findall(r"<li><code>([^<]+)</code></li>", checked.text)
    assert any("[unknown-state] unknown state &#39;feasability&#39; — did you mean &#39;feasibility&#39;?" in line
               for line in lines), lines
    assert org.definitions.current_version("microcredential") == 1 and org.definitions.problems() == ()


def test_only_administrators_may_check_the_folder(org: Services, app_client: TestClient) -> None:
    token = sign_in(app_client, "dean.business")
    refused = app_client.post("/admin/definitions/check", data={"csrf_token": token}, headers=HTML)
    assert refused.status_code == 403
