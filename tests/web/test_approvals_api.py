"""Approvals through the JSON API: decisions that open gates, refusals as problem+json (409 with what is missing,
403, 422), delegation, the approvals and tasks waiting for each person, and administrator overrides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response

from tests.steps import SYSTEM, at_build, at_feasibility
from workflow.context import Services

GOVERNANCE = "Academic governance body (college council / quality council)"

Clients = Callable[[str], TestClient]
PROBLEM = "application/problem+json"


def decide(client: TestClient, cid: int, gate: str, decision: str = "approve", **body: Any) -> Response:
    return client.post(f"/api/v1/credentials/{cid}/gates/{gate}/decisions", json={"decision": decision, **body})


def problem(response: Response, status: int, kind: str) -> dict[str, Any]:
    """The problem+json body of a refusal, after checking its status and type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert (body["status"], body["type"]) == (status, f"/problems/{kind}")
    return body


def test_the_approval_that_completes_the_gate_reports_the_transition(org: Services, client_for: Clients) -> None:
    cid = at_feasibility(org)

    response = decide(client_for("dean.business"), cid, "feasibility_approval", comment="Strong employer demand")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["fired"] == {"trigger": "approve_feasibility", "from": "feasibility", "to": "design"}
    assert (body["role"], body["on_behalf_of"], body["credential"]["state"]) == ("dean", None, "design")


def test_the_second_council_approval_opens_the_gate_not_the_first(org: Services, client_for: Clients) -> None:
    cid = at_build(org)
    for username in ("qa", "registrar"):
        assert decide(client_for(username), cid, "governance_signoff").json()["fired"] is None

    first = decide(client_for("council.a"), cid, "governance_signoff")
    assert first.status_code == 201 and first.json()["fired"] is None
    credential = first.json()["credential"]
    assert credential["state"] == "build"
    sign_off = next(t for t in credential["transitions"] if t["trigger"] == "sign_off")
    assert sign_off["missing"] == [f"2 approvals by the {GOVERNANCE} are needed (1 so far)"]

    second = decide(client_for("council.b"), cid, "governance_signoff")
    assert second.json()["fired"] == {"trigger": "sign_off", "from": "build", "to": "launch"}

    late = problem(decide(client_for("council.c"), cid, "governance_signoff"), 409, "conflict")
    assert "is not open while the credential is in Marketing and launch" in late["detail"]


def test_a_gated_transition_fired_early_is_409_with_what_is_missing(org: Services, client_for: Clients) -> None:
    cid = at_build(org)
    pm = client_for("pm.business")

    def fire() -> dict[str, Any]:
        response = pm.post(f"/api/v1/credentials/{cid}/transitions", json={"trigger": "sign_off"})
        return problem(response, 409, "transition-not-allowed")

    body = fire()
    assert (body["trigger"], body["state"]) == ("sign_off", "build")
    assert body["missing"] == ["Approval by the Quality assurance office is needed",
                               "Approval by the Registrar's office is needed",
                               f"2 approvals by the {GOVERNANCE} are needed (0 so far)"]

    decide(client_for("qa"), cid, "governance_signoff")
    decide(client_for("registrar"), cid, "governance_signoff")
    decide(client_for("council.a"), cid, "governance_signoff")
    sent_back = decide(client_for("council.b"), cid, "governance_signoff", "request_changes",
                       comment="Add an oral component to the assessment")
    assert sent_back.status_code == 201 and sent_back.json()["credential"]["state"] == "build"
    assert fire()["missing"] == [f"Changes requested by council.b ({GOVERNANCE})",
                                 f"2 approvals by the {GOVERNANCE} are needed (1 so far)"]


def test_stage_order_and_double_approvals_are_409(org: Services, client_for: Clients) -> None:
    cid = at_build(org)

    early = problem(decide(client_for("registrar"), cid, "governance_signoff"), 409, "conflict")
    assert "stage 1 (Quality assurance office) must approve first" in early["detail"]

    assert decide(client_for("qa"), cid, "governance_signoff").status_code == 201
    twice = problem(decide(client_for("qa"), cid, "governance_signoff"), 409, "conflict")
    assert twice["detail"] == ("qa has already approved Governance sign-off (in their own name or as a "
                               "delegate); one person gives one approval")


def test_approvals_by_people_who_may_not_are_403(org: Services, client_for: Clients) -> None:
    cid = at_feasibility(org)
    not_a_dean = problem(decide(client_for("pm.business"), cid, "feasibility_approval"), 403, "forbidden")
    assert "needs one of the roles Dean" in not_a_dean["detail"]

    own = at_feasibility(org, created_by="dean.business")
    proposer = problem(decide(client_for("dean.business"), own, "feasibility_approval"), 403, "forbidden")
    assert "dean.business proposed this credential" in proposer["detail"]

    assert client_for("outsider").get(f"/api/v1/credentials/{cid}").status_code == 404
    problem(decide(client_for("outsider"), cid, "feasibility_approval"), 404, "not-found")


def test_a_reject_or_send_back_without_a_comment_is_422_and_records_nothing(org: Services,
                                                                         client_for: Clients) -> None:
    cid = at_feasibility(org)
    version = org.views.get(cid, by=SYSTEM).version
    dean = client_for("dean.business")

    rejected = problem(decide(dean, cid, "feasibility_approval", "reject"), 422, "invalid-input")
    assert (rejected["field"], rejected["detail"]) == ("comment", "comment: a comment is required to reject")
    blank = problem(decide(dean, cid, "feasibility_approval", "request_changes", comment="   "), 422, "invalid-input")
    assert blank["field"] == "comment"

    credential = dean.get(f"/api/v1/credentials/{cid}").json()
    assert credential["version"] == version and credential["gates"][0]["decisions"] == []

    with_reason = decide(dean, cid, "feasibility_approval", "reject", comment="No employer partner")
    assert with_reason.status_code == 201 and with_reason.json()["fired"] is None


def test_a_delegate_sees_and_decides_the_deans_approvals(org: Services, client_for: Clients) -> None:
    cid = at_feasibility(org)
    created = client_for("dean.business").post("/api/v1/delegations", json={
        "to": "acting.dean", "role": "dean", "starts_on": "2026-09-01", "ends_on": "2026-09-10"})
    assert created.status_code == 201, created.text

    def waiting(username: str) -> list[tuple[int, str, str | None]]:
        items = client_for(username).get("/api/v1/me/approvals").json()["items"]
        return [(i["credential_id"], i["gate"], i["on_behalf_of"]) for i in items]

    assert waiting("acting.dean") == [(cid, "feasibility_approval", "dean.business")]
    assert waiting("dean.business") == [(cid, "feasibility_approval", None)]
    assert waiting("dean.health") == []

    response = decide(client_for("acting.dean"), cid, "feasibility_approval", comment="For the dean")
    assert response.status_code == 201, response.text
    assert (response.json()["on_behalf_of"], response.json()["fired"]["to"]) == ("dean.business", "design")
    events = client_for("dean.business").get(f"/api/v1/credentials/{cid}/events").json()
    decision = next(e for e in events if e["kind"] == "decision")
    assert decision["actor"] == "acting.dean" and decision["details"]["on_behalf_of"] == "dean.business"
    assert waiting("acting.dean") == waiting("dean.business") == []


def test_my_tasks_list_the_items_my_roles_own(org: Services, client_for: Clients) -> None:
    cid = at_feasibility(org, leave_open=("curricular_proposal_started", "qa_proposal_started"))

    items = client_for("sme").get("/api/v1/me/tasks").json()["items"]
    assert [(i["credential_id"], i["item"], i["owner"], i["trigger"]) for i in items] == [
        (cid, "curricular_proposal_started", "sme", "approve_feasibility")]
    assert [i["item"] for i in client_for("qa").get("/api/v1/me/tasks").json()["items"]] == ["qa_proposal_started"]
    assert client_for("dean.business").get("/api/v1/me/tasks").json()["items"] == []


def test_only_an_administrator_overrides_with_a_reason(org: Services, client_for: Clients) -> None:
    cid = at_build(org)
    url = f"/api/v1/credentials/{cid}/override"
    reason = "Council meeting cancelled; chair approved by email"

    problem(client_for("pm.business").post(url, json={"trigger": "sign_off", "comment": reason}), 403, "forbidden")
    short = problem(client_for("admin").post(url, json={"trigger": "sign_off", "comment": "urgent"}), 422,
                    "invalid-input")
    assert "comment" in short["detail"]

    done = client_for("admin").post(url, json={"trigger": "sign_off", "comment": reason})
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "launch"
    last = client_for("admin").get(f"/api/v1/credentials/{cid}/events").json()[-1]
    assert (last["kind"], last["actor"], last["comment"]) == ("override", "admin", reason)
    assert last["details"]["skipped"] == ["Approval by the Quality assurance office is needed",
                                          "Approval by the Registrar's office is needed",
                                          f"2 approvals by the {GOVERNANCE} are needed (0 so far)"]
