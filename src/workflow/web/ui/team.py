"""A credential's team: who holds each of its roles (from its faculty and on the credential alone), the checklist
items each role owes, and — for those who may change its data — giving a person from the directory a role on it, or
taking it away."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.errors import Forbidden, InvalidInput, NotFound, WorkflowError
from workflow.services.access import Caller
from workflow.web.api.schemas import RowId
from workflow.web.deps import ServicesDep
from workflow.web.problems import status_of
from workflow.web.ui.render import page
from workflow.web.ui.session import PageCaller

router = APIRouter(include_in_schema=False)


def team_page(request: Request, services: ServicesDep, caller: Caller, credential_id: int, *,
              values: dict[str, str] | None = None, errors: dict[str, str] | None = None, problem: str = "",
              status_code: int = 200) -> HTMLResponse:
    """The team page (``values``, ``errors`` and ``problem`` re-show a refused form)."""
    detail = services.views.get(credential_id, by=caller)
    definition = services.definitions.engine(detail.definition, detail.definition_version).definition
    approvers = {a.role for g in definition.gates.values() for a in g.approvers}
    may_change = caller.is_admin or bool(caller.roles_on(detail.id, detail.org_unit_id)
                                         & set(definition.permissions.edit))
    givable = [key for key, role in definition.roles.items()
               if caller.is_admin or (role.kind == "person" and key not in approvers)]
    members = services.people.credential_team(credential_id)
    on_team = {(m["role"], m["display_name"]) for m in members}
    holders = {role: [name for name in names if (role, name) not in on_team]  # the team is listed apart
               for role, names in services.access.holders_by_role(detail.id, detail.org_unit_id,
                                                                  definition.roles).items()}
    return page(request, "team.html", caller, {
        "c": detail, "definition": definition, "members": members, "holders": holders,
        "items": detail.checklist_by_role(), "may_change": may_change, "givable": givable,
        "approvers": approvers, "people": services.people.directory() if may_change else [],
        "values": values or {}, "errors": errors or {}, "problem": problem}, status_code=status_code,
        section="portfolio")


@router.get("/credentials/{credential_id}/team")
def team(credential_id: RowId, request: Request, caller: PageCaller, services: ServicesDep) -> HTMLResponse:
    """Who holds each role of this credential, and what each role owes."""
    return team_page(request, services, caller, credential_id)


@router.post("/credentials/{credential_id}/team")
def add_member(credential_id: RowId, request: Request, caller: PageCaller, services: ServicesDep,
               person: Annotated[str, Form(max_length=100)] = "",
               role: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Give a person a role on this credential alone."""
    values = {"person": person, "role": role}
    errors = {}
    if not person:
        errors["person"] = "Choose a person."
    if not role:
        errors["role"] = "Choose a role."
    if errors:
        return team_page(request, services, caller, credential_id, values=values, errors=errors, status_code=422)
    try:
        user_id = services.people.user_id(person)
        services.credentials.add_team_member(credential_id=credential_id, user_id=user_id, role=role, by=caller)
    except WorkflowError as refused:
        if isinstance(refused, NotFound) and refused.kind == "credential":
            raise
        if isinstance(refused, NotFound) and refused.kind == "user":
            errors["person"] = "This person is not in the directory (or is deactivated)."
        elif isinstance(refused, InvalidInput) and refused.field == "role":
            errors["role"] = "Choose one of the roles listed."
        else:
            text = str(refused)
            return team_page(request, services, caller, credential_id, values=values, problem=text[:1].upper()
                             + text[1:].rstrip(".") + ".", status_code=status_of(refused))
        return team_page(request, services, caller, credential_id, values=values, errors=errors,
                         status_code=status_of(refused))
    return RedirectResponse(f"/credentials/{credential_id}/team?done=team-added", status_code=303)


@router.post("/credentials/{credential_id}/team/{assignment_id}/remove")
def remove_member(credential_id: RowId, assignment_id: RowId, request: Request, caller: PageCaller,
                  services: ServicesDep) -> Response:
    """Take a role on this credential away from someone."""
    try:
        services.credentials.remove_team_member(credential_id=credential_id, assignment_id=assignment_id, by=caller)
    except (Forbidden, NotFound) as refused:
        if isinstance(refused, NotFound) and refused.kind == "credential":
            raise
        text = str(refused) if isinstance(refused, Forbidden) else "That person is no longer on the team."
        return team_page(request, services, caller, credential_id, problem=text[:1].upper() + text[1:],
                         status_code=status_of(refused))
    return RedirectResponse(f"/credentials/{credential_id}/team?done=team-removed", status_code=303)
