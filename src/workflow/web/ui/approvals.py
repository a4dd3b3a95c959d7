"""My approvals: the table of decisions waiting for the signed-in person (sorted, filtered, searched and paged by
the URL's parameters, so a filtered view can be bookmarked and works without JavaScript), the agendas of their
committees, and the delegations they give."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.clock import LocalDays
from workflow.errors import InvalidInput, WorkflowError
from workflow.services.access import Caller
from workflow.services.approvals import (
    DUE,
    MAX_PER_PAGE,
    MAX_SEARCH,
    PER_PAGE,
    SORTS,
    ApprovalPage,
    ApprovalQuery,
)
from workflow.web.api.schemas import RowId
from workflow.web.deps import ServicesDep
from workflow.web.problems import status_of
from workflow.web.ui.render import page
from workflow.web.ui.session import PageCaller

router = APIRouter(include_in_schema=False)

COLUMNS = (("title", "Credential"), ("due", "Due"), ("gate", "Gate"), ("faculty", "Faculty"),
           ("waiting", "Waiting since"), ("checklist", "Checklist complete"), ("changes", "Changed since you looked"),
           ("role", "You decide as"))  # the due date next to the title: what a phone shows without scrolling
SORT_WORDS = dict(COLUMNS)
DUE_WORDS = {"all": "All", "overdue": "Overdue", "week": "Due this week"}


def read_query(params: dict[str, str]) -> tuple[ApprovalQuery, list[str]]:
    """The table's query from the URL, each unusable parameter replaced by its default with a note saying so."""
    notes: list[str] = []
    query = ApprovalQuery()
    sort = params.get("sort", "due")
    if sort not in SORTS:
        notes.append(f"There is no column “{sort[:40]}” to sort by; sorted by due date instead.")
        sort = "due"
    direction = params.get("direction", "")
    if direction not in ("", "asc", "desc"):
        notes.append("The sort direction must be ascending or descending; the column's own is used.")
        direction = ""
    due = params.get("due", "all") or "all"
    if due not in DUE:
        notes.append("Due status must be overdue, due this week or all; showing all.")
        due = "all"
    search = params.get("search", "")
    if len(search) > MAX_SEARCH:
        notes.append(f"Search looks for at most {MAX_SEARCH} characters; the first {MAX_SEARCH} were used.")
        search = search[:MAX_SEARCH]
    faculty: int | None = None
    if params.get("faculty"):
        try:
            faculty = int(params["faculty"])
        except ValueError:
            notes.append("Choose a faculty from the list; showing all faculties.")
    number = 1
    if params.get("page"):
        try:
            number = int(params["page"])
        except ValueError:
            number = 0
        if number < 1:
            notes.append("Pages start at 1; showing the first page.")
            number = 1
    per_page = PER_PAGE
    if params.get("per_page"):
        try:
            per_page = int(params["per_page"])
        except ValueError:
            per_page = 0
        if not 1 <= per_page <= MAX_PER_PAGE:
            notes.append(f"Rows per page must be between 1 and {MAX_PER_PAGE}; showing {PER_PAGE}.")
            per_page = PER_PAGE
    return replace(query, sort=sort, direction=direction, gate=params.get("gate", "")[:100], faculty=faculty,
                   due=due, search=search, page=number, per_page=per_page), notes


def load_table(services: ServicesDep, caller: Caller, query: ApprovalQuery, notes: list[str]) -> ApprovalPage:
    """The page of the table, dropping a gate or faculty the person cannot choose and going to the last page
    when asked for one past the end (each with a note)."""
    now = services.clock.now()
    for _ in range(3):
        try:
            found = services.inbox.table.page(by=caller, query=query, now=now)
        except InvalidInput as error:
            if error.field == "gate":
                notes.append("Choose a gate from the list; showing all gates.")
                query = replace(query, gate="")
            elif error.field == "faculty":
                notes.append("Choose a faculty from the list; showing all faculties.")
                query = replace(query, faculty=None)
            else:
                raise
            continue
        if query.page > found.pages:
            notes.append(f"There is no page {query.page}; showing page {found.pages}, the last.")
            query = replace(query, page=found.pages)
            continue
        return found
    return services.inbox.table.page(by=caller, query=replace(query, gate="", faculty=None, page=1), now=now)


def link(query: ApprovalQuery, **changes: Any) -> str:
    """The URL of the table with ``query`` changed (defaults left out)."""
    asked = replace(query, **changes)
    params = {"sort": asked.sort if asked.sort != "due" else "", "direction": asked.direction,
              "gate": asked.gate, "faculty": "" if asked.faculty is None else str(asked.faculty),
              "due": "" if asked.due == "all" else asked.due, "search": asked.search,
              "page": "" if asked.page == 1 else str(asked.page),
              "per_page": "" if asked.per_page == PER_PAGE else str(asked.per_page)}
    text = urlencode({k: v for k, v in params.items() if v})
    return f"/approvals?{text}" if text else "/approvals"


def due_words(due_at: datetime | None, today: date, calendar: LocalDays) -> tuple[str, bool]:
    """How a due date reads beside today, both local days: ("3 days overdue", True), ("due today", False),
    ("in 5 days", False)."""
    if due_at is None:
        return "", False
    days = (calendar.day_of(due_at) - today).days
    if days < 0:
        return f"{-days} day{'s' if days != -1 else ''} overdue", True
    if days == 0:
        return "due today", False
    return f"in {days} day{'s' if days != 1 else ''}", False


def approvals_page(request: Request, services: ServicesDep, caller: Caller, *, error: str = "",
                   form: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    """The approvals table with its filters, the committee agendas above it and the delegations below."""
    query, notes = read_query(dict(request.query_params))
    table = load_table(services, caller, query, notes)
    today = services.access.days.day_of(services.clock.now())
    seen = services.looks.changes(caller.user_id or 0, [w["credential_id"] for w in table.items])  # this page's
    for item in table.items:
        item["due_words"], item["late"] = due_words(item["due_at"], today, services.access.days)
        item["summary"] = (seen.get(item["credential_id"]) or {}).get("summary", "")
    own_roles = sorted({g.role for g in caller.grants if not g.delegated})
    titles = {key: role.title for name in services.definitions.names()
              for key, role in services.definitions.engine(name).definition.roles.items()}
    return page(request, "approvals.html", caller, {
        "table": table, "query": table.query, "notes": notes, "columns": COLUMNS, "due_words": DUE_WORDS,
        "link": lambda **changes: link(table.query, **changes), "sort_words": SORT_WORDS,
        "agendas": services.inbox.agenda.agendas(by=caller, today=today),
        "delegations": services.people.delegations(by=caller), "own_roles": own_roles, "role_titles": titles,
        "today": today.isoformat(), "error": error, "form": form or {}}, status_code=status_code,
        section="approvals")


@router.get("/approvals")
def approvals(request: Request, caller: PageCaller, services: ServicesDep) -> HTMLResponse:
    """The dean's inbox."""
    return approvals_page(request, services, caller)


@router.post("/delegations")
def delegate(request: Request, caller: PageCaller, services: ServicesDep,
             to: Annotated[str, Form(max_length=100)], starts_on: Annotated[str, Form(max_length=10)],
             ends_on: Annotated[str, Form(max_length=10)], role: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Let someone decide in your place between two dates."""
    form = {"to": to, "starts_on": starts_on, "ends_on": ends_on, "role": role}
    try:
        try:
            first, last = date.fromisoformat(starts_on), date.fromisoformat(ends_on)
        except ValueError:
            raise InvalidInput("dates", "give the first and last day as dates (YYYY-MM-DD)") from None
        services.people.delegate(to_username=to.strip(), starts_on=first, ends_on=last, role=role or None,
                                 by=caller)
    except WorkflowError as error:
        return approvals_page(request, services, caller, error=str(error), form=form,
                              status_code=status_of(error))
    return RedirectResponse("/approvals?done=delegated#delegations", status_code=303)


@router.post("/delegations/{delegation_id}/revoke")
def revoke(delegation_id: RowId, caller: PageCaller, services: ServicesDep) -> Response:
    """End a delegation you gave."""
    services.people.revoke_delegation(delegation_id=delegation_id, by=caller)
    return RedirectResponse("/approvals?done=revoked#delegations", status_code=303)
