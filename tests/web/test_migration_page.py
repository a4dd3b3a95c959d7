"""The administrators' page that moves running credentials to a new version: the plan first (refused with the
list while a state is unmapped; a wrong mapping shown beside its field with what was typed), then confirmed."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import DEFINITIONS
from tests.migrating import MAPPING, publish_version_2, state_of_database
from tests.steps import at_build, at_feasibility
from tests.test_peoples_words import raw_keys, visible
from tests.web.pages import sign_in
from workflow.config import Settings
from workflow.context import Services
from workflow.services.access import Caller

SYSTEM = Caller.system("test")
URL = "/admin/definitions/microcredential/migrate"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    folder = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS, folder)
    return settings.model_copy(update={"definitions_dir": folder})


def test_plan_then_confirm_moves_the_credentials_and_their_histories_say_so(
        org: Services, app_client: TestClient) -> None:
    building, waiting = at_build(org), at_feasibility(org)
    publish_version_2(org, org.settings.definitions_dir)
    token = sign_in(app_client, "admin")
    assert f'href="{URL}"' in app_client.get("/admin").text
    form = app_client.get(URL)
    assert form.status_code == 200 and "the newest is 2" in form.text
    before = state_of_database(org)

    refused = app_client.post(f"{URL}/plan", data={"csrf_token": token, "to": "2", "mapping": ""})
    assert refused.status_code == 409
    assert "This plan cannot be carried out:" in refused.text and "Supply-chain analytics</a>: in Build" in refused.text
    assert "Move 2 credentials" not in refused.text

    wrong = "states:\n  biuld: build_and_test\n"
    bad = app_client.post(f"{URL}/plan", data={"csrf_token": token, "to": "2", "mapping": wrong})
    assert bad.status_code == 422
    assert "line 2: &#39;biuld&#39; is not a state of version 1 — did you mean &#39;build&#39;?" in bad.text
    assert f">{html.escape(wrong)}</textarea>" in bad.text  # what was typed is kept
    not_a_version = app_client.post(f"{URL}/plan", data={"csrf_token": token, "to": "7", "mapping": MAPPING})
    assert not_a_version.status_code == 422 and "Enter a version from 1 to 2 (the newest)." in not_a_version.text
    assert state_of_database(org) == before  # nothing changed by showing plans

    plan = app_client.post(f"{URL}/plan", data={"csrf_token": token, "to": "2", "mapping": MAPPING})
    assert plan.status_code == 200
    text = plan.text
    assert "Please confirm." in text and "2 running credentials" in text and "Move 2 credentials to version 2" in text
    assert "Build → Build and test" in text
    assert "Funding applied for" in text  # the item version 2 dropped, by its title
    assert "Feasibility decision waiting: 2026-09-15 05:00 EDT → 2026-09-11 05:00 EDT" in text
    assert state_of_database(org) == before
    assert raw_keys(visible(text)) == [] and raw_keys(visible(refused.text)) == []

    done = app_client.post(URL, data={"csrf_token": token, "to": "2", "mapping": MAPPING}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/admin?done=migrated")
    assert "The running credentials were moved to the new version" in app_client.get(done.headers["location"]).text
    for cid, state in ((building, "build_and_test"), (waiting, "feasibility")):
        detail = org.views.get(cid, by=SYSTEM)
        assert (detail.definition_version, detail.state) == (2, state)
        last = org.views.history(cid, by=SYSTEM)[-1]
        assert last.kind == "migrated" and last.actor == "admin"
        assert last.comment == "Moved from version 1 to version 2 of Micro-credential lifecycle"
    page = app_client.get(f"/credentials/{building}")
    assert page.status_code == 200 and "Build and test" in page.text
    assert "Moved from version 1 to version 2 of the definition, in Build and test" in page.text


def test_the_page_is_for_administrators_only(org: Services, app_client: TestClient) -> None:
    sign_in(app_client, "dean.business")
    assert app_client.get(URL).status_code == 403
