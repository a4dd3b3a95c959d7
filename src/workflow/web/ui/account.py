"""My account: change my password (giving the current one), my API tokens (made with a name and an expiry, shown
once, revoked), my calendar feed's address (made anew, shown once), my delegations, my email preferences — and the
page a one-time emailed link opens to choose a password."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.errors import InvalidInput, NotAuthenticated, NotFound, TooManyAttempts
from workflow.services.access import Caller
from workflow.services.accounts import LinkNotUsable, time_zones
from workflow.services.auth import MAX_TOKEN_DAYS, MIN_PASSWORD, NewToken
from workflow.web.api.schemas import RowId
from workflow.web.deps import SESSION_COOKIE, ServicesDep, client_of
from workflow.web.problems import status_of
from workflow.web.ui.render import page
from workflow.web.ui.session import PageCaller

router = APIRouter(include_in_schema=False)
Secret = Annotated[str, Form(max_length=1000)]
Small = Annotated[str, Form(max_length=400)]


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:].rstrip(".") + "."


def account_page(request: Request, services: ServicesDep, caller: Caller, *, errors: dict[str, str] | None = None,
                 values: dict[str, str] | None = None, new_token: NewToken | None = None, feed_url: str = "",
                 status_code: int = 200) -> HTMLResponse:
    """The account page (``errors`` and ``values`` re-show a refused form; a new token or feed address is shown
    this once)."""
    assert caller.user_id is not None
    preferences = services.accounts.preferences(caller.user_id)
    return page(request, "account.html", caller, {
        "tokens": services.auth.list_tokens(caller.user_id), "new_token": new_token, "feed_url": feed_url,
        "delegations": services.people.delegations(by=caller) if not caller.is_admin else
        [d for d in services.people.delegations(by=caller) if caller.username in (d["from_user"], d["to_user"])],
        "preferences": preferences, "zones": time_zones(), "institution_zone": services.settings.timezone,
        "errors": errors or {}, "values": values or {}, "min_password": MIN_PASSWORD, "max_days": MAX_TOKEN_DAYS,
        "ask_password": not _recent(request, services),
    }, status_code=status_code, section="account")


def _recent(request: Request, services: ServicesDep) -> bool:
    """Whether this session proved who it is recently enough for a sensitive change (a new token)."""
    session = getattr(request.state, "session", None)
    return session is not None and services.auth.recently_authenticated(
        session, timedelta(minutes=services.settings.reauthenticate_minutes))


def _confirmed(request: Request, services: ServicesDep, caller: Caller, password: str) -> bool:
    """A sensitive change asks the password again when the sign-in is no longer recent; a right one counts anew."""
    if _recent(request, services):
        return True
    try:
        if services.auth.authenticate(caller.username, password, client=client_of(request)) != caller.user_id:
            return False
    except (NotAuthenticated, TooManyAttempts):
        return False
    services.auth.reauthenticated(request.cookies.get(SESSION_COOKIE, ""))
    return True


def _person(caller: Caller) -> int:
    if caller.user_id is None:
        raise NotFound("account", caller.username)
    return caller.user_id


@router.get("/account")
def account(request: Request, caller: PageCaller, services: ServicesDep) -> HTMLResponse:
    """My account."""
    return account_page(request, services, caller)


@router.post("/account/password")
def change_password(request: Request, caller: PageCaller, services: ServicesDep, current: Secret = "",
                    password: Secret = "", repeat: Secret = "") -> Response:
    """Change my password; my other sessions end."""
    user_id = _person(caller)
    if password != repeat:
        return account_page(request, services, caller, errors={"repeat": "The two new passwords differ."},
                            status_code=422)
    try:
        services.accounts.change_password(user_id=user_id, current=current, new=password,
                                          session_token=request.cookies.get(SESSION_COOKIE))
    except InvalidInput as refused:
        return account_page(request, services, caller, status_code=status_of(refused),
                            errors={refused.field: _sentence(refused.message)})
    return RedirectResponse("/account?done=password", status_code=303)


@router.post("/account/tokens")
def create_token(request: Request, caller: PageCaller, services: ServicesDep, name: Small = "",
                 days: Annotated[str, Form(max_length=10)] = "",
                 confirm: Annotated[str, Form(max_length=1000)] = "") -> Response:
    """Make an API token: shown on the answer once, never again. Asks the password again after a while."""
    user_id = _person(caller)
    values = {"name": name, "days": days}
    if not _confirmed(request, services, caller, confirm):
        return account_page(request, services, caller, values=values, status_code=401,
                            errors={"confirm": "Your password was not right; type it to confirm it is you."})
    lasting: int | None = None
    if days.strip():
        if not days.strip().isdigit():
            return account_page(request, services, caller, values=values, status_code=422,
                                errors={"days": f"Give a whole number of days from 1 to {MAX_TOKEN_DAYS}, or leave "
                                                "it empty for a token that lasts until revoked."})
        lasting = int(days.strip())
    try:
        made = services.auth.create_token(user_id, name, days=lasting)
    except InvalidInput as refused:
        return account_page(request, services, caller, values=values, status_code=status_of(refused),
                            errors={refused.field: _sentence(refused.message)})
    return account_page(request, services, caller, new_token=made, status_code=201)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(token_id: RowId, request: Request, caller: PageCaller, services: ServicesDep) -> Response:
    """Revoke one of my tokens: it stops working at once."""
    services.auth.revoke_token(_person(caller), token_id)
    return RedirectResponse("/account?done=token-revoked#tokens", status_code=303)


@router.post("/account/calendar")
def new_feed(request: Request, caller: PageCaller, services: ServicesDep) -> Response:
    """A new private address for my calendar feed (the old one stops working); shown this once."""
    token = services.auth.new_calendar_token(_person(caller))
    url = f"{services.settings.public_url.rstrip('/')}/calendar/{token}.ics"
    return account_page(request, services, caller, feed_url=url, status_code=201)


@router.post("/account/preferences")
def preferences(request: Request, caller: PageCaller, services: ServicesDep,
                delivery: Annotated[str, Form(max_length=10)] = "", hour: Annotated[str, Form(max_length=5)] = "",
                timezone: Annotated[str, Form(max_length=60)] = "") -> Response:
    """Email at once or in one daily digest, and my time zone."""
    user_id = _person(caller)
    values = {"delivery": delivery, "hour": hour, "timezone": timezone}
    digest_hour: int | None = None
    if delivery not in ("now", "digest"):
        return account_page(request, services, caller, values=values, status_code=422,
                            errors={"delivery": "Choose at once or a daily digest."})
    if delivery == "digest":
        if not hour.isdigit():
            return account_page(request, services, caller, values=values, status_code=422,
                                errors={"hour": "Choose the hour the digest comes, from 0 to 23."})
        digest_hour = int(hour)
    try:
        services.accounts.set_preferences(user_id=user_id, digest_hour=digest_hour, timezone=timezone or None)
    except InvalidInput as refused:
        field = "hour" if refused.field == "digest_hour" else refused.field
        return account_page(request, services, caller, values=values, status_code=status_of(refused),
                            errors={field: _sentence(refused.message)})
    return RedirectResponse("/account?done=preferences#preferences", status_code=303)


# -- the page an emailed one-time link opens ---------------------------------------------------------------------

def _link_page(request: Request, services: ServicesDep, token: str, *, errors: dict[str, str] | None = None,
               status_code: int = 200) -> HTMLResponse:
    try:
        holder = services.accounts.link_holder(token)
    except LinkNotUsable as refused:
        return page(request, "password_link.html", None, {"holder": None, "refused": _sentence(refused.message)},
                    status_code=410 if "expired" in refused.message or "used" in refused.message else 404)
    return page(request, "password_link.html", None, {
        "holder": holder, "token": token, "errors": errors or {}, "min_password": MIN_PASSWORD},
        status_code=status_code)


@router.get("/password/{token}")
def password_link(token: str, request: Request, services: ServicesDep) -> HTMLResponse:
    """Choose a password with a one-time link from an email (an invitation or a reset)."""
    return _link_page(request, services, token[:200])


@router.post("/password/{token}")
def set_password(token: str, request: Request, services: ServicesDep, password: Secret = "",
                 repeat: Secret = "") -> Response:
    """Set the password; the link is then used up, and any session the person had ends."""
    if password != repeat:
        return _link_page(request, services, token[:200], errors={"repeat": "The two passwords differ."},
                          status_code=422)
    try:
        services.accounts.use_link(token=token[:200], password=password)
    except LinkNotUsable:
        return _link_page(request, services, token[:200])
    except InvalidInput as refused:
        return _link_page(request, services, token[:200], errors={"password": _sentence(refused.message)},
                          status_code=status_of(refused))
    return RedirectResponse("/login?done=password-set", status_code=303)
