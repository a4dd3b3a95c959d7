"""Service operations: bad input is refused by name, versions guard against stale writes, time comes from the clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from workflow.clock import ManualClock
from workflow.context import Services
from workflow.errors import Conflict, InvalidInput, NotFound, StaleVersion


@pytest.fixture
def cid(services: Services) -> int:
    return services.credentials.create(definition="microcredential", title="Data literacy", actor="pm")


def test_data_changes_are_checked_against_the_definitions_fields(services: Services, cid: int) -> None:
    update = services.credentials.update
    with pytest.raises(InvalidInput, match="unknown field — did you mean 'purpose'"):
        update(credential_id=cid, changes={"purpse": "x"}, actor="pm")
    with pytest.raises(InvalidInput, match="notional_hours: must be a whole number"):
        update(credential_id=cid, changes={"notional_hours": "forty"}, actor="pm")
    with pytest.raises(InvalidInput, match="participation_mode: must be one of online, on-site, hybrid"):
        update(credential_id=cid, changes={"participation_mode": "remote"}, actor="pm")
    with pytest.raises(InvalidInput, match="expires_on: must be a date as YYYY-MM-DD"):
        update(credential_id=cid, changes={"expires_on": "next year"}, actor="pm")
    assert services.credentials.get(cid).version == 1  # nothing was written

    version = update(credential_id=cid, changes={"notional_hours": 40, "expires_on": "2028-06-30"}, actor="pm")
    assert version == 2
    last = services.credentials.history(cid)[-1]
    assert last.kind == "data" and last.details == {"changes": {"notional_hours": [None, 40],
                                                                "expires_on": [None, "2028-06-30"]}}


def test_an_update_from_a_stale_version_is_refused(services: Services, cid: int) -> None:
    services.credentials.update(credential_id=cid, changes={"purpose": "a"}, actor="pm", expected_version=1)
    with pytest.raises(StaleVersion, match="changed since version 1, it is now at version 2"):
        services.credentials.update(credential_id=cid, changes={"purpose": "b"}, actor="other", expected_version=1)
    assert services.credentials.get(cid).data["purpose"] == "a"


def test_checklist_items_must_exist_and_apply(services: Services, cid: int) -> None:
    with pytest.raises(NotFound, match="checklist item 'no_such_item'"):
        services.credentials.set_item(credential_id=cid, item="no_such_item", done=True, actor="x")
    with pytest.raises(InvalidInput, match="'transcript_entry_planned' does not apply"):
        services.credentials.set_item(credential_id=cid, item="transcript_entry_planned", done=True, actor="reg")
    services.credentials.set_item(credential_id=cid, item="labour_market_research", done=True, actor="lead",
                                  note="Job-posting analysis attached")
    item = next(i for i in services.credentials.get(cid).checklist if i.key == "labour_market_research")
    assert (item.done, item.note, item.done_by) == (True, "Job-posting analysis attached", "lead")
    services.credentials.set_item(credential_id=cid, item="labour_market_research", done=False, actor="lead")
    assert not next(i for i in services.credentials.get(cid).checklist if i.key == "labour_market_research").done


def test_decisions_only_on_open_gates_by_their_approvers_with_comments_where_needed(services: Services,
                                                                                   cid: int) -> None:
    decide = services.credentials.decide
    with pytest.raises(Conflict, match="gate 'feasibility_approval' is not open while the credential is in 'ideation'"):
        decide(credential_id=cid, gate="feasibility_approval", role="dean", verdict="approve", actor="dean")
    with pytest.raises(NotFound, match="gate 'feasability'"):
        decide(credential_id=cid, gate="feasability", role="dean", verdict="approve", actor="dean")
    with pytest.raises(InvalidInput, match="a comment is required to request changes"):
        decide(credential_id=cid, gate="feasibility_approval", role="dean", verdict="request_changes", actor="d")
    with pytest.raises(InvalidInput, match="decision: must be one of approve, reject, request_changes"):
        decide(credential_id=cid, gate="feasibility_approval", role="dean", verdict="maybe", actor="d")

    services.credentials.update(credential_id=cid, changes={"purpose": "p"}, actor="pm")
    for item in services.credentials.get(cid).checklist:
        services.credentials.set_item(credential_id=cid, item=item.key, done=True, actor="team")
    services.credentials.fire(credential_id=cid, trigger="submit_for_feasibility", actor="pm")
    with pytest.raises(InvalidInput,
                       match="'registrar' does not decide gate 'feasibility_approval'; its approvers: dean"):
        decide(credential_id=cid, gate="feasibility_approval", role="registrar", verdict="approve", actor="r")
    decide(credential_id=cid, gate="feasibility_approval", role="dean", verdict="reject", comment="No budget",
           actor="dean")
    gate = services.credentials.get(cid).gates[0]
    assert gate.decisions == ({"role": "dean", "actor": "dean", "verdict": "reject", "comment": "No budget"},)


def test_a_final_credential_can_no_longer_change(services: Services, cid: int) -> None:
    services.credentials.fire(credential_id=cid, trigger="withdraw", actor="pm", comment="Partner pulled out")
    with pytest.raises(Conflict, match="is withdrawn; it can no longer change"):
        services.credentials.update(credential_id=cid, changes={"purpose": "x"}, actor="pm")
    assert services.credentials.get(cid).options == ()


def test_history_times_come_from_the_injected_clock(services: Services, cid: int, clock: ManualClock) -> None:
    clock.advance(timedelta(days=3))
    services.credentials.fire(credential_id=cid, trigger="hold", actor="pm")
    created, held = services.credentials.history(cid)
    assert held.at - created.at == timedelta(days=3)
    assert services.credentials.get(cid).state_entered_at == clock.now()


def test_unknown_credential_is_not_found(services: Services) -> None:
    with pytest.raises(NotFound, match="credential 999 not found"):
        services.credentials.get(999)
    with pytest.raises(NotFound):
        services.credentials.fire(credential_id=999, trigger="hold", actor="pm")
