"""A university's credit-bearing credential (definitions/university.yaml) walked through the service by
the people who hold each role: department curriculum committee, faculty council, senate — or senate and the
quality council for a credential new to the institution — registrar and transcript set-up, offering, cyclical
review on its timer, continuation, closure; reminders and escalations while committees wait; hold and withdraw."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.organisation import load_org
from tests.walking import EXTRA, SYSTEM, approve, moves, person, refused, state, tick, timers
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.errors import Forbidden

PROPOSAL = {"purpose": "Analysts need forecasting for credit", "learning_outcomes": ["Forecast demand"],
            "credit_level": "undergraduate", "assessment_type": "Project"}


@pytest.fixture
def university(org: Services) -> Services:
    return load_org(org, EXTRA)


def propose(org: Services, **data: object) -> int:
    return org.credentials.create(definition="university", title="Applied forecasting", data=PROPOSAL | data,
                                  by=person(org, "initiative_lead"), org_unit_id=org.people.unit_id("business"))


def to_senate(org: Services, cid: int) -> None:
    for trigger in ("submit_to_department", "approve_in_department", "approve_in_faculty"):
        tick(org, cid, trigger)
        if trigger == "submit_to_department":
            org.credentials.fire(credential_id=cid, trigger=trigger, by=person(org, "initiative_lead"))
        else:
            approve(org, cid, trigger)


def test_credits_are_required_before_the_department_sees_it_and_each_body_approves_in_turn(
        university: Services, clock: ManualClock) -> None:
    org = university
    cid = propose(org)
    tick(org, cid, "submit_to_department")
    assert refused(org, cid, "submit_to_department") == ["Credits is empty"]
    org.credentials.update(credential_id=cid, changes={"credits": 0.5}, by=person(org, "initiative_lead"))
    org.credentials.fire(credential_id=cid, trigger="submit_to_department", by=person(org, "initiative_lead"))
    assert state(org, cid) == "department_review"

    # the department: its checklist, the chair (stage 1), then two of the curriculum committee (stage 2)
    assert "“Learning outcomes mapped to the program's outcomes” is not done (Subject matter expert)" in refused(
        org, cid, "approve_in_department")
    tick(org, cid, "approve_in_department")
    assert approve(org, cid, "approve_in_department") == ["chair", "ccc.a", "ccc.b"]
    assert state(org, cid) == "faculty_review"
    # the faculty: the dean, then two of faculty council
    tick(org, cid, "approve_in_faculty")
    assert approve(org, cid, "approve_in_faculty") == ["dean.business", "fc.a", "fc.b"]
    assert state(org, cid) == "senate_review"
    tick(org, cid, "approve_in_senate")
    assert approve(org, cid, "approve_in_senate") == ["senate.a", "senate.b"]
    assert state(org, cid) == "registrar_setup"

    # registrar and transcript: only the registrar offers it, with a course code and transcript notation
    tick(org, cid, "offer")
    assert refused(org, cid, "offer") == ["Course code is empty", "Transcript notation is empty"]
    org.credentials.update(credential_id=cid, changes={"course_code": "SCM 4P10", "transcript_notation": "MC"},
                           by=person(org, "initiative_lead"))
    with pytest.raises(Forbidden):
        org.credentials.fire(credential_id=cid, trigger="offer", by=person(org, "initiative_lead"))
    org.credentials.fire(credential_id=cid, trigger="offer", by=person(org, "registrar"))
    assert state(org, cid) == "offered"

    # the cyclical review comes due on its timer (every 60 months unless the credential says otherwise)
    offered = clock.now()
    assert timers(org, cid) == {"cyclical_review_due": offered.replace(year=offered.year + 5),
                                "cyclical_review_warning@P90D": offered.replace(year=offered.year + 5)
                                - timedelta(days=90)}
    clock.set(offered.replace(year=offered.year + 5) + timedelta(minutes=1))
    assert org.timers.run_due() == 2
    assert state(org, cid) == "cyclical_review"
    assert moves(org, cid)[-1] == ("timer:cyclical_review_due", "start_review", "cyclical_review")

    # continue after review: two of the curriculum committee, then the dean
    tick(org, cid, "continue_offering")
    assert approve(org, cid, "continue_offering") == ["ccc.a", "ccc.b", "dean.business"]
    assert state(org, cid) == "offered"

    # closure: senate decides (a reason is required: it is hard to undo), then the registrar finishes it
    org.credentials.fire(credential_id=cid, trigger="start_review", by=person(org, "qa_office"))
    tick(org, cid, "close")
    gate = "closure_approval"
    org.credentials.decide(credential_id=cid, gate=gate, verdict="approve", by=person(org, "senate", 0),
                           comment="Superseded by the new minor")
    org.credentials.decide(credential_id=cid, gate=gate, verdict="approve", by=person(org, "senate", 1),
                           comment="Agreed")
    assert state(org, cid) == "closing"
    tick(org, cid, "finish_closure")
    org.credentials.fire(credential_id=cid, trigger="finish_closure", by=person(org, "registrar"),
                         comment="Last learners completed")
    assert state(org, cid) == "closed"
    assert [to for _, _, to in moves(org, cid)] == [
        "proposal", "department_review", "faculty_review", "senate_review", "registrar_setup", "offered",
        "cyclical_review", "offered", "cyclical_review", "closing", "closed"]


def test_a_credential_new_to_the_institution_goes_from_senate_to_the_quality_council(university: Services) -> None:
    org = university
    cid = propose(org, credits=3, new_to_institution=True)
    to_senate(org, cid)
    assert state(org, cid) == "senate_review"
    assert refused(org, cid, "refer_to_quality_council") == [
        "“Confirmed as new to the institution (quality council approval needed)” is not done "
        "(Quality assurance office)"]
    tick(org, cid, "refer_to_quality_council")
    with pytest.raises(Forbidden):  # the QA office or the dean refers it
        org.credentials.fire(credential_id=cid, trigger="refer_to_quality_council", by=person(org, "initiative_lead"))
    org.credentials.fire(credential_id=cid, trigger="refer_to_quality_council", by=person(org, "qa_office"))
    assert state(org, cid) == "quality_council_review"
    tick(org, cid, "approve_in_quality_council")
    assert approve(org, cid, "approve_in_quality_council") == ["oqc"]
    assert state(org, cid) == "registrar_setup"


def test_committees_are_reminded_and_escalated_while_they_wait(university: Services, clock: ManualClock) -> None:
    org = university
    cid = propose(org, credits=1)
    tick(org, cid, "submit_to_department")
    org.credentials.fire(credential_id=cid, trigger="submit_to_department", by=person(org, "initiative_lead"))
    assert timers(org, cid) == {"department_reminder": clock.now() + timedelta(days=21)}
    clock.advance(timedelta(days=22))
    assert org.timers.run_due() == 1
    tick(org, cid, "approve_in_department")
    approve(org, cid, "approve_in_department")
    assert timers(org, cid) == {"faculty_escalation": clock.now() + timedelta(days=45)}
    clock.advance(timedelta(days=46))
    assert org.timers.run_due() == 1
    tick(org, cid, "approve_in_faculty")
    approve(org, cid, "approve_in_faculty")
    assert timers(org, cid) == {"senate_reminder": clock.now() + timedelta(days=30)}
    clock.advance(timedelta(days=31))
    assert org.timers.run_due() == 1
    kinds = [(e.kind, e.actor, e.details.get("notify")) for e in org.views.history(cid, by=SYSTEM)
             if e.actor.startswith("timer:")]
    assert kinds == [("reminder", "timer:department_reminder", ["department_chair"]),
                     ("escalation", "timer:faculty_escalation", ["dean", "project_manager"]),
                     ("reminder", "timer:senate_reminder", ["qa_office"])]


def test_hold_resumes_where_it_was_and_withdraw_ends_it(university: Services) -> None:
    org = university
    cid = propose(org, credits=1)
    to_senate(org, cid)
    lead = person(org, "initiative_lead")
    org.credentials.fire(credential_id=cid, trigger="hold", by=lead, comment="Budget freeze")
    assert state(org, cid) == "on_hold"
    org.credentials.fire(credential_id=cid, trigger="resume", by=lead)
    assert state(org, cid) == "senate_review"
    org.credentials.fire(credential_id=cid, trigger="withdraw", by=lead, comment="Folded into the degree")
    assert state(org, cid) == "withdrawn"
