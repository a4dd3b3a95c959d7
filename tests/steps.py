"""Set-up steps shared by tests: bring a credential of the test organisation to a given point of its lifecycle.

Steps act as the system (or as each item's owner role) so that the behaviour under test is the only thing
real people do.
"""

from __future__ import annotations

from typing import Any

from workflow.context import Services
from workflow.services.access import Caller

SYSTEM = Caller.system("setup")

SUMMARY: dict[str, Any] = {
    "provider": "Northern College",
    "learning_outcomes": ["Build a demand forecast", "Read a logistics dashboard"],
    "participation_mode": "hybrid",
    "time_period": "8 weeks",
    "assessment_type": "Project",
    "stackability": "stackable",
    "notional_hours": 40,
}


def tick(org: Services, cid: int, *, leave_open: tuple[str, ...] = ()) -> None:
    """Tick every open checklist item of the current state but ``leave_open``, each as its owner role."""
    for item in org.views.get(cid, by=SYSTEM).checklist:
        if not item.done and item.key not in leave_open:
            org.credentials.set_item(credential_id=cid, item=item.key, done=True, by=Caller.system(item.owner))


def at_feasibility(org: Services, *, created_by: str = "pm.business", leave_open: tuple[str, ...] = ()) -> int:
    """A business credential proposed by ``created_by``, in feasibility with its checklist done."""
    cid = org.credentials.create(definition="microcredential", title="Supply-chain analytics",
                                 by=org.access.caller_by_name(created_by), org_unit_id=org.people.unit_id("business"),
                                 data={"purpose": "Logistics employers need analysts",
                                       "description": "Hands-on analytics for regional supply chains."})
    tick(org, cid)
    org.credentials.fire(credential_id=cid, trigger="submit_for_feasibility", by=SYSTEM)
    tick(org, cid, leave_open=leave_open)
    return cid


def at_build(org: Services, *, credit_bearing: bool = True, leave_open: tuple[str, ...] = ()) -> int:
    """A business credential in build, its governance checklist and required fields done."""
    cid = at_feasibility(org)
    org.credentials.decide(credential_id=cid, gate="feasibility_approval", role="dean", verdict="approve",
                           by=Caller.system("dean.business"))
    tick(org, cid)
    org.credentials.update(credential_id=cid, changes=SUMMARY | {"credit_bearing": credit_bearing}, by=SYSTEM)
    org.credentials.fire(credential_id=cid, trigger="complete_design", by=SYSTEM)
    tick(org, cid, leave_open=leave_open)
    return cid
