"""Approvals as the people involved see them: the approval that completes a gate opens it, quorums and stages,
no double or self-approval, send-back without losing the approvals that still hold, delegation within its dates,
administrator overrides, and the lists of what waits for whom."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date, timedelta

import pytest

from tests.organisation import as_person
from tests.steps import SYSTEM, at_build, at_feasibility, tick
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.errors import Conflict, Forbidden, InvalidInput, NotFound, StaleVersion, TransitionNotAllowed
from workflow.services.access import Caller
from workflow.services.commands import DecisionResult

DEAN = "Dean (leadership champion)"
GOVERNANCE = "Academic governance body (college council / quality council)"


def approve(org: Services, cid: int, gate: str, username: str, *, role: str | None = None,
            comment: str = "") -> DecisionResult:
    """``username`` approves ``gate`` as themselves (or in the place of whoever delegated to them)."""
    return org.credentials.decide(credential_id=cid, gate=gate, verdict="approve", by=as_person(org, username),
                                  role=role, comment=comment)


def missing(org: Services, cid: int, trigger: str) -> list[str]:
    """What the credential page says stands before ``trigger``."""
    option = next(o for o in org.views.get(cid, by=SYSTEM).options if o.trigger == trigger)
    return [str(u) for u in option.unmet]


def state(org: Services, cid: int) -> str:
    return org.views.get(cid, by=SYSTEM).state


def gate_decisions(org: Services, cid: int, gate: str) -> list[dict[str, object]]:
    return [dict(d) for d in next(g for g in org.views.get(cid, by=SYSTEM).gates if g.gate == gate).decisions]


def transitions(org: Services, cid: int) -> list[tuple[str | None, str | None]]:
    return [(e.from_state, e.to_state) for e in org.views.history(cid, by=SYSTEM) if e.kind == "transition"]


# -- the approval that completes a gate ------------------------------------------------------------------------


def test_the_approval_that_completes_the_gate_performs_its_transition(org: Services) -> None:
    cid = at_feasibility(org)
    before = org.views.get(cid, by=SYSTEM).version
    assert missing(org, cid, "approve_feasibility") == [f"Approval by the {DEAN} is needed"]

    result = approve(org, cid, "feasibility_approval", "dean.business", comment="Strong employer demand")

    assert (result.principal, result.role) == ("dean.business", "dean")
    assert result.fired is not None
    assert (result.fired.trigger, result.fired.source, result.fired.dest) == ("approve_feasibility", "feasibility",
                                                                              "design")
    detail = org.views.get(cid, by=SYSTEM)
    assert detail.state == "design" and detail.version == result.version == before + 2
    decision, transition = org.views.history(cid, by=SYSTEM)[-2:]
    assert (decision.kind, decision.actor, decision.comment) == ("decision", "dean.business", "Strong employer demand")
    seen = decision.details.pop("seen")  # what the dean decided on, kept with the decision in the chain
    assert seen["fields"]["purpose"] and "one_pager" in seen["done"]
    assert decision.details == {"gate": "feasibility_approval", "round": 0, "role": "dean",
                                "principal": "dean.business", "verdict": "approve"}
    assert (transition.kind, transition.trigger, transition.from_state, transition.to_state) == (
        "transition", "approve_feasibility", "feasibility", "design")
    assert transition.details == {"gate": "feasibility_approval"}


def test_an_approval_with_something_else_missing_waits_and_the_change_asks_for_a_fresh_look(org: Services) -> None:
    cid = at_feasibility(org, leave_open=("funding_applied",))

    result = approve(org, cid, "feasibility_approval", "dean.business")

    assert result.fired is None and state(org, cid) == "feasibility"
    assert missing(org, cid, "approve_feasibility") == ["“Funding applied for” is not done (Finance)"]

    # Ticking an item of the gate changes what the dean approved: the approval was for an earlier version.
    tick(org, cid)
    assert missing(org, cid, "approve_feasibility") == [
        f"Approval by the {DEAN} is needed "
        "(the approval by dean.business was for an earlier version: the checklist changed)"]
    assert gate_decisions(org, cid, "feasibility_approval") == [
        {"role": "dean", "by": "dean.business", "actor": "dean.business", "verdict": "approve", "comment": "",
         "current": False, "outdated_because": "the checklist changed"}]
    with pytest.raises(TransitionNotAllowed):
        org.credentials.fire(credential_id=cid, trigger="approve_feasibility", by=SYSTEM)

    again = approve(org, cid, "feasibility_approval", "dean.business")  # an outdated approval is no double one
    assert again.fired is not None and state(org, cid) == "design"


# -- quorum and stages -----------------------------------------------------------------------------------------


def test_two_of_three_council_members_open_the_gate_on_the_second_approval(org: Services) -> None:
    cid = at_build(org)
    assert approve(org, cid, "governance_signoff", "qa").fired is None
    assert approve(org, cid, "governance_signoff", "registrar").fired is None

    first = approve(org, cid, "governance_signoff", "council.a")
    assert first.fired is None and first.role == "academic_governance"
    assert state(org, cid) == "build"
    assert missing(org, cid, "sign_off") == [f"2 approvals by the {GOVERNANCE} are needed (1 so far)"]

    second = approve(org, cid, "governance_signoff", "council.b")
    assert second.fired is not None and second.fired.trigger == "sign_off"
    assert state(org, cid) == "launch"

    with pytest.raises(Conflict, match=r"^Governance sign-off is not open while the credential is in Marketing and"):
        approve(org, cid, "governance_signoff", "council.c")
    assert transitions(org, cid)[-1] == ("build", "launch")


@pytest.mark.parametrize("with_version", [False, True], ids=["no-version", "same-version"])
def test_concurrent_second_and_third_council_approvals_open_the_gate_once(org: Services, with_version: bool) -> None:
    cid = at_build(org)
    for username in ("qa", "registrar", "council.a"):
        approve(org, cid, "governance_signoff", username)
    seen = org.views.get(cid, by=SYSTEM).version if with_version else None
    callers = {username: as_person(org, username) for username in ("council.b", "council.c")}
    barrier = threading.Barrier(len(callers))
    outcomes: dict[str, str] = {}

    def attempt(username: str) -> None:
        barrier.wait()
        try:
            result = org.credentials.decide(credential_id=cid, gate="governance_signoff", verdict="approve",
                                            by=callers[username], expected_version=seen)
            outcomes[username] = "opened" if result.fired is not None else "approved"
        except StaleVersion:
            outcomes[username] = "stale"
        except Conflict as error:
            outcomes[username] = "closed" if "is not open" in str(error) else f"Conflict: {error}"
        except Exception as error:  # anything else fails the assertion below, with its message
            outcomes[username] = f"{type(error).__name__}: {error}"

    threads = [threading.Thread(target=attempt, args=(username,)) for username in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert Counter(outcomes.values()) == Counter({"opened": 1, ("stale" if with_version else "closed"): 1})
    assert state(org, cid) == "launch"
    assert transitions(org, cid).count(("build", "launch")) == 1
    council = [e for e in org.views.history(cid, by=SYSTEM)
               if e.kind == "decision" and e.details.get("role") == "academic_governance"]
    assert len(council) == 2  # council.a and the winner; the loser left no trace


def test_stage_two_cannot_approve_before_stage_one(org: Services) -> None:
    cid = at_build(org)
    for username in ("registrar", "council.a"):
        with pytest.raises(Conflict, match=r"stage 2; stage 1 \(Quality assurance office\) must approve first"):
            approve(org, cid, "governance_signoff", username)
    assert gate_decisions(org, cid, "governance_signoff") == []

    approve(org, cid, "governance_signoff", "qa")
    assert approve(org, cid, "governance_signoff", "registrar").fired is None
    assert missing(org, cid, "sign_off") == [f"2 approvals by the {GOVERNANCE} are needed (0 so far)"]


def test_without_credit_the_qa_office_alone_signs_off(org: Services) -> None:
    cid = at_build(org, credit_bearing=False)
    with pytest.raises(Forbidden, match="needs one of the roles Quality assurance office"):
        approve(org, cid, "governance_signoff", "registrar")
    assert approve(org, cid, "governance_signoff", "qa").fired is not None
    assert state(org, cid) == "launch"


# -- who may approve -------------------------------------------------------------------------------------------


def test_nobody_approves_twice(org: Services) -> None:
    cid = at_build(org)
    approve(org, cid, "governance_signoff", "qa")
    approve(org, cid, "governance_signoff", "council.a")

    with pytest.raises(Conflict, match=r"council\.a has already approved Governance sign-off"):
        approve(org, cid, "governance_signoff", "council.a")

    assert missing(org, cid, "sign_off") == ["Approval by the Registrar's office is needed",
                                             f"2 approvals by the {GOVERNANCE} are needed (1 so far)"]


def test_the_proposer_cannot_approve_their_own_credential(org: Services) -> None:
    cid = at_feasibility(org, created_by="dean.business")

    with pytest.raises(Forbidden, match=r"dean\.business proposed this credential"):
        approve(org, cid, "feasibility_approval", "dean.business")
    # Not through a delegate either: the approval would count for the proposer.
    org.people.delegate(to_username="acting.dean", starts_on=date(2026, 9, 1), ends_on=date(2026, 9, 30),
                        by=as_person(org, "dean.business"))
    with pytest.raises(Forbidden, match=r"dean\.business proposed this credential"):
        approve(org, cid, "feasibility_approval", "acting.dean")

    assert state(org, cid) == "feasibility"
    assert missing(org, cid, "approve_feasibility") == [f"Approval by the {DEAN} is needed"]


def test_people_without_an_approver_role_are_refused(org: Services) -> None:
    cid = at_feasibility(org)
    with pytest.raises(Forbidden, match="deciding Feasibility approval needs one of the roles Dean"):
        approve(org, cid, "feasibility_approval", "pm.business")
    with pytest.raises(NotFound):  # another faculty's dean does not even see it
        approve(org, cid, "feasibility_approval", "dean.health")
    assert state(org, cid) == "feasibility"


# -- send-back -------------------------------------------------------------------------------------------------


def test_request_changes_blocks_the_gate_keeps_approvals_that_still_hold_and_outdates_the_rest(
        org: Services) -> None:
    cid = at_build(org)
    for username in ("qa", "registrar", "council.a"):
        approve(org, cid, "governance_signoff", username)

    sent_back = org.credentials.decide(credential_id=cid, gate="governance_signoff", verdict="request_changes",
                                       comment="Add an oral component to the assessment",
                                       by=as_person(org, "council.b"))

    assert sent_back.fired is None and state(org, cid) == "build"
    assert missing(org, cid, "sign_off") == [f"Changes requested by council.b ({GOVERNANCE})",
                                             f"2 approvals by the {GOVERNANCE} are needed (1 so far)"]
    approvals = {a.role: a.approvals for a in org.views.get(cid, by=SYSTEM).gates[0].approvers}
    assert approvals == {"qa_office": 1, "registrar": 1, "academic_governance": 1}

    # A field the gate does not look at: every decision still counts, the request for changes too.
    org.credentials.update(credential_id=cid, changes={"time_period": "10 weeks"}, by=as_person(org, "pm.business"))
    assert missing(org, cid, "sign_off") == [f"Changes requested by council.b ({GOVERNANCE})",
                                             f"2 approvals by the {GOVERNANCE} are needed (1 so far)"]
    assert all(d["current"] for d in gate_decisions(org, cid, "governance_signoff"))

    # The change asked for, in a field the gate requires: what was decided before was decided on something else.
    org.credentials.update(credential_id=cid, changes={"assessment_type": "Project and oral defence"},
                           by=as_person(org, "pm.business"))
    assert state(org, cid) == "build"
    assert missing(org, cid, "sign_off") == [
        "Approval by the Quality assurance office is needed "
        "(the approval by qa was for an earlier version: Assessment type changed)",
        "Approval by the Registrar's office is needed "
        "(the approval by registrar was for an earlier version: Assessment type changed)",
        f"2 approvals by the {GOVERNANCE} are needed (0 so far) "
        "(the approval by council.a was for an earlier version: Assessment type changed)",
    ]
    assert {d["by"]: d["current"] for d in gate_decisions(org, cid, "governance_signoff")} == {
        "qa": False, "registrar": False, "council.a": False, "council.b": False}

    assert [w["role"] for w in org.inbox.approvals_waiting(by=as_person(org, "qa"))] == ["qa_office"]

    # Everyone looks again. Midway, the fresh approvals count and the outdated ones still do not.
    assert approve(org, cid, "governance_signoff", "qa").fired is None
    assert {d["by"]: d["current"] for d in gate_decisions(org, cid, "governance_signoff")} == {
        "qa": True, "registrar": False, "council.a": False, "council.b": False}
    assert missing(org, cid, "sign_off") == [
        "Approval by the Registrar's office is needed "
        "(the approval by registrar was for an earlier version: Assessment type changed)",
        f"2 approvals by the {GOVERNANCE} are needed (0 so far) "
        "(the approval by council.a was for an earlier version: Assessment type changed)",
    ]
    for username in ("registrar", "council.a"):
        assert approve(org, cid, "governance_signoff", username).fired is None
    assert approve(org, cid, "governance_signoff", "council.b").fired is not None  # the second council approval
    assert state(org, cid) == "launch"


def test_reopening_an_item_of_the_gate_outdates_the_approvals_made_before(org: Services) -> None:
    cid = at_build(org)
    approve(org, cid, "governance_signoff", "qa")
    approve(org, cid, "governance_signoff", "council.a")

    org.credentials.set_item(credential_id=cid, item="rubric_written", done=False,
                             by=Caller.system("instructional_designer"))

    assert missing(org, cid, "sign_off") == [
        "“Rubric and clear instructions written” is not done (Instructional designer (pedagogy and edTech support))",
        "Approval by the Quality assurance office is needed "
        "(the approval by qa was for an earlier version: the checklist changed)",
        "Approval by the Registrar's office is needed",
        f"2 approvals by the {GOVERNANCE} are needed (0 so far) "
        "(the approval by council.a was for an earlier version: the checklist changed)",
    ]
    # Stage 1 is open again: the registrar has to wait for the QA office's fresh look.
    with pytest.raises(Conflict, match=r"stage 1 \(Quality assurance office\) must approve first"):
        approve(org, cid, "governance_signoff", "registrar")

    # An approval counts while what it saw is what the gate shows: ticking the item again brings it back to that.
    tick(org, cid)
    assert missing(org, cid, "sign_off") == ["Approval by the Registrar's office is needed",
                                             f"2 approvals by the {GOVERNANCE} are needed (1 so far)"]


# -- delegation ------------------------------------------------------------------------------------------------


def test_a_delegate_decides_for_the_dean_within_the_dates(org: Services) -> None:
    org.people.delegate(to_username="acting.dean", starts_on=date(2026, 8, 25), ends_on=date(2026, 9, 10),
                        by=as_person(org, "dean.business"))
    cid = at_feasibility(org)

    result = approve(org, cid, "feasibility_approval", "acting.dean", comment="For the dean, who is away")

    assert (result.principal, result.role) == ("dean.business", "dean")
    assert result.fired is not None and state(org, cid) == "design"
    decision = next(e for e in org.views.history(cid, by=SYSTEM) if e.kind == "decision")
    assert decision.actor == "acting.dean"
    del decision.details["seen"]
    assert decision.details == {"gate": "feasibility_approval", "round": 0, "role": "dean",
                                "principal": "dean.business", "verdict": "approve", "on_behalf_of": "dean.business"}


def test_a_delegates_decision_shows_who_acted_and_for_whom(org: Services) -> None:
    org.people.delegate(to_username="acting.dean", starts_on=date(2026, 9, 1), ends_on=date(2026, 9, 1),
                        by=as_person(org, "dean.business"))
    cid = at_feasibility(org)

    org.credentials.decide(credential_id=cid, gate="feasibility_approval", verdict="request_changes",
                           comment="Budget is too thin", by=as_person(org, "acting.dean"))

    assert gate_decisions(org, cid, "feasibility_approval") == [
        {"role": "dean", "by": "dean.business", "actor": "acting.dean", "verdict": "request_changes",
         "comment": "Budget is too thin", "current": True, "outdated_because": ""}]
    assert missing(org, cid, "approve_feasibility") == [f"Changes requested by dean.business ({DEAN})",
                                                        f"Approval by the {DEAN} is needed"]
    # The dean's own later approval replaces the decision made in their name.
    assert approve(org, cid, "feasibility_approval", "dean.business").fired is not None


def test_a_delegation_stops_after_its_last_day(org: Services, clock: ManualClock) -> None:
    org.people.delegate(to_username="acting.dean", starts_on=date(2026, 9, 1), ends_on=date(2026, 9, 3),
                        by=as_person(org, "dean.business"))
    cid = at_feasibility(org)
    clock.advance(timedelta(days=2))  # 3 September: the last day still counts
    assert [w["credential_id"] for w in org.inbox.approvals_waiting(by=as_person(org, "acting.dean"))] == [cid]

    clock.advance(timedelta(days=1))  # 4 September
    with pytest.raises((Forbidden, NotFound)):
        approve(org, cid, "feasibility_approval", "acting.dean")
    assert org.inbox.approvals_waiting(by=as_person(org, "acting.dean")) == []
    assert state(org, cid) == "feasibility"


def test_a_delegation_starting_later_does_not_count_yet(org: Services, clock: ManualClock) -> None:
    org.people.delegate(to_username="acting.dean", starts_on=date(2026, 9, 5), ends_on=date(2026, 9, 12),
                        by=as_person(org, "dean.business"))
    cid = at_feasibility(org)
    with pytest.raises((Forbidden, NotFound)):
        approve(org, cid, "feasibility_approval", "acting.dean")

    clock.advance(timedelta(days=4))  # 5 September
    assert approve(org, cid, "feasibility_approval", "acting.dean").principal == "dean.business"


def test_a_revoked_delegation_stops_working(org: Services) -> None:
    dean = as_person(org, "dean.business")
    delegation = org.people.delegate(to_username="acting.dean", starts_on=date(2026, 9, 1),
                                     ends_on=date(2026, 9, 30), by=dean)
    cid = at_feasibility(org)
    assert len(org.inbox.approvals_waiting(by=as_person(org, "acting.dean"))) == 1

    org.people.revoke_delegation(delegation_id=delegation, by=dean)

    with pytest.raises((Forbidden, NotFound)):
        approve(org, cid, "feasibility_approval", "acting.dean")
    assert org.inbox.approvals_waiting(by=as_person(org, "acting.dean")) == []
    assert state(org, cid) == "feasibility"


def test_a_delegation_for_another_role_does_not_carry_the_dean_role(org: Services) -> None:
    org.people.assign(user_id=org.people.user_id("dean.business"), role="finance",
                      unit_id=org.people.unit_id("business"), by=SYSTEM)
    org.people.delegate(to_username="acting.dean", role="finance", starts_on=date(2026, 9, 1),
                        ends_on=date(2026, 9, 30), by=as_person(org, "dean.business"))
    cid = at_feasibility(org)

    with pytest.raises(Forbidden, match="needs one of the roles Dean"):
        approve(org, cid, "feasibility_approval", "acting.dean")
    with pytest.raises(InvalidInput):  # naming the dean role does not help
        approve(org, cid, "feasibility_approval", "acting.dean", role="finance")
    assert org.inbox.approvals_waiting(by=as_person(org, "acting.dean")) == []
    assert state(org, cid) == "feasibility"


def test_approvals_waiting_for_the_dean_their_delegate_and_not_another_dean(org: Services) -> None:
    org.people.delegate(to_username="acting.dean", role="dean", starts_on=date(2026, 9, 1),
                        ends_on=date(2026, 9, 30), by=as_person(org, "dean.business"))
    cid = at_feasibility(org)

    def waiting(username: str) -> list[tuple[int, str, str, str | None]]:
        return [(w["credential_id"], w["gate"], w["role"], w["on_behalf_of"])
                for w in org.inbox.approvals_waiting(by=as_person(org, username))]

    assert waiting("acting.dean") == [(cid, "feasibility_approval", "dean", "dean.business")]
    assert waiting("dean.business") == [(cid, "feasibility_approval", "dean", None)]
    assert waiting("dean.health") == []
    assert waiting("qa") == []  # the QA office decides later, at governance sign-off

    approve(org, cid, "feasibility_approval", "acting.dean")
    assert waiting("dean.business") == waiting("acting.dean") == []


def test_approvals_waiting_follow_the_stages_and_the_quorum(org: Services) -> None:
    cid = at_build(org)

    def waiting(username: str) -> list[str]:
        return [w["role"] for w in org.inbox.approvals_waiting(by=as_person(org, username))
                if w["credential_id"] == cid]

    assert (waiting("qa"), waiting("registrar"), waiting("council.a")) == (["qa_office"], [], [])
    approve(org, cid, "governance_signoff", "qa")
    assert (waiting("qa"), waiting("registrar"), waiting("council.a")) == ([], ["registrar"], ["academic_governance"])
    approve(org, cid, "governance_signoff", "council.a")
    assert (waiting("council.a"), waiting("council.b"), waiting("council.c")) == (
        [], ["academic_governance"], ["academic_governance"])


# -- override and tasks ----------------------------------------------------------------------------------------


def test_only_an_administrator_overrides_with_a_reason_and_the_history_keeps_what_was_skipped(
        org: Services) -> None:
    cid = at_build(org, leave_open=("technology_ready",))
    approve(org, cid, "governance_signoff", "qa")
    reason = "Council meeting cancelled; chair approved by email"

    with pytest.raises(Forbidden, match="only an administrator"):
        org.credentials.override(credential_id=cid, trigger="sign_off", comment=reason,
                                 by=as_person(org, "pm.business"))
    with pytest.raises(InvalidInput, match="at least 10 characters"):
        org.credentials.override(credential_id=cid, trigger="sign_off", comment="  too short  ",
                                 by=as_person(org, "admin"))
    assert state(org, cid) == "build"

    outcome = org.credentials.override(credential_id=cid, trigger="sign_off", comment=reason,
                                       by=as_person(org, "admin"))

    assert (outcome.source, outcome.dest) == ("build", "launch") and state(org, cid) == "launch"
    event = org.views.history(cid, by=SYSTEM)[-1]
    assert (event.kind, event.actor, event.comment, event.trigger) == ("override", "admin", reason, "sign_off")
    assert event.details["skipped"] == [
        "“Technology infrastructure confirmed” is not done (IT and e-learning)",
        "Approval by the Registrar's office is needed",
        f"2 approvals by the {GOVERNANCE} are needed (0 so far)",
    ]


def test_tasks_list_the_checklist_items_the_callers_roles_own(org: Services) -> None:
    cid = at_feasibility(org, leave_open=("curricular_proposal_started", "qa_proposal_started", "one_pager"))

    def tasks(username: str) -> list[tuple[int, str, str]]:
        return [(t["credential_id"], t["item"], t["owner"]) for t in org.inbox.tasks(by=as_person(org, username))]

    assert tasks("sme") == [(cid, "curricular_proposal_started", "sme")]
    assert tasks("qa") == [(cid, "qa_proposal_started", "qa_office")]
    assert tasks("pm.business") == [(cid, "one_pager", "initiative_lead")]
    assert tasks("dean.business") == tasks("engage") == tasks("outsider") == []

    org.credentials.set_item(credential_id=cid, item="curricular_proposal_started", done=True,
                             by=as_person(org, "sme"))
    assert tasks("sme") == []
