"""The email outbox, for administrators: nothing is dropped silently, and dead messages can be retried."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from workflow.services.access import Caller
from workflow.web.api.schemas import Offset, RowId
from workflow.web.deps import ServicesDep, admin_only
from workflow.web.problems import responses

router = APIRouter(prefix="/outbox", tags=["outbox"])
OutboxAdmin = Annotated[Caller, Depends(admin_only("see the email outbox"))]
Status = Literal["held", "pending", "sending", "sent", "dead", "digested"]


@router.get("", responses=responses(401, 403, 422))
def list_outbox(caller: OutboxAdmin, services: ServicesDep, status: Status | None = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100,
                offset: Offset = 0) -> dict[str, Any]:
    """Messages, newest first, with counts by status (held for a digest, pending, sent, dead...)."""
    rows, counts = services.outbox.listing(by=caller, status=status, limit=limit, offset=offset)
    return {"counts": counts, "items": [vars(r) for r in rows]}


@router.get("/{message_id}", responses=responses(401, 403, 404, 422))
def get_message(message_id: RowId, caller: OutboxAdmin, services: ServicesDep) -> dict[str, Any]:
    """One message in full."""
    return services.outbox.message(message_id, by=caller)


@router.post("/{message_id}/retry", responses=responses(401, 403, 404, 409, 422))
def retry(message_id: RowId, caller: OutboxAdmin, services: ServicesDep) -> dict[str, Any]:
    """Queue a dead message again."""
    services.outbox.retry(message_id, by=caller)
    return services.outbox.message(message_id, by=caller)
