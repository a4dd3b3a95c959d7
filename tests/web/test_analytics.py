"""Analytics from the history: five credentials walked through the service on known days, and every figure
checked against the numbers worked out by hand below; the same figures in the API, as CSV and on the page.

The five, created on 2026-09-01 (business: B1, B2, B3; health: H1, H2), leave ideation after 10, 20, 40 days
(business) and 30, 50 days (health); the dean approves feasibility for B1, B2, H1 after 5, 7 and 12 days (finance
and the employer engagement lead tick their feasibility items then); B3 and H2 still wait in feasibility.

- Days in ideation: 10, 20, 30, 40, 50 → median 30, 90th percentile (nearest rank, 5th of 5) 50; planned 30 days:
  3 of 5 on time. Business only: 10, 20, 40 → median 20, 90th 40; health: 30, 50 → median 40 (the mean of two).
- Days in feasibility = days to the feasibility gate = days until the dean decided: 5, 7, 12 → median 7, 90th 12;
  planned 45: 3 of 3. Every planned phase: 6 of 8.
- Finance's items (initial budget, funding applied; feasibility only): 5, 5, 7, 7, 12, 12 → median 7, 90th 12.
  Employer engagement lead: employers contacted (ideation) 10, 20, 30, 40, 50 and employer partner committed
  (feasibility) 5, 7, 12 → eight values 5 7 10 12 20 30 40 50 → median (12 + 20) / 2 = 16, 90th (8th) 50.
- Now: Feasibility 2, Design 3. Entered ideation in 2026-09: 5; feasibility 2026-09: 2 (B1, B2), 2026-10: 3;
  design 2026-09: 2 (days 15, 27), 2026-10: 1 (day 42).
- On day 60 the dean owes two decisions, one past its due date (B3's, due day 54; H2's is due day 64).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.steps import SYSTEM
from tests.web.pages import sign_in
from workflow.clock import ManualClock
from workflow.context import Services
from workflow.scheduler import Scheduler
from workflow.services.access import Caller
from workflow.services.analytics import Filters
from workflow.store import analytics as folded

IDEATION_ITEMS = ("labour_market_research", "employers_contacted", "working_group_formed",
                  "industry_skills_identified")
FEASIBILITY_ITEMS = ("priorities_alignment", "one_pager", "team_identified", "employer_partner_committed",
                     "curricular_proposal_started", "qa_proposal_started", "initial_budget", "funding_applied",
                     "price_sensitivity", "marketing_plan_costed")
#            faculty, ideation days, feasibility days (None: still waiting)
FIVE = {"B1": ("business", 10, 5), "B2": ("business", 20, 7), "H1": ("health", 30, 12), "B3": ("business", 40, None),
        "H2": ("health", 50, None)}


def tick(org: Services, cid: int, items: tuple[str, ...]) -> None:
    for item in items:
        org.credentials.set_item(credential_id=cid, item=item, done=True, by=SYSTEM)


@pytest.fixture
def five(org: Services, clock: ManualClock) -> dict[str, int]:
    """The five credentials of the module's docstring, walked day by day; the clock ends on day 60."""
    start = clock.now()
    ids = {name: org.credentials.create(definition="microcredential", title=f"Credential {name}", by=SYSTEM,
                                        org_unit_id=org.people.unit_id(unit),
                                        data={"purpose": "Employers ask", "description": "Short course"})
           for name, (unit, _, _) in FIVE.items()}
    plan: list[tuple[int, str, str]] = []
    for name, (_, ideation, feasibility) in FIVE.items():
        plan.append((ideation, "submit", name))
        if feasibility is not None:
            plan.append((ideation + feasibility, "approve", name))
    for day, what, name in sorted(plan):
        clock.set(start + timedelta(days=day))
        cid = ids[name]
        if what == "submit":
            tick(org, cid, IDEATION_ITEMS)
            org.credentials.fire(credential_id=cid, trigger="submit_for_feasibility", by=SYSTEM)
        else:
            tick(org, cid, FEASIBILITY_ITEMS)
            result = org.credentials.decide(credential_id=cid, gate="feasibility_approval", verdict="approve",
                                            role="dean", by=Caller.system("dean.business"))
            assert result.fired is not None
    clock.set(start + timedelta(days=60))
    return ids


def spreads(items: list[dict[str, Any]]) -> dict[str, tuple[int, float | None, int | None]]:
    return {s["label"]: (s["count"], s["median_days"], s["p90_days"]) for s in items}


def test_the_figures_match_the_hand_computed_history(five: dict[str, int], org: Services,
                                                     client_for: Callable[[str], TestClient]) -> None:
    figures = client_for("admin").get("/api/v1/analytics").json()
    phases = {s["label"]: s for s in figures["phase_days"]}
    assert (phases["Ideation (sunrise)"]["count"], phases["Ideation (sunrise)"]["median_days"],
            phases["Ideation (sunrise)"]["p90_days"]) == (5, 30, 50)
    assert (phases["Ideation (sunrise)"]["planned_days"], phases["Ideation (sunrise)"]["on_time"]) == (30, 3)
    assert phases["Ideation (sunrise)"]["on_time_rate"] == pytest.approx(0.6)
    assert (phases["Feasibility"]["count"], phases["Feasibility"]["median_days"], phases["Feasibility"]["p90_days"],
            phases["Feasibility"]["on_time"]) == (3, 7, 12, 3)
    assert figures["on_time"]["count"] == 8 and figures["on_time"]["on_time"] == 6
    assert spreads(figures["gate_days"]) == {"Feasibility approval": (3, 7, 12)}
    assert spreads(figures["decision_wait_days"]) == {"Dean (leadership champion)": (3, 7, 12)}
    items = spreads(figures["item_wait_days"])
    assert items["Finance"] == (6, 7, 12)
    assert items["Employer engagement lead"] == (8, 16, 50)
    assert {p["phase"]: p["credentials"] for p in figures["now_in_phase"]} == {"Feasibility": 2, "Design": 3}
    months = {m["month"]: m["phases"] for m in figures["entries_by_month"]}
    assert months == {"2026-09": {"Ideation (sunrise)": 5, "Feasibility": 2, "Design": 2},
                      "2026-10": {"Feasibility": 3, "Design": 1}}
    assert figures["decisions_waiting_now"] == [{"role": "Dean (leadership champion)", "waiting": 2, "overdue": 1}]


def test_filters_by_faculty_year_and_definition(five: dict[str, int], org: Services,
                                                client_for: Callable[[str], TestClient]) -> None:
    admin = client_for("admin")
    business = admin.get(f"/api/v1/analytics?faculty={org.people.unit_id('business')}").json()
    health = admin.get(f"/api/v1/analytics?faculty={org.people.unit_id('health')}").json()
    assert spreads(business["phase_days"])["Ideation (sunrise)"] == (3, 20, 40)
    assert spreads(health["phase_days"])["Ideation (sunrise)"] == (2, 40, 50)
    assert health["decisions_waiting_now"] == [{"role": "Dean (leadership champion)", "waiting": 1, "overdue": 0}]
    by_faculty = {f["faculty"]: f["phases"] for f in admin.get("/api/v1/analytics").json()[
        "phase_median_days_by_faculty"]}
    assert by_faculty["Faculty of Business"]["Ideation (sunrise)"] == 20
    assert by_faculty["Faculty of Health"]["Ideation (sunrise)"] == 40
    assert admin.get("/api/v1/analytics?year=2025").json()["phase_days"] == []
    assert spreads(admin.get("/api/v1/analytics?year=2026&definition=microcredential").json()["phase_days"])[
        "Feasibility"] == (3, 7, 12)
    # a dean sees their own faculty's figures only, whatever they ask for
    dean = client_for("dean.health").get(f"/api/v1/analytics?faculty={org.people.unit_id('business')}").json()
    assert dean["phase_days"] == [] and dean["now_in_phase"] == []
    assert spreads(client_for("dean.health").get("/api/v1/analytics").json()["phase_days"])[
        "Ideation (sunrise)"] == (2, 40, 50)
    assert admin.get("/api/v1/analytics?year=99").status_code == 422


def test_later_events_are_folded_once_each(five: dict[str, int], org: Services, clock: ManualClock) -> None:
    admin = org.access.caller_by_name("admin")
    before = org.analytics.figures(by=admin, where=Filters())
    assert org.analytics.fold() == 0  # nothing new: nothing read twice
    org.credentials.decide(credential_id=five["B3"], gate="feasibility_approval", verdict="reject",
                           comment="Not this year", role="dean", by=Caller.system("dean.business"))
    clock.advance(timedelta(minutes=5))  # past the settling time
    after = org.analytics.figures(by=admin, where=Filters())
    dean = {s.label: s for s in after.decision_waits}["Dean (leadership champion)"]
    assert (dean.count, dean.median) == (4, 9.5)  # 5, 7, 12 and B3's 20 days
    assert after.phase_times == before.phase_times


def test_a_request_folds_only_a_short_tail_and_the_scheduler_folds_the_rest(
        five: dict[str, int], org: Services, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folded, "REQUEST_EVENTS", 10)  # a backlog longer than a request folds
    admin = org.access.caller_by_name("admin")
    partial = org.analytics.figures(by=admin, where=Filters())
    assert partial.folded_through is not None and partial.folded_through < clock.now() - timedelta(days=40)
    assert sum(s.count for s in partial.phase_times) < 8  # the figures say how far they are folded
    Scheduler(org.timers, analytics=org.analytics).tick()  # each poll folds whatever is new
    caught_up = org.analytics.figures(by=admin, where=Filters())
    assert caught_up.folded_through == clock.now() - org.analytics.settle
    phases = {s.label: (s.count, s.median, s.p90) for s in caught_up.phase_times}
    assert phases["Ideation (sunrise)"] == (5, 30, 50) and phases["Feasibility"] == (3, 7, 12)


def test_renewals_and_expiries_coming_in_30_90_and_365_days(org: Services, clock: ManualClock,
                                                            client_for: Callable[[str], TestClient]) -> None:
    admin = org.access.caller_by_name("admin")
    cid = org.credentials.create(definition="microcredential", title="Delivered", by=SYSTEM,
                                 org_unit_id=org.people.unit_id("business"),
                                 data={"purpose": "x", "review_cycle_months": 2,
                                       "expires_on": (clock.now() + timedelta(days=200)).date().isoformat()})
    for trigger in ("submit_for_feasibility", "approve_feasibility", "complete_design", "sign_off", "launch"):
        org.credentials.override(credential_id=cid, trigger=trigger, comment="Walked there for the test", by=admin)
    upcoming = {u["timer"]: u for u in client_for("admin").get("/api/v1/analytics").json()["renewals_and_expiries"]}
    assert upcoming["Content review due"] | {"timer": ""} == {"timer": "", "within_30_days": 0, "within_90_days": 1,
                                                               "within_365_days": 1}
    assert upcoming["Hard expiry date passed"]["within_90_days"] == 0
    assert upcoming["Hard expiry date passed"]["within_365_days"] == 1


def test_the_page_draws_each_chart_with_its_table_and_the_csv_holds_the_same_figures(
        five: dict[str, int], app_client: TestClient) -> None:
    sign_in(app_client, "admin")
    page = app_client.get("/analytics")
    assert page.status_code == 200
    for chart in ("chart-now", "chart-entries", "chart-phases", "chart-on-time", "chart-gates", "chart-decisions",
                  "chart-items"):
        assert f'id="{chart}"' in page.text and f'aria-labelledby="{chart}-title"' in page.text, chart
    table = page.text[page.text.index('data-testid="phase-table"'):]
    table = table[:table.index("</table>")]
    assert "<th scope=\"row\">Ideation (sunrise)</th><td>5</td><td>30 days</td><td>50 days</td>" in table
    assert "60% (3 of 5)" in table
    assert "75% of the phases that have a plan ended within it (6 of 8)" in page.text
    assert "<script" not in page.text
    sheet = app_client.get("/analytics.csv")
    assert sheet.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(sheet.text.lstrip("\ufeff"))))
    assert rows[0][:5] == ["figure", "of", "count", "median days", "90th percentile days"]
    assert ["days in phase", "Ideation (sunrise)", "5", "30.0", "50", "30", "3"] in rows
    assert ["days until checklist items done, by role", "Employer engagement lead", "8", "16.0", "50", "", ""] in rows
    assert 'href="/analytics"' in app_client.get("/portfolio").text
