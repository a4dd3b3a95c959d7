"""Odd and hostile input gets a clear 4xx problem, never a 500, and nothing is stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import as_person
from workflow.context import Services

BIG = [2**31, 2**40, 2**64]


@pytest.fixture
def cid(org: Services) -> int:
    return org.credentials.create(definition="microcredential", title="Hostile input", by=as_person(org, "pm.business"),
                                  org_unit_id=org.people.unit_id("logistics"))


def problem(response, status: int) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("big", BIG)
def test_ids_and_offsets_beyond_any_column_are_refused_cleanly(client_for: Callable[[str], TestClient],
                                                              big: int) -> None:
    pm = client_for("pm.business")
    for path in (f"/api/v1/credentials/{big}", f"/api/v1/credentials/{big}/events"):
        assert problem(pm.get(path), 422)["errors"][0]["field"] == "path.credential_id"
    assert problem(pm.delete(f"/api/v1/tokens/{big}"), 422)["errors"][0]["field"] == "path.token_id"
    assert problem(pm.get("/api/v1/credentials", params={"offset": big}), 422)["errors"][0]["field"] == \
        "query.offset"


def test_unstorable_text_and_numbers_are_refused_by_name(org: Services, client_for: Callable[[str], TestClient],
                                                         cid: int) -> None:
    pm = client_for("pm.business")
    cases = [
        ('{"version": 1, "data": {"purpose": "\\ud800"}}', "purpose"),
        ('{"version": 1, "data": {"purpose": "nul\\u0000here"}}', "purpose"),
        ('{"version": 1, "data": {"credits": NaN}}', "credits"),
        ('{"version": 1, "data": {"credits": 1e309}}', "credits"),
        ('{"version": 1, "data": {"title": "' + "x" * 301 + '"}}', "title"),
        ('{"version": 1, "data": {"title": "   "}}', "title"),
        ('{"version": 1, "data": {"expires_on": "0001-01-02"}}', "expires_on"),
        ('{"version": 1, "data": {"review_cycle_months": 1000000000}}', "review_cycle_months"),
    ]
    for body, field in cases:
        answer = pm.patch(f"/api/v1/credentials/{cid}", content=body, headers={"Content-Type": "application/json"})
        assert problem(answer, 422)["field"] == field, body
    detail = pm.get(f"/api/v1/credentials/{cid}").json()
    assert detail["version"] == 1 and "purpose" not in detail["data"]
    created = pm.post("/api/v1/credentials", content='{"title": "bad \\ud800", "org_unit": "logistics"}',
                      headers={"Content-Type": "application/json"})
    refused = problem(created, 422)
    assert refused.get("field") == "title" or [e["field"] for e in refused["errors"]] == ["title"], refused
    unknown = pm.post("/api/v1/credentials", json={"title": "x", "org_unit": "logistics", "definition": "microcred"})
    assert "did you mean 'microcredential'" in problem(unknown, 422)["detail"]


def test_the_proposer_cannot_approve_as_a_delegate_and_nobody_approves_twice(
        org: Services, client_for: Callable[[str], TestClient], cid: int) -> None:
    dean = as_person(org, "dean.business")
    org.people.delegate(to_username="pm.business", role="dean", starts_on=org.clock.now().date(),
                        ends_on=org.clock.now().date() + timedelta(days=7), by=dean)
    org.people.delegate(to_username="council.a", role="dean", starts_on=org.clock.now().date(),
                        ends_on=org.clock.now().date() + timedelta(days=7), by=dean)
    walk_to_feasibility(org, cid)
    own = client_for("pm.business").post(f"/api/v1/credentials/{cid}/gates/feasibility_approval/decisions",
                                         json={"decision": "approve"})
    assert "does not accept its proposer's approval" in problem(own, 403)["detail"]

    # council.a approves as the dean's delegate: nobody else may then approve in council.a's name either.
    first = client_for("council.a").post(f"/api/v1/credentials/{cid}/gates/feasibility_approval/decisions",
                                         json={"decision": "approve", "on_behalf_of": "dean.business"})
    assert first.status_code == 201 and first.json()["fired"] is not None


def test_a_team_cannot_hand_out_department_roles_or_roles_to_itself(client_for: Callable[[str], TestClient],
                                                                    cid: int) -> None:
    pm = client_for("pm.business")
    to_self = pm.post(f"/api/v1/credentials/{cid}/team", json={"username": "pm.business", "role": "sme"})
    assert "cannot give yourself a role" in problem(to_self, 403)["detail"]
    department = pm.post(f"/api/v1/credentials/{cid}/team", json={"username": "outsider", "role": "finance"})
    assert "department's or committee's role" in problem(department, 403)["detail"]
    assert pm.post(f"/api/v1/credentials/{cid}/team", json={"username": "outsider", "role": "sme"}).status_code == 201


def walk_to_feasibility(org: Services, cid: int) -> None:
    from workflow.services.access import Caller

    system = Caller.system("setup")
    org.credentials.update(credential_id=cid, changes={"purpose": "p", "description": "d"}, by=system)
    for item in org.credentials.get(cid, by=system).checklist:
        org.credentials.set_item(credential_id=cid, item=item.key, done=True, by=system)
    org.credentials.fire(credential_id=cid, trigger="submit_for_feasibility", by=system)
    for item in org.credentials.get(cid, by=system).checklist:
        org.credentials.set_item(credential_id=cid, item=item.key, done=True, by=system)
