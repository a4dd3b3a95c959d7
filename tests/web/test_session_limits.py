"""Sessions end after the idle timeout without a request, and at their absolute lifetime however active (OWASP
ASVS V3.3), both by the injected clock; each end is in the sign-in log."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from tests.web.signing_in import sign_in
from workflow.clock import ManualClock
from workflow.context import Services


def opens(client: TestClient, path: str = "/approvals") -> bool:
    answer = client.get(path, headers={"Accept": "text/html"}, follow_redirects=False)
    return answer.status_code == 200


def test_an_idle_session_ends_and_activity_keeps_it_open(app_client: TestClient, org: Services,
                                                         clock: ManualClock) -> None:
    assert org.settings.session_idle_minutes == 30
    sign_in(app_client, "dean.business")
    for _ in range(4):  # two hours of work, a request every 29 minutes
        clock.advance(timedelta(minutes=29))
        assert opens(app_client)
    clock.advance(timedelta(minutes=30))
    assert not opens(app_client)
    assert app_client.get("/api/v1/me").status_code == 401
    events, _ = org.sign_in_log.recent(user_id=org.people.user_id("dean.business"), limit=1)
    assert (events[0]["kind"], events[0]["detail"]) == ("session_ended", "no activity for too long")


def test_a_session_ends_at_its_absolute_lifetime_however_active(app_client: TestClient, org: Services,
                                                                clock: ManualClock) -> None:
    assert org.settings.session_hours == 12
    sign_in(app_client, "pm.business")
    for _ in range(12 * 4 - 1):  # active every 15 minutes for 11 h 45 min
        clock.advance(timedelta(minutes=15))
        assert opens(app_client, "/")
    clock.advance(timedelta(minutes=15))
    assert not opens(app_client, "/")
    events, _ = org.sign_in_log.recent(user_id=org.people.user_id("pm.business"), limit=1)
    assert (events[0]["kind"], events[0]["detail"]) == ("session_ended", "its time limit was reached")
