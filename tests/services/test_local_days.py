"""Dates are the institution's calendar days (America/Toronto by default): a delegation is in force from local
midnight of its first day to local midnight after its last, a timer at a date fires at the local midnight that
starts it, and warnings before a date count local days, across daylight-saving changes too (clocks go back on
1 November 2026 and forward on 14 March 2027 in Toronto)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from tests.organisation import as_person
from tests.services.test_timers import PATH, SUMMARY, SYSTEM, pending, walk
from tests.steps import at_feasibility
from workflow.clock import ManualClock
from workflow.config import Settings
from workflow.context import Services
from workflow.errors import InvalidInput
from workflow.services.dated_timers import replan_dated_timers
from workflow.store.tables import OUTBOX, TIMER

TORONTO = ZoneInfo("America/Toronto")


def toronto(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TORONTO)


def acts_for_the_dean(org: Services) -> bool:
    return any(g.delegated and g.role == "dean" for g in as_person(org, "acting.dean").grants)


def state(services: Services, cid: int) -> str:
    return services.views.get(cid, by=SYSTEM).state


@pytest.fixture
def launched(services: Services) -> int:
    cid = services.credentials.create(definition="microcredential", title="Forklift safety", by=SYSTEM, data=SUMMARY)
    walk(services, cid, PATH)
    assert state(services, cid) == "delivery"
    return cid


# -- delegations -------------------------------------------------------------------------------------------------

def test_a_delegation_is_in_force_exactly_on_its_local_days_across_both_daylight_saving_changes(
        org: Services, clock: ManualClock) -> None:
    # From the Sunday the clocks go back to the Sunday they go forward.
    org.people.delegate(to_username="acting.dean", role="dean", starts_on=date(2026, 11, 1),
                        ends_on=date(2027, 3, 14), by=as_person(org, "dean.business"))
    expected = [
        (toronto(2026, 10, 31, 23, 30), False),  # already 1 November in UTC: not yet
        (toronto(2026, 11, 1, 0, 30), True),
        (toronto(2027, 3, 14, 23, 30), True),  # already 15 March in UTC: the last day still counts
        (toronto(2027, 3, 15, 0, 30), False),
    ]
    seen = []
    for moment, _ in expected:
        clock.set(moment)
        seen.append((moment, acts_for_the_dean(org)))
    assert seen == expected


def test_a_delegation_may_start_today_and_one_whose_last_day_is_over_is_refused(
        org: Services, clock: ManualClock) -> None:
    dean = as_person(org, "dean.business")
    clock.set(toronto(2026, 9, 1, 23, 30))  # 03:30 on 2 September in UTC; still 1 September here
    org.people.delegate(to_username="acting.dean", role="dean", starts_on=date(2026, 9, 1), ends_on=date(2026, 9, 1),
                        by=dean)
    assert acts_for_the_dean(org)

    clock.set(toronto(2026, 9, 2, 0, 30))
    assert not acts_for_the_dean(org)
    with pytest.raises(InvalidInput) as refused:
        org.people.delegate(to_username="acting.dean", role="dean", starts_on=date(2026, 9, 1),
                            ends_on=date(2026, 9, 1), by=dean)
    assert refused.value.field == "ends_on"
    assert str(refused.value) == "Last day: 2026-09-01 is already over (today is 2026-09-02, Toronto time)"
    assert len(org.people.delegations(by=dean)) == 1  # nothing was added


def test_the_delegate_is_asked_by_mail_only_on_the_local_days(org: Services, clock: ManualClock) -> None:
    """Mail for the dean also goes to whoever decides in the dean's place that (local) day."""
    org.people.delegate(to_username="acting.dean", role="dean", starts_on=date(2026, 9, 2), ends_on=date(2026, 9, 2),
                        by=as_person(org, "dean.business"))
    clock.set(toronto(2026, 9, 1, 23, 30))  # 2 September in UTC, but the delegation starts at local midnight
    at_feasibility(org)
    with org.database.begin_read() as conn:
        recipients = {row.recipient for row in conn.execute(OUTBOX.select())}
    assert not any(r.startswith("acting.dean") for r in recipients)
    assert any(r.startswith("dean.business") for r in recipients)


# -- timers at dates ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("expires", [date(2026, 11, 1), date(2027, 3, 14)], ids=["clocks-go-back", "clocks-go-forward"])
def test_the_hard_expiry_fires_at_local_midnight_of_its_date_and_not_before(
        services: Services, clock: ManualClock, launched: int, expires: date) -> None:
    services.credentials.update(credential_id=launched, changes={"expires_on": expires.isoformat()}, by=SYSTEM)
    midnight = toronto(expires.year, expires.month, expires.day)
    assert pending(services, launched)["hard_expiry"] == midnight

    clock.set(midnight - timedelta(minutes=30))  # 23:30 the evening before: a UTC day would have begun already
    services.timers.run_due()
    assert state(services, launched) == "delivery" and "hard_expiry" in pending(services, launched)

    clock.set(midnight)
    services.timers.run_due()
    assert state(services, launched) == "sunset"
    expiry = next(e for e in services.views.history(launched, by=SYSTEM) if e.actor == "timer:hard_expiry")
    assert expiry.at == midnight


def test_warnings_before_a_date_count_local_days_across_daylight_saving_changes(
        services: Services, launched: int) -> None:
    services.credentials.update(credential_id=launched, changes={"expires_on": "2026-11-08"}, by=SYSTEM)
    timers = pending(services, launched)
    assert timers["expiry_warning@P7D"] == toronto(2026, 11, 1)  # midnight EDT, a week of local days before
    assert timers["hard_expiry"] - timers["expiry_warning@P7D"] == timedelta(days=7, hours=1)
    assert timers["expiry_warning@P30D"] == toronto(2026, 10, 9)

    services.credentials.update(credential_id=launched, changes={"expires_on": "2027-03-20"}, by=SYSTEM)
    timers = pending(services, launched)
    assert timers["expiry_warning@P7D"] == toronto(2027, 3, 13)  # midnight EST, before the clocks go forward
    assert timers["hard_expiry"] - timers["expiry_warning@P7D"] == timedelta(days=6, hours=23)
    assert timers["expiry_warning@P90D"] == toronto(2026, 12, 20)


def test_timers_an_earlier_version_planned_at_utc_midnight_are_retimed_when_the_services_start(
        settings: Settings, services: Services, clock: ManualClock, launched: int) -> None:
    services.credentials.update(credential_id=launched, changes={"expires_on": "2027-03-14"}, by=SYSTEM)
    version = services.views.get(launched, by=SYSTEM).version
    with services.database.begin() as conn:  # as dates were planned before they meant local days
        conn.execute(update(TIMER).where(TIMER.c.key == "hard_expiry")
                     .values(due_at=datetime(2027, 3, 14, tzinfo=UTC)))
        conn.execute(update(TIMER).where(TIMER.c.key == "expiry_warning@P7D")
                     .values(due_at=datetime(2027, 3, 7, tzinfo=UTC)))
    untouched = pending(services, launched)["content_review_due"]

    restarted = Services.start(settings, clock)
    try:
        timers = pending(restarted, launched)
        assert timers["hard_expiry"] == toronto(2027, 3, 14)
        assert timers["expiry_warning@P7D"] == toronto(2027, 3, 7)
        assert timers["content_review_due"] == untouched
        assert restarted.views.get(launched, by=SYSTEM).version == version  # no history written
        assert replan_dated_timers(restarted.database, restarted.definitions, restarted.settings.days) == 0
    finally:
        restarted.close()

    elsewhere = Services.start(settings.model_copy(update={"timezone": "Asia/Tokyo"}), clock)
    try:  # another institution's zone moves them to its midnight
        assert pending(elsewhere, launched)["hard_expiry"] == datetime(2027, 3, 14, tzinfo=ZoneInfo("Asia/Tokyo"))
    finally:
        elsewhere.close()


def test_an_unknown_time_zone_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'America/Torono'"):
        Settings(timezone="America/Torono")
