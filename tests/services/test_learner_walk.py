"""A learner's enrolment in a credential (definitions/enrolment.yaml) walked through the service by the
registrar, the instructor, the prior learning assessor and student success: two attempts at the summative
assessment with feedback between, pass or not completed; prior learning (PLAR) recognised or not; the completion
deadline and the issued credential's expiry on their timers."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.organisation import load_org
from tests.walking import EXTRA, SYSTEM, approve, moves, person, refused, state, tick, timers
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.errors import Forbidden

TORONTO = ZoneInfo("America/Toronto")
LEARNER = {"learner_name": "Amira Haddad", "credential_title": "Cybersecurity essentials",
           "completion_deadline": "2026-12-31"}


@pytest.fixture
def college(org: Services) -> Services:
    return load_org(org, EXTRA)


def enrol(org: Services, **data: object) -> int:
    cid = org.credentials.create(definition="enrolment", title="Amira Haddad in Cybersecurity essentials",
                                 data=LEARNER | data, by=person(org, "registrar"),
                                 org_unit_id=org.people.unit_id("business"))
    tick(org, cid, "start")
    org.credentials.fire(credential_id=cid, trigger="start", by=person(org, "registrar"))
    return cid


def set_(org: Services, cid: int, **data: object) -> None:
    org.credentials.update(credential_id=cid, changes=data, by=person(org, "registrar"))


def submit(org: Services, cid: int) -> None:
    org.credentials.fire(credential_id=cid, trigger="submit_assessment", by=person(org, "student_success"))


def test_pass_on_the_first_attempt_then_the_issued_credential_expires_on_its_date(
        college: Services, clock: ManualClock) -> None:
    org = college
    cid = enrol(org)
    assert state(org, cid) == "in_progress"
    submit(org, cid)
    assert refused(org, cid, "pass_first_attempt") == [
        "“First attempt graded with the rubric” is not done (Instructor (facilitator))",
        "“Learner's identity verified” is not done (Instructor (facilitator))",
        "First attempt score is empty", "Approval by the Instructor (facilitator) is needed"]
    tick(org, cid, "pass_first_attempt")
    set_(org, cid, first_attempt_score=86)
    assert approve(org, cid, "pass_first_attempt") == ["instructor"]
    assert state(org, cid) == "awarding"

    tick(org, cid, "issue")
    set_(org, cid, issued_on="2026-09-20", issued_expires_on="2028-09-20")
    with pytest.raises(Forbidden):
        org.credentials.fire(credential_id=cid, trigger="issue", by=person(org, "student_success"))
    org.credentials.fire(credential_id=cid, trigger="issue", by=person(org, "registrar"))
    assert state(org, cid) == "completed"
    assert timers(org, cid) == {"issued_expiry": datetime(2028, 9, 20, tzinfo=TORONTO),
                                "issued_expiry_warning@P30D": datetime(2028, 8, 21, tzinfo=TORONTO)}
    clock.set(datetime(2028, 9, 20, 0, 1, tzinfo=TORONTO))
    assert org.timers.run_due() == 2
    assert state(org, cid) == "expired"
    assert [(a, t) for a, t, _ in moves(org, cid)][-1] == ("timer:issued_expiry", "expire")


def test_feedback_between_two_attempts_then_pass_or_not_completed(college: Services) -> None:
    org = college
    passed, failed = enrol(org), enrol(org)
    for cid in (passed, failed):
        submit(org, cid)
        set_(org, cid, first_attempt_score=52)
        with pytest.raises(Forbidden):  # only the instructor says "not yet"
            org.credentials.fire(credential_id=cid, trigger="fail_first_attempt", by=person(org, "registrar"))
        org.credentials.fire(credential_id=cid, trigger="fail_first_attempt", by=person(org, "instructor"))
        assert state(org, cid) == "feedback"
        assert refused(org, cid, "start_second_attempt") == [
            "“Constructive feedback given to the learner” is not done (Instructor (facilitator))",
            "Feedback after the first attempt is empty"]
        tick(org, cid, "start_second_attempt")
        set_(org, cid, feedback="Show evidence for each control")
        org.credentials.fire(credential_id=cid, trigger="start_second_attempt", by=person(org, "registrar"))
        assert state(org, cid) == "second_attempt"

    tick(org, passed, "pass_second_attempt")
    set_(org, passed, second_attempt_score=74)
    approve(org, passed, "pass_second_attempt")
    assert state(org, passed) == "awarding"

    set_(org, failed, second_attempt_score=49)
    org.credentials.fire(credential_id=failed, trigger="fail_second_attempt", by=person(org, "instructor"),
                         comment="Below the mastery benchmark twice")
    assert state(org, failed) == "not_completed"
    assert [t for _, t, _ in moves(org, failed)] == [
        None, "start", "submit_assessment", "fail_first_attempt", "start_second_attempt", "fail_second_attempt"]


def test_prior_learning_recognised_leads_to_the_award_and_not_recognised_back_to_the_course(
        college: Services) -> None:
    org = college
    recognised = enrol(org, plar_evidence="Five years as a security analyst")
    not_recognised = enrol(org, plar_evidence="A weekend course")
    for cid in (recognised, not_recognised):
        org.credentials.fire(credential_id=cid, trigger="request_plar", by=person(org, "student_success"))
        assert state(org, cid) == "plar"
    tick(org, recognised, "recognise_prior_learning")
    assert approve(org, recognised, "recognise_prior_learning") == ["assessor", "success"]
    assert state(org, recognised) == "awarding"
    org.credentials.fire(credential_id=not_recognised, trigger="plar_not_recognised", by=person(org, "plar_assessor"))
    assert state(org, not_recognised) == "in_progress"


def test_the_completion_deadline_warns_then_ends_the_enrolment_and_a_grading_reminder_waits(
        college: Services, clock: ManualClock) -> None:
    org = college
    cid = enrol(org)
    assert timers(org, cid) == {"completion_deadline": datetime(2026, 12, 31, tzinfo=TORONTO),
                                "completion_warning@P14D": datetime(2026, 12, 17, tzinfo=TORONTO)}
    submit(org, cid)
    assert timers(org, cid)["grading_reminder"] == clock.now() + timedelta(days=7)
    clock.advance(timedelta(days=8))
    assert org.timers.run_due() == 1
    set_(org, cid, completion_deadline="2026-10-15")  # an extension moves its timers; here the other way
    assert timers(org, cid)["completion_deadline"] == datetime(2026, 10, 15, tzinfo=TORONTO)
    clock.set(datetime(2026, 10, 15, 0, 1, tzinfo=TORONTO))
    assert org.timers.run_due() == 2  # the warning and the deadline; the reminder that fired is not planned again
    assert state(org, cid) == "not_completed"
    kinds = [(e.kind, e.actor) for e in org.views.history(cid, by=SYSTEM) if e.actor.startswith("timer:")]
    assert kinds == [("reminder", "timer:grading_reminder"), ("warning", "timer:completion_warning"),
                     ("transition", "timer:completion_deadline")]


def test_a_learner_can_withdraw_until_the_credential_is_issued(college: Services) -> None:
    org = college
    cid = enrol(org)
    org.credentials.fire(credential_id=cid, trigger="withdraw", by=person(org, "student_success"),
                         comment="Moved away")
    assert state(org, cid) == "withdrawn"
