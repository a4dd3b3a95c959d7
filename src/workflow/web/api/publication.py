"""What a credential publishes: its critical information summary, and its Open Badges 3.0 Achievement."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from workflow.web.api.schemas import RowId
from workflow.web.deps import CurrentCaller, ServicesDep
from workflow.web.problems import responses

router = APIRouter(prefix="/credentials", tags=["credentials"])


@router.get("/{credential_id}/summary", responses=responses(401, 404, 422))
def credential_summary(credential_id: RowId, caller: CurrentCaller, services: ServicesDep) -> dict[str, Any]:
    """The critical information summary: the toolkit's fifteen items, each answered or marked missing."""
    return services.publication.summary(credential_id, by=caller).as_json()


@router.get("/{credential_id}/achievement", responses=responses(401, 404, 409, 422),
            response_class=JSONResponse)
def credential_achievement(credential_id: RowId, caller: CurrentCaller, services: ServicesDep) -> JSONResponse:
    """The Open Badges 3.0 Achievement of a launched credential, as JSON-LD (409 before it is launched)."""
    return JSONResponse(services.publication.achievement(credential_id, by=caller),
                        media_type="application/ld+json")


@router.get("/{credential_id}/impact", responses=responses(401, 404, 422))
def credential_impact(credential_id: RowId, caller: CurrentCaller, services: ServicesDep) -> dict[str, Any]:
    """The credentials that stack into or require this one, or name it (learners enrolled): what a sunset
    affects; send their numbers as ``acknowledge`` with the sunset."""
    return {"impact": services.credentials.impact(credential_id=credential_id, by=caller)}
