"""iCalendar (RFC 5545) for deadlines and milestones: attachments and each person's private feed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from icalendar import Calendar, Event

PRODID = "-//Micro-credential workflow//EN"


@dataclass(frozen=True)
class CalendarEntry:
    """One dated thing: a deadline, a review, an expiry, a planned end of a phase."""

    uid: str
    summary: str
    when: datetime | date
    description: str = ""
    url: str = ""
    sequence: int = 0  # raised each time the date moves (RFC 5545 SEQUENCE), so calendars update the event


def task_description(item: str, credential: str, state: str, owner: str) -> str:
    """The description of a checklist item's deadline."""
    return f"Checklist item “{item}” for “{credential}” ({state}), owed by the {owner}. Open the link to tick it off."


def gate_description(gate: str, credential: str, state: str, question: str = "") -> str:
    """The description of a gate's decision deadline."""
    asked = f" {question}" if question else ""
    return f"Decision due: {gate} for “{credential}” ({state}).{asked} Open the link to read the proposal and decide."


def calendar(entries: Iterable[CalendarEntry], *, stamp: datetime, name: str = "") -> str:
    """An iCalendar document (``METHOD:PUBLISH``) holding ``entries``."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    if name:
        cal.add("x-wr-calname", name)
    for entry in entries:
        event = Event()
        event.add("uid", entry.uid)
        event.add("dtstamp", stamp)
        if entry.sequence:
            event.add("sequence", entry.sequence)
        event.add("summary", entry.summary)
        day = entry.when.date() if isinstance(entry.when, datetime) else entry.when
        event.add("dtstart", day)  # all-day: deadlines are days, not minutes
        if entry.description:
            event.add("description", entry.description)
        if entry.url:
            event.add("url", entry.url)
        cal.add_component(event)
    document: bytes = cal.to_ical()
    return document.decode("utf-8")
