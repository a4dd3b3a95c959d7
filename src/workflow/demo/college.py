"""Demo data: an organisation and a few credentials in different phases, walked there by the demo people
through the real service operations (their permissions are checked like anyone's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workflow.context import Services
from workflow.services.access import Caller
from workflow.services.orgfile import read_org_file

ORGANISATION = Path(__file__).with_name("organisation.yaml")
PASSWORD = "demo-password"

# Who does what in the demo: the person holding each role (deans and project managers per faculty).
PEOPLE = {
    "sme": "sme.baker", "instructional_designer": "design.ito", "employer_engagement_lead": "engage.patel",
    "employer_partner": "partner.jones", "registrar": "reg.lopez", "qa_office": "qa.martin",
    "marketing": "mkt.kim", "it": "it.nguyen", "finance": "fin.ahmed", "hr": "hr.wilson",
    "student_success": "success.brown", "continuing_education": "ce.roy",
}
FACULTY = {
    "business": {"dean": "dean.okafor", "project_manager": "pm.garcia", "initiative_lead": "pm.garcia"},
    "health": {"dean": "dean.tremblay", "project_manager": "pm.chen", "initiative_lead": "pm.chen"},
    "technology": {"dean": "dean.singh", "project_manager": "pm.chen", "initiative_lead": "pm.chen"},
}
COMMITTEE = ["council.adams", "council.bell", "council.cruz"]

SUMMARY: dict[str, Any] = {
    "provider": "Northern College", "participation_mode": "hybrid", "time_period": "8 weeks",
    "prerequisites": "None", "learning_resources": "LMS course and open datasets",
    "assessment_type": "Workplace project with a rubric", "identity_verification": "Live final presentation",
    "qa_body": "Northern College Quality Council", "learner_outcome": "Digital badge", "stackability": "stackable",
    "notional_hours": 40, "credit_bearing": False, "pass_mark": "70%", "issued_expiry_months": 36,
}

# (faculty, title, data, triggers to walk through in order)
CREDENTIALS: list[tuple[str, str, dict[str, Any], list[str]]] = [
    ("health", "Early-childhood outdoor learning", {"purpose": "Licensed centres ask for outdoor-play training"}, []),
    ("business", "Supply-chain analytics", {"purpose": "Regional logistics employers need analysts",
                                            "description": "Forecasting and dashboards for supply chains"},
     ["submit_for_feasibility"]),
    ("health", "Community health navigation", {
        "purpose": "Clinics need patient navigators",
        "description": "Navigating patients through community health services",
        "learning_outcomes": ["Map local services", "Support a patient plan"]},
     ["submit_for_feasibility", "approve_feasibility"]),
    ("technology", "Cybersecurity essentials for small business", {
        "purpose": "Small firms lack basic security skills",
        "description": "Practical security controls for small businesses",
        "learning_outcomes": ["Run a risk assessment", "Set up multi-factor authentication"], **SUMMARY},
     ["submit_for_feasibility", "approve_feasibility", "complete_design", "sign_off", "launch"]),
    ("business", "Warehouse safety leadership", {
        "purpose": "Warehouses need certified safety leads", "description": "Leading safety on the floor",
        "learning_outcomes": ["Run a safety walk"], **SUMMARY, "credit_bearing": True, "credits": 3},
     ["submit_for_feasibility", "approve_feasibility", "complete_design"]),
    # Pathways name other credentials by title here; they are created first and named by number.
    ("technology", "Network defence for small business", {
        "purpose": "Managed-service providers need defenders", "description": "Monitoring and defending a small "
        "network", "learning_outcomes": ["Read a firewall log", "Contain an intrusion"], **SUMMARY,
        "credit_bearing": True, "credits": 3, "pass_mark": "Competent on every rubric criterion",
        "requires": ["Cybersecurity essentials for small business"]},
     ["submit_for_feasibility", "approve_feasibility", "complete_design", "sign_off", "launch"]),
]
PATHWAYS = ("stacks_into", "requires", "equivalent_to")


def seed(services: Services) -> list[int]:
    """Load the demo organisation and create the demo credentials, unless credentials exist already."""
    system = Caller.system("demo")
    org = read_org_file(ORGANISATION, known_roles=services.people.known_roles)
    services.people.load(org, by=system)
    if services.views.search(by=system, limit=1)[1]:
        return []
    callers: dict[str, Caller] = {}

    def as_(username: str) -> Caller:
        if username not in callers:
            callers[username] = services.access.caller_by_name(username)
        return callers[username]

    created = []
    numbers: dict[str, int] = {}
    for faculty, title, named, walk in CREDENTIALS:
        data = {k: [numbers[t] for t in v] if k in PATHWAYS else v for k, v in named.items()}
        people = PEOPLE | FACULTY[faculty]
        pm = as_(people["project_manager"])
        cid = numbers[title] = services.credentials.create(definition="microcredential", title=title, data=data,
                                                           by=pm, org_unit_id=services.people.unit_id(faculty))
        for trigger in walk:
            detail = services.views.get(cid, by=pm)
            for item in detail.checklist:
                if item.trigger == trigger and not item.done:
                    services.credentials.set_item(credential_id=cid, item=item.key, done=True,
                                                  by=as_(people[item.owner]), note="Done for the demo")
            fired = False
            for gate in detail.gates:
                if gate.trigger != trigger:
                    continue
                for approver in sorted(gate.approvers, key=lambda a: a.stage):
                    deciders = COMMITTEE if approver.role == "academic_governance" else [people[approver.role]]
                    for username in deciders[: approver.needed - approver.approvals]:
                        result = services.credentials.decide(credential_id=cid, gate=gate.gate, verdict="approve",
                                                             by=as_(username), comment="Approved for the demo")
                        fired = fired or result.fired is not None
            if not fired:
                services.credentials.fire(credential_id=cid, trigger=trigger, by=pm)
        created.append(cid)
    return created
