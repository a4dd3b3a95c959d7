"""The credential page: where it is in its lifecycle, its information and how it changed, the checklist by
role, each gate's decisions and discussion, upcoming timers and the history — and the forms to act on them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.definitions.graph import transition_from
from workflow.definitions.lifecycle import lifecycle
from workflow.definitions.words import role_title
from workflow.errors import Forbidden, InvalidInput, NotFound, TransitionNotAllowed, Unmet, WorkflowError
from workflow.services.access import Caller
from workflow.services.decisions import choices_for, move_consequence
from workflow.services.milestones import timeline
from workflow.web.api.schemas import RowId
from workflow.web.deps import ServicesDep
from workflow.web.problems import status_of
from workflow.web.ui.charts import bars
from workflow.web.ui.decision import decision_page
from workflow.web.ui.fields import as_text, read_form
from workflow.web.ui.lifecycle_svg import for_credential, layouts_of
from workflow.web.ui.render import page
from workflow.web.ui.session import PageCaller, same_site

router = APIRouter(include_in_schema=False)

Comment = Annotated[str, Form(max_length=4000)]
Version = Annotated[int | None, Form(ge=1, le=2_000_000_000)]


def credential_page(request: Request, services: ServicesDep, caller: Caller, credential_id: int, *,
                    error: str = "", form: dict[str, str] | None = None, status_code: int = 200,
                    refused_unmet: tuple[Unmet, ...] = (), field_errors: dict[str, str] | None = None) -> HTMLResponse:
    """Everything about one credential on one page (``error`` and ``form`` re-show a refused form; a refused move
    lists ``refused_unmet``, each linked to where it is done)."""
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
    made = [(e.from_state, e.to_state, e.trigger) for e in history if e.from_state and e.to_state and e.trigger]
    drawing = for_credential(layouts_of(request), definition, detail.definition_version, detail.state, made)
    context = {
        "c": detail, "definition": definition, "life": lifecycle(definition), "drawing": drawing,
        "milestones": milestones,
        "history": list(reversed(history)), "changes": list(reversed(changes)), "owners": owners,
        "roles_here": roles_here, "discussion": discussion, "moves": moves, "may_edit": may_edit,
        "choices": {g.gate: choices_for(definition, caller, detail, g) for g in detail.gates},
        "confirmed": {t.trigger for t in definition.transitions if t.confirm},
        "names": services.access.names_of({e.actor for e in history}
                                          | {d["by"] for g in detail.gates for d in g.decisions}
                                          | {i.done_by for i in detail.checklist if i.done_by}),
        "fields": definition.fields, "error": error, "refused_unmet": refused_unmet, "form": form or {},
        "bars": bars(milestones, now), "may_edit_any": may_edit,
        "field_values": {**{f"field.{k}": as_text(f.type, detail.data.get(k)) for k, f in definition.fields.items()},
                         **({k: v for k, v in form.items() if k.startswith("field.")} if form and form.get("data")
                            else {})},
        "field_errors": field_errors or {},
        "evidence": {e.target: e for e in services.evidence.list(credential_id=credential_id, by=caller)},
        "as_text": as_text,
        "plan": services.plans.views.get(credential_id, by=caller), "intakes": services.plans.views.terms,
    }
    return page(request, "credential.html", caller, context, status_code=status_code, section="portfolio")


def _refused(request: Request, services: ServicesDep, caller: Caller, credential_id: int, error: WorkflowError,
             form: dict[str, str]) -> HTMLResponse:
    if isinstance(error, NotFound) and error.kind == "credential":
        raise error
    if isinstance(error, TransitionNotAllowed):
        headline = error.headline + (":" if error.unmet else ".")
        return credential_page(request, services, caller, credential_id, error=headline, form=form,
                               status_code=status_of(error), refused_unmet=error.unmet)
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


def confirm_page(request: Request, services: ServicesDep, caller: Caller, credential_id: int, trigger: str, *,
                 comment: str = "", error: str = "", status_code: int = 200) -> HTMLResponse:
    """Ask for confirmation and a reason before a move that is hard to undo (only those who may make it)."""
    detail = services.views.get(credential_id, by=caller)
    definition = services.definitions.engine(detail.definition, detail.definition_version).definition
    option = next((o for o in detail.options if o.trigger == trigger and o.gate is None), None)
    if option is None:
        raise NotFound("move", trigger)
    transition = transition_from(definition, detail.state, trigger)
    allowed = transition.by or definition.permissions.edit
    if not caller.roles_on(detail.id, detail.org_unit_id) & set(allowed):
        raise Forbidden(f"“{option.title}” needs one of the roles "
                        f"{', '.join(role_title(definition, r) for r in allowed)} on this credential")
    return page(request, "move_confirm.html", caller, {
        "c": detail, "trigger": trigger, "move_title": option.title, "comment": comment, "error": error,
        "unmet": option.unmet,
        "final": transition.dest in definition.states and definition.states[transition.dest].final,
        "consequence": move_consequence(definition, detail.state, trigger, detail.previous_state),
        "impact": services.credentials.impact(credential_id=credential_id, by=caller)
        if transition.check_dependants else [],
    }, status_code=status_code, section="portfolio")


@router.get("/credentials/{credential_id}/moves/{trigger}")
def confirm_move(credential_id: RowId, trigger: str, request: Request, caller: PageCaller,
                 services: ServicesDep) -> HTMLResponse:
    """The confirmation page of a move that is hard to undo (withdraw, hold, retire)."""
    return confirm_page(request, services, caller, credential_id, trigger[:100])


@router.post("/credentials/{credential_id}/transitions")
def move(credential_id: RowId, request: Request, caller: PageCaller, services: ServicesDep,
         trigger: Annotated[str, Form(max_length=100)], comment: Annotated[str, Form(max_length=20_000)] = "",
         version: Version = None, back: Annotated[str, Form(max_length=10)] = "",
         acknowledge: Annotated[list[int] | None, Form(max_length=1000)] = None) -> Response:
    """Perform a transition that needs no gate decision (``back=confirm``: sent from its confirmation page, which
    shows any refusal beside the reason typed)."""
    try:
        services.credentials.fire(credential_id=credential_id, trigger=trigger, by=caller, comment=comment,
                                  expected_version=version, acknowledged=acknowledge or [])
    except WorkflowError as error:
        if back == "confirm" and not (isinstance(error, NotFound) and error.kind == "credential"):
            text = error.message if isinstance(error, InvalidInput) else str(error)
            try:
                return confirm_page(request, services, caller, credential_id, trigger[:100], comment=comment,
                                    error=text[:1].upper() + text[1:].rstrip(".") + ".", status_code=status_of(error))
            except NotFound:  # the move is no longer open from where the credential now is
                pass
        return _refused(request, services, caller, credential_id, error, {"trigger": trigger, "comment": comment})
    return _done(credential_id, "fired", "history")


@router.post("/credentials/{credential_id}/comments")
def post_comment(credential_id: RowId, request: Request, caller: PageCaller, services: ServicesDep,
                 gate: Annotated[str, Form(max_length=100)], text: Comment = "",
                 back: Annotated[str, Form(max_length=10)] = "") -> Response:
    """Add to a gate's discussion (from the credential page, or from the gate's decision page: ``back=gate``)."""
    try:
        services.credentials.comment(credential_id=credential_id, gate=gate, text=text, by=caller)
    except WorkflowError as error:
        if back == "gate" and isinstance(error, InvalidInput):
            message = error.message[:1].upper() + error.message[1:] + "."
            return decision_page(request, services, caller, credential_id, gate, talk={"text": text, "error": message},
                                 status_code=status_of(error))
        return _refused(request, services, caller, credential_id, error, {"gate": gate, "text": text})
    if back == "gate" and any(g.gate == gate for g in services.views.get(credential_id, by=caller).gates):
        return RedirectResponse(f"/credentials/{credential_id}/gates/{gate}?done=comment#discussion",
                                status_code=303)
    return _done(credential_id, "comment", f"gate-{gate}")  # from the credential page, or the gate has closed


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
        changes, errors = read_form(definition, form, detail.data)
        if errors:
            return credential_page(request, services, caller, credential_id, form={"data": "yes", **form},
                                   error="Nothing was saved: correct the fields marked under “Edit the "
                                         "information”.", field_errors=errors, status_code=422)
        services.credentials.update(credential_id=credential_id, changes=changes, by=caller,
                                    expected_version=version, comment=form.get("comment", "")[:4000])
    except WorkflowError as error:
        return _refused(request, services, caller, credential_id, error, {"data": "yes", **form})
    return _done(credential_id, "data", "information")
