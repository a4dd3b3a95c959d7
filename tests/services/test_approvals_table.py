"""The approvals table on a small known population: each sort, each filter, search, pages, bad parameters, the
decisions kept in step by the write path, and a committee's agenda by meeting."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.inbox_population import populate
from tests.organisation import as_person
from tests.steps import SYSTEM, at_build
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.errors import InvalidInput
from workflow.services.access import Caller
from workflow.services.approvals import ApprovalPage, ApprovalQuery


@pytest.fixture
def population(org: Services, clock: ManualClock) -> dict[str, int]:
    return populate(org, clock)


def table(org: Services, who: str = "acting.dean", **asked: object) -> ApprovalPage:
    return org.inbox.table.page(by=as_person(org, who), query=ApprovalQuery(**asked),  # type: ignore[arg-type]
                                now=org.clock.now())


def titles(found: ApprovalPage) -> list[str]:
    return [item["title"].split()[0] for item in found.items]


def test_each_column_sorts_both_ways(org: Services, population: dict[str, int]) -> None:
    acting = as_person(org, "acting.dean")
    org.looks.mark(acting.user_id or 0, population["beta"], org.views.get(population["beta"], by=SYSTEM).version)
    org.looks.mark(acting.user_id or 0, population["alpha"], org.views.get(population["alpha"], by=SYSTEM).version)
    org.credentials.comment(credential_id=population["alpha"], gate="feasibility_approval", text="Budget agreed",
                            by=SYSTEM)
    expected = {
        "due": ["Alpha", "Beta", "Gamma"],  # soonest (most overdue) first
        "title": ["Alpha", "Beta", "Gamma"],
        "faculty": ["Alpha", "Gamma", "Beta"],  # Faculty of Business, then of Health
        "waiting": ["Alpha", "Beta", "Gamma"],
        "checklist": ["Alpha", "Gamma", "Beta"],  # 10 of 10, 9 of 10, 7 of 10
        "changes": ["Gamma", "Alpha", "Beta"],  # new, 1 change, unchanged
        "gate": ["Alpha", "Beta", "Gamma"],  # one gate: by due date
        "role": ["Alpha", "Beta", "Gamma"],
    }
    reversed_ = {key: order[::-1] for key, order in expected.items() if key not in ("gate", "role")}
    reversed_["faculty"] = ["Beta", "Alpha", "Gamma"]  # within a faculty, still soonest due first
    for key, order in expected.items():
        assert titles(table(org, sort=key)) == order, key
    for key, order in reversed_.items():
        flipped = "asc" if key in ("checklist", "changes") else "desc"
        assert titles(table(org, sort=key, direction=flipped)) == order, key
    rows = {item["title"].split()[0]: item for item in table(org).items}
    assert (rows["Alpha"]["checklist_done"], rows["Alpha"]["checklist_total"]) == (10, 10)
    assert (rows["Beta"]["checklist_done"], rows["Beta"]["faculty"]) == (7, "Faculty of Health")
    assert rows["Alpha"]["changes"]["count"] == 1 and rows["Beta"]["changes"]["count"] == 0
    assert rows["Gamma"]["changes"] is None
    assert (rows["Beta"]["role_title"], rows["Beta"]["on_behalf_of"], rows["Beta"]["on_behalf_of_name"]) == (
        "Dean (leadership champion)", "dean.health", "Dean of Health")
    assert rows["Alpha"]["gate_title"] == "Feasibility approval"
    assert rows["Alpha"]["due_at"] == rows["Alpha"]["waiting_since"] + timedelta(days=14)


def test_filters_and_search(org: Services, population: dict[str, int]) -> None:
    assert titles(table(org, due="overdue")) == ["Alpha", "Beta"]
    assert titles(table(org, due="week")) == ["Gamma"]
    everything = table(org)
    health = next(fid for fid, name in everything.faculties if name == "Faculty of Health")
    assert titles(table(org, faculty=health)) == ["Beta"]
    assert titles(table(org, gate="feasibility_approval")) == ["Alpha", "Beta", "Gamma"]
    assert titles(table(org, search="DATA")) == ["Beta"]
    assert titles(table(org, search="a", due="overdue", faculty=health)) == ["Beta"]
    assert titles(table(org, search="%")) == []  # a wildcard is looked for as itself
    filtered = table(org, due="overdue")
    assert (filtered.total, filtered.everything) == (2, 3)
    assert titles(table(org, "dean.business")) == ["Alpha", "Gamma"]  # a dean sees their own faculty
    assert table(org, "dean.business").faculties == [(org.people.unit_id("business"), "Faculty of Business")]


def test_pages(org: Services, population: dict[str, int]) -> None:
    first = table(org, per_page=2)
    assert (titles(first), first.total, first.pages, first.first, first.last) == (["Alpha", "Beta"], 3, 2, 1, 2)
    second = table(org, per_page=2, page=2)
    assert (titles(second), second.first, second.last) == (["Gamma"], 3, 3)
    assert table(org, per_page=2, page=3).items == []


def test_bad_parameters_are_refused_by_name(org: Services, population: dict[str, int]) -> None:
    for asked, field in (({"sort": "nope"}, "sort"), ({"page": 0}, "page"), ({"search": "x" * 1000}, "search"),
                         ({"due": "soon"}, "due"), ({"per_page": 0}, "per_page"), ({"direction": "up"}, "direction"),
                         ({"gate": "no_such_gate"}, "gate"), ({"faculty": 999}, "faculty")):
        with pytest.raises(InvalidInput) as refused:
            table(org, **asked)
        assert refused.value.field == field


def test_the_write_path_keeps_the_table_in_step(org: Services, population: dict[str, int]) -> None:
    org.credentials.set_item(credential_id=population["beta"], item="initial_budget", done=True,
                             by=Caller.system("finance"))
    assert next(i for i in table(org).items if i["credential_id"] == population["beta"])["checklist_done"] == 8
    org.credentials.decide(credential_id=population["alpha"], gate="feasibility_approval", verdict="approve",
                           role="dean", by=as_person(org, "dean.business"))
    assert titles(table(org)) == ["Beta", "Gamma"]  # Alpha moved on to design
    assert titles(table(org, "dean.business")) == ["Gamma"]


def test_a_committee_sees_its_agenda_by_meeting(org: Services, clock: ManualClock) -> None:
    # Tuesday 1 September 2026: meetings on the first Tuesday of each month, the agenda closing 7 days before.
    early = at_build(org)
    org.credentials.decide(credential_id=early, gate="governance_signoff", verdict="approve", role="qa_office",
                           by=as_person(org, "qa"))  # stage 2 (registrar and council) opens today
    clock.advance(timedelta(days=30))  # 1 October: 5 days before the meeting of 6 October
    late = at_build(org)
    org.credentials.decide(credential_id=late, gate="governance_signoff", verdict="approve", role="qa_office",
                           by=as_person(org, "qa"))
    agendas = org.inbox.agenda.agendas(by=as_person(org, "council.a"), today=clock.now().date())
    assert [a["role_title"] for a in agendas] == ["Academic governance body (college council / quality council)"]
    meetings = [(m["day"], [i["credential_id"] for i in m["entries"]]) for m in agendas[0]["meetings"]]
    assert meetings == [(date(2026, 10, 6), [early]), (date(2026, 11, 3), [late]), (date(2026, 12, 1), [])]
    assert org.inbox.agenda.agendas(by=as_person(org, "dean.business"), today=clock.now().date()) == []
