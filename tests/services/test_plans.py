"""Plans with the injected clock: back-scheduling from a target, moving a phase with a reason while the baseline
stays, re-baselining, the forecast against a small known history, alerts sent once, and bad input refused with
nothing changed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.organisation import as_person
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.errors import InvalidInput, NotFound
from workflow.services.access import Caller
from workflow.services.audit import verify_database
from workflow.store.tables import OUTBOX

ADMIN = Caller(username="admin", display_name="Admin", is_admin=True)
DAY = timedelta(days=1)
TODAY = date(2026, 9, 1)  # the clock's start (09:00 UTC) is this day in Toronto


def start(org: Services, title: str) -> int:
    return org.credentials.create(definition="microcredential", title=title, by=as_person(org, "pm.business"),
                                  org_unit_id=org.people.unit_id("business"))


def move(org: Services, cid: int, trigger: str) -> None:
    org.credentials.override(credential_id=cid, trigger=trigger, comment="moved on for the test", by=ADMIN)


def test_a_target_date_back_schedules_every_phase_from_the_definitions_planned_days(org: Services) -> None:
    cid = start(org, "Forklift safety")
    pm = as_person(org, "pm.business")
    org.plans.set_target(credential_id=cid, target=date(2027, 9, 7), by=pm)
    plan = org.plans.views.get(cid, by=pm)
    # each phase ends when the next one's planned days start: launch 45 days, build 90, design 60, feasibility 45
    assert [(p.title, p.planned) for p in plan.phases] == [
        ("Ideation", date(2027, 9, 7) - 240 * DAY), ("Feasibility", date(2027, 9, 7) - 195 * DAY),
        ("Design", date(2027, 9, 7) - 135 * DAY), ("Build", date(2027, 9, 7) - 45 * DAY),
        ("Marketing and launch", date(2027, 9, 7))]
    assert plan.phases[1].planned == date(2027, 2, 24)
    assert [p.baseline for p in plan.phases] == [p.planned for p in plan.phases]  # the first plan is the baseline
    history = org.views.history(cid, by=pm)
    assert history[-1].kind == "plan" and history[-1].details["target"] == "2027-09-07"


def test_an_intake_the_administrator_configured_gives_the_target(org: Services) -> None:
    org.plans.views.terms["Fall 2027"] = date(2027, 9, 7)
    cid = start(org, "Cold chain")
    pm = as_person(org, "pm.business")
    org.plans.set_target(credential_id=cid, intake="Fall 2027", by=pm)
    plan = org.plans.views.get(cid, by=pm)
    assert (plan.target, plan.intake) == (date(2027, 9, 7), "Fall 2027")
    with pytest.raises(InvalidInput, match=r"no intake named 'Spring 2031'.*Fall 2027"):
        org.plans.set_target(credential_id=cid, intake="Spring 2031", reason="new term", by=pm)


def test_moving_a_phase_needs_a_reason_and_keeps_the_baseline(org: Services) -> None:
    cid = start(org, "Forklift safety")
    pm = as_person(org, "pm.business")
    org.plans.set_target(credential_id=cid, target=date(2027, 9, 7), by=pm)
    before = org.plans.views.get(cid, by=pm)
    with pytest.raises(InvalidInput, match="say why the date moves") as refused:
        org.plans.move_phase(credential_id=cid, state="design", on=date(2027, 4, 1), reason="  ", by=pm)
    assert refused.value.field == "reason"
    assert org.plans.views.get(cid, by=pm) == before  # nothing changed
    org.plans.move_phase(credential_id=cid, state="design", on=date(2027, 4, 1), reason="Council meets late", by=pm)
    after = org.plans.views.get(cid, by=pm)
    design = next(p for p in after.phases if p.state == "design")
    assert (design.baseline, design.planned, design.moved) == (date(2027, 9, 7) - 135 * DAY, date(2027, 4, 1), True)
    event = org.views.history(cid, by=pm)[-1]
    assert (event.kind, event.comment, event.details["was"], event.details["to"]) == (
        "plan", "Council meets late", "2027-04-25", "2027-04-01")
    # re-baselining is explicit, with a reason, and then the moved date is the baseline
    with pytest.raises(InvalidInput, match="say why the baseline is replaced"):
        org.plans.rebaseline(credential_id=cid, reason="", by=pm)
    org.plans.rebaseline(credential_id=cid, reason="Funding confirmed", by=pm)
    design = next(p for p in org.plans.views.get(cid, by=pm).phases if p.state == "design")
    assert (design.baseline, design.moved) == (date(2027, 4, 1), False)
    assert org.views.history(cid, by=pm)[-1].details["change"] == "rebaselined"
    # the plan's changes are in the hash chain: the history verifies, and each change carries the whole plan
    assert verify_database(org.database).ok
    plans = [e for e in org.views.history(cid, by=pm) if e.kind == "plan"]
    assert [e.details["baseline"]["design"] for e in plans] == ["2027-04-25", "2027-04-25", "2027-04-01"]


def test_a_changed_target_keeps_the_baseline_and_needs_a_reason(org: Services) -> None:
    cid = start(org, "Forklift safety")
    pm = as_person(org, "pm.business")
    org.plans.set_target(credential_id=cid, target=date(2027, 9, 7), by=pm)
    with pytest.raises(InvalidInput, match="say why the target changes"):
        org.plans.set_target(credential_id=cid, target=date(2028, 1, 10), by=pm)
    org.plans.set_target(credential_id=cid, target=date(2028, 1, 10), reason="Employer asked for January", by=pm)
    plan = org.plans.views.get(cid, by=pm)
    assert (plan.target, plan.baseline_launch) == (date(2028, 1, 10), date(2027, 9, 7))


def test_the_forecast_equals_the_hand_computed_value_on_a_small_known_history(org: Services,
                                                                              clock: ManualClock) -> None:
    a, b, c, d = (start(org, name) for name in ("A", "B", "C", "D"))
    pm = as_person(org, "pm.business")
    org.plans.set_target(credential_id=d, target=TODAY + 400 * DAY, by=pm)
    # ideation: A 10 days, B 20, C 40, D 40; feasibility: A 30, B 50, C 60 (median 50); D in it since day 40
    for day, steps in ((10, [(a, "submit_for_feasibility")]), (20, [(b, "submit_for_feasibility")]),
                       (40, [(c, "submit_for_feasibility"), (d, "submit_for_feasibility"),
                             (a, "approve_feasibility")]),
                       (70, [(b, "approve_feasibility")]), (100, [(c, "approve_feasibility")])):
        clock.set(clock.now().replace(year=2026, month=9, day=1) + day * DAY)
        for cid, trigger in steps:
            move(org, cid, trigger)
    plan = org.plans.views.get(d, by=pm)
    # Feasibility: 60 days spent already, more than its median (50): it ends today, day 100. Design, build and
    # launch have no finished stays: the plan's own lengths (back-scheduled: 60, 90, 45 days).
    assert plan.forecast.launch == TODAY + (100 + 60 + 90 + 45) * DAY
    assert [p.basis for p in plan.phases[1:]] == ["history", "plan", "plan", "plan"]
    assert plan.slip_target == (100 + 60 + 90 + 45) - 400
    assert plan.slip_baseline == plan.slip_target
    # ten days on, feasibility still runs: the forecast moves with it
    clock.advance(10 * DAY)
    assert org.plans.views.get(d, by=pm).forecast.launch == TODAY + (110 + 60 + 90 + 45) * DAY


def plan_mail(org: Services, to: str) -> list[str]:
    with org.database.begin_read() as conn:
        return list(conn.execute(select(OUTBOX.c.subject).where(OUTBOX.c.kind == "plan_slipped",
                                                               OUTBOX.c.recipient == to).order_by(OUTBOX.c.id))
                    .scalars())


def test_an_alert_goes_once_when_the_forecast_passes_the_target_and_again_only_after_the_plan_changes(
        org: Services, clock: ManualClock) -> None:
    cid = start(org, "Forklift safety")
    pm = as_person(org, "pm.business")
    org.plans.set_target(credential_id=cid, target=TODAY + 300 * DAY, by=pm)  # ideation to end by day 60
    assert org.plans.run_alerts() == 0
    clock.advance(40 * DAY)  # ideation 30 days, then 240 more: day 280, in time
    assert org.plans.run_alerts() == 0
    clock.advance(30 * DAY)  # day 70: ideation's planned end is missed, and the launch expected on day 310
    assert org.plans.run_alerts() == 2
    subjects = plan_mail(org, "pm.business@test.example")
    assert subjects == ["Launch forecast past its target (10 days late): Forklift safety",
                        "Planned date missed — Ideation: Forklift safety"]
    assert plan_mail(org, "dean.business@test.example") == subjects  # the definition names the dean too
    assert org.plans.run_alerts() == 0
    clock.advance(5 * DAY)  # later still: no second email while the plan is the same
    assert org.plans.run_alerts() == 0
    assert len(plan_mail(org, "pm.business@test.example")) == 2
    with org.database.begin_read() as conn:
        ics = conn.execute(select(OUTBOX.c.ics).where(OUTBOX.c.kind == "plan_slipped")
                           .order_by(OUTBOX.c.id.desc())).scalars().first()
    assert ics is not None and "Expected launch (forecast)" in ics
    assert f"DTSTART;VALUE=DATE:{(TODAY + 310 * DAY):%Y%m%d}" in ics
    assert [e.kind for e in org.views.history(cid, by=pm)].count("plan_alert") == 2
    # the plan changes: a later target the forecast meets (ideation now planned to end by day 90)
    org.plans.set_target(credential_id=cid, target=TODAY + 330 * DAY, reason="Next intake", by=pm)
    assert org.plans.run_alerts() == 0
    clock.advance(20 * DAY)  # day 95: ideation missed again, launch expected on day 335
    assert org.plans.run_alerts() == 2
    assert plan_mail(org, "pm.business@test.example")[-2] == (
        "Launch forecast past its target (5 days late): Forklift safety")


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"target": TODAY - DAY}, "target", r"must be after today \(2026-09-01\)"),
    ({"target": TODAY}, "target", "must be after today"),
    ({}, "target", "give a target launch date or choose an intake"),
])
def test_a_bad_target_is_refused_and_changes_nothing(org: Services, change: dict[str, date], field: str,
                                                     message: str) -> None:
    cid = start(org, "Forklift safety")
    pm = as_person(org, "pm.business")
    version = org.views.get(cid, by=pm).version
    with pytest.raises(InvalidInput, match=message) as refused:
        org.plans.set_target(credential_id=cid, by=pm, **change)
    assert refused.value.field == field
    assert org.views.get(cid, by=pm).version == version and not org.plans.views.get(cid, by=pm).planned


@pytest.mark.parametrize(("state", "on", "message"), [
    ("design", date(2027, 9, 8), r"Design cannot end after the target launch date \(2027-09-07\)"),
    ("design", date(2027, 8, 1), r"Design cannot end after Build \(2027-07-24\)"),
    ("feasibility", TODAY - DAY, "cannot be planned to end before today"),
    ("launch", date(2027, 8, 1), "is the target launch date: change the target"),
    ("delivery", date(2027, 8, 1), "choose one of the planned phases"),
])
def test_a_bad_phase_date_is_refused_and_changes_nothing(org: Services, state: str, on: date, message: str) -> None:
    cid = start(org, "Forklift safety")
    pm = as_person(org, "pm.business")
    org.plans.set_target(credential_id=cid, target=date(2027, 9, 7), by=pm)
    before, version = org.plans.views.get(cid, by=pm), org.views.get(cid, by=pm).version
    with pytest.raises(InvalidInput, match=message):
        org.plans.move_phase(credential_id=cid, state=state, on=on, reason="because", by=pm)
    assert org.plans.views.get(cid, by=pm) == before and org.views.get(cid, by=pm).version == version


def test_someone_elses_credential_is_not_found_and_changes_nothing(org: Services) -> None:
    cid = start(org, "Forklift safety")
    other = as_person(org, "pm.health")
    with pytest.raises(NotFound):
        org.plans.set_target(credential_id=cid, target=date(2027, 9, 7), by=other)
    with pytest.raises(NotFound):
        org.plans.views.get(cid, by=other)
    assert not org.plans.views.get(cid, by=as_person(org, "pm.business")).planned
