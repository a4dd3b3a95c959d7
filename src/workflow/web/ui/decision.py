"""The decision page: one credential at one gate — the proposal, its checklist evidence and the approval path
beside a decision panel that stays in view; decisions that are hard to undo are confirmed first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.definitions.graph import transition_from
from workflow.errors import ImpactNotAcknowledged, InvalidInput, NotFound, WorkflowError
from workflow.services.access import Caller
from workflow.services.decisions import GateSheet
from workflow.web.api.schemas import RowId
from workflow.web.deps import ServicesDep
from workflow.web.problems import status_of
from workflow.web.ui.render import error_page, page
from workflow.web.ui.session import PageCaller

router = APIRouter(include_in_schema=False)



def why_not(sheet: GateSheet) -> str:
    """Why the person has no decision to make here, in a sentence."""
    waiting = [s.title for stage in sheet.stages if stage.status == "open" for s in stage.steps if s.next]
    if waiting:
        return f"This gate waits for {' and '.join(waiting)}; your roles do not decide it now."
    return "None of your roles decides this gate."


def decision_page(request: Request, services: ServicesDep, caller: Caller, credential_id: int, gate: str, *,
                  form: dict[str, str] | None = None, errors: dict[str, str] | None = None, error: str = "",
                  confirm: dict[str, str] | None = None, talk: dict[str, str] | None = None,
                  status_code: int = 200) -> HTMLResponse:
    """The gate's decision sheet; ``form``/``errors``/``error`` re-show a refused decision, ``confirm`` asks to
    confirm one, ``talk`` re-shows a refused comment (its ``text`` and ``error``)."""
    sheet = services.decisions.sheet(credential_id, gate, by=caller)
    return page(request, "decision.html", caller, {
        "s": sheet, "form": form or {}, "errors": errors or {}, "error": error, "confirm": confirm,
        "talk": talk or {}, "why_not": why_not(sheet), "impact": impact_of(services, caller, sheet)},
        status_code=status_code, section="approvals")


def impact_of(services: ServicesDep, caller: Caller, sheet: GateSheet) -> list[dict[str, Any]]:
    """The credentials depending on this one, when approving the gate would end its offer (a sunset)."""
    c = sheet.credential
    definition = services.definitions.engine(c.definition, c.definition_version).definition
    if not transition_from(definition, c.state, sheet.gate.trigger).check_dependants:
        return []
    return services.credentials.impact(credential_id=c.id, by=caller)


@router.get("/credentials/{credential_id}/gates/{gate}")
def show(credential_id: RowId, gate: str, request: Request, caller: PageCaller,
         services: ServicesDep) -> HTMLResponse:
    """Read and decide (opening it marks the credential's history as seen by the person)."""
    response = decision_page(request, services, caller, credential_id, gate[:100])
    if caller.user_id is not None:
        sheet: GateSheet = response.context["s"]  # type: ignore[attr-defined]
        services.looks.mark(caller.user_id, sheet.credential.id, sheet.credential.version)
    return response


@router.post("/credentials/{credential_id}/gates/{gate}/decision")
def decide(credential_id: RowId, gate: str, request: Request, caller: PageCaller, services: ServicesDep,
           verdict: Annotated[str, Form(max_length=30)] = "", acting_as: Annotated[str, Form(max_length=300)] = "",
           comment: Annotated[str, Form(max_length=20_000)] = "", confirmed: Annotated[str, Form(max_length=5)] = "",
           version: Annotated[int | None, Form(ge=1, le=2_000_000_000)] = None,
           acknowledge: Annotated[list[int] | None, Form(max_length=1000)] = None) -> Response:
    """Record a decision; rejecting, and approving a gate that is hard to undo, are confirmed first (and, for a
    sunset others depend on, each dependant acknowledged)."""
    gate = gate[:100]
    form = {"verdict": verdict, "acting_as": acting_as, "comment": comment, "version": str(version or "")}
    try:
        sheet = services.decisions.sheet(credential_id, gate, by=caller)
    except NotFound as gone:
        if gone.kind != "open gate":
            raise
        return error_page(request, 409, "This gate has closed", "The credential moved on while you were deciding, "
                          "so your decision was not recorded." + (f" What you wrote: “{comment}”" if comment else ""))
    errors: dict[str, str] = {}
    if verdict not in ("approve", "request_changes", "reject"):
        errors["verdict"] = "Choose approve, request changes or reject."
    elif not comment.strip() and (verdict != "approve" or sheet.confirm):
        errors["comment"] = ("Say why: the team reads your comment to know what to change." if verdict != "approve"
                             else "Say why: approving this is hard to undo, and the history keeps the reason.")
    if errors or confirmed == "edit":
        return decision_page(request, services, caller, credential_id, gate, form=form, errors=errors,
                             status_code=422 if errors else 200)
    if version is not None and version != sheet.credential.version:
        return decision_page(request, services, caller, credential_id, gate, form=form, status_code=409,
                             error="The credential changed since you opened this page: read what changed, then "
                                   "decide again (what you wrote is kept).")
    if confirmed != "yes" and (verdict == "reject" or (verdict == "approve" and sheet.confirm)):
        return decision_page(request, services, caller, credential_id, gate, confirm=form)
    role, _, principal = acting_as.partition("|")
    try:
        result = services.credentials.decide(credential_id=credential_id, gate=gate, verdict=verdict, by=caller,
                                             comment=comment, role=role or None, on_behalf_of=principal or None,
                                             expected_version=version, acknowledged=acknowledge or [])
    except ImpactNotAcknowledged as refused:
        return decision_page(request, services, caller, credential_id, gate, confirm=form, status_code=409,
                             error=f"Tick each credential below to acknowledge what this affects. {refused}.")
    except InvalidInput as refused:
        shown = {refused.field: refused.message} if refused.field in ("verdict", "comment") else {}
        return decision_page(request, services, caller, credential_id, gate, form=form, errors=shown,
                             error="" if shown else str(refused), status_code=status_of(refused))
    except WorkflowError as refused:
        return decision_page(request, services, caller, credential_id, gate, form=form, error=str(refused),
                             status_code=status_of(refused))
    if result.fired:
        return RedirectResponse(f"/credentials/{credential_id}?done=moved", status_code=303)
    return RedirectResponse(f"/credentials/{credential_id}/gates/{gate}?done={verdict}#decide", status_code=303)
