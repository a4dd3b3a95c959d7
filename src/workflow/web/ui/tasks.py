"""My tasks: the checklist items the signed-in person's roles owe, by credential, soonest due first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from workflow.web.deps import ServicesDep
from workflow.web.ui.render import page
from workflow.web.ui.session import PageCaller

router = APIRouter(include_in_schema=False)
LATEST = datetime.max.replace(tzinfo=None)
PAGE = 100  # the items waiting longest; ticking them brings the next ones


def _soonest(group: dict[str, Any]) -> tuple[bool, datetime]:
    dues = [t["due_at"].replace(tzinfo=None) for t in group["tasks"] if t["due_at"] is not None]
    return (not dues, min(dues) if dues else LATEST)


@router.get("/tasks")
def tasks(request: Request, caller: PageCaller, services: ServicesDep,
          limit: Annotated[int, Query(ge=1, le=PAGE)] = PAGE) -> HTMLResponse:
    """The department's to-do list (the ``limit`` items waiting longest, 100 unless asked for fewer)."""
    now = services.clock.now()
    groups: dict[int, dict[str, Any]] = {}
    found = services.inbox.tasks(by=caller, limit=limit + 1)
    for task in found[:limit]:
        task["overdue"] = task["due_at"] is not None and task["due_at"] < now
        group = groups.setdefault(task["credential_id"], {"credential_id": task["credential_id"],
                                                          "title": task["title"], "state": task["state"],
                                                          "tasks": []})
        group["tasks"].append(task)
    ordered = sorted(groups.values(), key=_soonest)
    for group in ordered:
        group["tasks"].sort(key=lambda t: (t["due_at"] is None, t["due_at"] or now))
    total = sum(len(g["tasks"]) for g in ordered)
    return page(request, "tasks.html", caller, {"groups": ordered, "total": total, "more": len(found) > limit},
                section="tasks")
