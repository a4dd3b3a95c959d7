"""Service operations: bad input is refused by name, versions guard against stale writes, time comes from the clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from workflow.clock import ManualClock
from workflow.context import Services
from workflow.errors import Conflict, InvalidInput, NotFound, StaleVersion
from workflow.services.access import Caller
from workflow.store.accounting import data_digest

SYSTEM = Caller.system("test")
as_ = Caller.system  # acting as a named person, with the system's rights


@pytest.fixture
def cid(services: Services) -> int:
    return services.credentials.create(definition="microcredential", title="Data literacy", by=as_("pm"))


def test_data_changes_are_checked_against_the_definitions_fields(services: Services, cid: int) -> None:
    update = services.credentials.update
    with pytest.raises(InvalidInput, match="unknown field — did you mean 'purpose'"):
        update(credential_id=cid, changes={"purpse": "x"}, by=as_("pm"))
    with pytest.raises(InvalidInput, match=r"^Notional learning hours: must be a whole number") as refused:
        update(credential_id=cid, changes={"notional_hours": "forty"}, by=as_("pm"))
    assert refused.value.field == "notional_hours"  # programs still get the field's name
    with pytest.raises(InvalidInput, match=r"^Participation mode: must be one of online, on-site, hybrid"):
        update(credential_id=cid, changes={"participation_mode": "remote"}, by=as_("pm"))
    with pytest.raises(InvalidInput, match=r"^Hard expiry date \(set with industry partners\): must be a date as YYYY"):
        update(credential_id=cid, changes={"expires_on": "next year"}, by=as_("pm"))
    assert services.views.get(cid, by=SYSTEM).version == 1  # nothing was written

    version = update(credential_id=cid, changes={"notional_hours": 40, "expires_on": "2028-06-30"}, by=as_("pm"))
    assert version == 2
    last = services.views.history(cid, by=SYSTEM)[-1]
    assert last.kind == "data" and last.details == {"changes": {"notional_hours": [None, 40],
                                                                "expires_on": [None, "2028-06-30"]},
                                                    "data_digest": data_digest(services.views.get(cid, by=SYSTEM).data)}


def test_an_update_from_a_stale_version_is_refused(services: Services, cid: int) -> None:
    services.credentials.update(credential_id=cid, changes={"purpose": "a"}, by=as_("pm"), expected_version=1)
    with pytest.raises(StaleVersion, match="changed since version 1, it is now at version 2"):
        services.credentials.update(credential_id=cid, changes={"purpose": "b"}, by=as_("other"), expected_version=1)
    assert services.views.get(cid, by=SYSTEM).data["purpose"] == "a"


def test_checklist_items_must_exist_and_apply(services: Services, cid: int) -> None:
    with pytest.raises(NotFound, match="checklist item 'no_such_item'"):
        services.credentials.set_item(credential_id=cid, item="no_such_item", done=True, by=as_("x"))
    with pytest.raises(InvalidInput, match="“Transcript entry planned” does not apply"):
        services.credentials.set_item(credential_id=cid, item="transcript_entry_planned", done=True, by=as_("reg"))
    services.credentials.set_item(credential_id=cid, item="labour_market_research", done=True, by=as_("lead"),
                                  note="Job-posting analysis attached")
    item = next(i for i in services.views.get(cid, by=SYSTEM).checklist if i.key == "labour_market_research")
    assert (item.done, item.note, item.done_by) == (True, "Job-posting analysis attached", "lead")
    services.credentials.set_item(credential_id=cid, item="labour_market_research", done=False, by=as_("lead"))
    checklist = services.views.get(cid, by=SYSTEM).checklist
    assert not next(i for i in checklist if i.key == "labour_market_research").done


def test_decisions_only_on_open_gates_by_their_approvers_with_comments_where_needed(services: Services,
                                                                                   cid: int) -> None:
    decide = services.credentials.decide
    with pytest.raises(Conflict, match="Feasibility approval is not open while the credential is in Ideation"):
        decide(credential_id=cid, gate="feasibility_approval", role="dean", verdict="approve", by=as_("dean"))
    with pytest.raises(NotFound, match="gate 'feasability'"):
        decide(credential_id=cid, gate="feasability", role="dean", verdict="approve", by=as_("dean"))
    with pytest.raises(InvalidInput, match="a comment is required to ask for changes"):
        decide(credential_id=cid, gate="feasibility_approval", role="dean", verdict="request_changes", by=as_("d"))
    with pytest.raises(InvalidInput, match="decision: must be one of approve, reject, request_changes"):
        decide(credential_id=cid, gate="feasibility_approval", role="dean", verdict="maybe", by=as_("d"))

    services.credentials.update(credential_id=cid, changes={"purpose": "p"}, by=as_("pm"))
    for item in services.views.get(cid, by=SYSTEM).checklist:
        services.credentials.set_item(credential_id=cid, item=item.key, done=True, by=as_("team"))
    services.credentials.fire(credential_id=cid, trigger="submit_for_feasibility", by=as_("pm"))
    with pytest.raises(InvalidInput,
                       match=r"'registrar' does not decide Feasibility approval; its approvers: Dean \(leadership"):
        decide(credential_id=cid, gate="feasibility_approval", role="registrar", verdict="approve", by=as_("r"))
    decide(credential_id=cid, gate="feasibility_approval", role="dean", verdict="reject", comment="No budget",
           by=as_("dean"))
    gate = services.views.get(cid, by=SYSTEM).gates[0]
    assert gate.decisions == ({"role": "dean", "by": "dean", "actor": "dean", "verdict": "reject",
                               "comment": "No budget", "current": True, "outdated_because": ""},)


def test_a_final_credential_can_no_longer_change(services: Services, cid: int) -> None:
    services.credentials.fire(credential_id=cid, trigger="withdraw", by=as_("pm"), comment="Partner pulled out")
    with pytest.raises(Conflict, match="is withdrawn; it can no longer change"):
        services.credentials.update(credential_id=cid, changes={"purpose": "x"}, by=as_("pm"))
    assert services.views.get(cid, by=SYSTEM).options == ()


def test_history_times_come_from_the_injected_clock(services: Services, cid: int, clock: ManualClock) -> None:
    clock.advance(timedelta(days=3))
    services.credentials.fire(credential_id=cid, trigger="hold", by=as_("pm"))
    created, held = services.views.history(cid, by=SYSTEM)
    assert held.at - created.at == timedelta(days=3)
    assert services.views.get(cid, by=SYSTEM).state_entered_at == clock.now()


def test_unknown_credential_is_not_found(services: Services) -> None:
    with pytest.raises(NotFound, match="credential 999 not found"):
        services.views.get(999, by=SYSTEM)
    with pytest.raises(NotFound):
        services.credentials.fire(credential_id=999, trigger="hold", by=as_("pm"))
