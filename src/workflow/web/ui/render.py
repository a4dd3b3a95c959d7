"""Rendering pages: one template environment, the signed-in person on every page, dates and times in the
institution's time zone (times carry its abbreviation, "2026-12-02 14:05 EST"; the footer names the zone)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from workflow.clock import LocalDays
from workflow.definitions.model import Definition
from workflow.definitions.words import policy_words, role_title, timer_action_words, verdict_words
from workflow.services.access import Caller

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals.update(verdict_words=verdict_words, policy_words=policy_words,
                             timer_action_words=timer_action_words)

NAV = (("approvals", "/approvals", "My approvals"), ("tasks", "/tasks", "My tasks"),
       ("portfolio", "/portfolio", "Portfolio"), ("timeline", "/timeline", "Timeline"))
ADMIN_NAV = ("admin", "/admin", "Administration")
ACCOUNT_NAV = ("account", "/account", "My account")
MESSAGES = {  # what a finished action says on the page it returns to (keys come from our own redirects)
    "approve": "Your approval is recorded.", "reject": "Your rejection is recorded.",
    "request_changes": "Your request for changes is recorded.", "moved": "The credential moved on.",
    "item": "The checklist item is updated.", "comment": "Your comment is posted.",
    "delegated": "The delegation is set.", "revoked": "The delegation is ended.", "retried": "The message will be "
    "sent again.", "data": "The information is saved.", "fired": "The transition is done.",
    "attached": "The evidence is attached as a new version.",
    "retried_all": "The chosen messages will be sent again.",
    "plan_target": "The target launch date is set; the phases are planned back from it.",
    "plan_phase": "The phase's date is moved; the baseline is kept.", "plan_baseline": "The plan is the new baseline.",
    "reloaded": "The definitions were read again; any that changed are published as new versions.",
    "migrated": "The running credentials were moved to the new version; each one's history says so.",
    "deactivate": "The person is deactivated: they can no longer sign in or use their tokens.",
    "reactivate": "The person can sign in again.", "make-admin": "The person is now an administrator.",
    "remove-admin": "The person is no longer an administrator.",
    "started": "The credential is started.", "team-added": "The person is on the team.",
    "team-removed": "The person is no longer on the team.",
    "person-added": "The person is added; an email invites them to choose a password.",
    "role-given": "The role is given.", "role-taken": "The role is taken away.",
    "link-sent": "A link to choose a new password is emailed to the person.",
    "password": "Your password is changed; your other sessions are ended.",
    "token-revoked": "The token is revoked: it no longer works.",
    "calendar": "Your calendar feed has a new address; the old one no longer works.",
    "preferences": "Your email preferences are saved.",
    "password-set": "Your password is set. Sign in with it.",
}


TIME = "%Y-%m-%d %H:%M %Z"  # every time a page shows: local wall time and the zone's abbreviation (EST, EDT)


def _local(value: datetime | date | None, days: LocalDays, fmt: str) -> str:
    """An instant as local time in ``fmt``; a date as it is (it already names a local day)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return days.local(value).strftime(fmt)
    return value.strftime(fmt)


def _role_title(request: Request) -> Any:
    """``role_title(key, definition=None)`` for templates: the role's title from ``definition``, or from the first
    current definition naming the role (pages listing several credentials)."""
    registry = request.app.state.services.definitions

    def title(key: str, definition: Definition | None = None) -> str:
        if definition is None:
            definition = next((d for d in (registry.engine(name).definition for name in registry.names())
                               if key in d.roles), None)
        return role_title(definition, key)
    return title


def page(request: Request, template: str, caller: Caller | None, context: dict[str, Any] | None = None, *,
         status_code: int = 200, section: str = "") -> HTMLResponse:
    """A full page: the template with the person, their acting-for list, the navigation and any message."""
    nav = list(NAV) + ([ADMIN_NAV] if caller is not None and caller.is_admin else []) + [ACCOUNT_NAV]
    acting_for = sorted({g.principal for g in caller.grants if g.delegated}) if caller is not None else []
    done = request.query_params.get("done", "")
    days: LocalDays = request.app.state.services.settings.days
    now = request.app.state.services.clock.now()
    values = {
        "me": caller, "acting_for": acting_for, "nav": nav if caller is not None else [], "section": section,
        "csrf_token": getattr(request.state, "csrf_token", ""), "message": MESSAGES.get(done, ""),
        "local": lambda value: _local(value, days, TIME),
        "day": lambda value: _local(value, days, "%Y-%m-%d"),
        "clock_time": lambda value: _local(value, days, "%H:%M"),  # a time of today, where the day goes without saying
        "days_until": lambda value: (days.day_of(value) - days.day_of(now)).days,  # local days; < 0 is past
        "zone": days, "now": now, "role_title": _role_title(request),
        "mail_alert": request.app.state.services.outbox.mail_alert(caller),
        **(context or {}),
    }
    return templates.TemplateResponse(request, template, values, status_code=status_code)


def error_page(request: Request, status_code: int, title: str, detail: str) -> HTMLResponse:
    """What a browser shows for a refused request (the API answers problem+json instead)."""
    return page(request, "error.html", None, {"title": title, "detail": detail}, status_code=status_code)
