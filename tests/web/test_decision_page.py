"""The decision page (one credential at one gate) and the confirmation of moves that are hard to undo."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.organisation import as_person
from tests.steps import SYSTEM, at_build, at_feasibility, tick
from tests.web.pages import sign_in
from workflow.context import Services

GATE = "feasibility_approval"


def version_of(html: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', html)
    assert found is not None
    return found.group(1)


def text_of(html: str) -> str:
    """What a person reads: tags dropped, whitespace folded."""
    return re.sub(r" ([:,.;)])", r"\1", re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_the_page_puts_the_proposal_evidence_and_path_beside_the_decision(org: Services,
                                                                          app_client: TestClient) -> None:
    cid = at_feasibility(org, leave_open=("initial_budget",))
    sign_in(app_client, "dean.business")
    page = app_client.get(f"/credentials/{cid}/gates/{GATE}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Feasibility approval: Supply-chain analytics" in text
    assert "Need addressed (purpose) (needed for this gate) Logistics employers need analysts" in text
    assert "Checklist evidence — 9 of 10 done" in text
    assert "Finance — 0 of 2 done" not in text and "Finance — 1 of 2 done" in text  # grouped by the owning role
    assert "Dean (leadership champion): 0 of 1 approval (any one) next" in text  # the approval path
    assert "Before it can pass: 1 checklist item and the approval of the Dean (leadership champion)." in text
    assert "You decide as Dean (leadership champion)." in text
    assert "Feasibility approval then still waits for: 1 checklist item." in text  # what approving does
    assert 'data-testid="decision-panel"' in page.text and "new to you" in text


def test_approving_the_last_thing_says_where_it_goes_and_who_is_told(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    token = sign_in(app_client, "dean.business")
    page = app_client.get(f"/credentials/{cid}/gates/{GATE}")
    assert ("Your approval completes Feasibility approval: the credential moves to Design. "
            in text_of(page.text))
    assert "Instructional designer (pedagogy and edTech support)" in text_of(page.text)  # the owners it opens work for
    done = app_client.post(f"/credentials/{cid}/gates/{GATE}/decision", data={
        "csrf_token": token, "verdict": "approve", "acting_as": "dean|", "version": version_of(page.text)},
        follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/credentials/{cid}?done=moved"
    assert org.views.get(cid, by=SYSTEM).state == "design"


def test_asking_for_changes_needs_a_comment_which_the_team_then_reads(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    token = sign_in(app_client, "dean.business")
    before = org.views.get(cid, by=SYSTEM).version
    refused = app_client.post(f"/credentials/{cid}/gates/{GATE}/decision", data={
        "csrf_token": token, "verdict": "request_changes", "acting_as": "dean|", "comment": "  "})
    assert refused.status_code == 422
    assert 'id="comment-error"' in refused.text and "Say why" in refused.text
    assert 'id="v-request_changes" name="verdict" value="request_changes" aria-describedby="then-request_changes" ' \
           'checked' in refused.text  # the choice is kept
    assert org.views.get(cid, by=SYSTEM).version == before  # nothing recorded
    done = app_client.post(f"/credentials/{cid}/gates/{GATE}/decision", data={
        "csrf_token": token, "verdict": "request_changes", "acting_as": "dean|",
        "comment": "Show the employer letters first"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith(f"/credentials/{cid}/gates/{GATE}")
    assert "Your request for changes is recorded." in app_client.get(done.headers["location"]).text
    sign_in(app_client, "pm.business")
    seen_by_pm = text_of(app_client.get(f"/credentials/{cid}/gates/{GATE}").text)
    assert "Dean of Business asked for changes" in seen_by_pm
    assert "Show the employer letters first" in seen_by_pm
    assert "This gate waits for Dean (leadership champion); your roles do not decide it now." in seen_by_pm


def test_rejecting_is_confirmed_before_it_is_recorded(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    token = sign_in(app_client, "dean.business")
    before = org.views.get(cid, by=SYSTEM).version
    asked = app_client.post(f"/credentials/{cid}/gates/{GATE}/decision", data={
        "csrf_token": token, "verdict": "reject", "acting_as": "dean|", "comment": "No budget this year"})
    assert asked.status_code == 200 and "Please confirm." in asked.text
    assert "Feasibility approval cannot pass while your rejection stands" in text_of(asked.text)
    assert org.views.get(cid, by=SYSTEM).version == before  # not yet
    done = app_client.post(f"/credentials/{cid}/gates/{GATE}/decision", data={
        "csrf_token": token, "verdict": "reject", "acting_as": "dean|", "comment": "No budget this year",
        "confirmed": "yes", "version": version_of(asked.text)}, follow_redirects=False)
    assert done.status_code == 303
    last = org.views.history(cid, by=SYSTEM)[-1]
    assert (last.kind, last.details["verdict"], last.comment) == ("decision", "reject", "No budget this year")


def test_a_committee_members_approval_advances_the_quorum_shown(org: Services, app_client: TestClient) -> None:
    cid = at_build(org, credit_bearing=True)
    for username in ("qa", "registrar"):
        org.credentials.decide(credential_id=cid, gate="governance_signoff", verdict="approve",
                               by=as_person(org, username))
    token = sign_in(app_client, "council.a")
    page = app_client.get(f"/credentials/{cid}/gates/governance_signoff")
    text = text_of(page.text)
    assert "Stage 1 — complete" in text and "Stage 2 — deciding now" in text
    assert "Academic governance body (college council / quality council): 0 of 2 approvals" in text
    assert "Your approval is recorded (1 of 2 approvals from Academic governance body" in text
    approved = app_client.post(f"/credentials/{cid}/gates/governance_signoff/decision", data={
        "csrf_token": token, "verdict": "approve", "acting_as": "academic_governance|", "comment": ""},
        follow_redirects=False)
    assert approved.status_code == 303
    sign_in(app_client, "council.b")
    text = text_of(app_client.get(f"/credentials/{cid}/gates/governance_signoff").text)
    assert "Academic governance body (college council / quality council): 1 of 2 approvals" in text
    assert "Council A approved" in text
    assert "Your approval completes Governance sign-off: the credential moves to Marketing and launch." in text


def test_the_page_marks_what_changed_since_the_person_last_looked(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    sign_in(app_client, "dean.business")
    app_client.get(f"/credentials/{cid}/gates/{GATE}")  # the dean reads it once
    org.credentials.update(credential_id=cid, changes={"purpose": "Regional logistics need analysts"}, by=SYSTEM)
    page = app_client.get(f"/credentials/{cid}/gates/{GATE}")
    text = text_of(page.text)
    assert "1 change since you looked" in text
    assert ("Regional logistics need analysts changed before: Logistics employers need analysts" in text)
    assert text.count(" changed before:") == 1  # only that field
    assert "unchanged since you looked" in text_of(app_client.get(f"/credentials/{cid}/gates/{GATE}").text)


def test_a_gate_that_is_not_open_is_not_found(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    sign_in(app_client, "dean.business")
    assert app_client.get(f"/credentials/{cid}/gates/launch_approval").status_code == 404
    sign_in(app_client, "dean.health")  # another faculty
    assert app_client.get(f"/credentials/{cid}/gates/{GATE}").status_code == 404


def test_withdrawing_asks_for_a_reason_which_the_history_keeps(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    token = sign_in(app_client, "pm.business")
    page = app_client.get(f"/credentials/{cid}")
    assert f'href="/credentials/{cid}/moves/withdraw"' in page.text  # a link to a confirmation, not a one-click form
    confirm = app_client.get(f"/credentials/{cid}/moves/withdraw")
    assert "This is final: once Withdrawn, the credential can no longer change." in text_of(confirm.text)
    refused = app_client.post(f"/credentials/{cid}/transitions", data={
        "csrf_token": token, "trigger": "withdraw", "comment": "", "back": "confirm"})
    assert refused.status_code == 422 and 'id="reason-error"' in refused.text
    assert org.views.get(cid, by=SYSTEM).state == "feasibility"
    done = app_client.post(f"/credentials/{cid}/transitions", data={
        "csrf_token": token, "trigger": "withdraw", "comment": "The employer partner pulled out",
        "back": "confirm"}, follow_redirects=False)
    assert done.status_code == 303
    assert org.views.get(cid, by=SYSTEM).state == "withdrawn"
    history = app_client.get(done.headers["location"]).text
    assert "The employer partner pulled out" in history


def test_a_mistaken_hold_is_resumed_from_the_page(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    token = sign_in(app_client, "pm.business")
    confirm = text_of(app_client.get(f"/credentials/{cid}/moves/hold").text)
    assert "“Resume” brings it back to Feasibility later." in confirm
    app_client.post(f"/credentials/{cid}/transitions", data={
        "csrf_token": token, "trigger": "hold", "comment": "Waiting for the budget", "back": "confirm"})
    assert org.views.get(cid, by=SYSTEM).state == "on_hold"
    page = app_client.get(f"/credentials/{cid}").text
    assert 'name="trigger" value="resume"' in page
    app_client.post(f"/credentials/{cid}/transitions", data={
        "csrf_token": token, "trigger": "resume", "version": version_of(page)})
    assert org.views.get(cid, by=SYSTEM).state == "feasibility"


def test_a_refused_move_lists_what_is_missing_each_linked_to_where_it_is_done(org: Services,
                                                                            app_client: TestClient) -> None:
    cid = org.credentials.create(definition="microcredential", title="Supply-chain analytics",
                                 by=as_person(org, "pm.business"), org_unit_id=org.people.unit_id("business"))
    token = sign_in(app_client, "pm.business")
    refused = app_client.post(f"/credentials/{cid}/transitions", data={
        "csrf_token": token, "trigger": "submit_for_feasibility"})
    assert refused.status_code == 409
    assert "“Submit for feasibility” cannot happen yet from Ideation:" in refused.text
    alert = refused.text[refused.text.index('id="form-error"'):]
    alert = alert[:alert.index("</div>")]
    assert f'<a href="/credentials/{cid}#item-{cid}-labour_market_research">' in alert  # to the checklist item
    assert f'<a href="/credentials/{cid}#information">Need addressed (purpose) is empty</a>' in alert  # to the field
    assert f'id="item-{cid}-labour_market_research"' in refused.text  # and the anchor is on the page


def test_approving_a_sunset_is_confirmed_with_a_reason(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    token = sign_in(app_client, "dean.business")
    admin = as_person(org, "admin")  # moved on to a review by an administrator (the way there is tested elsewhere)
    for trigger in ("approve_feasibility", "complete_design", "sign_off", "launch", "start_review"):
        org.credentials.override(credential_id=cid, trigger=trigger, comment="to the review, for this test", by=admin)
    tick(org, cid)
    page = app_client.get(f"/credentials/{cid}/gates/sunset_approval")
    assert "required for every decision: approving this is hard to undo" in page.text
    no_reason = app_client.post(f"/credentials/{cid}/gates/sunset_approval/decision", data={
        "csrf_token": token, "verdict": "approve", "acting_as": "dean|", "comment": ""})
    assert no_reason.status_code == 422 and 'id="comment-error"' in no_reason.text
    asked = app_client.post(f"/credentials/{cid}/gates/sunset_approval/decision", data={
        "csrf_token": token, "verdict": "approve", "acting_as": "dean|", "comment": "Folded into the diploma"})
    assert asked.status_code == 200 and "Please confirm." in asked.text
    assert org.views.get(cid, by=SYSTEM).state == "review"
    done = app_client.post(f"/credentials/{cid}/gates/sunset_approval/decision", data={
        "csrf_token": token, "verdict": "approve", "acting_as": "dean|", "comment": "Folded into the diploma",
        "confirmed": "yes"}, follow_redirects=False)
    assert done.status_code == 303 and org.views.get(cid, by=SYSTEM).state == "sunset"
    assert "Folded into the diploma" in [e.comment for e in org.views.history(cid, by=SYSTEM)]


def test_a_confirmation_does_not_carry_a_decision_past_a_change_the_dean_did_not_see(
        org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    token = sign_in(app_client, "dean.business")
    seen = version_of(app_client.get(f"/credentials/{cid}/gates/{GATE}").text)
    org.credentials.update(credential_id=cid, changes={"purpose": "Something else entirely"}, by=SYSTEM)
    stale = app_client.post(f"/credentials/{cid}/gates/{GATE}/decision", data={
        "csrf_token": token, "verdict": "reject", "acting_as": "dean|", "comment": "No", "version": seen})
    assert stale.status_code == 409 and "changed since you opened this page" in stale.text
    assert ">No</textarea>" in stale.text  # what was typed is kept
    assert "Please confirm." not in stale.text
    assert [e for e in org.views.history(cid, by=SYSTEM) if e.kind == "decision"] == []


def test_going_back_from_a_confirmation_keeps_what_was_typed(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    token = sign_in(app_client, "dean.business")
    back = app_client.post(f"/credentials/{cid}/gates/{GATE}/decision", data={
        "csrf_token": token, "verdict": "reject", "acting_as": "dean|", "comment": "Not this year",
        "confirmed": "edit"})
    assert back.status_code == 200 and ">Not this year</textarea>" in back.text and "Please confirm." not in back.text
    assert 'value="reject" aria-describedby="then-reject" checked' in back.text


def test_an_approver_may_change_an_approval_into_a_request_for_changes(org: Services,
                                                                       app_client: TestClient) -> None:
    cid = at_build(org, credit_bearing=True)
    org.credentials.decide(credential_id=cid, gate="governance_signoff", verdict="approve", by=as_person(org, "qa"))
    org.credentials.decide(credential_id=cid, gate="governance_signoff", verdict="approve",
                           by=as_person(org, "council.a"))
    token = sign_in(app_client, "council.a")
    page = app_client.get(f"/credentials/{cid}/gates/governance_signoff").text
    assert "You have approved this gate" in text_of(page) and 'value="approve"' not in page
    done = app_client.post(f"/credentials/{cid}/gates/governance_signoff/decision", data={
        "csrf_token": token, "verdict": "request_changes", "acting_as": "academic_governance|",
        "comment": "The rubric needs work after all"}, follow_redirects=False)
    assert done.status_code == 303
    assert "Council A asked for changes" in text_of(app_client.get(done.headers["location"]).text)


def test_approving_after_your_own_rejection_says_it_moves_on(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    org.credentials.decide(credential_id=cid, gate=GATE, verdict="reject", comment="Not yet",
                           by=as_person(org, "dean.business"))
    sign_in(app_client, "dean.business")
    text = text_of(app_client.get(f"/credentials/{cid}/gates/{GATE}").text)
    assert "Your approval completes Feasibility approval: the credential moves to Design." in text


def test_the_proposer_is_not_offered_to_approve_their_own_proposal(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org, created_by="dean.business")
    sign_in(app_client, "dean.business")
    page = app_client.get(f"/credentials/{cid}/gates/{GATE}").text
    assert 'value="approve"' not in page
    assert "You cannot approve: dean.business proposed it" in text_of(page)
    assert 'value="request_changes"' in page


def test_deciding_on_a_gate_that_closed_meanwhile_says_so_and_shows_what_was_written(
        org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    token = sign_in(app_client, "dean.business")
    org.credentials.fire(credential_id=cid, trigger="hold", comment="Budget freeze", by=as_person(org, "pm.business"))
    late = app_client.post(f"/credentials/{cid}/gates/{GATE}/decision", data={
        "csrf_token": token, "verdict": "request_changes", "acting_as": "dean|", "comment": "More letters please"},
        headers={"Accept": "text/html"})
    assert late.status_code == 409 and "This gate has closed" in late.text and "More letters please" in late.text


def test_a_comment_posted_as_the_gate_closes_lands_on_the_credential_page(org: Services,
                                                                          app_client: TestClient) -> None:
    cid = at_feasibility(org)
    token = sign_in(app_client, "pm.business")
    empty = app_client.post(f"/credentials/{cid}/comments", data={
        "csrf_token": token, "gate": GATE, "text": " ", "back": "gate"})
    assert empty.status_code == 422 and 'id="talk-error"' in empty.text
    org.credentials.decide(credential_id=cid, gate=GATE, verdict="approve", by=as_person(org, "dean.business"))
    posted = app_client.post(f"/credentials/{cid}/comments", data={
        "csrf_token": token, "gate": GATE, "text": "Thanks!", "back": "gate"}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"].startswith(f"/credentials/{cid}?done=comment")
