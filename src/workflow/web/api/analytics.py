"""Portfolio analytics: the figures of the analytics page, as JSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from workflow.web.deps import CurrentCaller, ServicesDep
from workflow.web.problems import responses
from workflow.web.ui.analytics import Faculty, Year, for_api

router = APIRouter(prefix="/analytics", tags=["portfolio"])


@router.get("", responses=responses(401, 422))
def analytics(caller: CurrentCaller, services: ServicesDep,
              faculty: Faculty = "", definition: Annotated[str, Query(max_length=100,
                                                                        description="a definition's name")] = "",
              year: Year = "") -> dict[str, Any]:
    """Counts by phase, days per phase and gate (median, 90th percentile), waits by role, the share of phases
    ended on plan, renewals and expiries within 30, 90 and 365 days — for the faculties you may see."""
    return for_api(caller, services, faculty, definition, year)
