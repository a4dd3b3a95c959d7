"""Definitions are read once per process; an administrator reloads them on purpose, from the page or the API.

Each test runs on its own copy of the definitions folder, which it changes on disk.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import DEFINITIONS
from tests.steps import at_feasibility
from tests.web.pages import sign_in
from workflow.config import Settings
from workflow.context import Services
from workflow.services.access import Caller

API = "/api/v1"
OLD_TITLE = "title: Micro-credential lifecycle"
NEW_TITLE = "title: Micro-credential lifecycle (revised)"
HTML = {"Accept": "text/html"}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The usual settings, over a copy of the definitions folder that a test may change."""
    folder = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS, folder)
    return settings.model_copy(update={"definitions_dir": folder})


def definition_file(org: Services) -> Path:
    return org.settings.definitions_dir / "microcredential.yaml"


def rewrite(org: Services, old: str, new: str) -> None:
    path = definition_file(org)
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def break_the_file(org: Services) -> None:
    """A state that names an unknown phase key: invalid, with a line number."""
    rewrite(org, "\nstates:\n", "\nstates:\n  broken: {title: Broken, unknown_key: 1}\n")


def reload_form(client: TestClient) -> str:
    page = client.get("/admin").text
    found = re.search(r'action="/admin/definitions/reload">\s*<input type="hidden" name="csrf_token" '
                      r'value="([^"]+)"', page)
    assert found is not None, "the definitions page has no reload form"
    return found.group(1)


def test_viewing_the_page_does_not_read_the_folder(org: Services, app_client: TestClient) -> None:
    sign_in(app_client, "admin")
    break_the_file(org)
    page = app_client.get("/admin")
    assert page.status_code == 200
    assert "(microcredential, version 1)" in page.text
    assert 'role="alert"' not in page.text and "was valid when it was last loaded" in page.text
    assert org.definitions.problems() == ()


def test_an_invalid_folder_reports_its_problems_and_changes_nothing(org: Services, app_client: TestClient) -> None:
    sign_in(app_client, "admin")
    token = reload_form(app_client)
    break_the_file(org)
    refused = app_client.post("/admin/definitions/reload", data={"csrf_token": token}, headers=HTML)
    assert refused.status_code == 422
    lines = re.findall(r"<li><code>([^<]+)</code></li>", refused.text)
    assert lines and all(re.match(rf"{re.escape(str(definition_file(org)))}:\d+: \[", line) for line in lines)
    assert "unknown_key" in refused.text and "(microcredential, version 1)" in refused.text
    assert org.definitions.current_version("microcredential") == 1
    still = app_client.get("/admin").text  # the problems stay shown until a reload succeeds
    assert "unknown_key" in still and "(microcredential, version 1)" in still

    shutil.copy(DEFINITIONS / "microcredential.yaml", definition_file(org))
    fixed = app_client.post("/admin/definitions/reload", data={"csrf_token": token}, follow_redirects=False)
    assert fixed.status_code == 303 and fixed.headers["location"] == "/admin?done=reloaded"
    after = app_client.get("/admin").text
    assert "unknown_key" not in after and "(microcredential, version 1)" in after  # the same text: no new version


def test_a_valid_change_publishes_a_new_version(org: Services, app_client: TestClient) -> None:
    started = at_feasibility(org)
    token = sign_in(app_client, "admin")
    rewrite(org, OLD_TITLE, NEW_TITLE)
    assert "(revised)" not in app_client.get("/admin").text
    done = app_client.post("/admin/definitions/reload", data={"csrf_token": token})
    assert done.status_code == 200 and "The definitions were read again" in done.text
    assert "Micro-credential lifecycle (revised)" in done.text and "(microcredential, version 2)" in done.text
    system = Caller.system("test")
    assert org.views.get(started, by=system).definition_version == 1  # a started credential keeps its own
    assert org.views.get(at_feasibility(org), by=system).definition_version == 2


def test_the_api_reloads_for_administrators(org: Services, client_for: Callable[[str], TestClient]) -> None:
    admin = client_for("admin")
    url = f"{API}/admin/definitions/reload"
    assert client_for("dean.business").post(url).status_code == 403
    unchanged = admin.post(url)
    assert unchanged.status_code == 200
    assert unchanged.json() == [{"name": "enrolment", "version": 1, "title": "Learner enrolment"},
                                {"name": "microcredential", "version": 1, "title": "Micro-credential lifecycle"},
                                {"name": "university", "version": 1,
                                 "title": "University credit-bearing micro-credential"}]

    break_the_file(org)
    refused = admin.post(url)
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")
    body = refused.json()
    assert body["type"] == "/problems/invalid-file"
    assert body["problems"] and all(re.match(rf"{re.escape(str(definition_file(org)))}:\d+: \[", p)
                                    for p in body["problems"])
    assert {d["name"]: d["version"] for d in admin.get(f"{API}/definitions").json()}["microcredential"] == 1

    rewrite(org, "  broken: {title: Broken, unknown_key: 1}\n", "")
    rewrite(org, OLD_TITLE, NEW_TITLE)
    published = admin.post(url)
    assert published.status_code == 200
    assert published.json()[1] == {"name": "microcredential", "version": 2,
                                   "title": "Micro-credential lifecycle (revised)"}
    assert [d["version"] for d in published.json()] == [1, 2, 1]
    assert org.definitions.problems() == ()
