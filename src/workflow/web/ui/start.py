"""Starting a credential and editing its information, with one form driven by its definition: each field with its
label, help text and type, the required ones marked; every field's error shown beside it, with what was typed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.definitions.model import Definition
from workflow.errors import Forbidden, InvalidInput, NotFound, WorkflowError
from workflow.services.access import Caller
from workflow.web.api.schemas import RowId
from workflow.web.deps import ServicesDep
from workflow.web.problems import status_of
from workflow.web.ui.fields import as_text, read_form, sentence
from workflow.web.ui.render import page
from workflow.web.ui.session import PageCaller

router = APIRouter(include_in_schema=False)
MAX_FORM_FIELDS = 200
MAX_VALUE = 20_000


async def _form(request: Request) -> dict[str, str]:
    """The posted form's text values (refused whole when larger than any real form)."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    if len(form) > MAX_FORM_FIELDS or any(len(v) > MAX_VALUE for v in form.values()):
        raise InvalidInput("form", "the form is too large")
    return form


def may_start(services: ServicesDep, caller: Caller) -> bool:
    """Whether the caller may start a credential of some definition somewhere (for the link to the form)."""
    own = {g.role for g in caller.grants if not g.delegated}
    return any(own & set(services.definitions.engine(name).definition.permissions.create)
                                  for name in services.definitions.names())


def _startable(services: ServicesDep, caller: Caller) -> list[tuple[str, Definition, list[dict[str, Any]]]]:
    """Each definition the caller may start a credential of, with the org units where they may (where they hold one
    of its roles that start credentials, as the service requires of everyone, administrators too)."""
    units = services.people.units()
    found = []
    for name in services.definitions.names():
        definition = services.definitions.engine(name).definition
        creators = set(definition.permissions.create)
        where = [u for u in units if creators & caller.roles_on(None, u["id"])]
        if where:
            found.append((name, definition, where))
    return found


def _new_page(request: Request, services: ServicesDep, caller: Caller, *, chosen: str = "",
              values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
              status_code: int = 200) -> HTMLResponse:
    options = _startable(services, caller)
    if not options:
        raise Forbidden("starting a credential needs a role that may start one (such as a project manager or an "
                        "initiative lead) in some faculty or department")
    name, definition, units = next(((n, d, u) for n, d, u in options if n == chosen), options[0])
    return page(request, "credential_new.html", caller, {
        "definitions": [(n, d.title) for n, d, _ in options],
        "definition_name": name, "definition": definition, "units": units, "values": values or {},
        "errors": errors or {}}, status_code=status_code, section="portfolio")


@router.get("/credentials/new")
def new_credential(request: Request, caller: PageCaller, services: ServicesDep,
                   definition: Annotated[str, Query(max_length=100)] = "") -> HTMLResponse:
    """The form to start a credential."""
    return _new_page(request, services, caller, chosen=definition)


@router.post("/credentials/new")
async def start_credential(request: Request, caller: PageCaller, services: ServicesDep) -> Response:
    """Start a credential in its first state; a refused form comes back with every error beside its field."""
    form = await _form(request)
    chosen = form.get("definition", "")
    options = {n: (d, u) for n, d, u in _startable(services, caller)}
    if chosen not in options:
        return _new_page(request, services, caller, values=form, status_code=422,
                         errors={"definition": "Choose the kind of credential to start."})
    definition, units = options[chosen]
    data, errors = read_form(definition, form, {}, starting=True)
    unit_key = form.get("org_unit", "")
    unit = next((u for u in units if u["key"] == unit_key), None)
    if unit is None:
        errors["org_unit"] = "Choose the faculty or department the credential belongs to."
    title_field = definition.fields.get("title")
    title = str(data.pop("title", "")) if title_field else form.get("title", "").strip()
    if not title_field and not title:
        errors["title"] = "Title is required."
    if errors:
        return _new_page(request, services, caller, chosen=chosen, values=form, errors=errors, status_code=422)
    assert unit is not None
    try:
        credential_id = services.credentials.create(definition=chosen, title=title, by=caller,
                                                    org_unit_id=unit["id"], data=data)
    except InvalidInput as refused:
        label = definition.fields[refused.field].label if refused.field in definition.fields else refused.label
        return _new_page(request, services, caller, chosen=chosen, values=form, status_code=status_of(refused),
                         errors={refused.field: sentence(refused.message, label)})
    return RedirectResponse(f"/credentials/{credential_id}?done=started", status_code=303)


def _edit_page(request: Request, services: ServicesDep, caller: Caller, credential_id: int, *,
               values: dict[str, str] | None = None, errors: dict[str, str] | None = None, comment: str = "",
               problem: str = "", status_code: int = 200) -> HTMLResponse:
    detail = services.views.get(credential_id, by=caller)
    definition = services.definitions.engine(detail.definition, detail.definition_version).definition
    if not caller.roles_on(detail.id, detail.org_unit_id) & set(definition.permissions.edit):
        raise Forbidden("changing its information needs one of the roles "
                        + ", ".join(definition.roles[r].title for r in definition.permissions.edit
                                    if r in definition.roles))
    shown = values if values is not None else {f"field.{k}": as_text(f.type, detail.data.get(k))
                                               for k, f in definition.fields.items()}
    return page(request, "credential_edit.html", caller, {
        "c": detail, "definition": definition, "values": shown, "errors": errors or {}, "comment": comment,
        "problem": problem}, status_code=status_code, section="portfolio")


@router.get("/credentials/{credential_id}/edit")
def edit_credential(credential_id: RowId, request: Request, caller: PageCaller, services: ServicesDep) -> HTMLResponse:
    """The critical information summary in the form that started the credential."""
    return _edit_page(request, services, caller, credential_id)


@router.post("/credentials/{credential_id}/edit")
async def save_credential(credential_id: RowId, request: Request, caller: PageCaller,
                          services: ServicesDep) -> Response:
    """Save the changed fields (the history names each one, with before and after)."""
    form = await _form(request)
    detail = services.views.get(credential_id, by=caller)
    definition = services.definitions.engine(detail.definition, detail.definition_version).definition
    changes, errors = read_form(definition, form, detail.data)
    comment = form.get("comment", "")
    if errors:
        return _edit_page(request, services, caller, credential_id, values=form, errors=errors, comment=comment,
                          status_code=422)
    version = int(form["version"]) if form.get("version", "").isdigit() else None
    try:
        services.credentials.update(credential_id=credential_id, changes=changes, by=caller,
                                    expected_version=version, comment=comment)
    except WorkflowError as refused:
        if isinstance(refused, NotFound) and refused.kind == "credential":
            raise
        if isinstance(refused, InvalidInput) and refused.field in definition.fields:
            errors = {refused.field: sentence(refused.message, definition.fields[refused.field].label)}
            return _edit_page(request, services, caller, credential_id, values=form, errors=errors, comment=comment,
                              status_code=status_of(refused))
        text = str(refused)
        return _edit_page(request, services, caller, credential_id, values=form, comment=comment,
                          problem=text[:1].upper() + text[1:], status_code=status_of(refused))
    return RedirectResponse(f"/credentials/{credential_id}?done=data#information", status_code=303)
