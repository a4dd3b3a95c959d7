"""Without a mail server configured nothing is sent and nothing is lost: administrators see every message."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.organisation import as_person
from workflow.context import Services


def test_messages_wait_in_the_outbox_and_administrators_can_read_them(
        org: Services, client_for: Callable[[str], TestClient]) -> None:
    assert org.dispatcher.sender is None  # the embedded default: no SMTP settings
    org.credentials.create(definition="microcredential", title="Drone mapping", by=as_person(org, "pm.business"),
                           org_unit_id=org.people.unit_id("logistics"))
    assert org.dispatcher.run() == 0

    listed = client_for("admin").get("/api/v1/outbox").json()
    assert listed["counts"] == {"pending": len(listed["items"])} and listed["items"]
    recipients = {item["recipient"] for item in listed["items"]}
    assert {"pm.business@test.example", "sme@test.example", "engage@test.example"} <= recipients
    assert "dean.health@test.example" not in recipients

    first = listed["items"][0]
    message = client_for("admin").get(f"/api/v1/outbox/{first['id']}").json()
    assert message["status"] == "pending" and message["subject"] == first["subject"]
    assert "Drone mapping" in message["text_body"] and message["message_id"].endswith("@workflow.localhost>")
    retried = client_for("admin").post(f"/api/v1/outbox/{first['id']}/retry")
    assert retried.status_code == 409 and "only dead messages are retried" in retried.json()["detail"]
    assert client_for("pm.business").get("/api/v1/outbox").status_code == 403
