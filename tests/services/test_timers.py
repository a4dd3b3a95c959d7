"""Timers with a controlled clock: recurring content review, hard expiry, reminders, escalations, warnings;
moved when their date changes, cancelled when the credential moves on, never fired twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from workflow.clock import ManualClock
from workflow.context import Services
from workflow.services.access import Caller

SYSTEM = Caller.system("test")
TORONTO = ZoneInfo("America/Toronto")  # the institution's zone (the default setting): dates are its days
SUMMARY = {
    "purpose": "p", "description": "d", "provider": "Northern", "learning_outcomes": ["x"],
    "participation_mode": "online", "time_period": "6 weeks", "prerequisites": "none", "learning_resources": "LMS",
    "assessment_type": "project", "identity_verification": "proctored", "qa_body": "council",
    "learner_outcome": "badge", "stackability": "stand-alone", "notional_hours": 30, "credit_bearing": False,
}
PATH = ["submit_for_feasibility", "approve_feasibility", "complete_design", "sign_off", "launch"]


def walk(services: Services, cid: int, triggers: list[str]) -> None:
    """Move a credential along ``triggers``, completing each step's checklist and approvals."""
    creds = services.credentials
    for trigger in triggers:
        detail = services.views.get(cid, by=SYSTEM)
        for item in detail.checklist:
            if item.trigger == trigger and not item.done:
                creds.set_item(credential_id=cid, item=item.key, done=True, by=SYSTEM)
        fired = False
        for gate in (g for g in detail.gates if g.trigger == trigger):
            for rule in sorted(gate.approvers, key=lambda a: a.stage):
                for n in range(rule.needed - rule.approvals):
                    fired = creds.decide(credential_id=cid, gate=gate.gate, role=rule.role, verdict="approve",
                                         by=Caller.system(f"{rule.role}{n}")).fired is not None or fired
        if not fired:
            creds.fire(credential_id=cid, trigger=trigger, by=SYSTEM)


def pending(services: Services, cid: int) -> dict[str, datetime]:
    return {t["key"]: t["due_at"] for t in services.views.get(cid, by=SYSTEM).timers}


def timer_events(services: Services, cid: int) -> list[tuple[str, str, str | None]]:
    return [(e.kind, e.actor, e.to_state) for e in services.views.history(cid, by=SYSTEM)
            if e.actor.startswith("timer:")]


@pytest.fixture
def launched(services: Services, clock: ManualClock) -> int:
    cid = services.credentials.create(definition="microcredential", title="Forklift safety", by=SYSTEM, data=SUMMARY)
    walk(services, cid, PATH)
    assert services.views.get(cid, by=SYSTEM).state == "delivery"
    return cid


def test_content_review_comes_due_a_cycle_after_launch_and_reschedules_after_renewal(
        services: Services, clock: ManualClock, launched: int) -> None:
    launch = clock.now()
    timers = pending(services, launched)
    assert timers["content_review_due"] == datetime(2027, 9, 1, 9, 0, tzinfo=UTC)
    assert timers["renewal_warning@P90D"] == datetime(2027, 9, 1, 9, 0, tzinfo=UTC) - timedelta(days=90)

    clock.set(datetime(2027, 6, 5, 9, 0, tzinfo=UTC))  # past the 90-day warning (3 June) only
    assert services.timers.run_due() == 1
    assert timer_events(services, launched) == [("warning", "timer:renewal_warning", None)]
    assert services.views.get(launched, by=SYSTEM).state == "delivery"

    clock.set(launch + timedelta(days=400))  # the 30- and 7-day warnings and the review are all due: catch-up
    assert services.timers.run_due() == 3
    assert services.views.get(launched, by=SYSTEM).state == "review"
    assert timer_events(services, launched)[-1] == ("transition", "timer:content_review_due", "review")
    assert services.timers.run_due() == 0  # nothing fires twice

    services.credentials.update(credential_id=launched, changes={"review_cycle_months": 6}, by=SYSTEM)
    walk(services, launched, ["renew"])
    renewed = clock.now()
    assert pending(services, launched)["content_review_due"] == datetime(2028, 4, 6, 9, 0, tzinfo=UTC)
    assert renewed == datetime(2027, 10, 6, 9, 0, tzinfo=UTC)  # six months on from the renewal


def test_a_changed_expiry_date_moves_its_timer_and_the_old_date_passes_quietly(
        services: Services, clock: ManualClock, launched: int) -> None:
    services.credentials.update(credential_id=launched, changes={"expires_on": "2027-03-31"}, by=SYSTEM)
    assert pending(services, launched)["hard_expiry"] == datetime(2027, 3, 31, tzinfo=TORONTO)  # local midnight
    services.credentials.update(credential_id=launched, changes={"expires_on": "2027-06-30"}, by=SYSTEM)
    timers = pending(services, launched)
    assert timers["hard_expiry"] == datetime(2027, 6, 30, tzinfo=TORONTO)
    assert timers["expiry_warning@P7D"] == datetime(2027, 6, 23, tzinfo=TORONTO)

    clock.set(datetime(2027, 4, 1, tzinfo=TORONTO))  # the first date has passed: only the 90-day warning is due
    assert services.timers.run_due() == 1
    assert services.views.get(launched, by=SYSTEM).state == "delivery"

    clock.set(datetime(2027, 6, 30, 0, 1, tzinfo=TORONTO))
    services.timers.run_due()
    assert services.views.get(launched, by=SYSTEM).state == "sunset"
    assert [actor for _, actor, _ in timer_events(services, launched)] == [
        "timer:expiry_warning",  # 90 days before, on 1 April
        "timer:renewal_warning",  # the content review is 90 days away too
        "timer:expiry_warning",  # 7 days before; the 30-day one, missed too, collapsed into it
        "timer:hard_expiry",
    ]
    assert "hard_expiry" not in pending(services, launched)


def test_clearing_the_expiry_date_cancels_its_timers(services: Services, launched: int) -> None:
    services.credentials.update(credential_id=launched, changes={"expires_on": "2027-06-30"}, by=SYSTEM)
    services.credentials.update(credential_id=launched, changes={"expires_on": None}, by=SYSTEM)
    assert not [k for k in pending(services, launched) if "expiry" in k]


def test_reminder_and_escalation_while_a_gate_waits_and_none_after_it_moves_on(
        services: Services, clock: ManualClock) -> None:
    waiting = services.credentials.create(definition="microcredential", title="Waiting", by=SYSTEM, data=SUMMARY)
    decided = services.credentials.create(definition="microcredential", title="Decided", by=SYSTEM, data=SUMMARY)
    walk(services, waiting, PATH[:1])
    walk(services, decided, PATH[:1])
    assert set(pending(services, decided)) == {"feasibility_reminder", "feasibility_escalation"}

    clock.advance(timedelta(days=5))
    walk(services, decided, ["approve_feasibility"])  # leaves feasibility before its reminder is due
    assert "feasibility_reminder" not in pending(services, decided)

    clock.advance(timedelta(days=10))  # day 15
    services.timers.run_due()
    clock.advance(timedelta(days=14))  # day 29
    services.timers.run_due()
    assert [(k, a) for k, a, _ in timer_events(services, waiting)] == [
        ("reminder", "timer:feasibility_reminder"), ("escalation", "timer:feasibility_escalation")]
    escalation = next(e for e in services.views.history(waiting, by=SYSTEM) if e.kind == "escalation")
    assert escalation.details["notify"] == ["dean", "project_manager"]
    assert escalation.comment == "Feasibility decision overdue"
    assert timer_events(services, decided) == []
    cancelled = services.timers.listing(status="cancelled", credential_ids=[decided])
    assert {t.key for t in cancelled} == {"feasibility_reminder", "feasibility_escalation"}
    assert all(t.outcome == "cancelled: left 'feasibility'" for t in cancelled)


def test_a_claimed_timer_whose_credential_moved_on_meanwhile_does_nothing(
        services: Services, clock: ManualClock, launched: int) -> None:
    clock.advance(timedelta(days=366))
    claimed = services.timers.claim()
    assert claimed  # the review is due and now ours
    services.credentials.fire(credential_id=launched, trigger="hold", by=SYSTEM)  # someone acts first
    outcomes = [services.credentials.run_timer(t, services.timers.owner) for t in claimed]
    assert "cancelled: the credential left 'delivery'" in outcomes
    assert services.views.get(launched, by=SYSTEM).state == "on_hold"


def test_a_retried_or_taken_over_timer_acts_once(services: Services, clock: ManualClock, launched: int) -> None:
    clock.advance(timedelta(days=366))
    first = services.timers.claim()
    review = next(t for t in services.timers.listing(status="running") if t.key == "content_review_due")
    assert review.id in first
    clock.advance(timedelta(seconds=services.settings.timer_lease_seconds + 1))  # the first claimer went quiet
    other = type(services.timers)(services.database, clock, services.credentials.run_timer, owner="other")
    assert review.id in other.claim()
    assert services.credentials.run_timer(review.id, "other").startswith("fired start_review")
    assert services.credentials.run_timer(review.id, services.timers.owner) == "already handled"
    assert services.credentials.run_timer(review.id, "other") == "already handled"
    moves = [e for e in services.views.history(launched, by=SYSTEM) if e.trigger == "start_review"]
    assert len(moves) == 1
