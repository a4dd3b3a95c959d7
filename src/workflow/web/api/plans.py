"""Plans: a credential's target dates, baseline and forecast; setting the target (or an intake), moving a phase,
re-baselining; the intakes; the portfolio timeline."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from workflow.services.plan_views import MAX_TIMELINE_PAGE, PlanView, TimelineFilter
from workflow.web.api.schemas import LOCAL_DAY, Day, Key, Offset, RowId, Text, Version
from workflow.web.deps import CurrentCaller, ServicesDep
from workflow.web.problems import responses

router = APIRouter(tags=["plans"])
CHANGE = responses(400, 401, 403, 404, 409, 422)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetIn(_Body):
    target: Day | None = Field(default=None, description=f"the launch date, {LOCAL_DAY}; after today")
    intake: Text = Field(default="", max_length=100, description="or an intake of GET /plans/intakes")
    reason: Text = Field(default="", max_length=4000, description="why; needed when a target changes")
    version: Version | None = None


class PhaseIn(_Body):
    on: Day = Field(description=f"the phase's new planned end, {LOCAL_DAY}; not after the target")
    reason: Text = Field(default="", max_length=4000, description="why the date moves (kept in the history)")
    version: Version | None = None


class BaselineIn(_Body):
    reason: Text = Field(default="", max_length=4000, description="why the plan becomes the new baseline")
    version: Version | None = None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def plan_json(view: PlanView) -> dict[str, Any]:
    """A plan as the API returns it."""
    return {
        "credential_id": view.credential_id, "title": view.title, "version": view.version, "state": view.state,
        "state_title": view.state_title, "target": _day(view.target), "intake": view.intake,
        "baseline_launch": _day(view.baseline_launch),
        "forecast": {"launch": _day(view.forecast.launch), "launched": view.forecast.launched,
                     "slip_days_against_target": view.slip_target,
                     "slip_days_against_baseline": view.slip_baseline},
        "phases": [{"state": p.state, "title": p.title, "baseline": _day(p.baseline), "planned": _day(p.planned),
                    "started": _day(p.started), "ended": _day(p.ended), "forecast": _day(p.forecast),
                    "current": p.current, "forecast_from": p.basis} for p in view.phases],
    }


@router.get("/credentials/{credential_id}/plan", responses=responses(401, 404, 422))
def get_plan(credential_id: RowId, caller: CurrentCaller, services: ServicesDep) -> dict[str, Any]:
    """The plan per phase (baseline and planned ends), what happened, and the forecast with its slip."""
    return plan_json(services.plans.views.get(credential_id, by=caller))


@router.put("/credentials/{credential_id}/plan/target", responses=CHANGE)
def set_target(credential_id: RowId, body: TargetIn, caller: CurrentCaller, services: ServicesDep) -> dict[str, Any]:
    """Set the target launch date (or an intake's); the phases are planned back from it. The first plan is the
    baseline; a changed target needs a reason."""
    services.plans.set_target(credential_id=credential_id, target=body.target, intake=body.intake,
                              reason=body.reason, by=caller, expected_version=body.version)
    return plan_json(services.plans.views.get(credential_id, by=caller))


@router.put("/credentials/{credential_id}/plan/phases/{state}", responses=CHANGE)
def move_phase(credential_id: RowId, state: Key, body: PhaseIn, caller: CurrentCaller,
               services: ServicesDep) -> dict[str, Any]:
    """Move one phase's planned end, with a reason; the baseline stays."""
    services.plans.move_phase(credential_id=credential_id, state=state, on=body.on, reason=body.reason, by=caller,
                              expected_version=body.version)
    return plan_json(services.plans.views.get(credential_id, by=caller))


@router.post("/credentials/{credential_id}/plan/baseline", responses=CHANGE)
def rebaseline(credential_id: RowId, body: BaselineIn, caller: CurrentCaller, services: ServicesDep) -> dict[str, Any]:
    """Make the plan as it stands the new baseline, with a reason."""
    services.plans.rebaseline(credential_id=credential_id, reason=body.reason, by=caller,
                              expected_version=body.version)
    return plan_json(services.plans.views.get(credential_id, by=caller))


@router.get("/plans/intakes", responses=responses(401))
def intakes(services: ServicesDep) -> dict[str, Any]:
    """The intakes the administrator set up (WORKFLOW_TERMS), earliest first."""
    return {"items": [{"name": name, "starts_on": day.isoformat()} for name, day in services.plans.views.terms.items()]}


@router.get("/plans/timeline", responses=responses(401, 404, 422))
def timeline(caller: CurrentCaller, services: ServicesDep,
             org_unit: Annotated[Text | None, Query(max_length=100, description="org unit key")] = None,
             intake: Annotated[Text | None, Query(max_length=100)] = None,
             limit: Annotated[int, Query(ge=1, le=MAX_TIMELINE_PAGE)] = 25, offset: Offset = 0) -> dict[str, Any]:
    """The portfolio timeline: the credentials you can see, newest first, each with its plan and forecast."""
    unit_id = services.people.unit_id(org_unit) if org_unit else None
    views, total = services.plans.views.timeline(by=caller, where=TimelineFilter(unit_id, intake or None),
                                                 limit=limit, offset=offset)
    return {"items": [plan_json(v) for v in views], "total": total, "limit": limit, "offset": offset}
