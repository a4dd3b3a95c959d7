"""Demo data: a few credentials in different phases, walked there through the real service operations."""

from __future__ import annotations

from typing import Any

from workflow.services.credentials import CredentialService

SUMMARY: dict[str, Any] = {
    "provider": "Northern College",
    "participation_mode": "hybrid",
    "time_period": "8 weeks",
    "prerequisites": "None",
    "learning_resources": "LMS course and open datasets",
    "assessment_type": "Workplace project with a rubric",
    "identity_verification": "Live final presentation",
    "qa_body": "Northern College Quality Council",
    "learner_outcome": "Digital badge",
    "stackability": "stackable",
    "notional_hours": 40,
    "credit_bearing": False,
}

# (title, data, triggers to walk through in order)
CREDENTIALS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("Early-childhood outdoor learning", {"purpose": "Licensed centres ask for outdoor-play training"}, []),
    ("Supply-chain analytics", {"purpose": "Regional logistics employers need analysts",
                                "description": "Forecasting and dashboards for supply chains"},
     ["submit_for_feasibility"]),
    ("Community health navigation", {"purpose": "Clinics need patient navigators",
                                     "description": "Navigating patients through community health services",
                                     "learning_outcomes": ["Map local services", "Support a patient plan"]},
     ["submit_for_feasibility", "approve_feasibility"]),
    ("Cybersecurity essentials for small business", {
        "purpose": "Small firms lack basic security skills",
        "description": "Practical security controls for small businesses",
        "learning_outcomes": ["Run a risk assessment", "Set up multi-factor authentication"],
        **SUMMARY},
     ["submit_for_feasibility", "approve_feasibility", "complete_design", "sign_off", "launch"]),
]


def seed(credentials: CredentialService, *, actor: str = "demo") -> list[int]:
    """Create the demo credentials unless some credential exists already; returns the ids created."""
    if credentials.list(limit=1):
        return []
    created = []
    for title, data, walk in CREDENTIALS:
        cid = credentials.create(definition="microcredential", title=title, data=data, actor=actor)
        for trigger in walk:
            detail = credentials.get(cid)
            for item in detail.checklist:
                if item.trigger == trigger and not item.done:
                    credentials.set_item(credential_id=cid, item=item.key, done=True, actor=f"demo {item.owner}")
            for gate in detail.gates:
                if gate.trigger != trigger:
                    continue
                for approver in gate.approvers:
                    for n in range(approver.needed - approver.approvals):
                        credentials.decide(credential_id=cid, gate=gate.gate, role=approver.role,
                                           verdict="approve", actor=f"demo {approver.role} {n + 1}",
                                           comment="Approved for the demo")
            credentials.fire(credential_id=cid, trigger=trigger, actor=actor)
        created.append(cid)
    return created
