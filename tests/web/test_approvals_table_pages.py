"""The approvals table over HTTP: the page's sort links, filters, search, pages, the count in its title, delegated
rows marked, bad parameters answered with a note (page) or problem+json 422 (API), and a committee's agenda."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.inbox_population import committee_waiting, populate
from tests.web.pages import sign_in
from workflow.clock import ManualClock
from workflow.context import Services

PROBLEM = "application/problem+json"


@pytest.fixture
def population(org: Services, clock: ManualClock) -> dict[str, int]:
    return populate(org, clock)


def rows(html: str) -> list[str]:
    """The first word of each row's credential title, in the order shown."""
    return re.findall(r'data-testid="approval">\s*<th scope="row"><a href="[^"]+">(\w+)', html)


def test_the_page_sorts_filters_searches_and_pages(app_client: TestClient, population: dict[str, int]) -> None:
    sign_in(app_client, "acting.dean")
    first = app_client.get("/approvals").text
    assert "<title>Approvals (3) — Micro-credential workflow</title>" in first and "<h1>Approvals (3)</h1>" in first
    assert rows(first) == ["Alpha", "Beta", "Gamma"]
    assert '<th scope="col" aria-sort="ascending">\n      <a href="/approvals?direction=desc">Due' in first
    assert f'href="/credentials/{population["alpha"]}/gates/feasibility_approval">Alpha analytics</a>' in first
    assert f'href="/credentials/{population["alpha"]}">credential page' in first
    assert '<span class="late">6 days overdue</span>' in first and "in 4 days" in first
    assert "<td>10 of 10</td>" in first and "<td>7 of 10</td>" in first
    assert 'for Dean of Health, delegated' in first and 'for Dean of Business, delegated' in first
    assert "Showing 1–3 of 3, sorted by due." in first

    by_checklist = app_client.get("/approvals?sort=checklist").text
    assert rows(by_checklist) == ["Alpha", "Gamma", "Beta"]
    assert 'aria-sort="descending"' in by_checklist
    assert rows(app_client.get("/approvals?sort=title&direction=desc").text) == ["Gamma", "Beta", "Alpha"]

    overdue = app_client.get("/approvals?due=overdue").text
    assert rows(overdue) == ["Alpha", "Beta"] and "Showing 1–2 of 2 matching" in overdue
    assert "<title>Approvals (3)" in overdue  # the heading counts everything waiting
    assert rows(app_client.get("/approvals?search=LOGISTICS").text) == ["Gamma"]
    assert rows(app_client.get("/approvals?due=week&gate=feasibility_approval").text) == ["Gamma"]
    nothing = app_client.get("/approvals?search=nothing+like+it").text
    assert "No decision waiting for you matches these filters." in nothing and 'href="/approvals">Show all 3' in nothing

    paged = app_client.get("/approvals?per_page=2").text
    assert rows(paged) == ["Alpha", "Beta"] and "Showing 1–2 of 3" in paged
    assert 'href="/approvals?page=2&amp;per_page=2" rel="next">Next page' in paged and "Previous page" not in paged
    second = app_client.get("/approvals?per_page=2&page=2").text
    assert rows(second) == ["Gamma"] and "Showing 3–3 of 3" in second
    assert 'href="/approvals?per_page=2" rel="prev">Previous page' in second and "Next page" not in second


def test_bad_parameters_on_the_page_say_what_was_used(app_client: TestClient, population: dict[str, int]) -> None:
    sign_in(app_client, "acting.dean")
    for path, note in (("/approvals?sort=nope", "There is no column “nope” to sort by; sorted by due date instead."),
                       ("/approvals?page=0", "Pages start at 1; showing the first page."),
                       ("/approvals?page=abc", "Pages start at 1; showing the first page."),
                       ("/approvals?per_page=2&page=9", "There is no page 9; showing page 2, the last."),
                       ("/approvals?search=" + "x" * 1000, "Search looks for at most 200 characters"),
                       ("/approvals?gate=nonsense", "Choose a gate from the list; showing all gates."),
                       ("/approvals?faculty=99999", "Choose a faculty from the list; showing all faculties."),
                       ("/approvals?due=someday", "Due status must be overdue, due this week or all")):
        answered = app_client.get(path)
        assert answered.status_code == 200 and note in answered.text, path
    assert rows(app_client.get("/approvals?per_page=2&page=9").text) == ["Gamma"]


def test_the_api_pages_with_a_total_and_refuses_bad_parameters(client_for: Callable[[str], TestClient],
                                                               population: dict[str, int]) -> None:
    api = client_for("acting.dean")
    body = api.get("/api/v1/me/approvals?sort=checklist&per_page=2").json()
    assert [i["title"] for i in body["items"]] == ["Alpha analytics", "Gamma logistics"]
    assert (body["total"], body["everything"], body["pages"], body["page"]) == (3, 3, 2, 1)
    item = body["items"][0]
    assert (item["gate_title"], item["role_title"], item["on_behalf_of_name"], item["faculty"]) == (
        "Feasibility approval", "Dean (leadership champion)", "Dean of Business", "Faculty of Business")
    overdue = api.get("/api/v1/me/approvals?due=overdue&search=a").json()
    assert [i["title"] for i in overdue["items"]] == ["Alpha analytics", "Beta data care"] and overdue["total"] == 2
    assert api.get("/api/v1/me/approvals?page=5").json()["items"] == []
    for query, field in (("sort=nope", "sort"), ("page=0", "page"), ("search=" + "x" * 1000, "search"),
                         ("due=soon", "due"), ("per_page=1000", "per_page"), ("gate=no_such_gate", "gate")):
        refused = api.get(f"/api/v1/me/approvals?{query}")
        assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM, query
        assert field in refused.text, query
    described = api.get("/openapi.json").json()["paths"]["/api/v1/me/approvals"]["get"]
    assert {"sort", "direction", "gate", "faculty", "due", "search", "page", "per_page"} <= {
        p["name"] for p in described["parameters"]}


def test_a_committee_member_sees_the_agenda_above_the_table(org: Services, app_client: TestClient,
                                                            clock: ManualClock) -> None:
    cid = committee_waiting(org, clock)
    sign_in(app_client, "council.d")
    page = app_client.get("/approvals").text
    agenda = page.split('data-testid="agenda"')[1].split("</section>")[0]
    assert "Agenda: Academic governance body (college council / quality council)" in agenda
    assert "Meeting of Tuesday 6 October 2026" in agenda  # the first Tuesday after today (3 September)
    assert f'href="/credentials/{cid}/gates/governance_signoff">Governance sign-off: Supply-chain analytics' in agenda
    assert page.index('data-testid="agenda"') < page.index('class="inbox"')
