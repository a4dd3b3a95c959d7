"""The administrators' page that moves running credentials to a new version of their definition: choose the
version and (for renamed or removed states) a mapping, see the plan, then confirm it."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.definitions.migration_map import StateMapping, parse_mapping
from workflow.definitions.words import gate_title, role_title, state_title, timer_title
from workflow.errors import InvalidFile, NotFound
from workflow.services.access import Caller
from workflow.services.migration import MigrationPlan, MigrationRefused
from workflow.web.deps import ServicesDep
from workflow.web.ui.render import page
from workflow.web.ui.session import AdminPageCaller

router = APIRouter(prefix="/definitions", include_in_schema=False)
VERDICT_WORDS = {"approve": "approved", "reject": "rejected", "request_changes": "changes requested"}
SHOWN = 200  # credentials listed one by one on the plan page (the counts cover them all)
MappingText = Annotated[str, Form(max_length=20_000)]
VersionText = Annotated[str, Form(max_length=12)]


@router.get("/{name}/migrate")
def migrate_form(request: Request, name: str, caller: AdminPageCaller, services: ServicesDep) -> HTMLResponse:
    """Choose the version to move running credentials to, and the mapping of renamed or removed states."""
    current = _current(services, name)
    return _page(request, caller, services, name, to=current, mapping="")


@router.post("/{name}/migrate/plan")
def migrate_plan(request: Request, name: str, caller: AdminPageCaller, services: ServicesDep,
                 to: VersionText, mapping: MappingText = "") -> HTMLResponse:
    """The plan: where each running credential lands, its checklist, decisions and timers; nothing changes yet."""
    current = _current(services, name)
    states, errors = _mapping(mapping)
    version = int(to) if to.strip().isdigit() else 0
    if not 1 <= version <= current:
        errors["to"] = f"Enter a version from 1 to {current} (the newest)."
        return _page(request, caller, services, name, to=current, typed=to, mapping=mapping, errors=errors,
                     status_code=422)
    if errors:
        return _page(request, caller, services, name, to=version, mapping=mapping, errors=errors, status_code=422)
    try:
        plan = services.migrations.plan(name, version, states)
    except InvalidFile as error:
        return _page(request, caller, services, name, to=version, mapping=mapping, status_code=422,
                     errors={"mapping": "; ".join(f"line {p.line}: {p.message}" for p in error.problems)})
    return _page(request, caller, services, name, to=version, mapping=mapping, plan=plan,
                 status_code=409 if plan.refused else 200)


@router.post("/{name}/migrate")
def migrate(request: Request, name: str, caller: AdminPageCaller, services: ServicesDep,
            to: VersionText, mapping: MappingText = "") -> Response:
    """Carry out the plan just shown (planned again, so that it is the database's as it stands now)."""
    current = _current(services, name)
    states, errors = _mapping(mapping)
    version = int(to) if to.strip().isdigit() else 0
    if errors or not 1 <= version <= current:
        return migrate_plan(request, name, caller, services, to, mapping)
    try:
        plan = services.migrations.plan(name, version, states)
        services.migrations.apply(plan, states, actor=caller.username)
    except (InvalidFile, MigrationRefused):
        return migrate_plan(request, name, caller, services, to, mapping)
    return RedirectResponse(f"/admin?done=migrated#def-{name}-h", status_code=303)


def _current(services: ServicesDep, name: str) -> int:
    if name not in services.definitions.names():
        raise NotFound("definition", name)
    return services.definitions.current_version(name)


def _mapping(text: str) -> tuple[StateMapping | None, dict[str, str]]:
    if not text.strip():
        return None, {}
    try:
        return parse_mapping(text, file="mapping"), {}
    except InvalidFile as error:
        return None, {"mapping": "; ".join(f"line {p.line}: {p.message}" for p in error.problems)}


def _page(request: Request, caller: Caller, services: ServicesDep, name: str, *, to: int, mapping: str,
          plan: MigrationPlan | None = None, errors: dict[str, str] | None = None, typed: str | None = None,
          status_code: int = 200) -> HTMLResponse:
    current = services.definitions.current_version(name)
    definition = services.definitions.engine(name, current).definition
    context: dict[str, Any] = {"name": name, "title": definition.title, "to": typed if typed is not None else to,
                               "current": current,
                               "mapping": mapping, "errors": errors or {}, "plan": plan, "tab": "definitions"}
    if plan is not None:
        new = services.definitions.engine(name, to).definition
        olds = {v: services.definitions.engine(name, v).definition for v in range(1, current + 1)}

        def old_title(state: str) -> str:
            found = next((d for d in olds.values() if state in d.states), None)
            return state_title(found, state) if found is not None else state

        moves = Counter((old_title(p.from_state), state_title(new, p.to_state) if p.to_state in new.states
                         else p.to_state) for p in plan.credentials if p.problem is None)
        local = request.app.state.services.settings.days

        def when(moment: Any) -> str:
            return local.local(moment).strftime("%Y-%m-%d %H:%M %Z") if moment is not None else ""

        def items(keys: tuple[str, ...]) -> str:
            return "; ".join(_item_title([new, *olds.values()], key) for key in keys)

        shown = []
        for p in [p for p in plan.credentials if p.problem is None][:SHOWN]:
            before, after = old_title(p.from_state), state_title(new, p.to_state)
            checklist = f"{len(p.items_kept)} kept" + (f"; new: {items(p.items_added)}" if p.items_added else "") \
                + (f"; dropped: {items(p.items_dropped)}" if p.items_dropped else "")
            shown.append({
                "id": p.id, "title": p.title, "state": before if before == after else f"{before} → {after}",
                "checklist": checklist,
                "decisions": "; ".join(_decision_words(new, d) for d in p.decisions_invalidated) or "none",
                "timers": [f"{timer_title(new, t.key)}: {when(t.before) or 'new'} → {when(t.after) or 'dropped'}"
                           for t in p.timers if t.before != t.after]})
        context.update(
            moves=sorted(moves.items(), key=lambda kv: -kv[1]), refused=plan.refused, shown=shown,
            total=len(plan.credentials), old_title=old_title,
            timers_moved=sum(1 for p in plan.credentials for t in p.timers if t.before != t.after),
            outdated=sum(len(p.decisions_invalidated) for p in plan.credentials))
    return page(request, "admin_migrate.html", caller, context, status_code=status_code, section="admin")


def _decision_words(definition: Any, label: str) -> str:
    """A decision as the plan names it (``gate: verdict by person as role``), in the definition's words."""
    gate, _, rest = label.partition(": ")
    verdict, _, rest = rest.partition(" by ")
    who, _, role = rest.partition(" as ")
    return (f"{gate_title(definition, gate)}: {VERDICT_WORDS.get(verdict, verdict)} by {who} "
            f"({role_title(definition, role)})")


def _item_title(definitions: list[Any], key: str) -> str:
    for definition in definitions:
        for item in definition.checklist_items():
            if item.key == key:
                return str(item.title)
    return key
