"""A small known population of decisions waiting, for the approvals table's tests (service, pages, API)."""

from __future__ import annotations

from datetime import date, timedelta

from tests.organisation import PASSWORD, as_person, load_org
from tests.steps import SYSTEM, at_build, tick
from workflow.clock import ManualClock
from workflow.context import Services


def proposed(org: Services, title: str, unit: str, pm: str, *, leave_open: tuple[str, ...] = ()) -> int:
    """A credential in feasibility, waiting for its dean, its feasibility checklist done but ``leave_open``."""
    cid = org.credentials.create(definition="microcredential", title=title, by=as_person(org, pm),
                                 org_unit_id=org.people.unit_id(unit),
                                 data={"purpose": "Employers asked", "description": "A short course."})
    tick(org, cid)
    org.credentials.fire(credential_id=cid, trigger="submit_for_feasibility", by=SYSTEM)
    tick(org, cid, leave_open=leave_open)
    return cid


def populate(org: Services, clock: ManualClock) -> dict[str, int]:
    """Alpha (business, day 0, 10 of 10), Beta (health, day 5, 7 of 10), Gamma (business, day 10, 9 of 10); the
    acting dean decides for both deans; it is now day 20 (Alpha and Beta overdue, Gamma due within a week)."""
    for dean in ("dean.business", "dean.health"):
        org.people.delegate(to_username="acting.dean", starts_on=date(2026, 9, 1), ends_on=date(2026, 12, 31),
                            by=as_person(org, dean))
    alpha = proposed(org, "Alpha analytics", "business", "pm.business")
    clock.advance(timedelta(days=5))
    beta = proposed(org, "Beta data care", "health", "pm.health",
                    leave_open=("initial_budget", "funding_applied", "price_sensitivity"))
    clock.advance(timedelta(days=5))
    gamma = proposed(org, "Gamma logistics", "business", "pm.business", leave_open=("one_pager",))
    clock.advance(timedelta(days=10))
    return {"alpha": alpha, "beta": beta, "gamma": gamma}


def committee_waiting(org: Services, clock: ManualClock) -> int:
    """A credit-bearing credential whose governance sign-off waits for academic governance (stage 2, since the
    QA office approved on 1 September), two days later; and council.d, a committee member who can sign in."""
    load_org(org, f"""
units: []
users:
  - {{username: council.d, name: Council D, password: "{PASSWORD}",
     roles: [{{role: academic_governance, unit: northern}}]}}
""")
    cid = at_build(org)
    org.credentials.decide(credential_id=cid, gate="governance_signoff", verdict="approve", role="qa_office",
                           by=as_person(org, "qa"))
    clock.advance(timedelta(days=2))
    return cid
