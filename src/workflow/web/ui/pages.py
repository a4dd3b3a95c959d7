"""Signing in and out, and the start page. The sign-in form is protected from cross-site posting by a
double-submit token; signing out needs the session's own form token."""

from __future__ import annotations

import math
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.errors import NotAuthenticated, TooManyAttempts
from workflow.services.auth import ENROL, SECOND_FACTOR, SIGNED_IN
from workflow.web.deps import SESSION_COOKIE, ServicesDep, client_of
from workflow.web.problems import status_of
from workflow.web.ui.render import page
from workflow.web.ui.session import ENROL_PAGE, SECOND_FACTOR_PAGE, PageCaller, same_site

LOGIN_CSRF_COOKIE = "mcw_login_csrf"
HOME_COUNT = 50  # the start page counts up to this many decisions and tasks ("50 or more" beyond)
router = APIRouter(include_in_schema=False)


def _login_page(request: Request, services: ServicesDep, *, next_: str, error: str = "", username: str = "",
                status_code: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    providers = [(p.key, p.display_name) for p in services.settings.oidc_providers]
    response = page(request, "login.html", None, {"login_token": token, "next": same_site(next_), "error": error,
                                                  "username": username, "providers": providers,
                                                  "local_passwords": services.settings.local_passwords},
                    status_code=status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, secure=services.settings.cookie_secure,
                        samesite="strict", path="/login", max_age=3600)
    return response


@router.get("/login")
def login_form(request: Request, services: ServicesDep, next: str = "/") -> HTMLResponse:
    """The sign-in form."""
    return _login_page(request, services, next_=next)


@router.post("/login")
def login(request: Request, services: ServicesDep, username: Annotated[str, Form(max_length=100)],
          password: Annotated[str, Form(max_length=1000)], csrf_token: Annotated[str, Form(max_length=100)],
          next: Annotated[str, Form(max_length=500)] = "/") -> Response:
    """Check the password, open a session and go on to where the person was heading."""
    if not services.settings.local_passwords:
        return _login_page(request, services, next_=next, status_code=403,
                           error="Passwords are switched off here: sign in with your institution's account.")
    if not services.auth.csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token) or not csrf_token:
        return _login_page(request, services, next_=next, username=username, status_code=403,
                           error="The form had expired. Please sign in again.")
    try:
        user_id = services.auth.authenticate(username, password, client=client_of(request))
    except TooManyAttempts as paused:
        wait = _login_page(request, services, next_=next, username=username, status_code=status_of(paused),
                           error=f"Too many failed sign-ins. Please wait {math.ceil(paused.retry_after / 60)} "
                                 "minute(s) and try again.")
        wait.headers["Retry-After"] = str(paused.retry_after)
        return wait
    except NotAuthenticated as refused:
        return _login_page(request, services, next_=next, username=username, status_code=status_of(refused),
                           error="Wrong username or password.")
    stage, goes_to = SIGNED_IN, same_site(next)
    if services.second_factor.enrolled(user_id):
        stage, goes_to = SECOND_FACTOR, f"{SECOND_FACTOR_PAGE}?next={quote(same_site(next))}"
    elif services.second_factor.must_enrol(user_id, is_admin=services.access.caller(user_id).is_admin):
        stage, goes_to = ENROL, ENROL_PAGE
    token, _session = services.auth.start_session(user_id, stage=stage, client=client_of(request))
    response = RedirectResponse(goes_to, status_code=303)
    set_session_cookie(response, services, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


def set_session_cookie(response: Response, services: ServicesDep, token: str) -> None:
    """Give the browser its session cookie (it lasts no longer than the session's absolute lifetime)."""
    response.set_cookie(SESSION_COOKIE, token, httponly=True, secure=services.settings.cookie_secure,
                        samesite="lax", path="/", max_age=int(services.settings.session_hours * 3600))


@router.post("/logout")
def logout(request: Request, _caller: PageCaller, services: ServicesDep) -> Response:
    """End the session and go back to the sign-in page (by way of the identity provider's own sign-out, when the
    session came from one that has it)."""
    method = request.state.session.method
    services.auth.end_session(request.cookies.get(SESSION_COOKIE, ""), client=client_of(request))
    # The provider is reached by way of a page of ours: a form may only lead to this site (CSP form-action).
    after = f"/signed-out?provider={quote(method.removeprefix('oidc:'))}" if method.startswith("oidc:") else "/login"
    response = RedirectResponse(after, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=services.settings.cookie_secure, httponly=True,
                           samesite="lax")
    return response


@router.get("/signed-out")
def signed_out(request: Request, services: ServicesDep, provider: str = "") -> Response:
    """After signing out of a session that came from an identity provider: on to that provider's own sign-out
    (when it has one), which sends the browser back to the sign-in page. A page, not a redirect: the sign-out
    form may only lead to this site (CSP form-action), so the browser moves on from here by itself."""
    public = services.settings.public_url.rstrip("/")
    onward = services.oidc.end_session_url(provider, after=f"{public}/login")
    if onward is None:
        return RedirectResponse("/login", status_code=303)
    return page(request, "signed_out.html", None, {"onward": onward,
                                                   "provider": services.oidc.provider(provider).display_name})


@router.get("/")
def home(request: Request, caller: PageCaller, services: ServicesDep) -> HTMLResponse:
    """The start page: what waits for the person, and where to go."""
    approvals = len(services.inbox.approvals_waiting(by=caller, limit=HOME_COUNT + 1))
    tasks = len(services.inbox.tasks(by=caller, limit=HOME_COUNT + 1))
    _, visible = services.views.search(by=caller, limit=1)
    return page(request, "home.html", caller, {"approvals": approvals, "tasks": tasks, "visible": visible,
                                               "most": HOME_COUNT})
