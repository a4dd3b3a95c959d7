"""Committee meetings: a role's ``meets`` recurrence rule (RFC 5545 RRULE, read with python-dateutil) and the
meeting an item ready on some day goes to."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import islice

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr

LOOK_AHEAD_YEARS = 5  # a meeting further away than this is not looked for
CHECK_YEARS = 2  # a rule must name a meeting within this many years of its start
DAY_FREQUENCIES = {DAILY, WEEKLY, MONTHLY, YEARLY}


def meeting_rule_problem(text: str) -> str:
    """What is wrong with a ``meets`` rule, or an empty string."""
    if text.strip().upper().startswith(("DTSTART", "RRULE:")) or "\n" in text:
        return "give the rule alone, without DTSTART or an RRULE: prefix"
    start = datetime(2000, 1, 1)
    try:
        rule = rrulestr(text, dtstart=start)
    except (ValueError, TypeError, OverflowError) as error:
        return str(error) or type(error).__name__
    if not isinstance(rule, rrule):
        return "give one rule"
    if rule._freq not in DAY_FREQUENCIES:  # hourly and finer: no committee, and a rule that never matches them
        return "a committee meets on days: FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY"  # would run for hours
    try:
        # Looked for within CHECK_YEARS only: a rule that never matches would otherwise be walked to the year 9999.
        bounded = rule.replace(until=start.replace(year=start.year + CHECK_YEARS), count=None)
        if bounded.after(start, inc=True) is None:
            return f"it names no meeting within {CHECK_YEARS} years"
    except (ValueError, TypeError, OverflowError) as error:  # dateutil fails on some rules that match nothing
        return str(error) or type(error).__name__
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
