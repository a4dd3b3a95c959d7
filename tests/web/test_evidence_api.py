"""Evidence through the API: an owner attaches the budget, the dean approves having seen it, the PM replaces it
and the approval is outdated with the reason; every version stays downloadable and matches its history."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.organisation import load_org
from tests.steps import SYSTEM, at_feasibility
from workflow.context import Services

GATE = "feasibility_approval"
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
FINANCE = """
units: []
users:
  - {username: fin.business, name: Finance Business, password: "x-very-long-password",
     roles: [{role: finance, unit: business}]}
  - {username: fin.health, name: Finance Health, password: "x-very-long-password",
     roles: [{role: finance, unit: health}]}
"""
Clients = Callable[[str], TestClient]


@pytest.fixture
def finance(org: Services) -> Services:
    return load_org(org, FINANCE)


def stored_files(org: Services) -> list[Path]:
    return [p for p in org.documents.root.rglob("*") if p.is_file()]


def upload(client: TestClient, cid: int, target: str, name: str, content: bytes, **kwargs: object):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/credentials/{cid}/evidence/{target}", files={"file": (name, content)}, **kwargs)


def test_the_dean_approves_the_budget_and_a_replacement_outdates_the_approval(finance: Services,
                                                                             client_for: Clients) -> None:
    org = finance
    cid = at_feasibility(org)
    first = upload(client_for("fin.business"), cid, "initial_budget", "budget 2027.pdf", PDF)
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and first.json()["content_type"] == "application/pdf"
    assert first.json()["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert first.json()["filename"] == "budget 2027.pdf"

    dean = client_for("dean.business")
    listed = dean.get(f"/api/v1/credentials/{cid}/evidence").json()
    assert [(e["target"], e["version"], e["by"]) for e in listed] == [("initial_budget", 1, "fin.business")]
    decided = dean.post(f"/api/v1/credentials/{cid}/gates/{GATE}/decisions", json={"decision": "approve"})
    assert decided.status_code == 201, decided.text
    seen = [e for e in dean.get(f"/api/v1/credentials/{cid}/events").json() if e["kind"] == "decision"][-1]
    assert seen["details"]["seen"]["evidence"]["initial_budget"] == f"v1 {hashlib.sha256(PDF).hexdigest()}"
    assert org.views.get(cid, by=SYSTEM).state == "design"  # the approval moved it on with v1 seen


def test_replacing_seen_evidence_outdates_the_approval_with_the_reason(finance: Services, client_for: Clients) -> None:
    org = finance
    cid = at_feasibility(org, leave_open=("funding_applied",))  # the gate stays open after the dean approves
    assert upload(client_for("fin.business"), cid, "initial_budget", "budget.pdf", PDF).status_code == 201
    dean = client_for("dean.business")
    assert dean.post(f"/api/v1/credentials/{cid}/gates/{GATE}/decisions",
                     json={"decision": "approve"}).status_code == 201
    gate = next(g for g in dean.get(f"/api/v1/credentials/{cid}").json()["gates"] if g["gate"] == GATE)
    assert gate["decisions"][0]["current"] is True

    second_pdf = PDF.replace(b"Catalog", b"Catalog /Lang (en)")
    replaced = upload(client_for("pm.business"), cid, "initial_budget", "budget-v2.pdf", second_pdf)
    assert replaced.status_code == 201 and replaced.json()["version"] == 2

    detail = dean.get(f"/api/v1/credentials/{cid}").json()
    gate = next(g for g in detail["gates"] if g["gate"] == GATE)
    assert gate["decisions"][0]["current"] is False
    missing = " ".join(m for t in detail["transitions"] for m in t["missing"])
    assert "the evidence of “Initial budget drafted” was replaced (version 1 → version 2)" in missing

    old = dean.get(f"/api/v1/credentials/{cid}/evidence/initial_budget/versions/1")
    assert old.status_code == 200 and old.content == PDF
    assert old.headers["x-content-type-options"] == "nosniff"
    assert old.headers["content-disposition"].startswith("attachment;")
    event = next(e for e in dean.get(f"/api/v1/credentials/{cid}/events").json()
                 if e["kind"] == "evidence" and e["details"]["version"] == 1)
    assert event["details"]["sha256"] == hashlib.sha256(old.content).hexdigest()


def test_refusals_store_nothing(finance: Services, client_for: Clients, app_client: TestClient) -> None:
    org = finance
    cid = at_feasibility(org)
    fin = client_for("fin.business")
    html = upload(fin, cid, "initial_budget", "budget.pdf", b"<!DOCTYPE html><html><script>alert(1)</script>")
    assert html.status_code == 422 and html.headers["content-type"] == "application/problem+json"
    assert html.json()["field"] == "file" and "HTML" in html.json()["detail"]
    traversal = upload(fin, cid, "initial_budget", "../../etc/budget.pdf", PDF)
    assert traversal.status_code == 422 and traversal.json()["field"] == "filename"
    assert "without folders" in traversal.json()["detail"]
    other_faculty = upload(client_for("fin.health"), cid, "initial_budget", "budget.pdf", PDF)
    assert other_faculty.status_code == 404
    not_owner = upload(client_for("registrar"), cid, "initial_budget", "budget.pdf", PDF)
    assert not_owner.status_code == 403
    big = upload(fin, cid, "initial_budget", "big.pdf", b"%PDF-" + b"0" * (org.settings.evidence_max_bytes + 10))
    assert big.status_code == 413 and big.headers["content-type"] == "application/problem+json"
    assert "larger than the limit of 25 MB" in big.json()["detail"]
    token_client = client_for("fin.business")
    org.people.set_active(user_id=org.people.user_id("fin.business"), active=False, by=SYSTEM)
    gone = upload(token_client, cid, "initial_budget", "budget.pdf", PDF)
    assert gone.status_code == 401
    assert fin.get(f"/api/v1/credentials/{cid}/evidence").status_code == 401
    assert stored_files(org) == []
    assert [e for e in org.evidence.list(credential_id=cid, by=SYSTEM)] == []
    refused = client_for("pm.business").delete(f"/api/v1/credentials/{cid}/evidence")
    assert refused.status_code == 409 and "history must be kept" in refused.json()["detail"]
