"""The email outbox, for administrators: nothing is dropped silently, dead messages can be retried (one, or all
those a filter picks), and whether mail is getting out at all."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from workflow.services.access import Caller
from workflow.services.outbox import DeadFilter
from workflow.web.api.schemas import Offset, RowId
from workflow.web.deps import ServicesDep, admin_only
from workflow.web.problems import responses

router = APIRouter(tags=["outbox"])
OutboxAdmin = Annotated[Caller, Depends(admin_only("see the email outbox"))]
Status = Literal["held", "pending", "sending", "sent", "dead", "digested"]


class DeadChoice(BaseModel):
    """Which dead messages to retry; every field narrows the choice, none means all of them."""

    model_config = ConfigDict(extra="forbid")

    kind: str | None = Field(default=None, max_length=40, description="only this kind, e.g. decision_needed")
    recipient: str | None = Field(default=None, max_length=320, description="only to this address")
    since: date | None = Field(default=None, description="only those created on or after this day (local time)")
    until: date | None = Field(default=None, description="only those created on or before this day (local time)")


class MailHealthOut(BaseModel):
    """Whether email is getting out."""

    failing: bool = Field(description="the mail server does not answer")
    failing_since: datetime | None
    last_error: str
    next_try_at: datetime | None
    last_success_at: datetime | None
    waiting: int = Field(description="messages waiting to be sent")
    dead: int = Field(description="messages given up on")
    alert: bool = Field(description="failing longer than administrators are told after")


@router.get("/outbox", responses=responses(401, 403, 422))
def list_outbox(caller: OutboxAdmin, services: ServicesDep, status: Status | None = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100,
                offset: Offset = 0) -> dict[str, Any]:
    """Messages, newest first, with counts by status (held for a digest, pending, sent, dead...)."""
    rows, counts = services.outbox.listing(by=caller, status=status, limit=limit, offset=offset)
    return {"counts": counts, "items": [vars(r) for r in rows]}


@router.post("/outbox/retry-dead", responses=responses(400, 401, 403, 422))
def retry_dead(choice: DeadChoice, caller: OutboxAdmin, services: ServicesDep) -> dict[str, int]:
    """Queue again, in one go, every dead message the choice picks; answers how many."""
    chosen = DeadFilter.days(services.settings.timezone, **choice.model_dump())
    return {"retried": services.outbox.retry_dead(chosen, by=caller)}


@router.get("/outbox/{message_id}", responses=responses(401, 403, 404, 422))
def get_message(message_id: RowId, caller: OutboxAdmin, services: ServicesDep) -> dict[str, Any]:
    """One message in full."""
    return services.outbox.message(message_id, by=caller)


@router.post("/outbox/{message_id}/retry", responses=responses(401, 403, 404, 409, 422))
def retry(message_id: RowId, caller: OutboxAdmin, services: ServicesDep) -> dict[str, Any]:
    """Queue a dead message again."""
    services.outbox.retry(message_id, by=caller)
    return services.outbox.message(message_id, by=caller)


@router.get("/admin/mail-health", responses=responses(401, 403))
def mail_health(caller: OutboxAdmin, services: ServicesDep) -> MailHealthOut:
    """Whether the mail server answers: since when it does not and why, and how many messages wait."""
    s = services.outbox.mail_status(by=caller)
    return MailHealthOut(failing=s.failing_since is not None, failing_since=s.failing_since, last_error=s.last_error,
                         next_try_at=s.next_try_at, last_success_at=s.last_success_at, waiting=s.waiting,
                         dead=s.dead, alert=s.alert)
