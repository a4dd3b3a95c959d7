"""The pages for deans, project managers and departments, over HTTP (the browser tests drive the same pages)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from fastapi.testclient import TestClient

from tests.steps import SYSTEM, at_build, at_feasibility
from tests.web.pages import form_token, sign_in
from workflow.context import Services
from workflow.services.access import Caller

HTML = {"Accept": "text/html"}


def test_pages_ask_for_a_sign_in_and_show_who_is_signed_in(app_client: TestClient) -> None:
    for path in ("/", "/approvals", "/tasks", "/portfolio", "/credentials/1", "/admin"):
        response = app_client.get(path, headers=HTML, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/login?next={path}", path
    sign_in(app_client, "dean.business")
    home = app_client.get("/")
    assert "Signed in as" in home.text and "Dean of Business" in home.text
    assert 'href="/admin"' not in home.text  # not an administrator


def test_a_dean_approves_the_feasibility_gate_from_the_page(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    sign_in(app_client, "dean.business")
    inbox = app_client.get("/approvals")
    row = inbox.text.split('data-testid="approval"')[1]
    assert f'href="/credentials/{cid}/gates/feasibility_approval">Supply-chain analytics</a>' in row
    assert "<td>Feasibility approval</td>" in row and '<td data-testid="changed">new</td>' in row
    assert "<title>Approvals (1)" in inbox.text
    page = app_client.get(f"/credentials/{cid}")
    assert page.status_code == 200 and 'aria-current="step" class="current"' in page.text
    assert f'href="/credentials/{cid}/gates/feasibility_approval">Review and decide' in page.text
    sheet = app_client.get(f"/credentials/{cid}/gates/feasibility_approval")
    token = form_token(sheet.text)
    version = re.search(r'name="version" value="(\d+)"', sheet.text)
    assert version is not None
    done = app_client.post(f"/credentials/{cid}/gates/feasibility_approval/decision", data={
        "csrf_token": token, "verdict": "approve", "acting_as": "dean|",
        "comment": "Strong employer demand", "version": version.group(1)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith(f"/credentials/{cid}?done=moved")
    after = app_client.get(done.headers["location"])
    assert "The credential moved on." in after.text and ">Design<" in after.text
    assert "Strong employer demand" in after.text  # the decision comment is in the history
    assert org.views.get(cid, by=SYSTEM).state == "design"
    assert "Nothing is waiting for your decision." in app_client.get("/approvals").text


def test_a_refused_decision_keeps_what_was_typed_and_says_why(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    token = sign_in(app_client, "dean.business")
    decide = f"/credentials/{cid}/gates/feasibility_approval/decision"
    stale = app_client.post(decide, data={"csrf_token": token, "verdict": "approve", "acting_as": "dean|",
                                          "comment": "Fine by me", "version": "1"})
    assert stale.status_code == 409 and 'role="alert"' in stale.text and "Fine by me" in stale.text
    no_comment = app_client.post(decide, data={"csrf_token": token, "verdict": "reject", "acting_as": "dean|",
                                               "comment": ""})
    assert no_comment.status_code == 422 and 'id="comment-error"' in no_comment.text
    forged = app_client.post(decide, data={"csrf_token": "forged", "verdict": "approve", "acting_as": "dean|"},
                             headers=HTML)
    assert forged.status_code == 403 and "this form has expired" in forged.text
    assert org.views.get(cid, by=SYSTEM).state == "feasibility"


def test_the_inbox_says_what_changed_since_the_last_look(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    sign_in(app_client, "dean.business")
    app_client.get(f"/credentials/{cid}")
    assert '<td data-testid="changed">unchanged</td>' in app_client.get("/approvals").text
    org.credentials.update(credential_id=cid, changes={"description": "Now with a capstone"}, by=SYSTEM)
    org.credentials.comment(credential_id=cid, gate="feasibility_approval", text="Budget confirmed", by=SYSTEM)
    inbox = app_client.get("/approvals").text
    assert '<td data-testid="changed">2 changes<br><span class="muted">1 comment, 1 information</span>' in inbox
    page = app_client.get(f"/credentials/{cid}").text
    assert "Budget confirmed" in page and "Now with a capstone" in page and "<del>" in page


def test_a_registrar_ticks_an_item_from_my_tasks(org: Services, app_client: TestClient) -> None:
    cid = at_build(org, leave_open=("transcript_entry_planned",))
    token = sign_in(app_client, "registrar")
    tasks = app_client.get("/tasks").text
    assert "Supply-chain analytics" in tasks and "Registrar&#39;s office" in tasks
    done = app_client.post(f"/credentials/{cid}/items/transcript_entry_planned", data={
        "csrf_token": token, "done": "yes", "note": "Transcript codes set", "back": "/tasks"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/tasks?done=item")
    assert "Nothing to do" in app_client.get("/tasks").text
    item = next(i for i in org.views.get(cid, by=SYSTEM).checklist if i.key == "transcript_entry_planned")
    assert item.done and item.note == "Transcript codes set" and item.done_by == "registrar"


def test_the_portfolio_filters_and_shows_each_milestone(org: Services, app_client: TestClient) -> None:
    late = at_feasibility(org)
    org.clock.advance(timedelta(days=50))  # type: ignore[attr-defined]
    fresh = org.credentials.create(definition="microcredential", title="Cold-chain basics", by=SYSTEM,
                                   org_unit_id=org.people.unit_id("logistics"))
    sign_in(app_client, "pm.business")
    everything = app_client.get("/portfolio").text
    assert everything.count('data-testid="portfolio-row"') == 2 and "Cold-chain basics" in everything
    overdue = app_client.get("/portfolio", params={"overdue": "yes"}).text
    assert f'data-credential="{late}"' in overdue and f'data-credential="{fresh}"' not in overdue
    assert "5 days late" in overdue  # 50 days into a 45-day feasibility phase
    by_phase = app_client.get("/portfolio", params={"phase": "Ideation (sunrise)"}).text
    assert f'data-credential="{fresh}"' in by_phase and f'data-credential="{late}"' not in by_phase
    assert "<svg" in everything and "Milestones of Supply-chain analytics" in everything
    bad = app_client.get("/portfolio", params={"within": "-3"}, headers=HTML)
    assert bad.status_code == 422 and "<h1>Invalid input</h1>" in bad.text


def test_someone_from_another_faculty_cannot_reach_the_page(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    token = sign_in(app_client, "dean.health")
    page = app_client.get(f"/credentials/{cid}", headers=HTML)
    assert page.status_code == 404 and "Supply-chain analytics" not in page.text
    posted = app_client.post(f"/credentials/{cid}/gates/feasibility_approval/decision", data={
        "csrf_token": token, "verdict": "approve", "acting_as": "dean|"}, headers=HTML)
    assert posted.status_code == 404
    assert "Supply-chain analytics" not in app_client.get("/portfolio").text
    assert app_client.get("/admin", headers=HTML).status_code == 403


def test_a_dean_delegates_and_the_delegate_decides_for_them(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    token = sign_in(app_client, "dean.business")
    today = org.clock.now().date().isoformat()
    set_ = app_client.post("/delegations", data={"csrf_token": token, "to": "acting.dean", "role": "dean",
                                                  "starts_on": today, "ends_on": today}, follow_redirects=False)
    assert set_.status_code == 303
    unknown = app_client.post("/delegations", data={"csrf_token": token, "to": "nobody.here", "role": "",
                                                     "starts_on": today, "ends_on": today})
    assert unknown.status_code == 404 and 'value="nobody.here"' in unknown.text
    sign_in(app_client, "acting.dean")
    inbox = app_client.get("/approvals").text
    assert "acting for dean.business" in inbox and "Supply-chain analytics" in inbox
    assert ("<td>Dean (leadership champion)<br><span class=\"muted\">for Dean of Business, delegated</span></td>"
            in inbox)
    page = app_client.get(f"/credentials/{cid}/gates/feasibility_approval").text
    assert "You decide as Dean (leadership champion), for dean.business." in page


def test_administrators_see_definitions_people_and_the_outbox(org: Services, app_client: TestClient) -> None:
    at_feasibility(org)
    sign_in(app_client, "admin")
    definitions = app_client.get("/admin").text
    assert "Every file in the definitions folder was valid when it was last loaded." in definitions
    assert "Micro-credential lifecycle" in definitions
    assert "Dean of Business" in app_client.get("/admin/people").text
    outbox = app_client.get("/admin/outbox").text
    assert "Pending:" in outbox and 'data-testid="outbox-row"' in outbox


def test_text_from_people_is_shown_as_text_never_as_markup(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    script = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    org.credentials.update(credential_id=cid, changes={"description": script}, by=SYSTEM)
    org.credentials.comment(credential_id=cid, gate="feasibility_approval", text=script,
                            by=Caller.system("dean.business"))
    sign_in(app_client, "dean.business")
    page = app_client.get(f"/credentials/{cid}").text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_signing_out_ends_the_session(app_client: TestClient) -> None:
    token = sign_in(app_client, "pm.business")
    out = app_client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert app_client.get("/portfolio", headers=HTML, follow_redirects=False).status_code == 303


def test_a_project_manager_edits_the_summary_and_sees_each_change(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    token = sign_in(app_client, "pm.business")
    page = app_client.get(f"/credentials/{cid}").text
    assert "Edit the information" in page
    form = {"csrf_token": token, "field.notional_hours": "forty", "field.learning_outcomes": "Plan routes\nRead data",
            "field.credit_bearing": "yes", "comment": "From the design workshop"}
    refused = app_client.post(f"/credentials/{cid}/data", data=form)
    assert refused.status_code == 422 and "&#39;forty&#39; is not a whole number" in refused.text
    assert "Plan routes\nRead data</textarea>" in refused.text  # what was typed is still there
    saved = app_client.post(f"/credentials/{cid}/data", data=form | {"field.notional_hours": "40"},
                            follow_redirects=False)
    assert saved.status_code == 303
    data = org.views.get(cid, by=SYSTEM).data
    assert (data["notional_hours"], data["learning_outcomes"], data["credit_bearing"]) == (
        40, ["Plan routes", "Read data"], True)
    changes = app_client.get(f"/credentials/{cid}").text
    assert "<ins>40</ins>" in changes and "From the design workshop" in changes
    sign_in(app_client, "dean.business")
    assert "Edit the information" not in app_client.get(f"/credentials/{cid}").text  # deans decide, not edit


def test_the_portfolio_exports_a_spreadsheet_that_runs_no_formula(org: Services, app_client: TestClient) -> None:
    cid = at_feasibility(org)
    org.credentials.update(credential_id=cid, changes={"title": '=HYPERLINK("http://evil.example","Open")'},
                           by=SYSTEM)
    org.credentials.create(definition="microcredential", title="@SUM(A1:A9)", by=SYSTEM,
                           org_unit_id=org.people.unit_id("logistics"))
    org.credentials.create(definition="microcredential", title="Health only", by=SYSTEM,
                           org_unit_id=org.people.unit_id("health"))
    sign_in(app_client, "pm.business")
    assert 'href="/portfolio.csv"' in app_client.get("/portfolio").text
    export = app_client.get("/portfolio.csv")
    assert export.headers["content-type"].startswith("text/csv")
    assert export.headers["content-disposition"] == 'attachment; filename="portfolio.csv"'
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["id", "title", "faculty or department", "state"]
    titles = sorted(row[1] for row in rows[1:])
    assert titles == ["'=HYPERLINK(\"http://evil.example\",\"Open\")", "'@SUM(A1:A9)"]  # not "Health only"
    by_phase = app_client.get("/portfolio.csv", params={"phase": "Feasibility"}).content.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(by_phase)))) == 2
