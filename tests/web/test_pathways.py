"""Pathways between credentials: what a credential stacks into, requires or is equivalent to is checked when its
data changes (every credential named exists, none names itself, requirements and stacking never go round in a
circle — the refusal names each credential on it), and a sunset is refused until the person acknowledges every
credential depending on it, which the history then keeps."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import DEFINITIONS, settings_for
from tests.organisation import load_org
from tests.steps import SYSTEM, tick
from tests.web.pages import form_token, sign_in
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.web.app import create_app

TO_REVIEW = ["submit_for_feasibility", "approve_feasibility", "complete_design", "sign_off", "launch", "start_review"]
ENROLMENT = """
name: enrolment
title: Learner enrolment
roles:
  registrar: {title: Registrar, kind: department}
  instructor: {title: Instructor}
  plar_assessor: {title: Prior learning assessor}
permissions: {create: [registrar], edit: [registrar]}
fields:
  learner: {label: Learner}
  credential: {label: Micro-credential, type: credentials}
states:
  enrolled: {title: In progress, initial: true}
  completed: {title: Completed, final: true}
transitions:
  - {trigger: complete, title: Complete, source: enrolled, dest: completed}
"""


def new(org: Services, title: str, **data: Any) -> int:
    return org.credentials.create(definition="microcredential", title=title, by=SYSTEM,
                                  org_unit_id=org.people.unit_id("business"), data={"purpose": "Employers", **data})


def in_review(org: Services, title: str) -> int:
    """A credential launched and now in content review, with the sunset checklist done."""
    cid = new(org, title)
    admin = org.access.caller_by_name("admin")
    for trigger in TO_REVIEW:
        org.credentials.override(credential_id=cid, trigger=trigger, comment="Walked there for the test", by=admin)
    tick(org, cid)
    return cid


def test_pathway_fields_name_credentials_that_exist_and_never_the_credential_itself(
        client_for: Callable[[str], TestClient], org: Services) -> None:
    pm = client_for("pm.business")
    base = new(org, "Forklift basics")
    other = new(org, "Forklift advanced")
    unknown = pm.patch(f"/api/v1/credentials/{other}", json={"data": {"requires": [base, 999]}, "version": 1})
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "requires" and "there is no credential #999" in unknown.json()["detail"]
    itself = pm.patch(f"/api/v1/credentials/{other}", json={"data": {"stacks_into": [other]}, "version": 1})
    assert itself.status_code == 422 and "cannot name itself" in itself.json()["detail"]
    wrong = pm.patch(f"/api/v1/credentials/{other}", json={"data": {"requires": ["Forklift basics"]}, "version": 1})
    assert wrong.status_code == 422 and "must be a list of credential numbers" in wrong.json()["detail"]
    hidden = org.credentials.create(definition="microcredential", title="Health only", by=SYSTEM,
                                    org_unit_id=org.people.unit_id("health"), data={})
    unseen = pm.patch(f"/api/v1/credentials/{other}", json={"data": {"requires": [hidden]}, "version": 1})
    assert unseen.status_code == 422 and f"there is no credential #{hidden}" in unseen.json()["detail"]
    ok = pm.patch(f"/api/v1/credentials/{other}", json={"data": {"requires": [base]}, "version": 1})
    assert ok.status_code == 200 and ok.json()["data"]["requires"] == [base]


def test_a_circle_of_requirements_is_refused_naming_every_credential_on_it(
        client_for: Callable[[str], TestClient], org: Services) -> None:
    pm = client_for("pm.business")
    a = new(org, "Safety A")
    b = new(org, "Safety B", requires=[a])
    c = new(org, "Safety C", requires=[b])
    refused = pm.patch(f"/api/v1/credentials/{a}", json={"data": {"requires": [c]}, "version": 1})
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["field"] == "requires"
    assert (f"“Safety A” (#{a}) requires “Safety C” (#{c}) requires “Safety B” (#{b}) requires “Safety A” (#{a})"
            in problem["detail"])
    assert "cannot require itself" in problem["detail"]
    assert "requires" not in org.views.get(a, by=SYSTEM).data  # nothing changed
    stacking = new(org, "Stack top")
    org.credentials.update(credential_id=a, changes={"stacks_into": [stacking]}, by=SYSTEM)
    circle = pm.patch(f"/api/v1/credentials/{stacking}", json={"data": {"stacks_into": [a]}, "version": 1})
    assert circle.status_code == 422 and "cannot stack into itself" in circle.json()["detail"]
    equivalent = pm.patch(f"/api/v1/credentials/{stacking}", json={"data": {"equivalent_to": [a]}, "version": 1})
    assert equivalent.status_code == 200  # equivalence goes both ways by nature


def test_a_circle_typed_in_the_page_form_is_refused_beside_the_field_with_the_text_kept(
        app_client: TestClient, org: Services) -> None:
    a = new(org, "Safety A")
    b = new(org, "Safety B", requires=[a])
    token = sign_in(app_client, "pm.business")
    page = app_client.post(f"/credentials/{a}/data", data={"csrf_token": token, "version": "1",
                                                           "field.requires": f"{b}"})
    assert page.status_code == 422
    assert "go round in a circle" in page.text and f"“Safety B” (#{b})" in page.text
    assert 'name="field.requires"' in page.text and f'value="{b}"' in page.text


def test_sunset_is_refused_until_each_dependant_is_acknowledged_and_the_history_keeps_it(
        client_for: Callable[[str], TestClient], org: Services) -> None:
    base = in_review(org, "Forklift basics")
    advanced = new(org, "Forklift advanced", requires=[base])
    bundle = new(org, "Warehouse bundle", stacks_into=[], equivalent_to=[base])  # equivalence does not block
    dean = client_for("dean.business")
    impact = dean.get(f"/api/v1/credentials/{base}/impact").json()["impact"]
    assert [(d["id"], d["relation"]) for d in impact] == [(advanced, "requires it")]
    body = {"decision": "approve", "comment": "Moved into the diploma"}
    refused = dean.post(f"/api/v1/credentials/{base}/gates/sunset_approval/decisions", json=body)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["type"].endswith("/impact-not-acknowledged")
    assert [d["title"] for d in problem["impact"]] == ["Forklift advanced"]
    assert f"“Forklift advanced” (#{advanced}) requires it" in problem["detail"]
    detail = dean.get(f"/api/v1/credentials/{base}").json()
    assert detail["state"] == "review"
    assert not any(d for g in detail["gates"] for d in g["decisions"])  # the approval was not kept either
    wrong = dean.post(f"/api/v1/credentials/{base}/gates/sunset_approval/decisions",
                      json=body | {"acknowledge": [bundle]})
    assert wrong.status_code == 409
    done = dean.post(f"/api/v1/credentials/{base}/gates/sunset_approval/decisions",
                     json=body | {"acknowledge": [advanced]})
    assert done.status_code == 201, done.text
    assert done.json()["fired"]["to"] == "sunset"
    moved = [e for e in dean.get(f"/api/v1/credentials/{base}/events").json() if e.get("to_state") == "sunset"]
    assert moved[0]["details"]["acknowledged"] == [{"id": advanced, "title": "Forklift advanced",
                                                    "relation": "requires it"}]
    assert f"impact acknowledged: “Forklift advanced” (#{advanced}) requires it" in moved[0]["summary"]
    assert org.credentials.impact(credential_id=advanced, by=SYSTEM) == []


def test_a_sunset_with_nobody_depending_needs_no_acknowledgment(
        client_for: Callable[[str], TestClient], org: Services) -> None:
    base = in_review(org, "Forklift basics")
    done = client_for("dean.business").post(f"/api/v1/credentials/{base}/gates/sunset_approval/decisions",
                                             json={"decision": "approve", "comment": "Out of date"})
    assert done.status_code == 201 and done.json()["fired"]["to"] == "sunset"
    events = client_for("dean.business").get(f"/api/v1/credentials/{base}/events").json()
    assert "acknowledged" not in next(e for e in events if e.get("to_state") == "sunset")["details"]


def test_the_decision_page_lists_the_impact_and_refuses_until_each_is_ticked(
        app_client: TestClient, org: Services) -> None:
    base = in_review(org, "Forklift basics")
    advanced = new(org, "Forklift advanced", requires=[base])
    token = sign_in(app_client, "dean.business")
    form = {"csrf_token": token, "verdict": "approve", "comment": "Moved into the diploma", "acting_as": ""}
    asked = app_client.post(f"/credentials/{base}/gates/sunset_approval/decision", data=form)
    assert asked.status_code == 200 and "Please confirm." in asked.text
    assert f'name="acknowledge" value="{advanced}"' in asked.text and "Forklift advanced" in asked.text
    refused = app_client.post(f"/credentials/{base}/gates/sunset_approval/decision",
                              data=form | {"csrf_token": form_token(asked.text), "confirmed": "yes"})
    assert refused.status_code == 409
    assert "Tick each credential below to acknowledge what this affects" in refused.text
    assert org.views.get(base, by=SYSTEM).state == "review"
    done = app_client.post(f"/credentials/{base}/gates/sunset_approval/decision", follow_redirects=False,
                           data=form | {"csrf_token": form_token(refused.text), "confirmed": "yes",
                                        "acknowledge": str(advanced)})
    assert done.status_code == 303 and org.views.get(base, by=SYSTEM).state == "sunset"
    history = app_client.get(f"/credentials/{base}").text
    assert "impact acknowledged: “Forklift advanced”" in history


@pytest.fixture
def with_enrolment(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Services]:
    """The microcredential lifecycle beside a small learner enrolment workflow that names its credential."""
    folder = tmp_path / "definitions"
    folder.mkdir()
    for name in ("microcredential", "university"):  # the test organisation names roles of both
        shutil.copy(DEFINITIONS / f"{name}.yaml", folder)
    (folder / "enrolment.yaml").write_text(ENROLMENT, encoding="utf-8")
    services = Services.start(settings_for(database_url, tmp_path / "data", definitions_dir=folder), clock)
    try:
        yield load_org(services)
    finally:
        services.close()


def test_learners_still_in_progress_are_part_of_the_impact_of_a_sunset(with_enrolment: Services) -> None:
    org = with_enrolment
    base = in_review(org, "Forklift basics")
    unit = org.people.unit_id("business")
    learning = org.credentials.create(definition="enrolment", title="Sam Lee in Forklift basics", by=SYSTEM,
                                      org_unit_id=unit, data={"learner": "Sam Lee", "credential": [base]})
    finished = org.credentials.create(definition="enrolment", title="Ada Park in Forklift basics", by=SYSTEM,
                                      org_unit_id=unit, data={"learner": "Ada Park", "credential": [base]})
    org.credentials.fire(credential_id=finished, trigger="complete", by=SYSTEM)
    impact = org.credentials.impact(credential_id=base, by=org.access.caller_by_name("dean.business"))
    assert [(d["id"], d["relation"]) for d in impact] == [(learning, "names it (Learner enrolment, in progress)")]
    app = create_app(org.settings, services=org)
    with TestClient(app, base_url="https://testserver") as client:
        token = org.auth.create_token(org.people.user_id("dean.business"), "t").token
        refused = client.post(f"/api/v1/credentials/{base}/gates/sunset_approval/decisions",
                              headers={"Authorization": f"Bearer {token}"},
                              json={"decision": "approve", "comment": "Out of date"})
        assert refused.status_code == 409 and "Sam Lee in Forklift basics" in refused.json()["detail"]


def test_the_pathway_graph_is_drawn_by_graphviz_and_listed_for_what_each_person_may_see(
        app_client: TestClient, client_for: Callable[[str], TestClient], org: Services) -> None:
    base = new(org, "Forklift basics")
    advanced = new(org, "Forklift advanced", requires=[base], equivalent_to=[])
    bundle = new(org, "Warehouse bundle")
    org.credentials.update(credential_id=advanced, changes={"stacks_into": [bundle]}, by=SYSTEM)
    health = org.credentials.create(definition="microcredential", title="Health stacker", by=SYSTEM,
                                    org_unit_id=org.people.unit_id("health"), data={"stacks_into": [bundle]})
    graph = client_for("pm.business").get("/api/v1/pathways").json()
    assert {(link["from"], link["words"], link["to"]) for link in graph["links"]} == {
        (advanced, "requires", base), (advanced, "stacks into", bundle)}  # the health credential is not theirs
    assert health not in {c["id"] for c in graph["credentials"]}
    sign_in(app_client, "pm.business")
    page = app_client.get("/pathways")
    assert page.status_code == 200
    svg = page.text[page.text.index("<svg"):page.text.index("</svg>")]
    assert 'class="lifecycle-graph pathway-graph"' in svg and 'role="img"' in svg
    assert f'id="pathways-requires-{advanced}-{base}"' in svg and f'id="pathways-credential-{bundle}"' in svg
    assert "Health stacker" not in page.text
    rows = page.text[page.text.index("<tbody>"):page.text.index("</tbody>")]
    assert rows.count("<tr>") == 2 and "stacks into" in rows and "requires" in rows
    assert 'href="/pathways"' in app_client.get("/portfolio").text
