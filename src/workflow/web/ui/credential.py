"""The credential page: where it is in its lifecycle, its information and how it changed, the checklist by
role, each gate's decisions and discussion, upcoming timers and the history — and the forms to act on them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.definitions.lifecycle import lifecycle
from workflow.definitions.model import Definition
from workflow.definitions.words import role_title
from workflow.errors import InvalidInput, NotFound, WorkflowError
from workflow.services.access import Caller
from workflow.services.milestones import timeline
from workflow.web.api.schemas import RowId
from workflow.web.deps import ServicesDep
from workflow.web.problems import status_of
from workflow.web.ui.charts import bars
from workflow.web.ui.fields import as_text, from_form
from workflow.web.ui.render import page
from workflow.web.ui.session import PageCaller, same_site

router = APIRouter(include_in_schema=False)

Comment = Annotated[str, Form(max_length=4000)]
Version = Annotated[int | None, Form(ge=1, le=2_000_000_000)]


def decision_choices(caller: Caller, detail: Any, gate: Any, definition: Definition | None = None
                     ) -> list[dict[str, str]]:
    """The ways the caller may decide a gate: each approver role they hold, themselves or for someone."""
    waiting = {a.role for a in gate.approvers if a.approvals < a.needed
               and (gate.open_stage is None or a.stage <= gate.open_stage)}
    choices = []
    for grant in caller.grants_on(detail.id, detail.org_unit_id):
        if grant.role in waiting:
            label = role_title(definition, grant.role) + (f", for {grant.principal}" if grant.delegated else "")
            choice = {"value": f"{grant.role}|{grant.principal if grant.delegated else ''}", "label": label}
            if choice not in choices:
                choices.append(choice)
    return choices


def credential_page(request: Request, services: ServicesDep, caller: Caller, credential_id: int, *,
                    error: str = "", form: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    """Everything about one credential on one page (``error`` and ``form`` re-show a refused form)."""
    detail = services.views.get(credential_id, by=caller)
    history = services.views.history(credential_id, by=caller)
    definition = services.definitions.engine(detail.definition, detail.definition_version).definition
    now = services.clock.now()
    milestones = timeline(definition, [e for e in history[1:] if e.to_state], created_at=history[0].at, now=now,
                          initial=history[0].to_state) if history else []
    roles_here = caller.roles_on(detail.id, detail.org_unit_id)
    owners = services.access.holders_by_role(detail.id, detail.org_unit_id,
                                             {item.owner for item in detail.checklist}
                                             | {a.role for g in detail.gates for a in g.approvers})
    discussion: dict[str, list[Any]] = {}
    for event in history:
        if event.kind in ("comment", "decision") and event.details.get("gate"):
            discussion.setdefault(event.details["gate"], []).append(event)
    changes = [e for e in history if e.kind == "data" and e.details.get("changes")]
    may_edit = bool(roles_here & set(definition.permissions.edit))
    moves = [o for o in detail.options if o.gate is None and bool(
        roles_here & set(next(t for t in definition.transitions if t.trigger == o.trigger).by
                         or definition.permissions.edit))]
    context = {
        "c": detail, "definition": definition, "life": lifecycle(definition), "milestones": milestones,
        "history": list(reversed(history)), "changes": list(reversed(changes)), "owners": owners,
        "roles_here": roles_here, "discussion": discussion, "moves": moves, "may_edit": may_edit,
        "choices": {g.gate: decision_choices(caller, detail, g, definition) for g in detail.gates},
        "fields": definition.fields, "error": error, "form": form or {}, "bars": bars(milestones, now),
        "as_text": as_text,
    }
    return page(request, "credential.html", caller, context, status_code=status_code, section="portfolio")


def _refused(request: Request, services: ServicesDep, caller: Caller, credential_id: int, error: WorkflowError,
             form: dict[str, str]) -> HTMLResponse:
    if isinstance(error, NotFound) and error.kind == "credential":
        raise error
    return credential_page(request, services, caller, credential_id, error=str(error), form=form,
                           status_code=status_of(error))


def _done(credential_id: int, what: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/credentials/{credential_id}?done={what}{'#' + anchor if anchor else ''}",
                            status_code=303)


@router.get("/credentials/{credential_id}")
def show(credential_id: RowId, request: Request, caller: PageCaller, services: ServicesDep) -> HTMLResponse:
    """The credential page (opening it marks its history as seen by the person)."""
    response = credential_page(request, services, caller, credential_id)
    if caller.user_id is not None:
        services.looks.mark(caller.user_id, credential_id, response.context["history"][0].seq)  # type: ignore[attr-defined]
    return response


@router.post("/credentials/{credential_id}/decisions")
def decide(credential_id: RowId, request: Request, caller: PageCaller, services: ServicesDep,
           gate: Annotated[str, Form(max_length=100)], verdict: Annotated[str, Form(max_length=30)],
           acting_as: Annotated[str, Form(max_length=300)] = "", comment: Comment = "",
           version: Version = None) -> Response:
    """Approve, reject or ask for changes, with a comment."""
    role, _, principal = acting_as.partition("|")
    try:
        result = services.credentials.decide(credential_id=credential_id, gate=gate, verdict=verdict, by=caller,
                                             comment=comment, role=role or None, on_behalf_of=principal or None,
                                             expected_version=version)
    except WorkflowError as error:
        return _refused(request, services, caller, credential_id, error,
                        {"gate": gate, "comment": comment, "verdict": verdict})
    return _done(credential_id, "moved" if result.fired else verdict, f"gate-{gate}")


@router.post("/credentials/{credential_id}/items/{item}")
def tick(credential_id: RowId, item: str, request: Request, caller: PageCaller,
         services: ServicesDep, done: Annotated[str, Form(max_length=5)] = "",
         note: Annotated[str, Form(max_length=4000)] = "", back: Annotated[str, Form(max_length=500)] = "",
         version: Version = None) -> Response:
    """Mark a checklist item done or not done, with a note."""
    try:
        services.credentials.set_item(credential_id=credential_id, item=item[:100], done=done == "yes", note=note,
                                      by=caller, expected_version=version)
    except WorkflowError as error:
        if back.startswith("/tasks"):
            raise
        return _refused(request, services, caller, credential_id, error, {"item": item, "note": note})
    target = same_site(back, f"/credentials/{credential_id}")
    return RedirectResponse(f"{target}{'&' if '?' in target else '?'}done=item#item-{credential_id}-{item[:100]}",
                            status_code=303)


@router.post("/credentials/{credential_id}/transitions")
def move(credential_id: RowId, request: Request, caller: PageCaller, services: ServicesDep,
         trigger: Annotated[str, Form(max_length=100)], comment: Comment = "", version: Version = None) -> Response:
    """Perform a transition that needs no gate decision."""
    try:
        services.credentials.fire(credential_id=credential_id, trigger=trigger, by=caller, comment=comment,
                                  expected_version=version)
    except WorkflowError as error:
        return _refused(request, services, caller, credential_id, error, {"trigger": trigger, "comment": comment})
    return _done(credential_id, "fired")


@router.post("/credentials/{credential_id}/comments")
def post_comment(credential_id: RowId, request: Request, caller: PageCaller, services: ServicesDep,
                 gate: Annotated[str, Form(max_length=100)], text: Comment = "") -> Response:
    """Add to a gate's discussion."""
    try:
        services.credentials.comment(credential_id=credential_id, gate=gate, text=text, by=caller)
    except WorkflowError as error:
        return _refused(request, services, caller, credential_id, error, {"gate": gate, "text": text})
    return _done(credential_id, "comment", f"gate-{gate}")


@router.post("/credentials/{credential_id}/data")
async def edit_data(credential_id: RowId, request: Request, caller: PageCaller, services: ServicesDep) -> Response:
    """Change the critical information summary (the fields changed are recorded, each with before and after)."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        if any(len(v) > 20_000 for v in form.values()) or len(form) > 200:
            raise InvalidInput("form", "the form is too large")
        detail = services.views.get(credential_id, by=caller)
        definition = services.definitions.engine(detail.definition, detail.definition_version).definition
        version = int(form["version"]) if form.get("version", "").isdigit() else None
        changes = from_form(definition, form, detail.data)
        services.credentials.update(credential_id=credential_id, changes=changes, by=caller,
                                    expected_version=version, comment=form.get("comment", "")[:4000])
    except WorkflowError as error:
        return _refused(request, services, caller, credential_id, error, {"data": "yes", **form})
    return _done(credential_id, "data", "information")
