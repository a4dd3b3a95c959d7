"""Each person's private calendar feed: an address from POST /api/v1/me/calendar that a calendar application reads
without signing in, holding the person's due decisions; a new address replaces the old one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar

from tests.notify.mailing import create, override
from tests.organisation import as_person
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.web.app import create_app

TITLE = "Supply-chain analytics"


@pytest.fixture
def anonymous(org: Services) -> Iterator[TestClient]:
    with TestClient(create_app(org.settings, services=org), base_url="https://testserver") as client:
        yield client


def bearer(org: Services, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {org.auth.create_token(org.people.user_id(username), 'calendar').token}"}


def new_feed(client: TestClient, headers: dict[str, str]) -> str:
    response = client.post("/api/v1/me/calendar", headers=headers)
    assert response.status_code == 201, response.text
    url = str(response.json()["url"])
    assert url.endswith(".ics")
    return urlsplit(url).path


def read_feed(client: TestClient, path: str) -> list[tuple[str, date]]:
    response = client.get(path)  # no Authorization: the address is the key
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    parsed = Calendar.from_ical(response.text)
    return [(str(event.get("summary")), event.decoded("dtstart")) for event in parsed.walk("VEVENT")]


def test_the_feed_holds_the_deans_due_decision_and_a_new_address_replaces_the_old(
        org: Services, anonymous: TestClient, clock: ManualClock) -> None:
    today = clock.now().date()
    org.people.delegate(to_username="acting.dean", starts_on=today, ends_on=today + timedelta(days=30), role="dean",
                        by=as_person(org, "dean.business"))
    credential_id = create(org, TITLE)
    override(org, credential_id, "submit_for_feasibility")
    due = today + timedelta(days=14)
    wanted = (f"Decision due: Feasibility approval — {TITLE}", due)

    dean = bearer(org, "dean.business")
    path = new_feed(anonymous, dean)
    assert wanted in read_feed(anonymous, path)
    assert wanted in read_feed(anonymous, new_feed(anonymous, bearer(org, "acting.dean")))  # acting for the dean
    assert wanted not in read_feed(anonymous, new_feed(anonymous, bearer(org, "dean.health")))

    token = path.rsplit("/", 1)[1].removesuffix(".ics")
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert anonymous.get(f"/calendar/{wrong}.ics").status_code == 404
    assert anonymous.get("/calendar/not-a-token.ics").status_code == 404

    replacement = new_feed(anonymous, dean)
    assert replacement != path
    assert anonymous.get(path).status_code == 404  # the old address stops working
    assert wanted in read_feed(anonymous, replacement)


def test_a_feed_address_needs_a_signed_in_person(anonymous: TestClient) -> None:
    assert anonymous.post("/api/v1/me/calendar").status_code == 401
