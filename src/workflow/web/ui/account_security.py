"""A person's own security pages: their recent sign-in activity and their second factor (enrolment shows a QR
code drawn here, as SVG); and, for administrators, everyone's sign-in log."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import segno
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from workflow.errors import InvalidInput, NotAuthenticated, TooManyAttempts
from workflow.services.access import Caller
from workflow.services.auth import ENROL, SIGNED_IN
from workflow.services.second_factor import new_secret, provisioning_uri, valid_secret
from workflow.web.deps import SESSION_COOKIE, ServicesDep, client_of
from workflow.web.ui.render import page
from workflow.web.ui.session import EnrollingCaller, PageCaller, admin_page

PER_PAGE = 50
router = APIRouter(include_in_schema=False)


@router.get("/account/activity")
def activity(request: Request, caller: PageCaller, services: ServicesDep) -> HTMLResponse:
    """Your recent activity: sign-ins, refusals, second-factor uses, sign-outs and API token uses."""
    events, total = services.sign_in_log.recent(user_id=request.state.session.user_id, limit=PER_PAGE)
    return page(request, "account_activity.html", caller, {"events": events, "total": total,
                                                           "since": services.sign_in_log.oldest_kept()})


def _enrol_page(request: Request, caller: Caller, services: ServicesDep, *, secret: str = "", error: str = "",
                status_code: int = 200) -> HTMLResponse:
    user_id: int = request.state.session.user_id
    enrolled = services.second_factor.enrolled(user_id)
    secret = secret if valid_secret(secret) else new_secret()
    uri = provisioning_uri(secret, caller.username)
    qr = Markup(segno.make(uri, error="m").svg_inline(scale=5, title="QR code for your authenticator app"))
    session = request.state.session
    minutes = services.settings.reauthenticate_minutes
    return page(request, "account_second_factor.html", caller, {
        "enrolled": enrolled, "secret": secret, "qr": qr, "error": error,
        "must": session.stage == ENROL, "codes_left": services.second_factor.recovery_codes_left(user_id),
        "ask_password": not services.auth.recently_authenticated(session, timedelta(minutes=minutes)),
    }, status_code=status_code)


@router.get("/account/second-factor")
def second_factor(request: Request, caller: EnrollingCaller, services: ServicesDep) -> HTMLResponse:
    """Set up (or see) your second factor."""
    return _enrol_page(request, caller, services)


@router.post("/account/second-factor")
def enrol(request: Request, caller: EnrollingCaller, services: ServicesDep,
          secret: Annotated[str, Form(max_length=64)], code: Annotated[str, Form(max_length=20)],
          password: Annotated[str, Form(max_length=1000)] = "") -> Response:
    """Keep the app's secret once its first code matches; show the recovery codes once."""
    session = request.state.session
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if not services.auth.recently_authenticated(
            session, timedelta(minutes=services.settings.reauthenticate_minutes)):
        try:
            if services.auth.authenticate(caller.username, password, client=client_of(request)) != session.user_id:
                raise NotAuthenticated()
        except (NotAuthenticated, TooManyAttempts):
            return _enrol_page(request, caller, services, secret=secret, status_code=401,
                               error="Your password was not right; type it again to confirm it is you.")
        services.auth.reauthenticated(cookie)
    try:
        codes = services.second_factor.enrol(session.user_id, secret=secret, code=code, client=client_of(request))
    except InvalidInput as wrong:
        return _enrol_page(request, caller, services, secret=secret, status_code=422,
                           error=f"The {'code' if wrong.field == 'code' else 'key'}: {wrong.message}.")
    if session.stage == ENROL:
        services.auth.advance_session(cookie, stage=SIGNED_IN, client=client_of(request))
    return page(request, "account_recovery_codes.html", caller, {"codes": codes})


@router.get("/admin/sign-ins")
def sign_ins(request: Request, caller: Annotated[Caller, Depends(admin_page("read the sign-in log"))],
             services: ServicesDep, username: str = "", page_number: int = 1) -> HTMLResponse:
    """Everyone's sign-in log, newest first (administrators)."""
    page_number = max(1, page_number)
    events, total = services.sign_in_log.recent(username=username.strip()[:200], limit=PER_PAGE,
                                                offset=(page_number - 1) * PER_PAGE)
    return page(request, "admin_sign_ins.html", caller, {
        "events": events, "total": total, "username": username, "page_number": page_number, "tab": "sign-ins",
        "pages": max(1, -(-total // PER_PAGE)), "since": services.sign_in_log.oldest_kept()}, section="admin")


