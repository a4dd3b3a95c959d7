"""Signing in with an institution's identity provider (OpenID Connect), and giving the second factor.

The state sent to the provider is also kept in a cookie of the browser that started (path /login/oidc, HttpOnly,
ten minutes): the answer is taken only in that browser, and only once. A refused sign-in shows why, opens no
session and can be started again.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.errors import NotAuthenticated, TooManyAttempts
from workflow.services.auth import SECOND_FACTOR, SIGNED_IN
from workflow.services.oidc import PENDING_FOR, SignInRefused
from workflow.web.deps import SESSION_COOKIE, ServicesDep, client_of
from workflow.web.problems import status_of
from workflow.web.ui.pages import set_session_cookie
from workflow.web.ui.render import page
from workflow.web.ui.session import CSRF_FIELD, same_site

STATE_COOKIE = "mcw_oidc_state"
router = APIRouter(include_in_schema=False)


def _refused(request: Request, reason: str, *, status_code: int = 403) -> HTMLResponse:
    response = page(request, "signin_refused.html", None, {"reason": reason}, status_code=status_code)
    response.delete_cookie(STATE_COOKIE, path="/login/oidc")
    return response


@router.get("/login/oidc/{key}")
def start(key: str, request: Request, services: ServicesDep, next: str = "/") -> Response:
    """Send the browser to the provider's sign-in."""
    try:
        started = services.oidc.start(key, next_path=same_site(next))
    except SignInRefused as refused:
        return _refused(request, refused.reason, status_code=404 if key not in services.oidc.providers else 503)
    response = RedirectResponse(started.url, status_code=303)
    response.set_cookie(STATE_COOKIE, started.state, httponly=True, secure=services.settings.cookie_secure,
                        samesite="lax", path="/login/oidc", max_age=int(PENDING_FOR.total_seconds()))
    return response


@router.get("/login/oidc/{key}/callback")
def callback(key: str, request: Request, services: ServicesDep) -> Response:
    """The provider sends the browser back here: check everything, then open a session."""
    params = {name: value[:2000] for name, value in request.query_params.items()}
    try:
        signed = services.oidc.finish(key, params=params, browser_state=request.cookies.get(STATE_COOKIE, ""),
                                      client=client_of(request))
    except SignInRefused as refused:
        return _refused(request, refused.reason)
    provider = services.oidc.provider(key)
    token, _ = services.auth.start_session(signed.user_id, method=f"oidc:{key}", log_method=provider.display_name,
                                           client=client_of(request))
    response = RedirectResponse(same_site(signed.next_path), status_code=303)
    set_session_cookie(response, services, token)
    response.delete_cookie(STATE_COOKIE, path="/login/oidc")
    return response


def _second_factor_page(request: Request, *, next_: str, error: str = "", status_code: int = 200) -> HTMLResponse:
    return page(request, "second_factor.html", None, {"next": same_site(next_), "error": error},
                status_code=status_code)


@router.get("/login/second-factor")
def second_factor_form(request: Request, services: ServicesDep, next: str = "/") -> Response:
    """Ask for the code of the authenticator app (or a recovery code)."""
    session = services.auth.session(request.cookies.get(SESSION_COOKIE, "") or "-")
    if session is None or session.stage != SECOND_FACTOR:
        return RedirectResponse("/login" if session is None else same_site(next), status_code=303)
    request.state.csrf_token = session.csrf_token
    return _second_factor_page(request, next_=next)


@router.post("/login/second-factor")
def second_factor(request: Request, services: ServicesDep, code: Annotated[str, Form(max_length=100)],
                  csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "",
                  next: Annotated[str, Form(max_length=500)] = "/") -> Response:
    """Check the code; a right one opens the session fully."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    session = services.auth.session(cookie) if cookie else None
    if session is None or session.stage != SECOND_FACTOR:
        return RedirectResponse("/login", status_code=303)
    request.state.csrf_token = session.csrf_token
    if not services.auth.csrf_matches(session.csrf_token, csrf_token):
        return _second_factor_page(request, next_=next, status_code=403,
                                   error="The form had expired. Please type the code again.")
    try:
        services.second_factor.verify(session.user_id, code, client=client_of(request))
    except TooManyAttempts as paused:
        return _second_factor_page(request, next_=next, status_code=status_of(paused),
                                   error=f"Too many wrong codes. Please wait {math.ceil(paused.retry_after / 60)} "
                                         "minute(s) and try again.")
    except NotAuthenticated:
        return _second_factor_page(request, next_=next, status_code=401,
                                   error="That code is wrong or was already used. Type the code your app shows "
                                         "now, or one of your recovery codes.")
    services.auth.advance_session(cookie, stage=SIGNED_IN, client=client_of(request))
    return RedirectResponse(same_site(next), status_code=303)
