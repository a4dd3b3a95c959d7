"""Signing in and out of a browser session (API clients send a personal token instead)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status

from workflow.errors import Forbidden, NotAuthenticated
from workflow.web.api.schemas import LoginIn
from workflow.web.deps import SESSION_COOKIE, ServicesDep, client_of
from workflow.web.problems import responses

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", responses=responses(400, 401, 403, 422, 429))
def login(body: LoginIn, request: Request, response: Response, services: ServicesDep) -> dict[str, Any]:
    """Check a username and password and open a session (an HttpOnly cookie); returns the CSRF token to send
    as ``X-CSRF-Token`` with every change. Repeated failures pause sign-ins for the username (429). An account
    with a second factor sends its code as ``second_factor``; one that must set it up first does so in the
    browser (403 until then)."""
    if not services.settings.local_passwords:
        raise Forbidden("passwords are switched off here; sign in with your institution's account in the browser")
    client = client_of(request)
    user_id = services.auth.authenticate(body.username, body.password, client=client)
    if services.second_factor.enrolled(user_id):
        if not body.second_factor:
            raise NotAuthenticated("this account has a second factor: send its code as second_factor")
        services.second_factor.verify(user_id, body.second_factor, client=client)
    elif services.second_factor.must_enrol(user_id, is_admin=services.access.caller(user_id).is_admin):
        raise Forbidden("set up a second factor first: sign in in the browser (/account/second-factor)")
    token, session = services.auth.start_session(user_id, client=client)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, secure=services.settings.cookie_secure,
                        samesite="lax", path="/", max_age=int(services.settings.session_hours * 3600))
    caller = services.access.caller(user_id)
    return {"username": caller.username, "display_name": caller.display_name, "csrf_token": session.csrf_token,
            "expires_at": session.expires_at}


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, services: ServicesDep) -> Response:
    """End the session."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        services.auth.end_session(cookie)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=services.settings.cookie_secure, httponly=True,
                           samesite="lax")
    return response
