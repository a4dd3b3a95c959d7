"""Pages, emails, history and API errors speak people's words: the titles a definition gives, never its keys.

The demo college is loaded and walked on (every state reached, timers come due, digests go out); then every page
each demo person can open, every email in the outbox and the API's refusals are searched for raw keys in the text
people read. Keys may stay where nobody reads them: URLs, form names and values, ids, and the API's
machine-readable fields (``trigger``, ``state``, ``field``, ``unmet[].kind/subject``)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import select

from tests.conftest import DEFINITIONS
from tests.evidence import PDF, PDF_V2
from tests.web.pages import form_token
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.demo.college import ORGANISATION, PASSWORD, seed
from workflow.services.access import Caller
from workflow.store.tables import EVIDENCE, OUTBOX
from workflow.web.app import create_app

# Keys without an underscore that are still not words a person writes (abbreviations): searched for.
NOT_WORDS = {"sme", "hr", "plar"}
# Keys without an underscore that are ordinary words, the same word their title starts with or says — "sunset"
# (title "Sunset (teach-out)"), "dean" ("Dean (leadership champion)"), "renew" ("Renew after review"), "it" —
# would match the titles themselves and everyday text (and "dean" every dean's user name): not searched for.
# Every such key must be listed here, so that a new key is classified on purpose.
PLAIN_WORDS = {
    "microcredential", "dean", "registrar", "marketing", "it", "finance", "ideation", "feasibility", "design",
    "build", "launch", "delivery", "review", "sunset", "retired", "withdrawn", "renewal", "renew", "expire",
    "retire", "hold", "resume", "withdraw", "title", "provider", "description", "purpose", "credits",
    "prerequisites", "stackability", "requires", "credential",
    # the university's credit-bearing lifecycle and the learner's enrolment
    "university", "enrolment", "proposal", "senate", "offer", "offered", "close", "closing", "closed", "start",
    "registered", "feedback", "awarding", "issue", "completed", "expired", "instructor",
}
# What the engine itself names by key: verdicts and approval policies.
ENGINE_KEYS = {"request_changes", "n_of"}


def definition_keys() -> tuple[set[str], set[str]]:
    """(keys to search for, plain-word keys left out) from every definition in definitions/."""
    found: set[str] = set()
    for path in sorted(Path(DEFINITIONS).glob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        found.add(spec["name"])
        for section in ("roles", "fields", "states", "gates"):
            found.update(spec.get(section) or {})
        for transition in spec["transitions"]:
            found.add(transition["trigger"])
            found.update(item["key"] for item in transition.get("checklist") or ())
        for gate in (spec.get("gates") or {}).values():
            found.update(item["key"] for item in gate.get("checklist") or ())
        found.update(timer["key"] for timer in spec.get("timers") or ())
    plain = {key for key in found if "_" not in key and key not in NOT_WORDS}
    return (found - plain) | ENGINE_KEYS, plain


KEYS, PLAIN = definition_keys()
ALTERNATIVES = "|".join(sorted(map(re.escape, KEYS), key=len, reverse=True))
RAW = re.compile(r"(?<![\w.@/#-])(" + ALTERNATIVES + r")(?![\w-]|\.\w)")  # not in user names or addresses
# Not read as prose: scripts, styles, and code (the Mermaid source of a definition on the administrators' page,
# which is the definition's own language).
HIDDEN = {"script", "style", "pre", "code"}
READ_ATTRIBUTES = {"aria-label", "title", "alt", "placeholder", "aria-description"}


class _Visible(HTMLParser):
    """The text of a page that people read: its text and the attributes read out (not hrefs, names, values, ids)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self._hidden += 1
        self.parts += [value for name, value in attrs if name in READ_ATTRIBUTES and value]

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible(page: str) -> str:
    parser = _Visible()
    parser.feed(page)
    return " ".join(parser.parts)


def raw_keys(text: str) -> list[str]:
    """Each raw key in ``text``, with a little of what surrounds it."""
    return [f"{m.group(1)!r} in …{text[max(0, m.start() - 60):m.end() + 40]!r}…" for m in RAW.finditer(text)]


def test_every_key_of_the_definitions_is_searched_for_or_listed_as_a_plain_word() -> None:
    assert PLAIN <= PLAIN_WORDS, f"classify these keys in NOT_WORDS or PLAIN_WORDS: {sorted(PLAIN - PLAIN_WORDS)}"
    assert {"submit_for_feasibility", "qa_office", "initiative_lead", "feasibility_approval", "on_hold", "sme",
            "one_pager", "content_review_due", "notional_hours", "request_changes"} <= KEYS
    assert raw_keys("“Submit for feasibility” cannot happen yet from Ideation") == []
    assert raw_keys("'submit_for_feasibility' is not allowed from 'ideation'") != []
    assert raw_keys("qa_office: approval needed") != [] and raw_keys("Checklist: sme done") != []
    link = '<a href="/x/qa_office" id="qa_office" aria-label="QA office">qa office</a>'
    assert visible(link) == "QA office qa office"


# -- the demo college, walked into every state ---------------------------------------------------------------

GATES_OF = {"feasibility": ("feasibility_approval",), "build": ("governance_signoff",), "launch": ("launch_approval",),
            "review": ("renewal", "sunset_approval")}
USERS = [user["username"] for user in yaml.safe_load(ORGANISATION.read_text())["users"]]
ADMIN_COMMENT = "moved on to show every state"
ROUTES = {  # overrides by an administrator from Ideation to each state the demo does not reach by itself
    "launch": ["submit_for_feasibility", "approve_feasibility", "complete_design", "sign_off"],
    "review": ["submit_for_feasibility", "approve_feasibility", "complete_design", "sign_off", "launch",
               "start_review"],
    "sunset": ["submit_for_feasibility", "approve_feasibility", "complete_design", "sign_off", "launch",
               "start_review", "sunset"],
    "retired": ["submit_for_feasibility", "approve_feasibility", "complete_design", "sign_off", "launch",
                "start_review", "sunset", "retire"],
    "on_hold": ["submit_for_feasibility", "hold"],
    "withdrawn": ["withdraw"],
}


@pytest.fixture
def college(services: Services, clock: ManualClock) -> Iterator[tuple[Services, TestClient]]:
    """The demo college, its credentials in every state, timers come due and digests sent."""
    created = seed(services)
    admin = services.access.caller_by_name("admin")
    pm = services.access.caller_by_name("pm.garcia")
    for state, triggers in ROUTES.items():
        cid = services.credentials.create(definition="microcredential", title=f"Drone mapping {len(state)}", by=pm,
                                          org_unit_id=services.people.unit_id("business"),
                                          data={"purpose": "Employers ask for it"})
        for trigger in triggers:
            services.credentials.override(credential_id=cid, trigger=trigger, comment=ADMIN_COMMENT, by=admin)
    delivering = created[3]  # the demo's credential in delivery: a hard expiry ahead, for its warnings
    services.credentials.update(credential_id=delivering, changes={"expires_on": (clock.now() + timedelta(
        days=400)).date().isoformat()}, by=services.access.caller_by_name("pm.chen"))
    services.credentials.comment(credential_id=created[1], gate="feasibility_approval", text="Is there demand?",
                                 by=services.access.caller_by_name("dean.okafor"))
    for target, content in (("initial_budget", PDF), ("proposal", PDF_V2)):  # evidence on the feasibility gate
        with services.evidence.receive() as incoming:
            incoming.write(content)
            services.evidence.attach_file(credential_id=created[1], target=target, filename=f"{target}.pdf",
                                          incoming=incoming, by=Caller.system("finance"))
    services.evidence.attach_link(credential_id=created[1], target="marketing_plan_costed",
                                  link="https://drive.example/marketing", by=Caller.system("marketing"))
    services.credentials.decide(credential_id=created[4], gate="governance_signoff", verdict="request_changes",
                                comment="Add a rubric", by=services.access.caller_by_name("qa.martin"))
    planned = services.credentials.create(definition="microcredential", title="Cold-chain logistics", by=pm,
                                          org_unit_id=services.people.unit_id("business"))
    services.plans.set_target(credential_id=planned, target=(clock.now() + timedelta(days=300)).date(),
                              by=Caller.system("planner"))
    services.plans.move_phase(credential_id=planned, state="design", on=(clock.now() + timedelta(days=170)).date(),
                              reason="The council meets later", by=Caller.system("planner"))
    for days in (15, 15, 40, 60, 60, 60, 60):  # reminders, escalations, warnings, the content review, plan alerts
        clock.advance(timedelta(days=days))
        services.timers.run_due()
        services.plans.run_alerts()
        for _ in range(24):
            clock.advance(timedelta(hours=1))
            services.digests.run()
    app = create_app(services.settings, services=services)
    with TestClient(app, base_url="https://testserver") as client:
        yield services, client


def sign_in(client: TestClient, username: str) -> str:
    client.cookies.clear()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    done = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1),
                                       "next": "/"}, follow_redirects=False)
    assert done.status_code == 303, done.text
    return form_token(client.get("/").text)


def api_client(services: Services, client: TestClient, username: str) -> TestClient:
    token = services.auth.create_token(services.people.user_id(username), "words").token
    return TestClient(client.app, base_url="https://testserver", headers={"Authorization": f"Bearer {token}"})


def pages_seen(services: Services, client: TestClient) -> Iterator[tuple[str, str]]:
    """(who and which page, its HTML) for every page the demo people can open."""
    ids, _ = services.views.search(by=Caller.system("tests"), limit=200)
    states = {c.state for c in ids}
    assert states >= {"ideation", "feasibility", "design", "build", "launch", "delivery", "review", "sunset",
                      "retired", "on_hold", "withdrawn"}, states
    for username in USERS:
        sign_in(client, username)
        paths = ["/", "/portfolio", "/tasks", "/approvals", "/timeline", "/analytics", "/pathways", "/account",
                 "/credentials/new", "/account/activity", "/account/second-factor"]
        paths += [f"/credentials/{c.id}{page}" for c in ids for page in ("", "/team", "/edit", "/summary")]
        paths += [f"/credentials/{c.id}/gates/{gate}" for c in ids for gate in GATES_OF.get(c.state, ())]
        paths += [f"/credentials/{c.id}/moves/{move}" for c in ids for move in ("hold", "withdraw", "resume")]
        paths += [f"/credentials/{e.credential_id}/evidence/{e.target}" for e in evidence_of(services, ids)]
        if username == "admin":
            paths += ["/admin", "/admin/people", "/admin/outbox", "/admin/sign-ins"]
            paths += [f"/admin/definitions/{name}/migrate" for name in services.definitions.names()]
        for path in paths:
            response = client.get(path)
            if response.status_code in (403, 404) and path.startswith("/credentials/"):
                continue  # not theirs to see or start, or a move or an edit not theirs to make / not open
            assert response.status_code == 200, (username, path, response.status_code)
            yield f"{username} {path}", response.text


def evidence_of(services: Services, credentials: list[Any]) -> list[Any]:
    """Each item with evidence attached, once (its credential and target)."""
    with services.database.begin_read() as conn:
        rows = conn.execute(select(EVIDENCE.c.credential_id, EVIDENCE.c.target).distinct()).all()
    assert rows, "no evidence attached in the college"
    return [r for r in rows if r.credential_id in {c.id for c in credentials}]


def test_pages_emails_history_and_api_errors_say_titles_never_keys(
        college: tuple[Services, TestClient]) -> None:
    services, client = college
    found: list[str] = []
    seen = 0
    for where, page in pages_seen(services, client):
        seen += 1
        found += [f"{where}: {hit}" for hit in raw_keys(visible(page))]
    assert seen > 100

    # A refused move and refused input on the credential page.
    ideation = next(c for c in services.views.search(by=Caller.system("tests"), state="ideation")[0]
                    if c.title == "Early-childhood outdoor learning")
    token = sign_in(client, "pm.chen")
    refused = client.post(f"/credentials/{ideation.id}/transitions",
                          data={"trigger": "submit_for_feasibility", "csrf_token": token})
    assert refused.status_code == 409 and "cannot happen yet from Ideation" in refused.text
    bad = client.post(f"/credentials/{ideation.id}/data", data={"field.notional_hours": "lots", "csrf_token": token})
    assert bad.status_code == 422 and "Notional learning hours" in bad.text
    started = client.post("/credentials/new", data={"csrf_token": token, "definition": "microcredential",
                                                     "org_unit": "health", "field.notional_hours": "lots"})
    assert started.status_code == 422 and "Notional learning hours" in started.text
    edited = client.post(f"/credentials/{ideation.id}/edit", data={"csrf_token": token, "field.title": "",
                                                                   "field.credits": "many"})
    assert edited.status_code == 422 and "Title is required." in edited.text
    team = client.post(f"/credentials/{ideation.id}/team", data={"csrf_token": token, "person": "reg.lopez",
                                                                 "role": "dean"})
    assert team.status_code == 403 and "Dean (leadership champion) decides gates" in team.text
    for where, response in (("refused move", refused), ("bad input", bad), ("refused start", started),
                            ("refused edit", edited), ("refused team member", team)):
        found += [f"{where}: {hit}" for hit in raw_keys(visible(response.text))]

    # Every email the demo produced: item assignments, decisions needed and made, moves, reminders, escalations,
    # warnings and digests; and the account emails (an invitation, a password reset link).
    admin = services.access.caller_by_name("admin")
    invited = services.people.create_user(username="new.person", display_name="New Person",
                                          email="new.person@college.example", by=admin)
    services.accounts.send_link(user_id=invited, purpose="invitation", by=admin)
    services.accounts.send_link(user_id=services.people.user_id("pm.chen"), purpose="reset", by=admin)
    with services.database.begin_read() as conn:
        mails = list(conn.execute(select(OUTBOX)))
    kinds = {row.kind for row in mails}
    assert kinds >= {"item_assigned", "decision_needed", "decided", "state_changed", "reminder", "escalation",
                     "warning", "digest", "account_invitation", "password_reset",
                     "plan_slipped"}, kinds
    link = re.search(r"/password/\S+", next(r.text_body for r in mails if r.kind == "password_reset"))
    assert link is not None
    client.cookies.clear()
    chosen = client.get(link.group(0))
    assert chosen.status_code == 200 and "Choose your password" in chosen.text
    found += [f"password link page: {hit}" for hit in raw_keys(visible(chosen.text))]
    for row in mails:
        text = f"{row.subject}\n{row.text_body}\n{visible(row.html_body)}"
        found += [f"email {row.kind} to {row.recipient}: {hit}" for hit in raw_keys(text)]

    # Calendar feeds: what each event says (its summary and description).
    tasks = 0
    for username in ("dean.okafor", "pm.garcia", "reg.lopez", "qa.martin", "mkt.kim"):
        feed = urlsplit(api_client(services, client, username).post("/api/v1/me/calendar").json()["url"]).path
        for event in Calendar.from_ical(client.get(feed).text).walk("VEVENT"):
            tasks += str(event.get("uid")).startswith("task-")
            said = f"{event.get('summary')}\n{event.get('description', '')}"
            found += [f"calendar of {username}: {hit}" for hit in raw_keys(said)]
    assert tasks > 0

    # The API: refusals and bad input say words in `detail`, `missing` and `unmet[].message`; history summaries.
    api, admin_api = api_client(services, client, "pm.chen"), api_client(services, client, "admin")
    answers = [
        api.post(f"/api/v1/credentials/{ideation.id}/transitions", json={"trigger": "submit_for_feasibility"}),
        api.post(f"/api/v1/credentials/{ideation.id}/transitions", json={"trigger": "renew"}),
        api.patch(f"/api/v1/credentials/{ideation.id}", json={"version": 1, "data": {"notional_hours": "lots"}}),
        api.post(f"/api/v1/credentials/{ideation.id}/gates/feasibility_approval/decisions",
                 json={"decision": "approve"}),
        api.post(f"/api/v1/credentials/{ideation.id}/checklist/industry_skills_identified", json={"done": True}),
    ]
    answers += [
        api.put(f"/api/v1/credentials/{ideation.id}/plan/target", json={"target": "2020-01-01"}),
        api.put(f"/api/v1/credentials/{ideation.id}/plan/phases/delivery", json={"on": "2040-01-01", "reason": "x"}),
    ]
    assert [a.status_code for a in answers] == [409, 409, 422, 409, 403, 422, 422], [a.text for a in answers]
    first = answers[0].json()
    assert first["trigger"] == "submit_for_feasibility" and first["state"] == "ideation"  # keys for programs
    assert {u["kind"] for u in first["unmet"]} == {"checklist"}
    for answer in answers:
        body = answer.json()
        said = [body["detail"], *body.get("missing", []), *(u["message"] for u in body.get("unmet", []))]
        found += [f"API {answer.request.url.path}: {hit}" for text in said for hit in raw_keys(text)]
    for credential in services.views.search(by=Caller.system("tests"), limit=200)[0]:
        events = admin_api.get(f"/api/v1/credentials/{credential.id}/events").json()
        assert all(event["summary"] for event in events)
        found += [f"history of #{credential.id}: {hit}" for event in events for hit in raw_keys(event["summary"])]

    assert found == [], f"{len(found)} raw keys where people read:\n" + "\n".join(dict.fromkeys(found))


def test_one_count_of_what_is_missing_on_the_credential_page(college: tuple[Services, TestClient]) -> None:
    services, client = college
    feasibility = next(c for c in services.views.search(by=Caller.system("tests"), state="feasibility")[0]
                       if c.title == "Supply-chain analytics")
    detail = services.views.get(feasibility.id, by=Caller.system("tests"))
    lacking = detail.missing["approve_feasibility"]
    assert lacking.total - lacking.done == len(lacking.items)
    assert lacking.count == len(lacking.items) + len(lacking.fields) + len(lacking.approvals)
    sign_in(client, "dean.okafor")
    text = re.sub(r" ([.,:])", r"\1", " ".join(html.unescape(visible(client.get(f"/credentials/{feasibility.id}")
                                                                       .text)).split()))
    assert f"Checklist: {lacking.done} of {lacking.total} done. Still missing: {lacking.summary()}." in text
    assert lacking.summary().startswith(f"{len(lacking.items)} checklist item")
    assert lacking.summary().endswith("the approval of the Dean (leadership champion)")


