"""Pages show times in the institution's time zone with its abbreviation, dates as its local days, and say once
which zone that is; the API keeps UTC instants and names the zone of its date-only fields."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from tests.services.test_timers import PATH, SUMMARY, walk
from tests.steps import SYSTEM, at_feasibility
from tests.web.pages import sign_in
from workflow.clock import ManualClock
from workflow.context import Services

TORONTO = ZoneInfo("America/Toronto")


def test_times_carry_the_zone_and_every_page_names_it(org: Services, app_client: TestClient) -> None:
    cid = org.credentials.create(definition="microcredential", title="Forklift safety", by=SYSTEM, data=SUMMARY)
    walk(org, cid, PATH)
    org.credentials.update(credential_id=cid, changes={"expires_on": "2026-11-01"}, by=SYSTEM)
    sign_in(app_client, "admin")
    page = app_client.get(f"/credentials/{cid}").text
    assert "2026-11-01 00:00 EDT — Hard expiry date passed" in page  # local midnight of the expiry date
    assert "2026-09-01 05:00 EDT" in page  # the history's times (09:00 UTC)
    assert "Dates and times are Toronto time (America/Toronto)." in page
    for path in ("/approvals", "/tasks", "/portfolio"):
        assert "Dates and times are Toronto time (America/Toronto)." in app_client.get(path).text, path


def test_a_due_date_is_the_local_day_of_the_due_time(org: Services, app_client: TestClient,
                                                      clock: ManualClock) -> None:
    clock.set(datetime(2026, 9, 1, 21, 0, tzinfo=TORONTO))  # 01:00 on 2 September in UTC
    cid = at_feasibility(org)  # the feasibility decision is due 14 days on: 21:00 on 15 September, Toronto time
    clock.set(datetime(2026, 9, 15, 12, 0, tzinfo=TORONTO))
    sign_in(app_client, "dean.business")
    row = app_client.get("/approvals").text.split('data-testid="approval"')[1]
    assert "2026-09-15<br>" in row and "due today" in row
    sheet = app_client.get(f"/credentials/{cid}/gates/feasibility_approval").text
    assert "decision due 2026-09-15" in sheet


def test_a_delegation_already_over_is_refused_beside_its_dates_and_what_was_typed_stays(
        org: Services, app_client: TestClient, clock: ManualClock) -> None:
    clock.set(datetime(2026, 9, 2, 0, 30, tzinfo=TORONTO))
    token = sign_in(app_client, "dean.business")
    refused = app_client.post("/delegations", data={"csrf_token": token, "to": "acting.dean", "role": "dean",
                                                     "starts_on": "2026-09-01", "ends_on": "2026-09-01"})
    assert refused.status_code == 422
    form = refused.text.split('action="/delegations"')[1]
    assert ('<p class="error" role="alert" id="del-error">Last day: 2026-09-01 is already over '
            "(today is 2026-09-02, Toronto time)</p>") in form
    assert ('name="ends_on" type="date" required min="2026-09-02" value="2026-09-01" '
            'aria-describedby="del-error"') in form
    assert 'value="acting.dean"' in form
    assert org.people.delegations(by=org.access.caller_by_name("dean.business")) == []


def test_the_api_keeps_utc_instants_and_names_the_zone_of_its_dates(org: Services, app_client: TestClient) -> None:
    schema = app_client.get("/openapi.json").json()
    assert "calendar days in the institution's time zone (America/Toronto)" in schema["info"]["description"]
    delegation = schema["components"]["schemas"]["DelegationIn"]["properties"]
    assert "a calendar day in the institution's time zone" in delegation["starts_on"]["description"]
    assert "a calendar day in the institution's time zone" in delegation["ends_on"]["description"]
