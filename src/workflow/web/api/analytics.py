"""Portfolio analytics: the figures of the analytics page, as JSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from workflow.web.deps import CurrentCaller, ServicesDep
from workflow.web.problems import responses
from workflow.web.ui.analytics import for_api

router = APIRouter(prefix="/analytics", tags=["portfolio"])


@router.get("", responses=responses(401, 422))
def analytics(caller: CurrentCaller, services: ServicesDep,
              faculty: Annotated[int | None, Query(ge=1, le=2_000_000_000, description="a faculty's org unit id")]
              = None,
              definition: Annotated[str, Query(max_length=100, description="a definition's name")] = "",
              year: Annotated[int | None, Query(ge=1900, le=2200, description="the year stays ended in")] = None,
              ) -> dict[str, Any]:
    """Counts by phase, days per phase and gate (median, 90th percentile), waits by role, the share of phases
    ended on plan, renewals and expiries within 30, 90 and 365 days — for the faculties you may see."""
    return for_api(caller, services, faculty, definition, year)
