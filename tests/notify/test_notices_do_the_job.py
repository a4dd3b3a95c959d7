"""Notices that do the job, delivered through a real SMTP server: a task email states the item, the credential, its
due date and a link that opens the item; reminders go to whoever still owes something and stop once they have
acted; someone reached by two routes gets one copy; a gate's approval is one message; entering review asks one
question; and each person's calendar feed holds their tasks and gate deadlines, updated when a date moves."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from icalendar import Calendar

from tests.notify.mailing import SYSTEM, Mail, MailServer, create, deliver, override, person, web_clients
from tests.notify.test_delivery import REGISTRY
from tests.organisation import as_person, load_org
from workflow.clock import ManualClock
from workflow.context import Services

TITLE = "Cold-chain logistics"
IN_BUILD = ("submit_for_feasibility", "approve_feasibility", "complete_design")


def in_build(org: Services, mail: MailServer) -> int:
    """A credit-bearing credential that has just entered Build (its governance sign-off due in 30 days)."""
    credential_id = create(org, TITLE, data={"credit_bearing": True})
    override(org, credential_id, *IN_BUILD)
    return credential_id


def of_kind(found: dict[str, list[Mail]], kind: str) -> dict[str, list[Mail]]:
    return {address: kept for address, mails in found.items() if (kept := [m for m in mails if m.row.kind == kind])}


def test_an_item_assigned_with_a_due_date_sends_one_email_with_that_date_and_a_link_that_opens_the_item(
        org: Services, mail: MailServer, clock: ManualClock) -> None:
    credential_id = in_build(org, mail)
    found = deliver(org, mail)
    due = (clock.now() + timedelta(days=30)).date().isoformat()  # the sign-off's due_days, on the local calendar
    [message] = of_kind(found, "item_assigned")[person("registrar")]  # one email for both of the registrar's items
    assert message.subject == f"2 checklist items for {TITLE}"
    for item, key in [("Transcript entry planned", "transcript_entry_planned"),
                      ("Credit value and pathways confirmed", "credit_value_confirmed")]:
        assert f"  - {item}, due {due}" in message.text
        assert f"{item}</a>, due <strong>{due}</strong>" in message.html
        link = f"/credentials/{credential_id}#item-{credential_id}-{key}"
        assert link in message.text and f'href="http://127.0.0.1:8000{link}"' in message.html
    assert f"“{TITLE}”" in message.html or f"&ldquo;{TITLE}&rdquo;" in message.html

    link = urlsplit(re.findall(r"http\S+#item-\S+", message.text)[0])
    browser, _ = web_clients(org, "registrar")
    page = browser.get(link.path)  # the link opens the item, for the person it was sent to
    assert page.status_code == 200
    assert f'id="{link.fragment}"' in page.text
    assert "Transcript entry planned" in page.text
    assert browser.get(link.path.replace(str(credential_id), "999")).status_code == 404


def test_past_the_due_date_the_owners_are_reminded_and_the_approvers_who_decided_are_not(
        org: Services, mail: MailServer, clock: ManualClock) -> None:
    credential_id = in_build(org, mail)
    org.credentials.set_item(credential_id=credential_id, item="qa_quality_checklist", done=True,
                             by=as_person(org, "qa"))
    org.credentials.decide(credential_id=credential_id, gate="governance_signoff", verdict="approve",
                           by=as_person(org, "qa"))  # stage 1 done
    org.credentials.decide(credential_id=credential_id, gate="governance_signoff", verdict="approve",
                           by=as_person(org, "council.a"))  # one of the two council approvals needed
    deliver(org, mail)

    clock.advance(timedelta(days=32))  # the scheduler was away: "due in 5 days" and "past due" are both waiting
    org.timers.run_due()
    reminders = of_kind(deliver(org, mail), "reminder")
    # the SME owns open items; the registrar and the council's other members have not decided; the PM oversees
    assert set(reminders) == {person("sme"), person("registrar"), person("council.b"), person("council.c"),
                              person("pm.business")}
    assert person("council.a") not in reminders and person("qa") not in reminders  # they decided
    for address, got in reminders.items():
        assert len(got) == 1, address  # the missed reminder collapsed into the latest one
        assert got[0].subject == f"Reminder: Governance sign-off past its due date — {TITLE}"
    sme = reminders[person("sme")][0]
    text = sme.text.replace("\r\n", "\n")
    due = (clock.now() - timedelta(days=2)).date().isoformat()
    assert "Yours to do:\n  - “Assessments chosen with the working group”\n  - “Mastery benchmark (pass mark) set”\n" \
        in text
    assert f"the decision on Governance sign-off: due {due}, 2 days late" in sme.text
    assert f"9 open checklist items: due {due}, 2 days late" in sme.text  # the quality checklist is done
    council = reminders[person("council.b")][0]
    assert "Yours to do:\n  - your decision on Governance sign-off\n" in council.text.replace("\r\n", "\n")

    clock.advance(timedelta(days=30))  # the reminder at 60 days: the SME has acted since and is not reminded
    for item in ("assessments_chosen", "mastery_benchmark"):
        org.credentials.set_item(credential_id=credential_id, item=item, done=True, by=as_person(org, "sme"))
    deliver(org, mail)
    org.timers.run_due()
    reminders = of_kind(deliver(org, mail), "reminder")
    assert person("sme") not in reminders
    # the quality office approved a checklist that has changed since: its approval no longer counts, so it owes
    # its decision again (and stage 2 waits for it)
    assert person("qa") in reminders and person("council.b") not in reminders


def test_someone_reached_by_their_own_address_and_a_department_inbox_gets_one_copy(
        org: Services, mail: MailServer, clock: ManualClock) -> None:
    load_org(org, REGISTRY)  # the registrar's office inbox handles the registrar's mail
    credential_id = in_build(org, mail)
    found = of_kind(deliver(org, mail), "item_assigned")
    assert len(found["registrar.office@test.example"]) == 1
    assert person("registrar") not in found

    clock.advance(timedelta(days=31))
    org.credentials.decide(credential_id=credential_id, gate="governance_signoff", verdict="approve",
                           by=as_person(org, "qa"))
    org.timers.run_due()
    found = deliver(org, mail)
    assert [m.row.kind for m in found["registrar.office@test.example"]] == ["decision_needed", "reminder"]
    assert person("registrar") not in found


BUILD_ITEMS = ("objectives_per_competency", "assessments_chosen", "mastery_benchmark", "rubric_written",
               "employer_content_review", "qa_quality_checklist", "instructor_preparedness", "technology_ready",
               "transcript_entry_planned", "credit_value_confirmed")


def test_a_gate_approved_by_several_people_sends_one_approved_message(org: Services, mail: MailServer) -> None:
    credential_id = in_build(org, mail)
    org.credentials.update(credential_id=credential_id, by=SYSTEM, changes={
        "learning_outcomes": ["Plan a cold chain"], "assessment_type": "Project", "notional_hours": 40,
        "stackability": "stackable"})
    for item in BUILD_ITEMS:
        org.credentials.set_item(credential_id=credential_id, item=item, done=True, by=SYSTEM)
    deliver(org, mail)
    for who in ("qa", "registrar", "council.a"):
        org.credentials.decide(credential_id=credential_id, gate="governance_signoff", verdict="approve",
                               by=as_person(org, who))
        assert "decided" not in {m.row.kind for mails in deliver(org, mail).values() for m in mails}
    org.credentials.decide(credential_id=credential_id, gate="governance_signoff", verdict="approve",
                           by=as_person(org, "council.b"))
    [approved] = of_kind(deliver(org, mail), "decided")[person("pm.business")]
    assert approved.subject == f"Governance sign-off: approved — {TITLE}"
    assert "QA Office, Registrar, Council A and Council B approved Governance sign-off" in approved.text


def test_entering_review_asks_the_dean_one_question_renew_or_sunset(org: Services, mail: MailServer) -> None:
    credential_id = create(org, TITLE)
    override(org, credential_id, *IN_BUILD, "sign_off", "launch")
    deliver(org, mail)
    org.credentials.fire(credential_id=credential_id, trigger="start_review", by=as_person(org, "pm.business"))
    [question] = of_kind(deliver(org, mail), "decision_needed")[person("dean.business")]
    assert question.subject == f"Decision needed: Renewal or Sunset for {TITLE}"
    assert "waits for one decision from you: Renewal or Sunset" in question.text
    for gate in ("renewal", "sunset_approval"):
        assert f"/credentials/{credential_id}/gates/{gate}" in question.text
    assert len(question.events()) == 2  # both deadlines, for the calendar


def feed(client: TestClient, path: str) -> dict[str, dict[str, object]]:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return {str(e.get("uid")): {"summary": str(e.get("summary")), "day": e.decoded("dtstart"),
                                "description": str(e.get("description", "")), "url": str(e.get("url", "")),
                                "sequence": int(e.get("sequence", 0))}
            for e in Calendar.from_ical(response.text).walk("VEVENT")}


def test_the_calendar_feed_holds_tasks_and_gate_deadlines_and_a_moved_date_keeps_its_uid_and_raises_sequence(
        org: Services, mail: MailServer, clock: ManualClock) -> None:
    credential_id = in_build(org, mail)
    _, api = web_clients(org, "qa")
    path = urlsplit(api.post("/api/v1/me/calendar").json()["url"]).path
    anonymous = TestClient(api.app, base_url="https://testserver")
    due = clock.now().date() + timedelta(days=30)

    events = feed(anonymous, path)
    task = events[f"task-{credential_id}-qa_quality_checklist@workflow.localhost"]
    assert str(task["summary"]).startswith("Due: Eight elements of the quality checklist reviewed")
    assert task["day"] == due
    assert f"for “{TITLE}” (Build), owed by the Quality assurance office" in str(task["description"])
    assert str(task["url"]).endswith(f"/credentials/{credential_id}#item-{credential_id}-qa_quality_checklist")
    gate = events[f"gate-{credential_id}-governance_signoff@workflow.localhost"]
    assert gate["summary"] == f"Decision due: Governance sign-off — {TITLE}" and gate["day"] == due
    assert "Quality-assurance review" in str(gate["description"])
    assert str(gate["url"]).endswith(f"/credentials/{credential_id}/gates/governance_signoff")
    assert {e["sequence"] for e in events.values()} == {0}
    assert feed(anonymous, path) == events  # reading again changes nothing

    org.credentials.fire(credential_id=credential_id, trigger="hold", by=as_person(org, "pm.business"),
                             comment="Waiting for the new cold-chain standard")
    clock.advance(timedelta(days=5))
    org.credentials.fire(credential_id=credential_id, trigger="resume", by=as_person(org, "pm.business"))
    moved = feed(anonymous, path)
    for uid in (f"task-{credential_id}-qa_quality_checklist@workflow.localhost",
                f"gate-{credential_id}-governance_signoff@workflow.localhost"):
        assert moved[uid]["day"] == due + timedelta(days=5) and moved[uid]["sequence"] == 1
    assert feed(anonymous, path) == moved  # the same dates again: the same sequence


def test_before_the_due_date_the_owners_of_open_items_are_reminded(org: Services, mail: MailServer,
                                                                    clock: ManualClock) -> None:
    credential_id = in_build(org, mail)
    for item in ("assessments_chosen", "mastery_benchmark"):
        org.credentials.set_item(credential_id=credential_id, item=item, done=True, by=as_person(org, "sme"))
    deliver(org, mail)
    clock.advance(timedelta(days=26))
    assert org.timers.run_due() == 1
    reminders = of_kind(deliver(org, mail), "reminder")
    assert person("sme") not in reminders  # their items are done
    [qa] = reminders[person("qa")]
    assert qa.subject == f"Reminder: Governance sign-off due in 5 days — {TITLE}"
    text = qa.text.replace("\r\n", "\n")
    assert "Yours to do:\n  - “Eight elements of the quality checklist reviewed" in text
    assert "  - your decision on Governance sign-off\n" in text
    assert "Already late" not in text
