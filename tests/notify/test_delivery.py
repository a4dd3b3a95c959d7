"""Who receives which email, delivered through a real SMTP server: item owners when a credential is created or moves,
the faculty's dean (and whoever acts for them) when a decision waits, the team when something is decided or moves,
deans when timers remind or escalate, and department inboxes for the roles they handle."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.notify.mailing import SYSTEM, Mail, MailServer, create, deliver, outbox, override, person
from tests.organisation import as_person, load_org
from workflow.clock import ManualClock
from workflow.context import Services

TITLE = "Supply-chain analytics"


def only(found: dict[str, list[Mail]], address: str) -> Mail:
    messages = found.get(address, [])
    assert len(messages) == 1, f"{address} received {len(messages)} messages"
    return messages[0]


def test_creating_a_credential_sends_each_item_owner_one_message_listing_their_items(org: Services,
                                                                                      mail: MailServer) -> None:
    credential_id = create(org, TITLE)
    found = deliver(org, mail)

    assert set(found) == {person("pm.business"), person("engage"), person("sme")}
    lead = found[person("pm.business")]
    assert len(lead) == 1  # one message for both of the initiative lead's items, not one per item
    assert lead[0].subject == f"2 checklist items for {TITLE}"
    for item in ("Labour-market research done", "Focus group or working group formed"):
        assert item in lead[0].text and item in lead[0].html
    assert "Skills and competencies" not in lead[0].text  # the SME's item is not theirs
    assert f"/credentials/{credential_id}" in lead[0].text
    assert "Initiative lead" in lead[0].text  # why they receive it
    engage = found[person("engage")]
    assert [m.subject for m in engage] == [f"1 checklist item for {TITLE}"]
    assert "Local employers and partners contacted" in engage[0].text
    sme = found[person("sme")]
    assert [m.subject for m in sme] == [f"1 checklist item for {TITLE}"]
    assert "Skills and competencies industry wants identified" in sme[0].text
    assert {row.status for row in outbox(org)} == {"sent"}
    assert all(row.kind == "item_assigned" and row.attempts == 1 for row in outbox(org))


def test_reaching_feasibility_asks_the_faculty_dean_and_the_acting_dean_with_a_calendar_entry(
        org: Services, mail: MailServer, clock: ManualClock) -> None:
    today = clock.now().date()
    org.people.delegate(to_username="acting.dean", starts_on=today, ends_on=today + timedelta(days=30), role="dean",
                        by=as_person(org, "dean.business"))
    credential_id = create(org, TITLE)
    deliver(org, mail)
    for item, owner in [("labour_market_research", "pm.business"), ("working_group_formed", "pm.business"),
                        ("employers_contacted", "engage"), ("industry_skills_identified", "sme")]:
        org.credentials.set_item(credential_id=credential_id, item=item, done=True, by=as_person(org, owner))
    org.credentials.fire(credential_id=credential_id, trigger="submit_for_feasibility",
                         by=as_person(org, "pm.business"))
    found = deliver(org, mail)

    due = today + timedelta(days=14)  # the gate's due_days
    dean = only(found, person("dean.business"))
    assert dean.subject == f"Decision needed: Feasibility approval for {TITLE}"
    assert f"due {due.isoformat()}" in dean.text
    decide = next(line for line in dean.text.splitlines() if line.startswith("Read the proposal and decide: "))
    assert decide.endswith(f"/credentials/{credential_id}/gates/feasibility_approval")  # the decision page
    assert dean.row.kind == "decision_needed"
    [event] = dean.events()
    assert event.decoded("dtstart") == due
    assert "Feasibility approval" in str(event.get("summary")) and TITLE in str(event.get("summary"))
    assert str(event.get("url")).endswith(f"/credentials/{credential_id}/gates/feasibility_approval")
    acting = only(found, person("acting.dean"))
    assert acting.subject == dean.subject
    assert "on behalf of dean.business" in acting.text
    assert [e.decoded("dtstart") for e in acting.events()] == [due]
    assert person("dean.health") not in found  # the other faculty's dean hears nothing

    team = sorted(m.subject for m in found[person("pm.business")])  # initiative lead and project manager: once
    assert team == [f"3 checklist items for {TITLE}", f"{TITLE} moved to Feasibility"]
    moved = next(m for m in found[person("pm.business")] if "moved to" in m.subject)
    assert "from Ideation to Feasibility (PM Business)" in moved.text
    assert "because you hold the roles Initiative lead and Project manager." in moved.text
    assert [m.subject for m in found[person("qa")]] == [f"1 checklist item for {TITLE}"]


def test_a_decision_and_the_move_it_completes_are_announced_to_the_team(org: Services, mail: MailServer,
                                                                         clock: ManualClock) -> None:
    today = clock.now().date()
    org.people.delegate(to_username="acting.dean", starts_on=today, ends_on=today + timedelta(days=7), role="dean",
                        by=as_person(org, "dean.business"))
    credential_id = create(org, TITLE)
    override(org, credential_id, "submit_for_feasibility")
    deliver(org, mail)

    org.credentials.decide(credential_id=credential_id, gate="feasibility_approval", verdict="request_changes",
                           comment="Budget <missing>", by=as_person(org, "acting.dean"))
    found = deliver(org, mail)
    assert set(found) == {person("pm.business")}  # initiative_lead and project_manager, one person
    asked = only(found, person("pm.business"))
    assert asked.subject == f"Feasibility approval: asked for changes to — {TITLE}"
    assert "Acting Dean (for dean.business) asked for changes to Feasibility approval" in asked.text
    assert "Comment: Budget <missing>" in asked.text and "Budget &lt;missing&gt;" in asked.html

    for key in ("priorities_alignment", "one_pager", "team_identified", "employer_partner_committed",
                "curricular_proposal_started", "qa_proposal_started", "initial_budget", "funding_applied",
                "price_sensitivity", "marketing_plan_costed"):
        org.credentials.set_item(credential_id=credential_id, item=key, done=True, by=SYSTEM)
    assert outbox(org, status="pending") == []  # ticking items tells nobody
    org.credentials.decide(credential_id=credential_id, gate="feasibility_approval", verdict="approve",
                           by=as_person(org, "dean.business"))
    found = deliver(org, mail)
    subjects = sorted(m.subject for m in found[person("pm.business")])
    assert f"Feasibility approval: approved — {TITLE}" in subjects
    assert f"{TITLE} moved to Design" in subjects
    decided = next(m for m in found[person("pm.business")] if m.row.kind == "decided")
    assert "Dean of Business approved Feasibility approval" in decided.text
    assert person("dean.business") not in found or all(m.row.kind != "decided"
                                                        for m in found[person("dean.business")])


def test_timers_remind_and_then_escalate_to_the_dean(org: Services, mail: MailServer, clock: ManualClock) -> None:
    credential_id = create(org, TITLE)
    override(org, credential_id, "submit_for_feasibility")
    deliver(org, mail)

    clock.advance(timedelta(days=15))
    assert org.timers.run_due() >= 1
    found = deliver(org, mail)
    # the dean, who has not decided, and the owners of the feasibility items still open
    assert set(found) == {person("dean.business"), person("pm.business"), person("engage"), person("sme"),
                          person("qa")}
    reminder = only(found, person("dean.business"))
    assert reminder.subject == f"Reminder: Feasibility decision waiting — {TITLE}"
    assert "since 2026-09-01" in reminder.text
    assert reminder.row.kind == "reminder" and reminder.row.urgent
    assert reminder.ics is None

    clock.advance(timedelta(days=14))  # day 29: past the 28 days the escalation waits
    assert org.timers.run_due() >= 1
    found = deliver(org, mail)
    assert set(found) == {person("dean.business"), person("pm.business")}  # dean and project manager
    for address in found:
        overdue = only(found, address)
        assert overdue.subject == f"Overdue by 15 days: Feasibility decision overdue — {TITLE}"
        assert overdue.row.kind == "escalation"
        assert "past its due time" in overdue.text
        due = (clock.now() - timedelta(days=15)).date().isoformat()  # the gate was due 14 days after entry
        assert f"the decision on Feasibility approval: due {due}, 15 days late" in overdue.text
    assert person("dean.health") not in found


def test_expiry_warnings_carry_the_expiry_date_as_a_calendar_entry(org: Services, mail: MailServer,
                                                                    clock: ManualClock) -> None:
    expires = date(2026, 12, 10)
    credential_id = create(org, TITLE, data={"expires_on": expires.isoformat()})
    override(org, credential_id, "submit_for_feasibility", "approve_feasibility", "complete_design", "sign_off",
             "launch")
    deliver(org, mail)

    clock.set(clock.now().replace(month=9, day=12))  # 90 days before the expiry has passed
    assert org.timers.run_due() >= 1
    found = deliver(org, mail)
    assert set(found) == {person("pm.business"), person("dean.business")}  # initiative lead and dean
    for address in found:
        warning = only(found, address)
        assert warning.subject == f"Hard expiry coming up on {expires.isoformat()}: {TITLE}"
        assert "(89 days from now)" in warning.text  # local days: 12 September to 10 December
        [event] = warning.events()
        assert event.decoded("dtstart") == expires
        assert str(event.get("url")).endswith(f"/credentials/{credential_id}")


REGISTRY = """
units:
  - {key: registry, name: Office of the Registrar, kind: department, parent: northern,
     email: registrar.office@test.example, handles: [registrar]}
"""


def test_a_department_inbox_receives_the_mail_of_the_roles_it_handles(org: Services, mail: MailServer) -> None:
    load_org(org, REGISTRY)
    inbox = "registrar.office@test.example"
    credential_id = create(org, TITLE, data={"credit_bearing": True})
    found = deliver(org, mail)
    assert inbox not in found  # nothing of the registrar's comes up in ideation

    override(org, credential_id, "submit_for_feasibility", "approve_feasibility", "complete_design")
    found = deliver(org, mail)
    items = only(found, inbox)
    assert items.subject == f"2 checklist items for {TITLE}"
    for item in ("Transcript entry planned", "Credit value and pathways confirmed"):
        assert item in items.text
    assert "Registrar's office (Office of the Registrar)" in items.text
    assert items.row.org_unit_id == org.people.unit_id("registry") and items.row.user_id is None
    assert person("registrar") not in found  # the registrar reads the office's inbox: one copy, not two

    org.credentials.decide(credential_id=credential_id, gate="governance_signoff", verdict="approve",
                           by=as_person(org, "qa"))  # stage 1 done: the registrar decides at stage 2
    found = deliver(org, mail)
    decision = only(found, inbox)
    assert decision.subject == f"Decision needed: Governance sign-off for {TITLE}"
    assert decision.row.kind == "decision_needed"
    assert len(decision.events()) == 1
    assert person("registrar") not in found


TWO_ROLES = """
units:
  - {key: outreach, name: Outreach office, kind: department, parent: northern,
     email: outreach@test.example, handles: [sme, employer_engagement_lead]}
users:
  - {username: polymath, name: Polymath, email: polymath@test.example,
     roles: [{role: sme, unit: business}, {role: employer_engagement_lead, unit: business}]}
"""


@pytest.mark.parametrize("address", ["polymath@test.example", "outreach@test.example"])
def test_someone_owning_items_in_two_roles_gets_one_message_listing_all_of_them(org: Services, mail: MailServer,
                                                                                address: str) -> None:
    load_org(org, TWO_ROLES)
    create(org, TITLE)
    found = deliver(org, mail)
    message = only(found, address)
    assert message.subject == f"2 checklist items for {TITLE}"
    assert "Local employers and partners contacted" in message.text  # as employer engagement lead
    assert "Skills and competencies industry wants identified" in message.text  # as subject matter expert
