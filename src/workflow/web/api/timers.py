"""Timers: what is due and what comes next, for the credentials the caller can see."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from workflow.services.access import visible_clause
from workflow.web.api.schemas import Flag
from workflow.web.deps import CurrentCaller, ServicesDep
from workflow.web.problems import responses

router = APIRouter(tags=["timers"])


@router.get("/timers", responses=responses(401, 422))
def list_timers(caller: CurrentCaller, services: ServicesDep, due: Flag = False,
                status: Literal["pending", "running", "done", "cancelled"] = "pending",
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """Timers by due time (only those due now with ``due=true``); each firing is also in the credential's history."""
    now = services.clock.now()
    rows = services.timers.listing(status=status, due_before=now if due else None, limit=limit,
                                   visible=visible_clause(caller))
    return {"now": now, "items": [{"id": t.id, "credential_id": t.credential_id, "title": t.title, "key": t.key,
                                   "action": t.action, "due_at": t.due_at, "state": t.state, "status": t.status,
                                   "outcome": t.outcome} for t in rows]}
