"""Committee meetings: a role's ``meets`` recurrence rule (RFC 5545 RRULE, read with python-dateutil) and the
meeting an item ready on some day goes to."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import islice

from dateutil.rrule import rrule, rrulestr

LOOK_AHEAD_YEARS = 5  # a meeting further away than this is not looked for


def meeting_rule_problem(text: str) -> str:
    """What is wrong with a ``meets`` rule, or an empty string."""
    if text.strip().upper().startswith(("DTSTART", "RRULE:")) or "\n" in text:
        return "give the rule alone, without DTSTART or an RRULE: prefix"
    try:
        rule = rrulestr(text, dtstart=datetime(2000, 1, 1))
    except (ValueError, TypeError) as error:
        return str(error) or type(error).__name__
    if not isinstance(rule, rrule):
        return "give one rule"
    if rule.after(datetime(2000, 1, 1), inc=True) is None:
        return "it names no meeting"
    return ""


def meetings(text: str, start: date, count: int) -> list[date]:
    """The next ``count`` meeting days on or after ``start``."""
    rule = rrulestr(text, dtstart=datetime.combine(start, time()))
    until = datetime.combine(start + timedelta(days=366 * LOOK_AHEAD_YEARS), time())
    return [moment.date() for moment in islice(iter(rule), count) if moment <= until]


def meeting_for(ready: date, upcoming: list[date], closes_days: int) -> date | None:
    """The first of ``upcoming`` meetings whose agenda an item ready on ``ready`` makes (ready at least
    ``closes_days`` days before it); None if it makes none of them."""
    for day in upcoming:
        if ready <= day - timedelta(days=closes_days):
            return day
    return None
