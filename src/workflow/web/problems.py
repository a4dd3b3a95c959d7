"""Errors as RFC 9457 problem details (``application/problem+json``), mapped in this one place."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from workflow.errors import (
    Conflict,
    Forbidden,
    ImpactNotAcknowledged,
    InvalidFile,
    InvalidInput,
    LastAdministrator,
    NotAuthenticated,
    NotFound,
    StaleVersion,
    TooLarge,
    TooManyAttempts,
    TransitionNotAllowed,
    WorkflowError,
)
from workflow.web.methods import allowed_methods

MEDIA_TYPE = "application/problem+json"


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem response; ``slug`` becomes the ``type`` URI, extra members are added as they are."""
    body = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; some problems add members (a 422 names the field, a refused "
                   "transition lists what is missing).",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "the kind of problem, e.g. /problems/not-found"},
        "title": {"type": "string"},
        "status": {"type": "integer", "description": "the HTTP status"},
        "detail": {"type": "string", "description": "what went wrong, for people"},
        "errors": {"type": "array", "description": "invalid input, by field",
                   "items": {"type": "object", "properties": {"field": {"type": "string"},
                                                               "message": {"type": "string"}}}},
        "missing": {"type": "array", "items": {"type": "string"}, "description": "what a transition lacks"},
        "unmet": {"type": "array", "description": "what a transition lacks, for programs: the kind (checklist, "
                  "field, approval, decision, state), the key concerned and the message people read",
                  "items": {"type": "object", "properties": {"kind": {"type": "string"},
                                                              "subject": {"type": "string"},
                                                              "message": {"type": "string"}}}},
        "retry_after": {"type": "integer", "description": "seconds to wait before trying again (429)"},
    },
    "additionalProperties": True,
}
_MEANINGS = {
    400: "Bad request: a body that cannot be read at all (not UTF-8 text)",
    401: "Not signed in: no token or session, or one that is not valid (any more)",
    403: "Not allowed for you (the detail says which roles would be), or a browser change without its CSRF token",
    404: "Not found, or not yours to see",
    409: "Conflict: changed since the version you saw, already done, or a transition refused (with what is "
         "missing)",
    422: "Invalid input, naming the field",
    413: "Too large: a file over the size limit (nothing was stored)",
    429: "Too many attempts: wait the Retry-After seconds",
}
_HEADERS = {
    401: {"WWW-Authenticate": {"required": True, "description": "Bearer", "schema": {"type": "string"}}},
    429: {"Retry-After": {"required": True, "description": "seconds to wait",
                          "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of the problems an operation may answer with (``responses=`` of a route)."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"description": _MEANINGS[status],
                                 "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        if status in _HEADERS:
            entry["headers"] = _HEADERS[status]
        documented[status] = entry
    return documented


def _document(app: FastAPI) -> None:
    """Add the Problem schema that ``responses`` refers to, to the app's OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        document.setdefault("components", {}).setdefault("schemas", {}).setdefault("Problem", PROBLEM_SCHEMA)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def problem_for(error: WorkflowError) -> JSONResponse:
    """The problem response an error answers with, wherever it is raised (the API, a page, a form)."""
    match error:
        case NotAuthenticated():
            return problem(401, "not-authenticated", "Not signed in", error.message)
        case Forbidden():
            return problem(403, "forbidden", "Not allowed", error.message)
        case NotFound():
            return problem(404, "not-found", "Not found", str(error), kind=error.kind)
        case TransitionNotAllowed():
            return problem(409, "transition-not-allowed", "Transition not allowed", str(error),
                           trigger=error.trigger, state=error.state, missing=[str(u) for u in error.unmet],
                           unmet=[{"kind": u.kind, "subject": u.subject, "message": u.message} for u in error.unmet])
        case StaleVersion():
            return problem(409, "stale-version", "Changed since you looked", str(error),
                           expected_version=error.expected, current_version=error.actual)
        case ImpactNotAcknowledged():
            return problem(409, "impact-not-acknowledged", "Other credentials depend on it", str(error),
                           impact=list(error.impact))
        case LastAdministrator():
            return problem(409, "last-administrator", "The last active administrator", str(error))
        case Conflict():
            return problem(409, "conflict", "Conflict", str(error))
        case InvalidInput():
            return problem(422, "invalid-input", "Invalid input", str(error), field=error.field)
        case TooLarge():
            return problem(413, "too-large", "File too large", str(error), field="file", limit_bytes=error.limit)
        case TooManyAttempts():
            response = problem(429, "too-many-attempts", "Too many attempts", str(error),
                               retry_after=error.retry_after)
            response.headers["Retry-After"] = str(error.retry_after)
            return response
        case InvalidFile():
            return problem(422, "invalid-file", "Invalid file", f"{len(error.problems)} problem(s) found",
                           problems=[str(p) for p in error.problems])
    return problem(400, "bad-request", "Bad request", str(error))


def status_of(error: WorkflowError) -> int:
    """The HTTP status of an error (for a page that shows its form again with the reason)."""
    return problem_for(error).status_code


def _workflow_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, WorkflowError)
    if (isinstance(error, NotAuthenticated) and "text/html" in request.headers.get("accept", "")
            and not request.url.path.startswith("/api/")):
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)  # a browser
    return problem_for(error)


def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [{"field": ".".join(str(part) for part in item["loc"] if part != "body"), "message": item["msg"]}
              for item in error.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, "invalid-input", "Invalid input", detail, errors=errors)


def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    slug, title = {400: ("bad-request", "Bad request"), 401: ("not-authenticated", "Not signed in"),
                   404: ("not-found", "Not found"), 405: ("method-not-allowed", "Method not allowed"),
                   413: ("too-large", "Request too large")}.get(error.status_code, ("error", str(error.detail)))
    response = problem(error.status_code, slug, title, str(error.detail))
    response.headers.update(error.headers or {})
    allowed = allowed_methods(request.scope) if error.status_code == 405 else None
    if allowed is not None:  # every method of the path, not only those of the first route Starlette found
        response.headers["Allow"] = ", ".join(allowed)
    return response


HtmlPage = Callable[[Request, int, str, str], Response]


def _for_people(handler: Callable[[Request, Exception], Response], html: HtmlPage | None
                ) -> Callable[[Request, Exception], Response]:
    """The same problem, shown as a page to a browser asking for one of the site's pages (not the API)."""
    def handle(request: Request, error: Exception) -> Response:
        response = handler(request, error)
        if (html is not None and isinstance(response, JSONResponse) and response.status_code >= 400
                and not request.url.path.startswith(("/api/", "/openapi.json", "/calendar/"))
                and "text/html" in request.headers.get("accept", "")):
            body = json.loads(bytes(response.body))
            shown = html(request, response.status_code, body["title"], body["detail"])
            if "Allow" in response.headers:
                shown.headers["Allow"] = response.headers["Allow"]
            return shown
        return response
    return handle


def install(app: FastAPI, *, html: HtmlPage | None = None) -> None:
    """Register every handler on ``app``; ``html`` draws the page a browser sees instead of problem+json."""
    app.add_exception_handler(WorkflowError, _for_people(_workflow_error, html))
    app.add_exception_handler(RequestValidationError, _for_people(_validation_error, html))
    app.add_exception_handler(StarletteHTTPException, _for_people(_http_error, html))
    _document(app)
