"""Credentials: create, list, read, change, tick checklist items, decide gates, fire transitions, history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from workflow.web.api.schemas import (
    CredentialIn,
    CredentialPatch,
    DecisionIn,
    Flag,
    ItemIn,
    Key,
    Offset,
    OverrideIn,
    RowId,
    TeamMemberIn,
    Text,
    TransitionIn,
    detail_json,
    event_json,
    summary_json,
)
from workflow.web.deps import CurrentCaller, ServicesDep
from workflow.web.problems import responses

router = APIRouter(prefix="/credentials", tags=["credentials"])
# What a change to one credential may meet: not visible, not allowed, changed since, invalid.
CHANGE = responses(400, 401, 403, 404, 409, 422)


@router.post("", status_code=status.HTTP_201_CREATED, responses=responses(400, 401, 403, 404, 422))
def create_credential(body: CredentialIn, caller: CurrentCaller, services: ServicesDep) -> dict[str, Any]:
    """Start a credential in a faculty or department where you may."""
    credential_id = services.credentials.create(definition=body.definition, title=body.title, data=body.data,
                                                org_unit_id=services.people.unit_id(body.org_unit), by=caller)
    return detail_json(services.views.get(credential_id, by=caller))


@router.get("", responses=responses(401, 404, 422))
def list_credentials(caller: CurrentCaller, services: ServicesDep,
                     state: Annotated[Text | None, Query(max_length=100)] = None,
                     org_unit: Annotated[Text | None, Query(max_length=100, description="org unit key")] = None,
                     overdue: Flag = False, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                     offset: Offset = 0) -> dict[str, Any]:
    """The credentials you can see, newest first, one page at a time."""
    unit_id = services.people.unit_id(org_unit) if org_unit else None
    rows, total = services.views.search(by=caller, state=state, org_unit_id=unit_id, overdue=overdue,
                                              limit=limit, offset=offset)
    return {"items": [summary_json(r) for r in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/{credential_id}", responses=responses(401, 404, 422))
def get_credential(credential_id: RowId, caller: CurrentCaller, services: ServicesDep) -> dict[str, Any]:
    """State, data, checklist by role, each gate's approvals and the possible transitions with what is missing."""
    return detail_json(services.views.get(credential_id, by=caller))


@router.patch("/{credential_id}", responses=CHANGE)
def update_credential(credential_id: RowId, body: CredentialPatch, caller: CurrentCaller,
                      services: ServicesDep) -> dict[str, Any]:
    """Change fields of the credential's data (``null`` clears one); refused if it changed since ``version``."""
    services.credentials.update(credential_id=credential_id, changes=body.data, comment=body.comment, by=caller,
                                expected_version=body.version)
    return detail_json(services.views.get(credential_id, by=caller))


@router.post("/{credential_id}/checklist/{item}", responses=CHANGE)
def set_item(credential_id: RowId, item: Key, body: ItemIn, caller: CurrentCaller,
             services: ServicesDep) -> dict[str, Any]:
    """Mark a checklist item you own done or not done, with a note."""
    services.credentials.set_item(credential_id=credential_id, item=item, done=body.done, note=body.note, by=caller,
                                  expected_version=body.version)
    return detail_json(services.views.get(credential_id, by=caller))


@router.post("/{credential_id}/gates/{gate}/decisions", status_code=status.HTTP_201_CREATED,
             responses=CHANGE)
def decide(credential_id: RowId, gate: Key, body: DecisionIn, caller: CurrentCaller,
           services: ServicesDep) -> dict[str, Any]:
    """Approve, reject or request changes on a gate (a comment is required for the latter two)."""
    result = services.credentials.decide(credential_id=credential_id, gate=gate, verdict=body.decision,
                                         comment=body.comment, role=body.role, on_behalf_of=body.on_behalf_of,
                                         by=caller, expected_version=body.version, with_detail=True,
                                         acknowledged=body.acknowledge)
    fired = None if result.fired is None else {"trigger": result.fired.trigger, "from": result.fired.source,
                                                "to": result.fired.dest}
    detail = result.detail or services.views.get(credential_id, by=caller)
    return {"role": result.role, "on_behalf_of": result.principal if result.principal != caller.username else None,
            "fired": fired, "credential": detail_json(detail)}


@router.post("/{credential_id}/transitions", responses=CHANGE)
def fire(credential_id: RowId, body: TransitionIn, caller: CurrentCaller, services: ServicesDep) -> dict[str, Any]:
    """Perform a transition; 409 with the list of what is missing when its guards do not hold."""
    services.credentials.fire(credential_id=credential_id, trigger=body.trigger, comment=body.comment, by=caller,
                              expected_version=body.version, acknowledged=body.acknowledge)
    return detail_json(services.views.get(credential_id, by=caller))


@router.post("/{credential_id}/override", responses=CHANGE)
def override(credential_id: RowId, body: OverrideIn, caller: CurrentCaller, services: ServicesDep) -> dict[str, Any]:
    """Administrators only: move past unmet guards, with a comment; recorded in the history with what was skipped."""
    services.credentials.override(credential_id=credential_id, trigger=body.trigger, comment=body.comment, by=caller,
                                  expected_version=body.version, acknowledged=body.acknowledge)
    return detail_json(services.views.get(credential_id, by=caller))


@router.post("/{credential_id}/team", status_code=status.HTTP_201_CREATED, responses=CHANGE)
def add_team_member(credential_id: RowId, body: TeamMemberIn, caller: CurrentCaller,
                    services: ServicesDep) -> dict[str, Any]:
    """Give someone a role on this credential alone (its design team)."""
    services.credentials.add_team_member(credential_id=credential_id, user_id=services.people.user_id(body.username),
                                         role=body.role, by=caller)
    return detail_json(services.views.get(credential_id, by=caller))


@router.get("/{credential_id}/events", responses=responses(401, 404, 422))
def history(credential_id: RowId, caller: CurrentCaller, services: ServicesDep) -> list[dict[str, Any]]:
    """The credential's history, oldest first."""
    return [event_json(e) for e in services.views.history(credential_id, by=caller)]
