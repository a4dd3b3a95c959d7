"""Sign-in and sign-out pages for browsers (the pages for deans, project managers and departments build on
this session). The sign-in form is protected from cross-site posting by a double-submit token."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from workflow.errors import NotAuthenticated
from workflow.web.deps import SESSION_COOKIE, ServicesDep

LOGIN_CSRF_COOKIE = "mcw_login_csrf"
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)


def _safe_next(target: str) -> str:
    """Only same-site paths may be redirected to after signing in."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/docs"


def _login_page(request: Request, services: ServicesDep, *, next_: str, error: str = "", username: str = "",
                status_code: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = templates.TemplateResponse(
        request, "login.html", {"csrf_token": token, "next": _safe_next(next_), "error": error, "username": username},
        status_code=status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, secure=services.settings.cookie_secure,
                        samesite="strict", path="/login", max_age=3600)
    return response


@router.get("/login")
def login_form(request: Request, services: ServicesDep, next: str = "/docs") -> HTMLResponse:
    """The sign-in form."""
    return _login_page(request, services, next_=next)


@router.post("/login")
def login(request: Request, services: ServicesDep, username: Annotated[str, Form(max_length=100)],
          password: Annotated[str, Form(max_length=1000)], csrf_token: Annotated[str, Form(max_length=100)],
          next: Annotated[str, Form(max_length=500)] = "/docs") -> Response:
    """Check the password, open a session and go on to where the person was heading."""
    if not services.auth.csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token) or not csrf_token:
        return _login_page(request, services, next_=next, username=username, status_code=403,
                           error="The form had expired. Please sign in again.")
    try:
        user_id = services.auth.authenticate(username, password)
    except NotAuthenticated:
        return _login_page(request, services, next_=next, username=username, status_code=401,
                           error="Wrong username or password.")
    token, _session = services.auth.start_session(user_id)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, secure=services.settings.cookie_secure,
                        samesite="lax", path="/", max_age=int(services.settings.session_hours * 3600))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.get("/")
def home() -> RedirectResponse:
    """The pages come with the web UI; until then the API documentation is the place to start."""
    return RedirectResponse("/docs", status_code=303)
