"""My approvals: the gates waiting for the signed-in person's decision, and the delegations they give."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.errors import InvalidInput, WorkflowError
from workflow.services.access import Caller
from workflow.web.api.schemas import RowId
from workflow.web.deps import ServicesDep
from workflow.web.problems import status_of
from workflow.web.ui.render import page
from workflow.web.ui.session import PageCaller

router = APIRouter(include_in_schema=False)


def approvals_page(request: Request, services: ServicesDep, caller: Caller, *, error: str = "",
                   form: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    """The inbox, oldest first, with how complete each checklist is and what still stands in the way."""
    waiting = services.inbox.approvals_waiting(by=caller, limit=50)
    seen = services.looks.changes(caller.user_id or 0, [w["credential_id"] for w in waiting])
    today = services.clock.now().date()
    for item in waiting:
        item["changes"] = seen.get(item["credential_id"])
        gate = services.definitions.engine(item["definition"], item["definition_version"]).definition.gates
        due = gate[item["gate"]].due_days
        item["days_waiting"] = (today - item["waiting_since"].date()).days
        item["due_in"] = due - item["days_waiting"] if due else None
    own_roles = sorted({g.role for g in caller.grants if not g.delegated})
    return page(request, "approvals.html", caller, {
        "waiting": waiting, "delegations": services.people.delegations(by=caller), "own_roles": own_roles,
        "today": today.isoformat(), "error": error, "form": form or {}}, status_code=status_code,
        section="approvals")


@router.get("/approvals")
def approvals(request: Request, caller: PageCaller, services: ServicesDep) -> HTMLResponse:
    """The dean's inbox."""
    return approvals_page(request, services, caller)


@router.post("/delegations")
def delegate(request: Request, caller: PageCaller, services: ServicesDep,
             to: Annotated[str, Form(max_length=100)], starts_on: Annotated[str, Form(max_length=10)],
             ends_on: Annotated[str, Form(max_length=10)], role: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Let someone decide in your place between two dates."""
    form = {"to": to, "starts_on": starts_on, "ends_on": ends_on, "role": role}
    try:
        try:
            first, last = date.fromisoformat(starts_on), date.fromisoformat(ends_on)
        except ValueError:
            raise InvalidInput("dates", "give the first and last day as dates (YYYY-MM-DD)") from None
        services.people.delegate(to_username=to.strip(), starts_on=first, ends_on=last, role=role or None,
                                 by=caller)
    except WorkflowError as error:
        return approvals_page(request, services, caller, error=str(error), form=form,
                              status_code=status_of(error))
    return RedirectResponse("/approvals?done=delegated#delegations", status_code=303)


@router.post("/delegations/{delegation_id}/revoke")
def revoke(delegation_id: RowId, caller: PageCaller, services: ServicesDep) -> Response:
    """End a delegation you gave."""
    services.people.revoke_delegation(delegation_id=delegation_id, by=caller)
    return RedirectResponse("/approvals?done=revoked#delegations", status_code=303)
