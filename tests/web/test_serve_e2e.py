"""One end-to-end run against a real ``workflow serve`` process on a free local port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import DEFINITIONS, ROOT
from tests.organisation import ORG, PASSWORD
from tests.serving import free_port, wait_until_up


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A served instance with the test organisation; yields (base URL, an API token of pm.business)."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WORKFLOW_")},
           "WORKFLOW_DATA_DIR": str(tmp_path / "data"), "WORKFLOW_DEFINITIONS_DIR": str(DEFINITIONS),
           "WORKFLOW_NOTIFICATIONS_DIR": str(ROOT / "notifications"),
           "WORKFLOW_COOKIE_SECURE": "false"}
    cli = [sys.executable, "-m", "workflow.cli"]
    (tmp_path / "org.yaml").write_text(ORG)
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([*cli, "org", "load", str(tmp_path / "org.yaml")], env=env, check=True, capture_output=True)
    token = subprocess.run([*cli, "tokens", "create", "pm.business", "--name", "e2e"], env=env, check=True,
                           capture_output=True, text=True).stdout.strip()
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process, tmp_path / "serve.log")
        yield base, token
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        finally:
            log.close()


def test_a_project_manager_and_a_dean_work_through_a_real_server(server: tuple[str, str]) -> None:
    base, token = server
    assert httpx.get(f"{base}/api/v1/credentials").status_code == 401
    described = httpx.get(f"{base}/openapi.json")  # the API's description holds no data: readable by anyone
    assert described.status_code == 200 and "apiToken" in described.json()["components"]["securitySchemes"]

    with httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=10) as api, \
            httpx.Client(base_url=f"{base}/api/v1", timeout=10) as browser:
        walk(base, api, browser)


def walk(base: str, api: httpx.Client, browser: httpx.Client) -> None:
    created = api.post("/credentials", json={"title": "Port logistics basics", "org_unit": "logistics",
                                              "data": {"purpose": "Ports need trained coordinators"}})
    assert created.status_code == 201, created.text
    cid = created.json()["id"]

    refused = api.post(f"/credentials/{cid}/transitions", json={"trigger": "submit_for_feasibility"})
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert ("“Skills and competencies industry wants identified” is not done (Subject matter expert)"
            in refused.json()["missing"])

    listed = api.get("/credentials", params={"state": "ideation"}).json()
    assert [item["id"] for item in listed["items"]] == [cid] and listed["total"] == 1

    # The dean of the faculty signs in with a password; the browser session needs its CSRF token to change things.
    login = browser.post("/auth/login", json={"username": "dean.business", "password": PASSWORD})
    assert login.status_code == 200
    assert "httponly" in login.headers["set-cookie"].lower() and "samesite=lax" in login.headers["set-cookie"].lower()
    seen = browser.get(f"/credentials/{cid}").json()
    assert seen["title"] == "Port logistics basics" and seen["state"] == "ideation"
    no_csrf = browser.post(f"/credentials/{cid}/transitions", json={"trigger": "hold"})
    assert no_csrf.status_code == 403
    held = browser.post(f"/credentials/{cid}/transitions", json={"trigger": "hold", "comment": "Budget freeze"},
                        headers={"X-CSRF-Token": login.json()["csrf_token"]})
    assert held.status_code == 200 and held.json()["state"] == "on_hold"
    assert browser.get("/docs", params={}).status_code == 404  # /docs lives outside /api/v1
    docs = httpx.get(f"{base}/docs", cookies=browser.cookies)
    assert docs.status_code == 200 and "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert httpx.get(f"{base}/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200

    events = api.get(f"/credentials/{cid}/events").json()
    assert [(e["kind"], e["actor"]) for e in events] == [("created", "pm.business"), ("transition", "dean.business")]
