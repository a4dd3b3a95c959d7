"""Demo data: an organisation and a few credentials in different phases, walked there by the demo people
through the real service operations (their permissions are checked like anyone's)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from workflow.context import Services
from workflow.definitions.graph import transition_from
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
    "department_chair": "chair.osei", "quality_council": "oqc.jensen", "instructor": "inst.khan",
    "plar_assessor": "plar.lee",
}
FACULTY = {
    "business": {"dean": "dean.okafor", "project_manager": "pm.garcia", "initiative_lead": "pm.garcia"},
    "health": {"dean": "dean.tremblay", "project_manager": "pm.chen", "initiative_lead": "pm.chen"},
    "technology": {"dean": "dean.singh", "project_manager": "pm.chen", "initiative_lead": "pm.chen"},
}
COMMITTEE = ["council.adams", "council.bell", "council.cruz"]
COMMITTEES = {"academic_governance": COMMITTEE, "curriculum_committee": ["ccc.diaz", "ccc.evans"],
              "faculty_council": ["fc.fischer", "fc.gomez"], "senate": ["senate.hall", "senate.iqbal"]}
# Who drives each definition's credentials: starts them and makes the moves their `by` leaves to editors.
DRIVER = {"microcredential": "project_manager", "university": "project_manager",
          "enrolment": "registrar"}

SUMMARY: dict[str, Any] = {
    "provider": "Northern College", "participation_mode": "hybrid", "time_period": "8 weeks",
    "prerequisites": "None", "learning_resources": "LMS course and open datasets",
    "assessment_type": "Workplace project with a rubric", "identity_verification": "Live final presentation",
    "qa_body": "Northern College Quality Council", "learner_outcome": "Digital badge", "stackability": "stackable",
    "notional_hours": 40, "credit_bearing": False, "pass_mark": "70%", "issued_expiry_months": 36,
}

Step = str | dict[str, Any]  # a trigger to walk through, or data to set first

# (faculty, title, data, steps in order), of the micro-credential lifecycle
CREDENTIALS: list[tuple[str, str, dict[str, Any], list[Step]]] = [
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
PATHWAYS = ("stacks_into", "requires", "equivalent_to", "credential")  # fields naming other credentials

UNIVERSITY: dict[str, Any] = {
    "purpose": "Graduate students need applied data skills for credit", "credit_level": "undergraduate",
    "learning_outcomes": ["Clean a data set", "Build a forecast"], "assessment_type": "Project with a rubric",
}

# The same for a university's credit-bearing credentials (definitions/university.yaml)
UNIVERSITY_CREDENTIALS: list[tuple[str, str, dict[str, Any], list[Step]]] = [
    ("business", "Applied supply-chain forecasting (0.5 credit)", UNIVERSITY | {"credits": 0.5},
     ["submit_to_department", "approve_in_department"]),
    ("business", "Procurement law for practitioners (3 credits)", UNIVERSITY | {"credits": 3},
     ["submit_to_department", "approve_in_department", "approve_in_faculty", "approve_in_senate",
      {"course_code": "SCM 4P10", "transcript_notation": "Micro-credential: Procurement law"}, "offer"]),
]

LEARNER: dict[str, Any] = {"credential_title": "Cybersecurity essentials for small business",
                           "credential": ["Cybersecurity essentials for small business"],
                           "completion_deadline": "2027-06-30"}

# Learners enrolled in a credential (definitions/enrolment.yaml): the record's subject is the learner
LEARNERS: list[tuple[str, str, dict[str, Any], list[Step]]] = [
    ("technology", "Jordan Reyes in Cybersecurity essentials", LEARNER | {"learner_name": "Jordan Reyes"},
     ["start"]),
    ("technology", "Amira Haddad in Cybersecurity essentials", LEARNER | {"learner_name": "Amira Haddad"},
     ["start", "submit_assessment", {"first_attempt_score": 58}, "fail_first_attempt",
      {"feedback": "Revisit the risk register; the controls section needs evidence"}, "start_second_attempt"]),
    ("technology", "Noah Martin in Cybersecurity essentials", LEARNER | {"learner_name": "Noah Martin"},
     ["start", "submit_assessment", {"first_attempt_score": 86}, "pass_first_attempt",
      {"issued_on": "2026-11-20", "issued_expires_on": "2029-11-20"}, "issue"]),
    ("technology", "Li Wei (prior learning) in Cybersecurity essentials",
     LEARNER | {"learner_name": "Li Wei", "plar_evidence": "Five years as a security analyst; CompTIA Security+"},
     ["request_plar"]),
]


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
    walks = [("microcredential", c) for c in CREDENTIALS] + [("university", c) for c in UNIVERSITY_CREDENTIALS] \
        + [("enrolment", c) for c in LEARNERS]
    numbers: dict[str, int] = {}  # pathways name earlier credentials by title; they are stored by number
    for definition, (faculty, title, named, walk) in walks:
        data = {k: [numbers[t] for t in v] if k in PATHWAYS else v for k, v in named.items()}
        people = PEOPLE | FACULTY[faculty]
        driver = as_(people[DRIVER[definition]])
        cid = numbers[title] = services.credentials.create(definition=definition, title=title, data=data, by=driver,
                                                           org_unit_id=services.people.unit_id(faculty))
        for step in walk:
            if isinstance(step, dict):
                services.credentials.update(credential_id=cid, changes=step, by=driver)
                continue
            _walk(services, cid, step, people, driver, as_)
        created.append(cid)
    return created


def _walk(services: Services, cid: int, trigger: str, people: dict[str, str], driver: Caller,
          as_: Callable[[str], Caller]) -> None:
    """Tick the checklist standing before ``trigger`` as each item's owner, approve its gate as its approvers,
    and fire it (as the driver, or the first role its ``by`` names) if the approvals did not."""
    detail = services.views.get(cid, by=driver)
    for item in detail.checklist:
        if item.trigger == trigger and not item.done:
            services.credentials.set_item(credential_id=cid, item=item.key, done=True,
                                          by=as_(people[item.owner]), note="Done for the demo")
    fired = False
    for gate in detail.gates:
        if gate.trigger != trigger:
            continue
        for approver in sorted(gate.approvers, key=lambda a: a.stage):
            deciders = COMMITTEES[approver.role] if approver.role in COMMITTEES else [people[approver.role]]
            for username in deciders[: approver.needed - approver.approvals]:
                result = services.credentials.decide(credential_id=cid, gate=gate.gate, verdict="approve",
                                                     by=as_(username), comment="Approved for the demo")
                fired = fired or result.fired is not None
    if not fired:
        engine = services.definitions.engine(detail.definition, detail.definition_version)
        transition = transition_from(engine.definition, detail.state, trigger)
        by = as_(people[transition.by[0]]) if transition.by and transition.by[0] in people else driver
        services.credentials.fire(credential_id=cid, trigger=trigger, by=by,
                                  comment="For the demo" if transition.confirm else "")
