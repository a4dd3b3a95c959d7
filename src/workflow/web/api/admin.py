"""Definitions, org units, users and role assignments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status

from workflow.definitions.diagram import mermaid
from workflow.errors import NotFound
from workflow.services.access import Caller
from workflow.web.api.schemas import MAX_ID, AssignmentIn, Key, Offset, OrgUnitIn, RowId, UserIn, UserPatch
from workflow.web.deps import AdminCaller, CurrentCaller, ServicesDep, admin_only
from workflow.web.problems import responses

router = APIRouter(tags=["organisation"])
UserLister = Annotated[Caller, Depends(admin_only("list users"))]
DefinitionsAdmin = Annotated[Caller, Depends(admin_only("reload the definitions"))]


@router.get("/definitions", responses=responses(401))
def list_definitions(_caller: CurrentCaller, services: ServicesDep) -> list[dict[str, Any]]:
    """The workflow definitions and their current versions."""
    return _current_definitions(services)


def _current_definitions(services: ServicesDep) -> list[dict[str, Any]]:
    found = []
    for name in services.definitions.names():
        version = services.definitions.current_version(name)
        definition = services.definitions.engine(name, version).definition
        found.append({"name": name, "version": version, "title": definition.title})
    return found


@router.post("/admin/definitions/reload", responses=responses(401, 403, 422))
def reload_definitions(_admin: DefinitionsAdmin, services: ServicesDep) -> list[dict[str, Any]]:
    """Read the definitions folder again (administrators only). If every file is valid, each definition whose
    text changed is published as a new version (credentials already started keep theirs) and the definitions
    now current are returned; if not, nothing changes and the 422 lists every problem as ``file:line``."""
    services.reload_definitions()
    return _current_definitions(services)


@router.get("/definitions/{name}", responses=responses(401, 404, 422))
def get_definition(name: Key, _caller: CurrentCaller, services: ServicesDep,
                   version: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> dict[str, Any]:
    """One definition (the current version unless asked): its full model and a Mermaid diagram."""
    if name not in services.definitions.names():
        raise NotFound("definition", name)
    engine = services.definitions.engine(name, version)
    return {"name": name, "version": version or services.definitions.current_version(name),
            "definition": engine.definition.model_dump(mode="json"), "mermaid": mermaid(engine.definition)}


@router.get("/org-units", responses=responses(401))
def list_units(_caller: CurrentCaller, services: ServicesDep) -> list[dict[str, Any]]:
    """Every org unit."""
    return services.people.units()


@router.post("/org-units", status_code=status.HTTP_201_CREATED, responses=responses(400, 401, 403, 404, 409, 422))
def create_unit(body: OrgUnitIn, caller: AdminCaller, services: ServicesDep) -> dict[str, Any]:
    """Add a faculty, department or institution (administrators only)."""
    unit_id = services.people.create_unit(key=body.key, name=body.name, kind=body.kind, parent=body.parent,
                                          email=body.email, by=caller)
    return next(u for u in services.people.units() if u["id"] == unit_id)


@router.get("/users", responses=responses(401, 403, 422))
def list_users(_caller: UserLister, services: ServicesDep, limit: Annotated[int, Query(ge=1, le=500)] = 100,
               offset: Offset = 0) -> list[dict[str, Any]]:
    """People and their roles (administrators only)."""
    return services.people.users(limit=limit, offset=offset)


@router.post("/users", status_code=status.HTTP_201_CREATED, responses=responses(400, 401, 403, 409, 422))
def create_user(body: UserIn, caller: AdminCaller, services: ServicesDep) -> dict[str, Any]:
    """Add a person (administrators only)."""
    user_id = services.people.create_user(username=body.username, display_name=body.display_name, email=body.email,
                                          password=body.password, admin=body.admin, by=caller)
    return {"id": user_id, "username": body.username}


@router.patch("/users/{user_id}", responses=responses(400, 401, 403, 404, 409, 422))
def update_user(user_id: RowId, body: UserPatch, caller: AdminCaller, services: ServicesDep) -> dict[str, Any]:
    """Deactivate or reactivate a person, or make them an administrator or no longer one (administrators only).
    The last active administrator can be neither deactivated nor made an ordinary user: a 409
    (``/problems/last-administrator``) says to make someone else an administrator first."""
    services.people.update_user(user_id=user_id, active=body.active, admin=body.admin, by=caller)
    user = services.people.user(user_id)
    return {"id": user_id, "active": user["active"], "is_admin": user["is_admin"]}


@router.post("/role-assignments", status_code=status.HTTP_201_CREATED,
             responses=responses(400, 401, 403, 404, 409, 422))
def assign(body: AssignmentIn, caller: AdminCaller, services: ServicesDep) -> dict[str, Any]:
    """Give a person a role for an org unit and everything under it (administrators only)."""
    services.people.assign(user_id=services.people.user_id(body.username), role=body.role, by=caller,
                           unit_id=services.people.unit_id(body.org_unit))
    return {"username": body.username, "role": body.role, "org_unit": body.org_unit}


@router.delete("/role-assignments/{assignment_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=responses(401, 403, 404, 422))
def unassign(assignment_id: RowId, caller: AdminCaller, services: ServicesDep) -> Response:
    """Take a role away (administrators only)."""
    services.people.unassign(assignment_id=assignment_id, by=caller)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
