"""Errors as RFC 9457 problem details (``application/problem+json``), mapped in this one place."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from workflow.errors import (
    Conflict,
    Forbidden,
    InvalidFile,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    StaleVersion,
    TransitionNotAllowed,
    WorkflowError,
)

MEDIA_TYPE = "application/problem+json"


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem response; ``slug`` becomes the ``type`` URI, extra members are added as they are."""
    body = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _workflow_error(request: Request, error: Exception) -> Response:
    match error:
        case NotAuthenticated():
            if "text/html" in request.headers.get("accept", "") and not request.url.path.startswith("/api/"):
                return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)  # a browser
            return problem(401, "not-authenticated", "Not signed in", error.message)
        case Forbidden():
            return problem(403, "forbidden", "Not allowed", error.message)
        case NotFound():
            return problem(404, "not-found", "Not found", str(error), kind=error.kind)
        case TransitionNotAllowed():
            return problem(409, "transition-not-allowed", "Transition not allowed", str(error),
                           trigger=error.trigger, state=error.state, missing=[str(u) for u in error.unmet])
        case StaleVersion():
            return problem(409, "stale-version", "Changed since you looked", str(error),
                           expected_version=error.expected, current_version=error.actual)
        case Conflict():
            return problem(409, "conflict", "Conflict", str(error))
        case InvalidInput():
            return problem(422, "invalid-input", "Invalid input", str(error), field=error.field)
        case InvalidFile():
            return problem(422, "invalid-file", "Invalid file", f"{len(error.problems)} problem(s) found",
                           problems=[str(p) for p in error.problems])
    return problem(400, "bad-request", "Bad request", str(error))


def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [{"field": ".".join(str(part) for part in item["loc"] if part != "body"), "message": item["msg"]}
              for item in error.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, "invalid-input", "Invalid input", detail, errors=errors)


def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed", 401: "not-authenticated"}.get(error.status_code, "error")
    return problem(error.status_code, slug, str(error.detail), str(error.detail))


def install(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    app.add_exception_handler(WorkflowError, _workflow_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
