"""Each person's private calendar feed (``/calendar/<token>.ics``): the token in the address is the key."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from workflow.errors import NotFound
from workflow.notify.calendar import calendar
from workflow.notify.calendar_sequence import sequenced
from workflow.web.deps import ServicesDep

router = APIRouter(include_in_schema=False)


@router.get("/calendar/{token}.ics")
def feed(token: str, services: ServicesDep) -> Response:
    """Your due dates and milestones as iCalendar, for a calendar application to subscribe to."""
    user_id = services.auth.calendar_user(token) if len(token) <= 100 else None
    if user_id is None:
        raise NotFound("calendar", "feed")
    caller = services.access.caller(user_id)
    link = services.credentials_link
    entries = services.inbox.calendar(by=caller, link=link, domain=services.settings.mail_domain)
    entries += services.plans.views.calendar(by=caller, link=link, domain=services.settings.mail_domain)
    now = services.clock.now()
    body = calendar(sequenced(services.database, entries, now), stamp=now,
                    name=f"Micro-credentials — {caller.display_name}")
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Cache-Control": "private, max-age=300"})
