"""Walking a credential of any definition through the service as the people of the test organisation: each
checklist item ticked by a person holding its owner role, each gate decided by people holding its approver roles
(so a walk fails if the organisation lacks someone a definition needs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from workflow.context import Services
from workflow.errors import TransitionNotAllowed
from workflow.services.access import Caller

SYSTEM = Caller.system("test")

# The people of tests/organisation.py (and EXTRA) who hold each role the definitions use.
HOLDERS: dict[str, list[str]] = {
    "initiative_lead": ["pm.business"], "project_manager": ["pm.business"], "dean": ["dean.business"],
    "sme": ["sme"], "registrar": ["registrar"], "qa_office": ["qa"], "department_chair": ["chair"],
    "curriculum_committee": ["ccc.a", "ccc.b"], "faculty_council": ["fc.a", "fc.b"],
    "senate": ["senate.a", "senate.b"], "quality_council": ["oqc"], "instructor": ["instructor"],
    "plar_assessor": ["assessor"], "student_success": ["success"],
}
EXTRA = """
units: []
users:
  - {username: success, name: Student success, roles: [{role: student_success, unit: northern}]}
"""


def person(org: Services, role: str, n: int = 0) -> Caller:
    return org.access.caller_by_name(HOLDERS[role][n])


def tick(org: Services, cid: int, trigger: str) -> list[str]:
    """Tick the items standing before ``trigger``, each as a holder of its owner role; returns their keys."""
    ticked = []
    for item in org.views.get(cid, by=SYSTEM).checklist:
        if item.trigger == trigger and not item.done:
            org.credentials.set_item(credential_id=cid, item=item.key, done=True, by=person(org, item.owner),
                                     note="done")
            ticked.append(item.key)
    return ticked


def approve(org: Services, cid: int, trigger: str) -> list[str]:
    """Approve the gate of ``trigger`` stage by stage as its approvers; returns who decided. The last approval
    moves the credential on."""
    decided = []
    for gate in (g for g in org.views.get(cid, by=SYSTEM).gates if g.trigger == trigger):
        for rule in sorted(gate.approvers, key=lambda a: a.stage):
            for n in range(rule.needed - rule.approvals):
                org.credentials.decide(credential_id=cid, gate=gate.gate, verdict="approve",
                                       by=person(org, rule.role, n), comment="ok")
                decided.append(HOLDERS[rule.role][n])
    return decided


def refused(org: Services, cid: int, trigger: str, by: Caller = SYSTEM) -> list[str]:
    with pytest.raises(TransitionNotAllowed) as caught:
        org.credentials.fire(credential_id=cid, trigger=trigger, by=by)
    return [str(u) for u in caught.value.unmet]


def state(org: Services, cid: int) -> str:
    return org.views.get(cid, by=SYSTEM).state


def timers(org: Services, cid: int) -> dict[str, datetime]:
    return {t["key"]: t["due_at"] for t in org.views.get(cid, by=SYSTEM).timers}


def moves(org: Services, cid: int) -> list[tuple[str, str | None, Any]]:
    """(actor, trigger, to_state) of every move in the history."""
    return [(e.actor, e.trigger, e.to_state) for e in org.views.history(cid, by=SYSTEM) if e.to_state]
