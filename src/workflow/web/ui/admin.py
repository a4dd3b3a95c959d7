"""Administration pages: the definitions (drawn, reloaded on request), org units, people and roles, the outbox."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.definitions.diagram import mermaid
from workflow.definitions.lifecycle import lifecycle
from workflow.definitions.simulate import simulate
from workflow.errors import Conflict, InvalidFile, InvalidInput, LastAdministrator, NotFound
from workflow.services.access import Caller
from workflow.services.outbox import DeadFilter, kind_title
from workflow.services.simulation import role_holders
from workflow.web.api.schemas import RowId
from workflow.web.deps import ServicesDep
from workflow.web.problems import status_of
from workflow.web.ui import migration
from workflow.web.ui.lifecycle_svg import layouts_of, whole
from workflow.web.ui.render import page
from workflow.web.ui.session import AdminPageCaller, admin_page
from workflow.web.ui.simulation import FINDING_WORDS, folder_changes

router = APIRouter(prefix="/admin", include_in_schema=False)
router.include_router(migration.router, prefix="")
STATUSES = ("pending", "sent", "dead")
PAGE = 50
OutboxAdminPage = Annotated[Caller, Depends(admin_page("see the email outbox"))]
PersonChange = Literal["deactivate", "reactivate", "make-admin", "remove-admin"]
PERSON_CHANGES: dict[str, dict[str, bool]] = {"deactivate": {"active": False}, "reactivate": {"active": True},
                                              "make-admin": {"admin": True}, "remove-admin": {"admin": False}}


@router.get("")
def definitions(request: Request, caller: AdminPageCaller, services: ServicesDep) -> HTMLResponse:
    """The definitions in use, as loaded at start or by the last reload (and what stopped a refused reload)."""
    return _definitions_page(request, caller, services)


@router.post("/definitions/reload")
def reload_definitions(request: Request, caller: AdminPageCaller, services: ServicesDep) -> Response:
    """Read the definitions folder again: publish what changed if every file is valid, else show the problems."""
    try:
        services.reload_definitions()
    except InvalidFile as error:
        return _definitions_page(request, caller, services, status_code=status_of(error))
    return RedirectResponse("/admin?done=reloaded", status_code=303)


@router.post("/definitions/check")
def check_definitions(request: Request, caller: AdminPageCaller, services: ServicesDep) -> HTMLResponse:
    """Read the definitions folder and show, for each definition that changed, what simulating it with the people
    who hold roles now finds — before a reload publishes it. Nothing is published here."""
    try:
        changed = folder_changes(services)
    except InvalidFile as error:
        return page(request, "admin_definitions_check.html", caller, {
            "problems": [str(p) for p in error.problems], "changed": [], "tab": "definitions"},
            status_code=status_of(error), section="admin")
    return page(request, "admin_definitions_check.html", caller, {
        "problems": [], "changed": changed, "tab": "definitions", "finding_words": FINDING_WORDS}, section="admin")


def _definitions_page(request: Request, caller: Caller, services: ServicesDep, *,
                      status_code: int = 200) -> HTMLResponse:
    loaded = services.definitions.loaded()
    holders = role_holders(services.database)
    shown: list[dict[str, Any]] = []
    for name in services.definitions.names():
        version = services.definitions.current_version(name)
        definition = services.definitions.engine(name, version).definition
        item = loaded.get(name)
        shown.append({"name": name, "version": version, "d": definition, "life": lifecycle(definition),
                      "drawing": whole(layouts_of(request), definition, version),
                      "mermaid": mermaid(definition), "file": item.path if item else None,
                      "sim": simulate(definition, holders)})
    problems = [str(p) for p in services.definitions.problems()]
    return page(request, "admin_definitions.html", caller, {"definitions": shown, "problems": problems,
                                                            "tab": "definitions", "finding_words": FINDING_WORDS},
                status_code=status_code, section="admin")


@router.get("/people")
def people(request: Request, caller: AdminPageCaller, services: ServicesDep,
           page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1) -> HTMLResponse:
    """Org units, and people with their roles."""
    return _people_page(request, caller, services, page_no)


Short = Annotated[str, Form(max_length=400)]


@router.post("/people/new")
def add_person(request: Request, caller: AdminPageCaller, services: ServicesDep, username: Short = "",
               display_name: Short = "", email: Short = "") -> Response:
    """Add a person and email them an invitation to choose their password."""
    values = {"username": username, "display_name": display_name, "email": email}
    errors: dict[str, str] = {}
    if not username.strip():
        errors["username"] = "Give the login name the person will sign in with."
    if not display_name.strip():
        errors["display_name"] = "Give the person's name as others will read it."
    if not email.strip():
        errors["email"] = "Give an email address: the invitation to choose a password goes there."
    if not errors:
        try:
            user_id = services.people.create_user(username=username, display_name=display_name, email=email,
                                                  by=caller)
        except InvalidInput as refused:
            errors[refused.field] = _sentence(refused.message)
        except Conflict:
            errors["username"] = f"Someone already signs in as “{username.strip()}”; choose another login name."
        else:
            services.accounts.send_link(user_id=user_id, purpose="invitation", by=caller)
            return RedirectResponse("/admin/people?done=person-added", status_code=303)
    return _people_page(request, caller, services, 1, add_values=values, add_errors=errors, status_code=422)


@router.post("/people/roles")
def give_role(request: Request, caller: AdminPageCaller, services: ServicesDep, person: Short = "", role: Short = "",
              unit: Short = "") -> Response:
    """Give a person a role for an org unit (and everything below it)."""
    values = {"person": person, "role": role, "unit": unit}
    errors: dict[str, str] = {}
    for name, text, missing in (("person", person, "Choose a person."), ("role", role, "Choose a role."),
                                ("unit", unit, "Choose the org unit the role is held for.")):
        if not text:
            errors[name] = missing
    if not errors:
        try:
            services.people.assign(user_id=services.people.user_id(person), role=role,
                                   unit_id=services.people.unit_id(unit), by=caller)
        except NotFound as missing:
            field = "person" if missing.kind == "user" else "unit"
            errors[field] = "Choose one of those listed."
        except InvalidInput as refused:
            errors["role" if refused.field == "role" else refused.field] = "Choose one of the roles listed."
        else:
            return RedirectResponse("/admin/people?done=role-given", status_code=303)
    return _people_page(request, caller, services, 1, role_values=values, role_errors=errors, status_code=422)


@router.post("/people/roles/{assignment_id}/remove")
def take_role(assignment_id: RowId, caller: AdminPageCaller, services: ServicesDep,
              page_no: Annotated[int, Form(alias="page", ge=1, le=100_000)] = 1) -> Response:
    """Take a role assignment away."""
    services.people.unassign(assignment_id=assignment_id, by=caller)
    return RedirectResponse(f"/admin/people?page={page_no}&done=role-taken", status_code=303)


@router.post("/people/{user_id}/reset-link")
def reset_link(request: Request, user_id: RowId, caller: AdminPageCaller, services: ServicesDep,
               page_no: Annotated[int, Form(alias="page", ge=1, le=100_000)] = 1) -> Response:
    """Email a person a one-time link to choose a new password."""
    try:
        services.accounts.send_link(user_id=user_id, purpose="reset", by=caller)
    except InvalidInput as refused:
        return _people_page(request, caller, services, page_no, refused=_sentence(refused.message),
                            status_code=status_of(refused))
    return RedirectResponse(f"/admin/people?page={page_no}&done=link-sent", status_code=303)


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:].rstrip(".") + "."


@router.post("/people/{user_id}")
def change_person(request: Request, user_id: RowId, caller: AdminPageCaller, services: ServicesDep,
                  change: Annotated[PersonChange, Form()],
                  page_no: Annotated[int, Form(alias="page", ge=1, le=100_000)] = 1) -> Response:
    """Deactivate or reactivate a person, or make them an administrator or no longer one; the last active
    administrator stays one (the page says why, with a 409)."""
    try:
        services.people.update_user(user_id=user_id, by=caller, **PERSON_CHANGES[change])
    except LastAdministrator as error:
        return _people_page(request, caller, services, page_no, refused=str(error), status_code=status_of(error))
    return RedirectResponse(f"/admin/people?page={page_no}&done={change}", status_code=303)


def _people_page(request: Request, caller: Caller, services: ServicesDep, page_no: int, *, refused: str = "",
                 add_values: dict[str, str] | None = None, add_errors: dict[str, str] | None = None,
                 role_values: dict[str, str] | None = None, role_errors: dict[str, str] | None = None,
                 status_code: int = 200) -> HTMLResponse:
    units = services.people.units()
    users = services.people.users(limit=PAGE + 1, offset=(page_no - 1) * PAGE)
    titles = _role_titles(services)
    return page(request, "admin_people.html", caller, {
        "units": units, "users": users[:PAGE], "more": len(users) > PAGE, "page_no": page_no, "tab": "people",
        "refused": refused, "add_values": add_values or {}, "add_errors": add_errors or {},
        "role_values": role_values or {}, "role_errors": role_errors or {},
        "roles": sorted(titles.items(), key=lambda pair: pair[1].lower()),
        "people_options": [(p["username"], f"{p['display_name']} ({p['username']})")
                           for p in services.people.directory()],
        "unit_options": [(u["key"], u["name"]) for u in units]},
        status_code=status_code, section="admin")


def _role_titles(services: ServicesDep) -> dict[str, str]:
    """Every role some current definition names, with its title (the first definition naming it gives it)."""
    titles: dict[str, str] = {}
    for name in services.definitions.names():
        for key, role in services.definitions.engine(name).definition.roles.items():
            titles.setdefault(key, role.title)
    return titles


@router.get("/outbox")
def outbox(request: Request, caller: AdminPageCaller, services: ServicesDep,
           status: Annotated[str, Query(max_length=10)] = "",
           page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1) -> HTMLResponse:
    """Email waiting, sent and given up on, with retry for the last."""
    wanted = status if status in STATUSES else None
    rows, counts = services.outbox.listing(by=caller, status=wanted, limit=PAGE + 1, offset=(page_no - 1) * PAGE)
    return page(request, "admin_outbox.html", caller, {
        "rows": rows[:PAGE], "more": len(rows) > PAGE, "counts": counts, "status": wanted or "",
        "statuses": STATUSES, "page_no": page_no, "tab": "outbox", "kind_title": kind_title,
        "kinds": services.outbox.dead_kinds(by=caller) if counts.get("dead") else []}, section="admin")


Field = Annotated[str, Query(max_length=320)]


@router.get("/outbox/retry-dead")
def retry_dead_confirm(request: Request, caller: OutboxAdminPage, services: ServicesDep, kind: Field = "",
                       recipient: Field = "", since: Field = "", until: Field = "") -> HTMLResponse:
    """How many dead messages the filter picks, to confirm before they are all queued again."""
    values = {"kind": kind, "recipient": recipient.strip(), "since": since, "until": until}
    chosen, errors = _dead_filter(services, **values)
    count = services.outbox.dead_count(chosen, by=caller) if chosen is not None else 0
    return page(request, "admin_outbox_retry.html", caller, {
        **values, "errors": errors, "count": count, "tab": "outbox", "kind_title": kind_title,
        "kinds": services.outbox.dead_kinds(by=caller)}, status_code=422 if errors else 200, section="admin")


@router.post("/outbox/retry-dead")
def retry_dead(request: Request, caller: OutboxAdminPage, services: ServicesDep,
               kind: Annotated[str, Form(max_length=40)] = "", recipient: Annotated[str, Form(max_length=320)] = "",
               since: Annotated[str, Form(max_length=20)] = "",
               until: Annotated[str, Form(max_length=20)] = "") -> Response:
    """Queue every dead message the filter picks again, in one go."""
    chosen, _errors = _dead_filter(services, kind=kind, recipient=recipient, since=since, until=until)
    if chosen is None:
        return retry_dead_confirm(request, caller, services, kind, recipient, since, until)
    services.outbox.retry_dead(chosen, by=caller)
    return RedirectResponse("/admin/outbox?status=pending&done=retried_all", status_code=303)


def _dead_filter(services: ServicesDep, *, kind: str, recipient: str, since: str,
                 until: str) -> tuple[DeadFilter | None, dict[str, str]]:
    """The filter the form asks for, or None and what is wrong with it, by field."""
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for name, text in (("since", since), ("until", until)):
        try:
            days[name] = date.fromisoformat(text.strip()) if text.strip() else None
        except ValueError:
            errors[name] = "Enter a date as year-month-day, for example 2026-09-01."
    if not errors and days["since"] and days["until"] and days["since"] > days["until"]:
        errors["until"] = "The last day cannot be before the first day."
    if errors:
        return None, errors
    return DeadFilter.days(services.settings.timezone, kind=kind, recipient=recipient, since=days["since"],
                           until=days["until"]), {}


@router.post("/outbox/{message_id}/retry")
def retry(message_id: RowId, caller: OutboxAdminPage, services: ServicesDep) -> RedirectResponse:
    """Send a dead message again."""
    services.outbox.retry(message_id, by=caller)
    return RedirectResponse("/admin/outbox?status=dead&done=retried", status_code=303)
