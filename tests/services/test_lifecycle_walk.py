"""A credential walks from ideation to retirement through every gate, refused until each gate is complete."""

from __future__ import annotations

import pytest

from workflow.context import Services
from workflow.errors import TransitionNotAllowed
from workflow.services.access import Caller

DEAN = "Dean (leadership champion)"
GOVERNANCE = "Academic governance body (college council / quality council)"

SUMMARY = {
    "provider": "Northern College",
    "description": "Hands-on analytics for regional supply chains.",
    "learning_outcomes": ["Build a demand forecast", "Read a logistics dashboard"],
    "participation_mode": "hybrid",
    "time_period": "8 weeks",
    "prerequisites": "None",
    "learning_resources": "Open datasets, LMS course",
    "assessment_type": "Project",
    "identity_verification": "Proctored final presentation",
    "qa_body": "Northern College Quality Council",
    "learner_outcome": "Digital badge",
    "stackability": "stackable",
    "notional_hours": 40,
}

SYSTEM = Caller.system("test")
as_ = Caller.system  # acting as a named person, with the system's rights


def refusal(services: Services, cid: int, trigger: str) -> list[str]:
    with pytest.raises(TransitionNotAllowed) as caught:
        services.credentials.fire(credential_id=cid, trigger=trigger, by=as_("pm"))
    return [str(u) for u in caught.value.unmet]


def tick_all(services: Services, cid: int, trigger: str | None = None) -> None:
    """Tick every open item of the current state (or only those standing before ``trigger``)."""
    for item in services.views.get(cid, by=SYSTEM).checklist:
        if not item.done and trigger in (None, item.trigger):
            services.credentials.set_item(credential_id=cid, item=item.key, done=True, by=as_(item.owner))


def test_walk_from_ideation_to_retirement_through_every_gate(services: Services) -> None:
    creds = services.credentials
    cid = creds.create(definition="microcredential", title="Supply-chain analytics", by=as_("pm"))

    # Ideation → feasibility: four ideation tasks and the purpose are missing, in definition order.
    assert refusal(services, cid, "submit_for_feasibility") == [
        "“Labour-market research done” is not done (Initiative lead)",
        "“Local employers and partners contacted” is not done (Employer engagement lead)",
        "“Focus group or working group formed” is not done (Initiative lead)",
        "“Skills and competencies industry wants identified” is not done (Subject matter expert)",
        "Need addressed (purpose) is empty",
    ]
    tick_all(services, cid)
    assert refusal(services, cid, "submit_for_feasibility") == [
        "Need addressed (purpose) is empty"]
    creds.update(credential_id=cid, changes={"purpose": "Logistics employers need analysts"}, by=as_("pm"))
    creds.fire(credential_id=cid, trigger="submit_for_feasibility", by=as_("pm"))

    # Feasibility approval: ten checklist items, the description and the dean's approval.
    missing = refusal(services, cid, "approve_feasibility")
    assert len(missing) == 12
    assert missing[0] == ("“Alignment with institutional priorities and the micro-credential "
                          "policy shown” is not done (Initiative lead)")
    assert "“Funding applied for” is not done (Finance)" in missing
    assert missing[-2:] == ["Description and purpose is empty", f"Approval by the {DEAN} is needed"]
    tick_all(services, cid)
    creds.update(credential_id=cid, changes={"description": SUMMARY["description"]}, by=as_("pm"))
    assert refusal(services, cid, "approve_feasibility") == [f"Approval by the {DEAN} is needed"]
    opened = creds.decide(credential_id=cid, gate="feasibility_approval", role="dean", verdict="approve",
                 comment="Strong employer demand", by=as_("dean.smith"))
    assert opened.fired is not None and opened.fired.trigger == "approve_feasibility"  # the last approval opens it

    # Design → build.
    assert refusal(services, cid, "complete_design") == [
        "“Competencies and skills listed” is not done (Subject matter expert)",
        "“Learning goals and objectives drafted” is not done (Instructional designer (pedagogy and edTech support))",
        "“Learner profile described” is not done (Initiative lead)",
        "“Co-designed with industry experts” is not done (Employer partner)",
        "Learning outcomes is empty",
        "Participation mode is empty",
        "Notional learning hours is empty",
    ]
    tick_all(services, cid)
    creds.update(credential_id=cid, changes=SUMMARY | {"credit_bearing": True}, by=as_("pm"))
    creds.fire(credential_id=cid, trigger="complete_design", by=as_("pm"))

    # Governance sign-off, credit-bearing: the registrar's items and approvals apply, academic governance 2 of n.
    missing = refusal(services, cid, "sign_off")
    assert "“Transcript entry planned” is not done (Registrar's office)" in missing
    assert missing[-3:] == ["Approval by the Quality assurance office is needed",
                            "Approval by the Registrar's office is needed",
                            f"2 approvals by the {GOVERNANCE} are needed (0 so far)"]
    tick_all(services, cid)
    creds.decide(credential_id=cid, gate="governance_signoff", role="qa_office", verdict="approve", by=as_("qa.lee"))
    creds.decide(credential_id=cid, gate="governance_signoff", role="registrar", verdict="approve", by=as_("reg.ng"))
    creds.decide(credential_id=cid, gate="governance_signoff", role="academic_governance", verdict="approve",
                 by=as_("council.a"))
    assert refusal(services, cid, "sign_off") == [f"2 approvals by the {GOVERNANCE} are needed (1 so far)"]
    opened = creds.decide(credential_id=cid, gate="governance_signoff", role="academic_governance", verdict="approve",
                 by=as_("council.b"))
    assert opened.fired is not None and opened.fired.trigger == "sign_off"  # the last approval opens it

    # Launch.
    missing = refusal(services, cid, "launch")
    assert len(missing) == 11 and missing[-1] == f"Approval by the {DEAN} is needed"
    tick_all(services, cid)
    opened = creds.decide(credential_id=cid, gate="launch_approval", role="dean", verdict="approve",
                          by=as_("dean.smith"))
    assert opened.fired is not None and opened.fired.trigger == "launch"  # the last approval opens it
    assert services.views.get(cid, by=SYSTEM).state == "delivery"

    # Review, then renewal after a content review.
    creds.fire(credential_id=cid, trigger="start_review", by=as_("pm"))
    missing = refusal(services, cid, "renew")
    assert len(missing) == 7 and missing[-1] == f"Approval by the {DEAN} is needed"
    tick_all(services, cid, "renew")
    opened = creds.decide(credential_id=cid, gate="renewal", role="dean", verdict="approve", by=as_("dean.smith"))
    assert opened.fired is not None and opened.fired.trigger == "renew"  # the last approval opens it

    # The next review starts afresh: the renewal checklist and approval are needed again.
    creds.fire(credential_id=cid, trigger="start_review", by=as_("pm"))
    assert len(refusal(services, cid, "renew")) == 7

    # Sunset, then retirement after the teach-out.
    missing = refusal(services, cid, "sunset")
    assert len(missing) == 6 and missing[-1] == f"Approval by the {DEAN} is needed"
    tick_all(services, cid)
    opened = creds.decide(credential_id=cid, gate="sunset_approval", role="dean", verdict="approve",
                 comment="Skills now taught in the diploma", by=as_("dean.smith"))
    assert opened.fired is not None and opened.fired.trigger == "sunset"  # the last approval opens it
    assert refusal(services, cid, "retire") == [
        "“Registration closed” is not done (Registrar's office)",
        "“Learners completed or transferred” is not done (Student success)",
        "“Portal and website listing removed” is not done (Marketing)",
        "“Expiry of issued credentials recorded” is not done (Registrar's office)",
        "“LMS course archived” is not done (IT and e-learning)",
    ]
    tick_all(services, cid)
    creds.fire(credential_id=cid, trigger="retire", by=as_("pm"))

    detail = services.views.get(cid, by=SYSTEM)
    assert detail.state == "retired" and detail.options == ()
    moves = [(e.from_state, e.to_state) for e in services.views.history(cid, by=SYSTEM) if e.kind == "transition"]
    assert moves == [
        ("ideation", "feasibility"), ("feasibility", "design"), ("design", "build"), ("build", "launch"),
        ("launch", "delivery"), ("delivery", "review"), ("review", "delivery"), ("delivery", "review"),
        ("review", "sunset"), ("sunset", "retired"),
    ]


def test_non_credit_credential_skips_registrar_and_council_at_governance(services: Services) -> None:
    creds = services.credentials
    cid = creds.create(definition="microcredential", title="Workplace safety leadership", by=as_("pm"),
                       data={"purpose": "p", "description": "d", "credit_bearing": False})
    for trigger, gate, role in [("submit_for_feasibility", None, None),
                                ("approve_feasibility", "feasibility_approval", "dean")]:
        tick_all(services, cid)
        if gate:
            creds.decide(credential_id=cid, gate=gate, role=role, verdict="approve", by=as_("dean"))
        else:
            creds.fire(credential_id=cid, trigger=trigger, by=as_("pm"))
    tick_all(services, cid)
    creds.update(credential_id=cid, changes=SUMMARY, by=as_("pm"))
    creds.fire(credential_id=cid, trigger="complete_design", by=as_("pm"))

    missing = refusal(services, cid, "sign_off")
    assert not any(m.startswith("registrar") or m.startswith("academic_governance") for m in missing)
    assert [i.key for i in services.views.get(cid, by=SYSTEM).checklist if i.owner == "registrar"] == []
