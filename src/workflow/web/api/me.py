"""The signed-in person: who they are, what waits for their decision, their tasks, delegations and tokens."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status

from workflow.services.approvals import MAX_PER_PAGE, MAX_SEARCH, ApprovalQuery
from workflow.web.api.schemas import DelegationIn, RowId, TokenIn
from workflow.web.deps import CurrentCaller, ServicesDep
from workflow.web.problems import responses

router = APIRouter(tags=["me"])


@router.get("/me", responses=responses(401))
def me(caller: CurrentCaller) -> dict[str, Any]:
    """Who you are, your roles, and whom you act for today."""
    own = [{"role": g.role, "org_unit_id": g.org_unit_id, "credential_id": g.credential_id}
           for g in caller.grants if not g.delegated]
    acting_for = sorted({g.principal for g in caller.grants if g.delegated})
    return {"username": caller.username, "display_name": caller.display_name, "is_admin": caller.is_admin,
            "roles": own, "acting_for": acting_for}


@router.get("/me/approvals", responses=responses(401, 422))
def my_approvals(
        caller: CurrentCaller, services: ServicesDep,
        sort: Annotated[Literal["due", "title", "faculty", "gate", "waiting", "checklist", "changes", "role"], Query(
            description="Column to sort by: due (soonest and overdue first, the default), title, faculty, gate, "
                        "waiting (since when), checklist (share done), changes (since your last look; never "
                        "looked first), role (the role you decide as)")] = "due",
        direction: Annotated[Literal["asc", "desc"] | None, Query(
            description="asc or desc; by default each column's own (checklist and changes: most first)")] = None,
        gate: Annotated[str, Query(max_length=100, description="Only this gate (its key)")] = "",
        faculty: Annotated[int | None, Query(ge=1, description="Only credentials of this faculty (org unit id)")]
        = None,
        due: Annotated[Literal["all", "overdue", "week"], Query(
            description="overdue: past their due date; week: due within seven days from now")] = "all",
        search: Annotated[str, Query(max_length=MAX_SEARCH, description="Case-insensitive part of the title")] = "",
        page: Annotated[int, Query(ge=1, description="Page number, from 1; past the last page gives no items")] = 1,
        per_page: Annotated[int | None, Query(ge=1, le=MAX_PER_PAGE, description="Rows per page (default 50)")]
        = None,
        limit: Annotated[int | None, Query(ge=1, le=MAX_PER_PAGE, description="Former name of per_page")] = None,
) -> dict[str, Any]:
    """Decisions waiting for you (credential, gate and the role you decide in, your own or delegated): sorted,
    filtered and paged, with ``total`` (matching the filters), ``everything`` (waiting, filters aside) and
    ``pages``."""
    query = ApprovalQuery(sort=sort, direction=direction or "", gate=gate, faculty=faculty, due=due, search=search,
                          page=page, per_page=per_page or limit or 50)
    found = services.inbox.table.page(by=caller, query=query, now=services.clock.now())
    return {"items": found.items, "total": found.total, "everything": found.everything, "page": page,
            "pages": found.pages, "per_page": query.per_page}


@router.get("/me/tasks", responses=responses(401, 422))
def my_tasks(caller: CurrentCaller, services: ServicesDep,
             limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """Checklist items your roles own, across the credentials you can see."""
    return {"items": services.inbox.tasks(by=caller, limit=limit)}


@router.post("/me/calendar", status_code=status.HTTP_201_CREATED, responses=responses(401, 403))
def new_calendar_feed(caller: CurrentCaller, services: ServicesDep) -> dict[str, str]:
    """A private calendar-feed address of your due dates and milestones (the previous address stops working)."""
    assert caller.user_id is not None
    token = services.auth.new_calendar_token(caller.user_id)
    return {"url": f"{services.settings.public_url.rstrip('/')}/calendar/{token}.ics"}


@router.get("/delegations", responses=responses(401))
def list_delegations(caller: CurrentCaller, services: ServicesDep) -> list[dict[str, Any]]:
    """Delegations you gave or received (all of them for administrators)."""
    return services.people.delegations(by=caller)


@router.post("/delegations", status_code=status.HTTP_201_CREATED, responses=responses(400, 401, 403, 404, 409, 422))
def delegate(body: DelegationIn, caller: CurrentCaller, services: ServicesDep) -> dict[str, Any]:
    """Let someone decide in your place (one role or all) between two dates, both included."""
    delegation_id = services.people.delegate(to_username=body.to, role=body.role, starts_on=body.starts_on,
                                             ends_on=body.ends_on, by=caller)
    return next(d for d in services.people.delegations(by=caller) if d["id"] == delegation_id)


@router.delete("/delegations/{delegation_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=responses(401, 403, 404, 422))
def revoke_delegation(delegation_id: RowId, caller: CurrentCaller, services: ServicesDep) -> Response:
    """End a delegation you gave."""
    services.people.revoke_delegation(delegation_id=delegation_id, by=caller)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/tokens", responses=responses(401))
def list_tokens(caller: CurrentCaller, services: ServicesDep) -> list[dict[str, Any]]:
    """Your API tokens (names and prefixes only)."""
    assert caller.user_id is not None
    return services.auth.list_tokens(caller.user_id)


@router.post("/tokens", status_code=status.HTTP_201_CREATED, responses=responses(400, 401, 403, 422))
def create_token(body: TokenIn, caller: CurrentCaller, services: ServicesDep) -> dict[str, Any]:
    """A new personal API token, shown this once."""
    assert caller.user_id is not None
    token = services.auth.create_token(caller.user_id, body.name, days=body.days)
    return {"id": token.id, "name": token.name, "token": token.token, "prefix": token.prefix}


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(401, 403, 404, 422))
def revoke_token(token_id: RowId, caller: CurrentCaller, services: ServicesDep) -> Response:
    """Revoke one of your tokens."""
    assert caller.user_id is not None
    services.auth.revoke_token(caller.user_id, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
