"""Plans over HTTP: the API (problem+json naming the field, nothing changed), the credential page's plan forms
(the refusal beside the field, what was typed kept), the timeline page with its filters, the CSV and iCalendar
exports, the calendar feed, and the command line."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from tests.organisation import as_person
from tests.web.pages import sign_in
from workflow.context import Services

API = "/api/v1"
PROBLEM = "application/problem+json"


def start(org: Services, title: str, unit: str = "business", by: str = "pm.business") -> int:
    return org.credentials.create(definition="microcredential", title=title, by=as_person(org, by),
                                  org_unit_id=org.people.unit_id(unit))


def refused(response: Response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["field"] == field
    return body


def test_the_api_sets_a_target_moves_a_phase_and_rebaselines(org: Services,
                                                              client_for: Callable[[str], TestClient]) -> None:
    cid = start(org, "Forklift safety")
    pm = client_for("pm.business")
    done = pm.put(f"{API}/credentials/{cid}/plan/target", json={"target": "2027-09-07"})
    assert done.status_code == 200, done.text
    plan = done.json()
    assert plan["target"] == "2027-09-07" and plan["phases"][1]["planned"] == "2027-02-24"
    assert plan["forecast"]["launch"] == "2027-05-29"  # 270 days of plan from today (2026-09-01), no history yet
    moved = pm.put(f"{API}/credentials/{cid}/plan/phases/design", json={"on": "2027-05-01", "reason": "Council"})
    design = moved.json()["phases"][2]
    assert (design["baseline"], design["planned"]) == ("2027-04-25", "2027-05-01")
    again = pm.post(f"{API}/credentials/{cid}/plan/baseline", json={"reason": "Funding confirmed"}).json()
    assert again["phases"][2]["baseline"] == "2027-05-01"
    assert pm.get(f"{API}/credentials/{cid}/plan").json() == again


def test_bad_input_through_the_api_names_the_field_and_changes_nothing(
        org: Services, client_for: Callable[[str], TestClient]) -> None:
    cid = start(org, "Forklift safety")
    pm = client_for("pm.business")
    body = refused(pm.put(f"{API}/credentials/{cid}/plan/target", json={"target": "2026-08-31"}), 422, "target")
    assert "must be after today (2026-09-01)" in body["detail"]
    assert pm.get(f"{API}/credentials/{cid}/plan").json()["target"] is None
    pm.put(f"{API}/credentials/{cid}/plan/target", json={"target": "2027-09-07"})
    before = pm.get(f"{API}/credentials/{cid}/plan").json()
    body = refused(pm.put(f"{API}/credentials/{cid}/plan/phases/build", json={"on": "2027-09-30", "reason": "x"}),
                   422, "on")
    assert "after the target launch date (2027-09-07)" in body["detail"]
    body = refused(pm.put(f"{API}/credentials/{cid}/plan/phases/build", json={"on": "2027-08-01", "reason": " "}),
                   422, "reason")
    assert "say why the date moves" in body["detail"]
    other = client_for("pm.health")
    assert other.put(f"{API}/credentials/{cid}/plan/target",
                     json={"target": "2028-01-10", "reason": "mine now"}).status_code == 404
    assert other.get(f"{API}/credentials/{cid}/plan").status_code == 404
    assert pm.get(f"{API}/credentials/{cid}/plan").json() == before


def test_the_timeline_api_filters_by_intake_and_faculty(org: Services,
                                                        client_for: Callable[[str], TestClient]) -> None:
    org.plans.views.terms.update({"Fall 2027": date(2027, 9, 7), "Winter 2028": date(2028, 1, 10)})
    fall, winter = start(org, "Fall one"), start(org, "Winter one")
    start(org, "Health one", unit="health", by="pm.health")
    pm = as_person(org, "pm.business")
    org.plans.set_target(credential_id=fall, intake="Fall 2027", by=pm)
    org.plans.set_target(credential_id=winter, intake="Winter 2028", by=pm)
    admin = client_for("admin")
    assert admin.get(f"{API}/plans/intakes").json()["items"][0] == {"name": "Fall 2027", "starts_on": "2027-09-07"}
    assert [i["title"] for i in admin.get(f"{API}/plans/timeline?intake=Fall 2027").json()["items"]] == ["Fall one"]
    assert admin.get(f"{API}/plans/timeline").json()["total"] == 3
    assert admin.get(f"{API}/plans/timeline?org_unit=health").json()["total"] == 1
    assert client_for("pm.business").get(f"{API}/plans/timeline").json()["total"] == 2  # only what they can see


def test_the_plan_form_shows_a_refusal_beside_its_field_and_keeps_what_was_typed(
        org: Services, app_client: TestClient) -> None:
    cid = start(org, "Forklift safety")
    token = sign_in(app_client, "pm.business")
    page = app_client.post(f"/credentials/{cid}/plan/target", data={"csrf_token": token, "target": "2026-05-01",
                                                                     "reason": "kept text"})
    assert page.status_code == 422
    assert 'id="plan-target-target-error"' in page.text and "must be after today (2026-09-01)." in page.text
    assert 'value="2026-05-01" aria-invalid="true"' in page.text and 'value="kept text"' in page.text
    done = app_client.post(f"/credentials/{cid}/plan/target", data={"csrf_token": token, "target": "2027-09-07"},
                           follow_redirects=False)
    assert done.status_code == 303
    page = app_client.post(f"/credentials/{cid}/plan/phase", data={"csrf_token": token, "state": "design",
                                                                    "on": "2027-05-01", "reason": ""})
    assert page.status_code == 422 and 'id="plan-phase-reason-error"' in page.text
    assert 'name="on" type="date" value="2027-05-01"' in page.text  # the date typed is kept, and not blamed
    assert 'value="2027-05-01" aria-invalid' not in page.text
    page = app_client.get(f"/credentials/{cid}")
    assert 'data-testid="plan-target">2027-09-07' in page.text


def test_the_timeline_page_exports_and_calendar(org: Services, app_client: TestClient) -> None:
    org.plans.views.terms["Fall 2027"] = date(2027, 9, 7)
    cid = start(org, "Forklift safety")
    start(org, "Unplanned yet")
    org.plans.set_target(credential_id=cid, intake="Fall 2027", by=as_person(org, "pm.business"))
    sign_in(app_client, "pm.business")
    page = app_client.get("/timeline")
    assert page.status_code == 200 and page.text.count('data-testid="timeline-row"') == 2
    assert page.text.count('data-testid="target-marker"') == 1
    portfolio = app_client.get("/portfolio").text  # the portfolio shows the target and the forecast too
    assert re.search(r'data-testid="row-launch">2027-09-07 /\s*2027-05-29', portfolio)
    assert portfolio.count("no target") == 1
    filtered = app_client.get("/timeline", params={"intake": "Fall 2027"})
    assert filtered.text.count('data-testid="timeline-row"') == 1 and "Forklift safety" in filtered.text
    csv = app_client.get(f"/credentials/{cid}/plan.csv").text.splitlines()
    assert csv[0].lstrip("\ufeff").startswith("id,credential,phase,baseline end,planned end")
    assert csv[5].startswith(f"{cid},Forklift safety,Marketing and launch,2027-09-07,2027-09-07")
    assert len(app_client.get("/timeline.csv").text.splitlines()) == 1 + 2 * 5
    ics = app_client.get(f"/credentials/{cid}/plan.ics").text
    assert "SUMMARY:Launch — Forklift safety" in ics and "DTSTART;VALUE=DATE:20270907" in ics
    token = app_client.post(f"{API}/me/calendar", headers={"X-CSRF-Token": sign_in(app_client, "pm.business")})
    feed = app_client.get(token.json()["url"].replace("https://testserver", "").replace(
        org.settings.public_url, "")).text
    assert "Feasibility planned to end — Forklift safety" in feed


def test_the_command_line_sets_a_target(run: Any, tmp_path: Path) -> None:
    run("db", "upgrade")
    (tmp_path / "org.yaml").write_text(CLI_ORG)
    run("org", "load", str(tmp_path / "org.yaml"))
    assert "created credential #1" in run("credentials", "create", "--title", "Drone mapping", "--unit", "arts",
                                          "--as", "pm.jones").stdout
    refused_run = run("plan", "target", "1", "2020-01-01", "--as", "pm.jones", ok=False)
    assert "error: target: the target launch date (2020-01-01) must be after today" in refused_run.stderr
    assert "target launch: not set" in run("plan", "show", "1", "--as", "pm.jones").stdout
    done = run("plan", "target", "1", "2099-09-07", "--as", "pm.jones")
    assert "target launch: 2099-09-07; baseline launch: 2099-09-07" in done.stdout
    assert "Marketing and launch" in done.stdout
    assert "needs one of the roles" in run("plan", "target", "1", "2099-10-07", "--reason", "later", "--as",
                                           "dean.arts", ok=False).stderr


CLI_ORG = """
units:
  - {key: northern, name: Northern College, kind: institution}
  - {key: arts, name: Faculty of Arts, kind: faculty, parent: northern}
users:
  - {username: pm.jones, name: Pat Jones, roles: [{role: project_manager, unit: arts}]}
  - {username: dean.arts, name: Dean of Arts, roles: [{role: dean, unit: arts}]}
"""
